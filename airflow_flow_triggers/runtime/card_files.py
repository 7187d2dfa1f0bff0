"""A task's cards in the artifact store, kept with the task as its logs are:

    <task>/_cards/<position>.<type>.html          one card: a self-contained HTML file
    <task>/_cards/<position>.<type>.<id>.html     ... of a card given an id (@card(id='...'))
    <task>/_cards/<position>.<type>[.<id>].json   what it holds: {"type", "id", "components": [...], "final"}

`position` is the card's place among the step's @card decorators, top first (0, 1, ...), so the cards of a task
list in the order they are written. A card is rewritten whole on every refresh; readers see the old or the new
file, never half of one (the store's write_file).
"""
from __future__ import annotations

import dataclasses
import json
import re

from .store import reaching, write_file

CARDS = "_cards"
_NAME = re.compile(r"^(\d+)\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_-]+))?\.html$")


@dataclasses.dataclass(frozen=True)
class CardFile:
    position: int
    type: str
    id: str | None

    @property
    def stem(self) -> str:
        return ".".join([str(self.position), self.type] + ([self.id] if self.id else []))

    def html_path(self, task_path):
        return task_path / CARDS / f"{self.stem}.html"

    def data_path(self, task_path):
        return task_path / CARDS / f"{self.stem}.json"


def write_card(task_path, card: CardFile, html: str, data: dict) -> None:
    """Store (or replace) `card` of the task at `task_path`: its data first, then its HTML, which lists it."""
    write_file(card.data_path(task_path), json.dumps(data, default=str).encode())
    write_file(card.html_path(task_path), html.encode())


def task_cards(task_path) -> list[CardFile]:
    """The cards the task at `task_path` has, in position order ([] when it has none)."""
    folder = task_path / CARDS
    with reaching(folder, "list"):
        names = [p.name for p in folder.iterdir()] if folder.exists() else []
    found = [_NAME.match(name) for name in names]
    return sorted((CardFile(int(m[1]), m[2], m[3]) for m in found if m), key=lambda c: c.position)


def read_card_html(task_path, card: CardFile) -> str:
    path = card.html_path(task_path)
    with reaching(path, "read"):
        return path.read_bytes().decode("utf-8")


def card_version(task_path, card: CardFile) -> str:
    """What changes whenever the card is rewritten, without reading it: its HTML file's size and time (the
    store's own metadata: a local file's, or an object's LastModified, which counts seconds: two rewrites of one
    size within a second look alike until the next)."""
    path = card.html_path(task_path)
    with reaching(path, "read"):
        found = path.stat()
    return f"{found.st_size}-{found.st_mtime}"


def read_card_data(task_path, card: CardFile) -> dict:
    path = card.data_path(task_path)
    try:
        with reaching(path, "read"):
            return json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
