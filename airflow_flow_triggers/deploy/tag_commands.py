"""`python flow.py tag add|remove|replace|list`: a run's user tags, changed and listed as Metaflow 2.19's `tag`
commands do (runtime/tagging.py has the rules: system tags stay, removals before additions), and printed as
they print: the tags in columns on stdout, `list --flat` one a line on stderr, `--quiet` a parseable line.

Runs are looked up in your namespace (`user:<you>`, or `--namespace`) for add, remove and replace, in every
namespace for `list --run-id`; a run id means this flow file's flow on whichever project branch it is.
"""
from __future__ import annotations

import sys
from itertools import chain

from ..errors import CommandLineError, RunNotFoundError
from ..naming import current_user
from ..runtime.client import ChildNotFound, Flow, NamespaceMismatch, Run
from ..runtime.namespaces import namespace
from .read_commands import announce, flow_name_of

_HEADER = ["", "System tags and tags; only tags can be modified",
           "--------------------------------------------------------", ""]


def add_tag_commands(commands) -> None:
    tag = commands.add_parser("tag", help="add, remove, replace or list the tags of a run")
    actions = tag.add_subparsers(dest="tag_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add tags to a run")
    remove = actions.add_parser("remove", help="remove tags from a run (never its system tags)")
    replace = actions.add_parser("replace", help="remove tags from a run and add others, at once (removals first)")
    listing = actions.add_parser("list", help="list the tags of a run, or of every run of the flow")
    for action in (add, remove, replace):
        action.add_argument("--run-id", default=None, metavar="RUN_ID", help="the run to tag (required)")
        action.add_argument("--namespace", dest="user_namespace", default=None, metavar="NS",
                            help="look the run up in this namespace (default: user:<you>)")
    for action in (add, remove):
        action.add_argument("tags", nargs="+", metavar="TAG")
    replace.add_argument("--add", dest="tags_to_add", action="append", default=[], metavar="TAG",
                         help="a tag to add (repeatable)")
    replace.add_argument("--remove", dest="tags_to_remove", action="append", default=[], metavar="TAG",
                         help="a tag to remove (repeatable)")
    listing.add_argument("--run-id", default=None, metavar="RUN_ID", help="the run to list")
    listing.add_argument("--all", dest="list_all", action="store_true", help="every run of the flow (the default)")
    listing.add_argument("--my-runs", action="store_true", help="every run of the flow in your namespace")
    listing.add_argument("--hide-system-tags", action="store_true", help="only user tags")
    listing.add_argument("--group-by-tag", action="store_true", help="runs grouped by tag")
    listing.add_argument("--group-by-run", action="store_true", help="tags grouped by run")
    listing.add_argument("--flat", action="store_true", help="one tag a line (on stderr), no grouping")
    listing.add_argument("arg_run_id", nargs="?", default=None, metavar="RUN_ID", help="the run (as --run-id)")
    add.set_defaults(handler=add_tags)
    remove.set_defaults(handler=remove_tags)
    replace.set_defaults(handler=replace_tags)
    listing.set_defaults(handler=list_tags)


def add_tags(flow_cls, deployment, args) -> int:
    announce(flow_cls, args)
    run = _run(flow_cls, deployment, args, args.run_id, _user_namespace(args))
    run.add_tags(args.tags)
    _echo(args, "Operation successful. New tags:", sys.stdout)
    _print_run(args, run)
    return 0


def remove_tags(flow_cls, deployment, args) -> int:
    announce(flow_cls, args)
    run = _run(flow_cls, deployment, args, args.run_id, _user_namespace(args))
    run.remove_tags(args.tags)
    _echo(args, "Operation successful. New tags:")
    _print_run(args, run)
    return 0


def replace_tags(flow_cls, deployment, args) -> int:
    announce(flow_cls, args)
    if not args.tags_to_add and not args.tags_to_remove:
        raise CommandLineError("tag replace: give at least one tag to add (--add) and one to remove (--remove).")
    if not args.tags_to_remove:
        raise CommandLineError("tag replace: give at least one tag to remove (--remove), or use `tag add`.")
    if not args.tags_to_add:
        raise CommandLineError("tag replace: give at least one tag to add (--add), or use `tag remove`.")
    run = _run(flow_cls, deployment, args, args.run_id, _user_namespace(args))
    run.replace_tags(args.tags_to_remove, args.tags_to_add)
    _echo(args, "Operation successful. New tags:")
    _print_run(args, run)
    return 0


def list_tags(flow_cls, deployment, args) -> int:
    announce(flow_cls, args)
    run_id, list_all = args.run_id, args.list_all
    if run_id is None and args.arg_run_id is None and not list_all and not args.my_runs:
        list_all = True
    if list_all and args.my_runs:
        raise CommandLineError("tag list: --all and --my-runs cannot go together: give one.")
    if run_id is not None and args.arg_run_id is not None:
        raise CommandLineError("tag list: give the run either with --run-id or as an argument, not both.")
    run_id = run_id or args.arg_run_id
    if args.group_by_run and args.group_by_tag:
        raise CommandLineError("tag list: --group-by-tag and --group-by-run cannot go together: give one.")
    if args.flat and (args.group_by_run or args.group_by_tag):
        raise CommandLineError("tag list: --flat cannot go with a --group-by-* option: give one.")

    if list_all or args.my_runs:
        namespace(_user_namespace(args) if args.my_runs else None)
        name = flow_name_of(flow_cls, deployment, args)
        try:
            runs = Flow(name).runs()
        except NamespaceMismatch:
            runs = []
        except RunNotFoundError:
            raise CommandLineError(f"Cannot list the tags of {name}: it has never been run.") from None
    else:
        runs = [_run(flow_cls, deployment, args, run_id, None)]
    system, every = _grouped(runs, args)
    if args.flat:
        for tag in sorted(next(iter(every.values()), ())):
            _echo(args, tag)
        return 0
    _print_groups(args, system, every, by_tag=args.group_by_tag)
    return 0


def _grouped(runs: list[Run], args) -> tuple[dict, dict]:
    """({group: system tags}, {group: all tags shown}): groups are runs (--group-by-run), tags (--group-by-tag,
    each holding its runs) or, by default, one group named by every run listed."""
    system: dict = {}
    every: dict = {}
    for run in runs:
        user = run.tags - run.system_tags
        if args.group_by_run:
            every[run.pathspec] = user if args.hide_system_tags else run.tags
            if not args.hide_system_tags:
                system[run.pathspec] = run.system_tags
        elif args.group_by_tag:
            for tag in user:
                every.setdefault(tag, []).append(run.pathspec)
            for tag in () if args.hide_system_tags else run.system_tags:
                system.setdefault(tag, []).append(run.pathspec)
        else:
            every.setdefault("_", set()).update(user if args.hide_system_tags else run.tags)
            if not args.hide_system_tags:
                system.setdefault("_", set()).update(run.system_tags)
    if not args.group_by_run and not args.group_by_tag:
        group = ",".join(run.pathspec for run in runs)
        system, every = {group: system.get("_", set())}, {group: every.get("_", set())}
    return system, every


def _print_run(args, run: Run) -> None:
    _print_groups(args, {run.pathspec: run.system_tags}, {run.pathspec: run.tags}, by_tag=False)


def _print_groups(args, system: dict, every: dict, by_tag: bool) -> None:
    _echo(args, "\n".join(_HEADER), sys.stdout)
    for group in sorted(set(chain(every, system))):
        shown, system_tags = every.get(group, set()), system.get(group, set())
        if not by_tag:
            _print_group(args, group, system_tags, shown, header=len(every) != 1)
            continue
        if shown:
            _print_tag(args, group, shown, is_system=False)
        if system_tags:
            _print_tag(args, group, system_tags, is_system=True)


def _print_group(args, group: str, system_tags, shown, header: bool) -> None:
    if args.quiet:
        print(" ; ".join([group, ",".join(sorted(system_tags)), ",".join(sorted(set(shown) - set(system_tags)))]),
              file=sys.stderr)
        return
    lines = [f"For run {group}"] if header else []
    _echo(args, "\n".join(lines + _columns(sorted(shown)) + [""]), sys.stdout)


def _print_tag(args, tag: str, runs, is_system: bool) -> None:
    if args.quiet:
        print(" ; ".join([f"{'system' if is_system else 'user'}:{tag}", ",".join(runs)]), file=sys.stderr)
        return
    _echo(args, "\n".join([f"For tag {tag}"] + _columns(sorted(runs)) + [""]), sys.stdout)


def _columns(words: list[str]) -> list[str]:
    """Metaflow's layout: as many columns of the longest word's width as fit in 124 characters (4 between),
    filled top to bottom."""
    width = max((len(word) for word in words), default=0)
    count = 124 // (width + 4)
    per_column = len(words) if count == 0 else -(-len(words) // count)
    count = max(count, 1)
    words = words + [" "] * (per_column * count - len(words))
    return ["    ".join(f"{words[i + j * per_column]:<{width}}" for j in range(count)) for i in range(per_column)]


def _run(flow_cls, deployment, args, run_id: str | None, user_namespace: str | None) -> Run:
    """The run `run_id` in `user_namespace` (None: any), each way of not finding it one sentence."""
    name = flow_name_of(flow_cls, deployment, args)
    namespace(user_namespace)
    try:
        flow = Flow(name)
    except NamespaceMismatch:
        raise CommandLineError(f"No run of {name} in namespace {user_namespace}: switch with --namespace.") from None
    except RunNotFoundError:
        raise CommandLineError(f"No run of {name} found: run the flow before tagging it.") from None
    if run_id is None:
        raise CommandLineError(f"Give the run with --run-id: the latest run of {name} in namespace {user_namespace} "
                               f"is {flow.latest_run.id}.")
    if "/" in run_id:
        raise CommandLineError(f"Run id '{run_id}' is not a run id: give the id alone, without the flow's name.")
    try:
        return flow[run_id]
    except NamespaceMismatch:
        raise CommandLineError(f"Run {name}/{run_id} is not in namespace {user_namespace}: switch with "
                               "--namespace.") from None
    except ChildNotFound:
        raise CommandLineError(f"No run {name}/{run_id}: check the run id (`tag list` lists the runs).") from None


def _user_namespace(args) -> str:
    return args.user_namespace if args.user_namespace is not None else f"user:{current_user()}"


def _echo(args, text: str, stream=None) -> None:
    """A message left out with --quiet; on stderr unless said (as Metaflow's `obj.echo`)."""
    if not args.quiet:
        print(text, file=stream or sys.stderr)
