"""`get_cards(task)`: a task's cards, for local runs and Airflow runs alike, as Metaflow's client gives them.
A card's HTML is read when asked (`Card.get()`, `.html`), so listing cards is cheap however big they are."""
from __future__ import annotations

import html as html_escape
import tempfile
import webbrowser

from ..errors import CommandLineError
from .card_files import CardFile, read_card_data, read_card_html, task_cards
from .client import Task


class Card:
    """One card of a task: one self-contained HTML file."""

    def __init__(self, task: Task, card: CardFile, origin_pathspec: str | None = None):
        self._task, self._card = task, card
        self.type, self.hash = card.type, card.stem
        self.origin_pathspec = origin_pathspec
        self.from_resumed = origin_pathspec is not None
        self._html: str | None = None

    @property
    def id(self) -> str | None:
        return self._card.id

    @property
    def path(self) -> str:
        return str(self._card.html_path(self._task.path))

    def get(self) -> str:
        if self._html is None:
            self._html = read_card_html(self._task.path, self._card)
        return self._html

    @property
    def html(self) -> str:
        return self.get()

    def get_data(self) -> dict:
        """What the card holds: its type, id and its components as rendered data."""
        return read_card_data(self._task.path, self._card)

    def view(self) -> str | None:
        """Open the card in the local web browser (Python's webbrowser); returns the file it opened, None when
        there is no browser to open it with."""
        with tempfile.NamedTemporaryFile("w", suffix=".html", prefix="card-", delete=False) as handle:
            handle.write(self.get())
        return handle.name if webbrowser.open(f"file://{handle.name}") else None

    def _repr_html_(self) -> str:
        # a notebook shows the card in a sandboxed frame of its own, as the plugin's page does
        return (f'<iframe sandbox="" style="width:100%;height:600px;border:0" '
                f'srcdoc="{html_escape.escape(self.get(), quote=True)}"></iframe>')

    def __str__(self):
        return f"<Card at '{self.path}'>"

    __repr__ = __str__


class CardContainer:
    """The cards of a task, list-like, in the order the step's @card decorators are written."""

    def __init__(self, cards: list[Card]):
        self._cards = cards

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self):
        return iter(self._cards)

    def __getitem__(self, index) -> Card:
        return self._cards[index]

    def _repr_html_(self) -> str:
        return "\n".join(f"<h3>{html_escape.escape(card.id or card.type)}</h3>{card._repr_html_()}"
                         for card in self._cards)


def get_cards(task: str | Task, id: str | None = None, type: str | None = None,
              follow_resumed: bool = True) -> CardContainer:
    """The cards of `task` (a Task, or its pathspec 'Flow/run/step/task'), those with `id` / of `type` if given;
    a task a resume cloned has its origin's cards."""
    if isinstance(task, str):
        if len(task.split("/")) != 4:
            raise CommandLineError(f"get_cards('{task}'): a task's pathspec is Flow/RUN_ID/STEP/TASK_ID.")
        task = Task(task, _namespace_check=False)
    elif not isinstance(task, Task):
        raise CommandLineError(f"get_cards() takes a Task or a task's pathspec, not a {task.__class__.__name__}.")
    origin = task.origin_pathspec if follow_resumed else None
    if origin:
        task = Task(origin, store=task.store, _namespace_check=False)
    return CardContainer([Card(task, card, origin) for card in task_cards(task.path)
                          if (id is None or card.id == id) and (type is None or card.type == type)])

