"""`python flow.py show` and `check` (also what `python flow.py` alone does), printed as Metaflow 2.19 prints
them: `show` each step (in Metaflow's order) with its decorators, docstring and successors on stdout, the flow's
docstring and blank separators on stderr; `check` its messages on stderr, none with --quiet."""
from __future__ import annotations

import contextlib
import inspect
import io
import sys

from ..errors import CommandLineError
from ..flows.decospecs import attach_decorators
from ..flows.graph import flow_graph
from .metaflow_options import decospecs

INDENT = " " * 4


def show(flow_cls, deployment, args) -> int:
    attach_decorators(flow_cls, decospecs(args))
    _project(deployment, _echo(args))
    graph = flow_graph(flow_cls)
    info = graph.info()
    _err(f"\n{info['doc']}")
    for name in sorted_steps(graph):
        step = info["steps"][name]
        _err("")
        for decorator in step["decorators"]:
            print(f"@{decorator['name']}")
        print(f"Step {name}")
        print(_indented(step["doc"] or "?"))
        if step["type"] != "end":
            print(f"{INDENT}=> {', '.join(step['next'])}")
    _err("")
    return 0


def sorted_steps(graph) -> list[str]:
    """The steps as Metaflow's FlowGraph.sorted_nodes lists them: depth first from start, a step reached again
    moving to the end (so a join comes after all its branches)."""
    order: list[str] = []

    def visit(name: str, seen: list[str]) -> None:
        if name in order:
            order.remove(name)
        order.append(name)
        for successor in graph[name].out_funcs:
            if successor not in seen:
                visit(successor, [*seen, successor])

    visit("start", [])
    return order


def check(flow_cls, deployment, args) -> int:
    """The graph was checked when the command line started (a bad one is an error there); then pylint, when it is
    installed and not --no-pylint, as Metaflow runs it."""
    attach_decorators(flow_cls, decospecs(args))
    echo = _echo(args)
    _project(deployment, echo)
    command = inspect.getfile(flow_cls)
    echo("Validating your flow...")
    echo(_indented("The graph looks good!"))
    if args.pylint:
        echo("Running pylint...")
        pylint(command, args.warnings, echo)
    echo(f"\n'{command} show' shows a description of this flow.\n'{command} run' runs the flow locally.\n"
         f"'{command} help' shows all available commands and options.\n")
    return 0


def pylint(path: str, warnings: bool, echo) -> None:
    """Metaflow's pylint check: errors only (every message with --warnings), less what Metaflow filters out."""
    try:
        from pylint.lint import Run
    except ImportError:
        echo(_indented("Pylint not found, so extra checks are disabled."))
        return
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(io.StringIO()):
            Run([path] + ([] if warnings else ["--errors-only"]), exit=False)
    except Exception as error:       # pylint itself failed on the file: Metaflow says so and goes on
        echo(_indented(f"Pylint couldn't analyze your code.\n\tPylint exception: {error!r}"))
        echo(_indented("Skipping Pylint checks."))
        return
    complaints = [line for line in captured.getvalue().splitlines() if _kept(line)]
    for line in complaints:
        _err(_indented(line))
    if complaints:
        raise CommandLineError("Pylint is not happy: fix the Pylint warnings listed above, or say --no-pylint.")
    echo(_indented("Pylint is happy!"))


_IGNORED = ("***", "(no-name-in-module)", "Instance of 'Parameter' has no", "Instance of 'IncludeFile' has no",
            "Instance of 'Current' has no", "self.next is not callable")


def _kept(line: str) -> bool:
    """Not one of the lines Metaflow drops: headers, and what a flow's dynamic attributes make pylint say."""
    return not any(ignored in line for ignored in _IGNORED)


def print_help(parser, flow_cls, deployment, args) -> int:
    """Metaflow's `help` command: every command and option."""
    parser.print_help()
    return 0


def _project(deployment, echo) -> None:
    """What Metaflow's @project says first, whatever the command."""
    if deployment.project is not None:
        echo(f"Project: {deployment.project}, Branch: {deployment.branch}")


def _echo(args):
    """Metaflow's echo: stderr, nothing with --quiet."""
    return (lambda text: None) if args.quiet else _err


def _indented(text: str) -> str:
    return "\n".join(INDENT + line for line in text.splitlines())


def _err(text: str) -> None:
    print(text, file=sys.stderr)
