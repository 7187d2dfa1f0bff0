"""`python flow.py logs RUN_ID/STEP[/TASK_ID]` and `dump RUN_ID/STEP[/TASK_ID]`: a run's task output and
artifacts, read from the artifact store (local runs and Airflow runs alike), printed as Metaflow 2.19 prints
them: what was asked on stdout, the headers naming each task on stderr (none with --quiet).

A run id names the run of this flow file's flow on whichever project branch it is (`--branch` or
`--production` name one branch), whatever the namespace, as Metaflow reads its datastore.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import pickle
import sys

from ..errors import CommandLineError
from ..naming import current_user
from ..runtime.client import Task, find_run


def add_read_commands(commands) -> None:
    """The `logs` and `dump` subcommands."""
    logs = commands.add_parser("logs", help="print the stdout and stderr of a step's tasks, or of one task")
    logs.add_argument("input_path", metavar="RUN_ID/STEP[/TASK_ID]")
    logs.add_argument("--stdout", action="store_true", help="only stdout")
    logs.add_argument("--stderr", action="store_true", help="only stderr")
    logs.add_argument("--both", action=argparse.BooleanOptionalAction, default=True,
                      help="both streams (the default)")
    logs.add_argument("--attempt", type=int, default=None, metavar="N",
                      help="the output of attempt N (0 the first; default: the latest)")
    logs.add_argument("--timestamps", action="store_true", help=argparse.SUPPRESS)
    logs.set_defaults(handler=show_logs)

    dump = commands.add_parser("dump", help="print the artifacts of a step's tasks, or of one task")
    dump.add_argument("input_path", metavar="RUN_ID/STEP[/TASK_ID]")
    dump.add_argument("--private", action=argparse.BooleanOptionalAction, default=False,
                      help="also the private artifacts (_name)")
    dump.add_argument("--max-value-size", type=int, default=1000, metavar="BYTES",
                      help="show only values whose pickle is at most this big (0: names only; default 1000)")
    dump.add_argument("--include", default="", metavar="A,B",
                      help="only these artifacts (comma-separated)")
    dump.add_argument("--file", default=None, metavar="FILE",
                      help="write the artifacts, whole, to FILE as a pickle of {'RUN_ID/STEP/TASK_ID': {name: value}}")
    dump.set_defaults(handler=dump_artifacts)


def announce(flow_cls, args) -> None:
    """Metaflow's first line on stderr (not with --quiet): what runs, for whom."""
    if not args.quiet:
        version = importlib.metadata.version("airflow-flow-triggers")
        print(f"airflow_flow_triggers {version} executing {flow_cls.__name__} for user:{current_user()}",
              file=sys.stderr)


def echo(args, text: str) -> None:
    """A message on stderr, left out with --quiet."""
    if not args.quiet:
        print(text, file=sys.stderr)


def flow_name_of(flow_cls, deployment, args) -> str:
    """The flow a run id is looked up in: one project branch's when --branch or --production names it, else the
    flow's on every branch."""
    return deployment.project_flow_name if args.branch or args.production else deployment.flow_name


def asked_tasks(flow_cls, deployment, args) -> list[Task]:
    """The tasks `RUN_ID/STEP[/TASK_ID]` names."""
    parts = args.input_path.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise CommandLineError(f"'{args.input_path}' is not a task or step: write RUN_ID/STEP or "
                               "RUN_ID/STEP/TASK_ID.")
    run = find_run(flow_name_of(flow_cls, deployment, args), parts[0])
    step = run[parts[1]]
    tasks = [step[parts[2]]] if len(parts) == 3 else step.tasks()
    if not tasks:
        raise CommandLineError(f"No task of {run.pathspec}/{parts[1]} has started: check the step's name.")
    return tasks


def show_logs(flow_cls, deployment, args) -> int:
    if args.timestamps:
        raise CommandLineError("logs --timestamps: logs are kept without timestamps here; leave it out (the "
                               "lines `run` prints are stamped).")
    announce(flow_cls, args)
    streams = [name for name in ("stdout", "stderr") if getattr(args, name)]
    if not streams:
        streams = ["stdout", "stderr"] if args.both else []
    for task in asked_tasks(flow_cls, deployment, args):
        echo(args, f"Dumping logs of run_id={task.run.id} step={task.step.id} task_id={task.id}")
        for stream in streams:
            echo(args, stream)
            sys.stdout.write(task.read_log(stream, args.attempt))
    sys.stdout.flush()
    return 0


class ArtifactTooLarge:
    """What `dump` shows for a value over --max-value-size, as Metaflow's."""

    def __str__(self):
        return "< artifact too large >"

    __repr__ = __str__


def dump_artifacts(flow_cls, deployment, args) -> int:
    announce(flow_cls, args)
    include = {name for name in args.include.split(",") if name}
    written = {}
    for task in asked_tasks(flow_cls, deployment, args):
        echo(args, f"Dumping output of run_id={task.run.id} step={task.step.id} task_id={task.id}")
        shown = _shown(task, include, args.private)
        if args.file is None:
            lines = [_line(task, name, args.max_value_size) for name in shown]
            if lines:
                print("\n".join(lines))
        else:
            written[f"{task.run.id}/{task.step.id}/{task.id}"] = {name: task[name].data for name in shown}
    if args.file is not None:
        with open(args.file, "wb") as handle:
            pickle.dump(written, handle, protocol=pickle.HIGHEST_PROTOCOL)
        echo(args, f"Artifacts written to {args.file}")
    return 0


def _shown(task: Task, include: set[str], private: bool) -> list[str]:
    return [name for name in task.artifact_names(private) if not include or name in include]


def _line(task: Task, name: str, max_value_size: int) -> str:
    """`name [size: N type: <class '...'>] = value`, the value left out past `max_value_size` bytes."""
    artifact = task[name]
    size = artifact.size
    value = ArtifactTooLarge() if size == 0 or size > max_value_size else artifact.data
    kind = artifact.type or (str(type(value)) if not isinstance(value, ArtifactTooLarge) else "<unknown>")
    return f"{name} [size: {size} type: {kind}] = {value}"
