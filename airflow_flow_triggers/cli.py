"""The flow file's command line: `python flow.py [--branch B] [--production] run|show ...`."""
from __future__ import annotations

import argparse
import os
import sys

from .decorators import deployment_of
from .errors import FlowTriggersError
from .parameters import flow_parameters
from .runtime import flow_graph


def main(flow_cls: type, argv: list[str] | None = None) -> None:
    """Run the command line for `flow_cls` and exit the process with its status."""
    sys.exit(run_cli(flow_cls, sys.argv[1:] if argv is None else argv))


def run_cli(flow_cls: type, argv: list[str]) -> int:
    parser = _parser(flow_cls)
    args = parser.parse_args(argv)
    try:
        flow_graph(flow_cls)
        deployment = deployment_of(flow_cls, args.branch, args.production)
        return args.handler(flow_cls, deployment, args)
    except FlowTriggersError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _parser(flow_cls: type) -> argparse.ArgumentParser:
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "flow.py"
    parser = argparse.ArgumentParser(prog=f"python {script}", description=f"Flow {flow_cls.__name__}.")
    parser.add_argument("--branch", help="deploy or run on the custom branch test.BRANCH "
                                         "(prod.BRANCH with --production); needs @project")
    parser.add_argument("--production", action="store_true",
                        help="run or deploy in the production namespace; needs @project")
    parser.add_argument("--trigger", action="append", default=[], metavar="FLOW/RUN_ID",
                        help="run as if the successful run FLOW/RUN_ID had triggered this one (repeatable); "
                             "a bare flow name means this project branch")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the flow locally, in this process")
    for param in flow_parameters(flow_cls).values():
        default = "" if param.default is None else f" (default: {param.default!r})"
        run.add_argument(f"--{param.name}", dest=f"param:{param.name}", metavar=param.type_name.upper(),
                         help=(param.help or f"parameter {param.name}") + default)
    run.add_argument("--max-workers", type=_positive_int, default=16,
                     help="how many tasks run at once in splits and foreaches (default 16)")
    run.set_defaults(handler=_run)

    show = commands.add_parser("show", help="print the flow's steps and how they connect")
    show.set_defaults(handler=_show)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _run(flow_cls, deployment, args) -> int:
    from .runner import LocalRun
    from .triggers import events_for_runs
    given = {key.split(":", 1)[1]: value for key, value in vars(args).items()
             if key.startswith("param:") and value is not None}
    events = events_for_runs(args.trigger, deployment)
    LocalRun(flow_cls, deployment, given, max_workers=args.max_workers, trigger_events=events).run()
    return 0


def _show(flow_cls, deployment, args) -> int:
    print(f"Flow {deployment.project_flow_name}")
    for node in flow_graph(flow_cls):
        after = ", ".join(node.out_funcs) or "-"
        extra = f" (foreach over self.{node.foreach_var})" if node.foreach_var else ""
        print(f"  {node.name:<20} {node.type:<8} -> {after}{extra}")
    return 0
