"""`python flow.py card view|get|list [PATHSPEC]`: a task's cards, as Metaflow's `card` commands.

PATHSPEC is `STEP`, `RUN_ID/STEP` or `RUN_ID/STEP/TASK_ID` (STEP alone: the flow's latest run on this branch);
a step of many tasks names its first, unless it is `list`, which lists them all. Runs on Airflow and local
runs alike: the cards are read from the artifact store.
"""
from __future__ import annotations

import json
import sys

from ..errors import CommandLineError
from ..runtime.card_client import get_cards
from ..runtime.client import Task, find_run
from ..runtime.resume import latest_run_id
from ..runtime.store import ArtifactStore
from .read_commands import echo, flow_name_of


def add_card_commands(commands) -> None:
    card = commands.add_parser("card", help="view, get or list the cards of a task (@card)")
    actions = card.add_subparsers(dest="card_command", metavar="{view,get,list}", required=True)
    for name, handler, help_text in (("view", view, "open a task's card in the web browser"),
                                     ("get", get, "write a task's card (HTML) to FILE, or print it"),
                                     ("list", list_cards, "list a run's, a step's or a task's cards")):
        action = actions.add_parser(name, help=help_text)
        # one positional list; words after an option join it (take_paths), as Metaflow's click takes them
        action.add_argument("paths", nargs="*", metavar="[RUN_ID/]STEP[/TASK_ID]" + (" [FILE]" if name == "get"
                                                                                      else ""))
        action.add_argument("--type", default=None, help="only cards of this type (default, blank, yours)")
        if name == "list":
            action.add_argument("--as-json", action="store_true", help="print the list as JSON")
            action.add_argument("--file", default=None, help="write the JSON list to FILE")
        else:
            action.add_argument("--id", default=None, help="the card with this @card(id=...)")
            action.add_argument("--hash", default=None, help="the card with this hash, or its start (card list)")
            action.add_argument("--follow-resumed", default=True, action="store_true")
            action.add_argument("--no-follow-resumed", dest="follow_resumed", action="store_false")
        action.set_defaults(handler=handler)


def take_paths(args, stray: list[str]) -> bool:
    """Whether `stray` words argparse left are a card command's PATHSPEC/FILE written after an option
    (`card get start --id x out.html`, as Metaflow's click takes them); if so they join args.paths."""
    if getattr(args, "card_command", None) is None or any(word.startswith("-") for word in stray):
        return False
    args.paths += stray
    return True


def _paths(args, most: int, least: int) -> None:
    """args.pathspec (and args.filename) from the positional words."""
    if not least <= len(args.paths) <= most:
        usage = "[RUN_ID/]STEP[/TASK_ID]" + (" [FILE]" if most == 2 else "")
        raise CommandLineError(f"card {args.card_command} takes {usage}, not {' '.join(args.paths) or 'nothing'}.")
    args.pathspec, args.filename = (args.paths + [None, None])[:2]


def view(flow_cls, deployment, args) -> int:
    _paths(args, most=1, least=1)
    card = _one_card(flow_cls, deployment, args)
    opened = card.view()
    if opened is None:
        raise CommandLineError(f"No web browser to open {card.path} with: set BROWSER, or write the card to a file "
                               "with `card get`.")
    echo(args, f"Opened {opened} (a copy of {card.path}) in your web browser.")
    return 0


def get(flow_cls, deployment, args) -> int:
    _paths(args, most=2, least=1)
    card = _one_card(flow_cls, deployment, args)
    if args.filename:
        with open(args.filename, "w") as handle:
            handle.write(card.get())
        echo(args, f"Card written to {args.filename}.")
    else:
        sys.stdout.write(card.get())
    return 0


def list_cards(flow_cls, deployment, args) -> int:
    _paths(args, most=1, least=0)
    listed = [{"pathspec": task.pathspec,
               "cards": [{"id": c.id, "hash": c.hash, "type": c.type, "filename": c.path.rsplit("/", 1)[-1]}
                         for c in get_cards(task, type=args.type)]}
              for task in _tasks(flow_cls, deployment, args, every_task=True)]
    if args.as_json or args.file:
        text = json.dumps(listed[0] if len(listed) == 1 else listed, indent=4)
        if args.file:
            with open(args.file, "w") as handle:
                handle.write(text)
        else:
            print(text)
        return 0
    for entry in listed:
        echo(args, f"Task: {entry['pathspec']}: {len(entry['cards'])} card(s)")
        for card in entry["cards"]:
            print(f"    Card Id: {card['id']}  Card Type: {card['type']}  Card Hash: {card['hash']}")
    return 0


def _one_card(flow_cls, deployment, args):
    task = _tasks(flow_cls, deployment, args, every_task=False)[0]
    cards = [card for card in get_cards(task, id=args.id, type=args.type, follow_resumed=args.follow_resumed)
             if args.hash is None or card.hash.startswith(args.hash)]
    if not cards:
        asked = "".join(f" with {name} {value}" for name, value in
                        (("--id", args.id), ("--type", args.type), ("--hash", args.hash)) if value)
        # Metaflow's headline first: scripts look for it
        raise CommandLineError(f"Card not found in datastore: task {task.pathspec} has no card{asked}; list its "
                               f"cards with `card list {task.pathspec.split('/', 1)[1]}`.")
    return cards[0]


def _tasks(flow_cls, deployment, args, every_task: bool) -> list[Task]:
    """The tasks [RUN_ID/]STEP[/TASK_ID] names (no RUN_ID: the latest run `run` started here); `list` without
    PATHSPEC: every task of that run."""
    parts = args.pathspec.split("/") if args.pathspec else []
    if len(parts) > 3 or not all(parts):
        raise CommandLineError(f"'{args.pathspec}' is not a step or task: write STEP, RUN_ID/STEP or "
                               "RUN_ID/STEP/TASK_ID.")
    if len(parts) <= 1:
        run_id = latest_run_id(ArtifactStore(), deployment)
        if run_id is None:
            raise CommandLineError(f"{flow_cls.__name__} has no run of yours on this branch yet: run it, or name "
                                   "the run (RUN_ID/STEP).")
    else:
        run_id, parts = parts[0], parts[1:]
    run = find_run(flow_name_of(flow_cls, deployment, args), run_id)
    steps = [run[parts[0]]] if parts else list(run)
    tasks = [step[parts[1]] for step in steps] if len(parts) == 2 else \
        [task for step in steps for task in step.tasks()]
    if not tasks:
        raise CommandLineError(f"No task of {run.pathspec}/{parts[0]} has started: check the step's name.")
    return tasks if every_task else tasks[:1]
