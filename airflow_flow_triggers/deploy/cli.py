"""The flow file's command line: `python flow.py [--branch B] [--production] run|show ...`."""
from __future__ import annotations

import argparse
import functools
import os
import sys

from ..errors import CommandLineError, FlowTriggersError
from ..flows.configs import flow_configs
from ..flows.configure import configure_flow
from ..flows.decorators import deployment_of
from ..flows.graph import flow_graph
from ..flows.parameters import flow_parameters
from . import (
    airflow_commands,
    card_commands,
    metaflow_options,
    read_commands,
    run_commands,
    show_and_check,
    tag_commands,
)


def main(flow_cls: type, argv: list[str] | None = None) -> None:
    """Run the command line for `flow_cls` and exit the process with its status."""
    sys.exit(run_cli(flow_cls, sys.argv[1:] if argv is None else argv))


def run_cli(flow_cls: type, argv: list[str]) -> int:
    try:
        if getattr(flow_cls, "_deployment_kind", "flow") == "flow":
            known, _ = _parser(flow_cls).parse_known_args(argv)     # the configs first: the flow depends on them
            configure_flow(flow_cls, run_commands.resumed_configs(flow_cls, known), known.config, known.config_value)
            flow_graph(flow_cls)
        args, stray = _parser(flow_cls).parse_known_args(argv)
        if stray and not card_commands.take_paths(args, stray):
            _parser(flow_cls).parse_args(argv)      # argparse's own error for what it does not know
        metaflow_options.read_environment(args, flow_cls)
        metaflow_options.check_top_level(args)
        deployment = deployment_of(flow_cls, args.branch, args.production)
        return args.handler(flow_cls, deployment, args)
    except FlowTriggersError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: Interrupted: the run stopped, and its worker processes with it.", file=sys.stderr)
        return 130


class _ArgumentParser(argparse.ArgumentParser):
    """A bad option is one `error:` line and exit status 1, like every other bad input (not usage + 2).

    Options are never abbreviated: `--branch-al` is a mistake, not --branch-all.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **dict(kwargs, allow_abbrev=False))

    def error(self, message):
        raise CommandLineError(f"{message}: see `{self.prog} --help`.")


def _parser(flow_cls: type) -> argparse.ArgumentParser:
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "flow.py"
    prog = getattr(flow_cls, "_command", f"python {script}").split(" airflow ")[0]
    parser = _ArgumentParser(prog=prog, description=f"Flow {flow_cls.__name__}.")
    parser.add_argument("--branch", help="deploy or run on the custom branch test.BRANCH "
                                         "(prod.BRANCH with --production); needs @project")
    parser.add_argument("--production", action="store_true", default=None,
                        help="run or deploy in the production namespace; needs @project")
    parser.add_argument("--trigger", action="append", default=[], metavar="FLOW/RUN_ID",
                        help="run as if the successful run FLOW/RUN_ID had triggered this one (repeatable); "
                             "a bare flow name means this project branch")
    metaflow_options.add_top_level(parser)
    if getattr(flow_cls, "_deployment_kind", "flow") == "flow":      # (a project DAG file has no configs)
        _config_options(parser, flow_cls)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(handler=show_and_check.check, warnings=False)   # no command: check, as Metaflow

    run = commands.add_parser("run", help="run the flow locally, its tasks in worker processes")
    _parameter_options(run, flow_cls)
    resume = run_commands.add_resume(commands, flow_cls)
    from ..runtime.runner import default_workers
    for command in (run, resume):
        _tag_option(command)
        command.add_argument("--max-workers", type=metaflow_options.positive_int, default=None,
                             help="how many tasks run at once, each in a worker process, in splits and foreaches "
                                  f"(default: the number of cores, {default_workers()})")
        metaflow_options.add_run_options(command)
    run.set_defaults(handler=run_commands.run)

    show = commands.add_parser("show", help="print the flow's steps, their decorators and docstrings, and how they "
                                            "connect (as Metaflow's show)")
    show.set_defaults(handler=show_and_check.show)
    check = commands.add_parser("check", help="check the flow (its graph, and pylint when installed)")
    check.add_argument("--warnings", action="store_true", help="show all of pylint's warnings, not just errors")
    check.set_defaults(handler=show_and_check.check)
    commands.add_parser("help", help="show every command and option").set_defaults(
        handler=functools.partial(show_and_check.print_help, parser))
    read_commands.add_read_commands(commands)
    tag_commands.add_tag_commands(commands)
    card_commands.add_card_commands(commands)

    airflow = commands.add_parser("airflow", help="deploy this flow's project branch to Airflow, start it, remove it")
    actions = airflow.add_subparsers(dest="airflow_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="deploy the flow's code package as this branch's DAG")
    delete = actions.add_parser("delete", help="remove this deployment (its DAG disappears from Airflow)")
    listing = actions.add_parser("list", help="show the deployments")
    for action in (create, delete, listing):
        action.add_argument("--dags-folder", metavar="DIR",
                            help="write (or read) the deployments in DIR on this machine; default: through the "
                                 "api-server at [flow_triggers] api_url")
    for action in (create, delete):
        action.add_argument("--authorize", metavar="TOKEN",
                            help="the branch's production token, when someone else owns the branch (write "
                                 "--authorize=TOKEN)")
    create.add_argument("--generate-new-token", action="store_true", help="rotate the branch's production token")
    create.add_argument("--with", dest="decospecs", action="append", default=[], metavar="DECO[:NAME=VALUE,...]",
                        help="add a step decorator to every step of the deployment, as Metaflow's --with (e.g. "
                             "--with kubernetes: every step in a pod); a step's own decorator wins (repeatable)")
    delete.add_argument("--branch-all", action="store_true", help="remove every flow of this project branch")
    promote = actions.add_parser("promote", help="deploy the code version another branch runs onto this branch")
    promote.add_argument("--from", dest="source_branch", required=True, metavar="BRANCH",
                         help="the branch to take the code from: new_model for test.new_model, or a full branch "
                              "(user.alice, prod.x)")
    promote.add_argument("--branch-all", action="store_true", help="promote every flow of that branch, not this one")
    promote.add_argument("--force", action="store_true", help="promote a code version with no successful run")
    promote.add_argument("--generate-new-token", action="store_true", help="rotate the branch's production token")
    diff = actions.add_parser("diff", help="how this branch's deployments differ from another branch's")
    diff.add_argument("--against", default="prod", metavar="BRANCH",
                      help="the branch to compare with (default: prod)")
    prune = actions.add_parser("prune", help="list the project's stale user and test branches; remove them with "
                                             "--yes")
    prune.add_argument("--older-than", required=True, metavar="AGE",
                       help="stale: no deployment and no run for this long (30d, 12h, 2w, 90m)")
    prune.add_argument("--yes", action="store_true", help="remove them (default: only list them)")
    prune.set_defaults(handler=airflow_commands.prune)
    for action in (promote, diff, prune):
        action.add_argument("--dags-folder", metavar="DIR",
                            help="the deployments in DIR on this machine; default: through the api-server")
    promote.add_argument("--authorize", metavar="TOKEN",
                         help="this branch's production token, when someone else owns it (write --authorize=TOKEN)")
    promote.set_defaults(handler=airflow_commands.promote)
    diff.set_defaults(handler=airflow_commands.diff)
    trigger = actions.add_parser("trigger", help="start the deployed DAG through Airflow's REST API")
    _parameter_options(trigger, flow_cls)
    _tag_option(trigger)
    trigger.add_argument("--trigger", dest="airflow_trigger", action="append", default=[], metavar="FLOW/RUN_ID",
                         help="run as if the successful run FLOW/RUN_ID had triggered it (repeatable)")
    trigger.add_argument("--missed", action="store_true",
                         help="replay the finishes of its upstreams it missed while paused, one run each")
    why = actions.add_parser("why", help="why a run started, and what its finish started or why not")
    why.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run (default: the newest)")
    why.set_defaults(handler=airflow_commands.why)
    create.set_defaults(handler=airflow_commands.create)
    trigger.set_defaults(handler=airflow_commands.trigger)
    delete.set_defaults(handler=airflow_commands.delete)
    listing.set_defaults(handler=airflow_commands.list_deployments)
    return parser


def _parameter_options(parser: argparse.ArgumentParser, flow_cls: type) -> None:
    for param in flow_parameters(flow_cls).values():
        shown = getattr(param, "file_default", None) or param.default
        default = "" if shown is None or not param.show_default else f" (default: {shown!r})"
        if param.computed_default and param.show_default:
            default = f" (default: what {getattr(shown, '__name__', 'its function')}() returns when the run starts)"
        parser.add_argument(f"--{param.name}", dest=f"param:{param.name}", metavar=param.type_name.upper(),
                            help=(param.help or f"parameter {param.name}") + default)


def _config_options(parser: argparse.ArgumentParser, flow_cls: type) -> None:
    """Metaflow's --config and --config-value, before the command (env METAFLOW_FLOW_CONFIG[_VALUE] else)."""
    names = ", ".join(f"{c.name}{f' ({c.help})' if c.help else ''}" for c in flow_configs(flow_cls).values())
    parser.add_argument("--config", nargs=2, action="append", default=[], metavar=("NAME", "FILE"),
                        help=f"the config NAME's value from FILE (repeatable); the flow's configs: {names or 'none'}")
    parser.add_argument("--config-value", nargs=2, action="append", default=[], metavar=("NAME", "JSON"),
                        help="the config NAME's value, as JSON (repeatable)")


def _tag_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", action="append", default=[], metavar="TAG",
                        help="tag the run (repeatable); the client finds runs by tag: Flow('F').runs('TAG')")
