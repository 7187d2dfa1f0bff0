"""Metaflow's options of a flow file's command line, read as Metaflow reads them.

- Top level: `--quiet`, `--metadata`, `--datastore`, `--environment`, `--event-logger`, `--monitor`,
  `--pylint/--no-pylint` and `--with`, with Metaflow's choices; a value that cannot apply here is one
  sentence saying why (e.g. `--datastore=s3` on a local artifact root).
- `run` and `resume`: `--max-num-splits`, `--with DECO[:name=value,...]` and `--run-id-file` (`--tag` and
  `--max-workers` are the command line's own).
- The environment, as Metaflow's click names it (`auto_envvar_prefix="METAFLOW"`): `METAFLOW_<OPTION>` for
  a top-level option (`METAFLOW_BRANCH`, `METAFLOW_PRODUCTION`), `METAFLOW_<COMMAND>_<OPTION>` for an option
  of run or resume (`METAFLOW_RUN_<PARAM>` for a parameter, upper-cased with `-` as `_`; `METAFLOW_RUN_TAGS`,
  `METAFLOW_RUN_MAX_WORKERS`, ...); the command line wins. `METAFLOW_DEFAULT_DECOSPECS` adds `--with`
  decorators, as Metaflow's setting of that name does.
"""
from __future__ import annotations

import argparse
import os

from .. import config
from ..errors import CommandLineError
from ..flows.parameters import flow_parameters

METADATA = ("local", "service", "spin")
DATASTORES = ("local", "s3", "azure", "gs", "spin")
ENVIRONMENTS = ("local", "conda", "pypi", "uv")
EVENT_LOGGERS = ("nullSidecarLogger", "debugLogger")
MONITORS = ("nullSidecarMonitor", "debugMonitor")
_TRUE, _FALSE = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off", ""}  # click's BOOL

# (option dest, its Metaflow environment variable's suffix, how the variable's text is read)
_TOP_LEVEL = [("branch", "BRANCH", "text"), ("production", "PRODUCTION", "flag"), ("quiet", "QUIET", "flag"),
              ("pylint", "PYLINT", "flag"), ("metadata", "METADATA", "text"), ("datastore", "DATASTORE", "text"),
              ("environment", "ENVIRONMENT", "text"), ("event_logger", "EVENT_LOGGER", "text"),
              ("monitor", "MONITOR", "text"), ("top_decospecs", "DECOSPECS", "list")]
_RUN_OPTIONS = [("tag", "TAGS", "list"), ("max_workers", "MAX_WORKERS", "count"),
                ("max_num_splits", "MAX_NUM_SPLITS", "count"), ("decospecs", "DECOSPECS", "list"),
                ("run_id_file", "RUN_ID_FILE", "text"), ("origin_run_id", "ORIGIN_RUN_ID", "text")]


def add_top_level(parser: argparse.ArgumentParser) -> None:
    """Metaflow's top-level options (those of its `start` group that mean something for a flow file)."""
    parser.add_argument("--quiet", dest="quiet", action="store_true", default=None,
                        help="no messages but the run's own lines (check prints nothing), as Metaflow's --quiet")
    parser.add_argument("--not-quiet", dest="quiet", action="store_false", help=argparse.SUPPRESS)
    parser.add_argument("--pylint", dest="pylint", action="store_true", default=None,
                        help="check runs pylint on the flow file when pylint is installed (the default)")
    parser.add_argument("--no-pylint", dest="pylint", action="store_false", help="check does not run pylint")
    parser.add_argument("--with", dest="top_decospecs", action="append", default=[], metavar="DECO[:NAME=VALUE,...]",
                        help="add a step decorator to every step (as run --with), for run, resume, show, check and "
                             "airflow create")
    for name, choices, meaning in (("metadata", METADATA, "runs are recorded in the artifact store"),
                                   ("datastore", DATASTORES, "the artifact root: [flow_triggers] artifact_root"),
                                   ("environment", ENVIRONMENTS, "steps run in this Python environment"),
                                   ("event-logger", EVENT_LOGGERS, "none here"),
                                   ("monitor", MONITORS, "none here")):
        parser.add_argument(f"--{name}", choices=choices, default=None, metavar="|".join(choices),
                            help=f"Metaflow's {name}: only {choices[0]} applies here ({meaning})")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options Metaflow's run and resume share that the command line did not have."""
    parser.add_argument("--max-num-splits", type=positive_int, default=None, metavar="N",
                        help="the most branches a foreach may open; more is an error (default: 100, as Metaflow)")
    parser.add_argument("--with", dest="decospecs", action="append", default=[], metavar="DECO[:NAME=VALUE,...]",
                        help="add a step decorator to every step that has none of that name, as Metaflow's --with "
                             "(e.g. --with retry, --with catch, --with environment:vars='{\"A\": \"1\"}'); "
                             "repeatable")
    parser.add_argument("--run-id-file", metavar="FILE", default=None,
                        help="write the run's id to FILE before its first task starts")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def read_environment(args: argparse.Namespace, flow_cls: type, environ=os.environ) -> None:
    """Fill every option the command line left out from its METAFLOW_* variable, then the defaults."""
    for dest, suffix, kind in _TOP_LEVEL:
        _fill(args, dest, f"METAFLOW_{suffix}", kind, environ)
    command = getattr(args, "command", None)
    if command in ("run", "resume"):
        for dest, suffix, kind in _RUN_OPTIONS:
            if hasattr(args, dest):
                _fill(args, dest, f"METAFLOW_{command.upper()}_{suffix}", kind, environ)
    if command == "run":
        for param in flow_parameters(flow_cls).values():
            _fill(args, f"param:{param.name}", "METAFLOW_RUN_" + param.name.upper().replace("-", "_"), "text",
                  environ)
    args.production, args.quiet = bool(args.production), bool(args.quiet)
    args.pylint = args.pylint is not False
    args.default_decospecs = environ.get("METAFLOW_DEFAULT_DECOSPECS", "").split()


def decospecs(args: argparse.Namespace) -> list[str]:
    """The `--with` decorators of the command, in Metaflow's order (the first of a name wins): the command's own,
    METAFLOW_DEFAULT_DECOSPECS's, the top level's."""
    return [*getattr(args, "decospecs", []), *args.default_decospecs, *args.top_decospecs]


def _fill(args, dest: str, variable: str, kind: str, environ) -> None:
    if getattr(args, dest, None) not in (None, []) or variable not in environ:
        return
    text = environ[variable]
    if kind == "flag":
        if text.strip().lower() not in _TRUE | _FALSE:
            raise CommandLineError(f"{variable}={text!r} is not true or false: set it to true or false (or unset it).")
        value = text.strip().lower() in _TRUE
    elif kind == "count":
        try:
            value = positive_int(text)
        except argparse.ArgumentTypeError as error:
            raise CommandLineError(f"{variable}={text!r}: {error}.") from None
    else:
        value = text.split() if kind == "list" else text
    setattr(args, dest, value)


def check_top_level(args: argparse.Namespace) -> None:
    """One sentence for each Metaflow option whose value cannot apply here; the others are Metaflow's meaning."""
    for name, value in (("metadata", args.metadata), ("datastore", args.datastore),
                        ("environment", args.environment), ("event-logger", args.event_logger),
                        ("monitor", args.monitor)):
        if value is not None and value not in _CHOICES[name]:
            raise CommandLineError(f"--{name}={value} is not one of Metaflow's: use one of "
                                   f"{', '.join(_CHOICES[name])}.")
    root = config.get("artifact_root")
    if args.metadata not in (None, "local"):
        raise CommandLineError(f"--metadata={args.metadata} cannot apply here: a run's metadata is its records in "
                               f"the artifact store ([flow_triggers] artifact_root = {root}), which the client "
                               "reads; there is no metadata service: use --metadata=local or leave it out.")
    if args.datastore not in (None, datastore_of(root)):
        raise CommandLineError(f"--datastore={args.datastore} cannot apply here: the artifact root is [flow_triggers] "
                               f"artifact_root = {root} (a {datastore_of(root)} store); set artifact_root (in "
                               "airflow.cfg or AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT) to change where artifacts go.")
    if args.environment not in (None, "local"):
        raise CommandLineError(f"--environment={args.environment} cannot apply here: steps run in the Python "
                               "environment of this machine (locally) or of the Airflow workers: install the "
                               "packages there, or give a step an image with @kubernetes(image=...).")
    for name, value, none in (("event-logger", args.event_logger, EVENT_LOGGERS[0]),
                              ("monitor", args.monitor, MONITORS[0])):
        if value not in (None, none):
            raise CommandLineError(f"--{name}={value} cannot apply here: there is no Metaflow {name} (task logs and "
                                   f"the run's records in the artifact store say what happened): use --{name}="
                                   f"{none} or leave it out.")


_CHOICES = {"metadata": METADATA, "datastore": DATASTORES, "environment": ENVIRONMENTS,
            "event-logger": EVENT_LOGGERS, "monitor": MONITORS}


def datastore_of(root: str) -> str:
    """Which of Metaflow's datastores an artifact root is: local, s3, gs or azure (or its own scheme)."""
    scheme = root.split("://", 1)[0].lower() if "://" in root else "file"
    return {"file": "local", "local": "local", "s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs", "abfs": "azure",
            "abfss": "azure", "az": "azure"}.get(scheme, scheme)


def write_run_id(path: str | None, run_id: str) -> None:
    """--run-id-file: the run's id, alone, written before the run starts (as Metaflow does)."""
    if path is None:
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(run_id)
    except OSError as error:
        raise CommandLineError(f"--run-id-file {path}: cannot write the run id there ({error.strerror}): give a "
                               "file in a folder that exists and you can write to.") from None
