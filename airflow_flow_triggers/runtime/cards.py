"""A task's @cards: made while the step runs (`current.card`), rendered and stored when it succeeds, as
Metaflow's. A card never fails its task: one that raises while rendering, or takes longer than its timeout,
is stored as a card showing why (or not at all with save_errors=False), and the task goes on.
"""
from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from ..flows.card_types import card_type
from ..flows.decorators import step_settings
from ..flows.mutators import step_functions
from ..reports.collector import CardCollector, CardComponents
from ..reports.components import error_log, rendered
from ..reports.default_card import default_card_components
from ..reports.html import card_html, prepare
from .card_files import CardFile, write_card


@dataclass
class TaskFacts:
    """What a card tells of its task; its artifacts and parameters only for a final default card (TaskState's
    _card_facts)."""

    pathspec: str
    step: str
    graph: dict
    started_at: str
    finished_at: str | None = None
    parameters: dict = field(default_factory=dict)
    artifacts: dict = field(default_factory=dict)
    task: Callable[[], object] | None = None     # the client's Task of this task, for a card type of the user's


def prepare_renderer(flow_cls: type) -> None:
    """Before a run forks its workers: when a step of the flow has @card, load the renderer once in the runner,
    rather than in every worker's first card (bench/cards.py: some 40 ms of imports and template compiling)."""
    if any(step_settings(func).cards for func in step_functions(flow_cls).values()):
        prepare()


def step_cards(specs: tuple, task_path, facts: TaskFacts) -> CardCollector | None:
    """The step's `current.card`, None when it has no @card; a refresh() stores the card at once (live), but a
    card type of the user's that is not RUNTIME_UPDATABLE, which only renders when the task succeeded."""
    if not specs:
        return None

    def publish(card: CardComponents) -> None:
        made = card_type(card.spec.type)
        if made is None or made.RUNTIME_UPDATABLE:
            _store(card, task_path, facts, final=False)

    return CardCollector(specs, publish)


def store_final_cards(collector: CardCollector, task_path, facts: TaskFacts) -> None:
    """Render and store every card of the task, each within its @card(timeout=...)."""
    for card in collector.cards:
        _store(card, task_path, facts, final=True)


def shows_contents(collector: CardCollector) -> bool:
    """Whether a card of the step shows the task's artifacts and parameters (a default card)."""
    return any(card.spec.type == "default" for card in collector.cards)


def _store(card: CardComponents, task_path, facts: TaskFacts, final: bool) -> None:
    outcome: dict = {}
    worker = threading.Thread(target=_render, args=(card, facts, final, outcome), daemon=True,
                              name=f"card {card.position}")
    worker.start()
    worker.join(card.spec.timeout)
    if worker.is_alive():
        outcome = {"error": f"Rendering the card took longer than @card(timeout={card.spec.timeout:g}) seconds: "
                            "give it a longer timeout, or fewer or smaller components."}
    if "error" in outcome:
        print(f"[@card WARNING] The {card.spec.type} card of {facts.pathspec} could not be rendered: "
              f"{outcome['error'].strip().splitlines()[-1]}", file=sys.stderr)
        if not card.spec.save_errors:
            return
        components = [error_log("Card render failed", outcome["error"])]
        outcome = {"components": components, "html": _html(card, facts, components, final)}
    write_card(task_path, CardFile(card.position, card.spec.type, card.spec.id), outcome["html"],
               {"type": card.spec.type, "id": card.spec.id, "final": final, "components": outcome["components"]})


def _render(card: CardComponents, facts: TaskFacts, final: bool, outcome: dict) -> None:
    try:
        components = [rendered(component) for component in card.components]
        made = card_type(card.spec.type)
        if made is not None:
            outcome.update(components=components, html=_users_card(made, card, facts, components, final))
            return
        if card.spec.type == "default" and final:
            components = default_card_components(
                pathspec=facts.pathspec, step=facts.step, parameters=facts.parameters, artifacts=facts.artifacts,
                graph=facts.graph, started_at=facts.started_at, finished_at=facts.finished_at) + components
        outcome.update(components=components, html=_html(card, facts, components, final))
    except Exception:
        outcome["error"] = traceback.format_exc()


def _users_card(made: type, card: CardComponents, facts: TaskFacts, components: list, final: bool) -> str:
    """The HTML a card type of the user's makes: render(task) once the task succeeded, render_runtime(task, data)
    on a refresh (a RUNTIME_UPDATABLE type only; the other keep their last card)."""
    instance = made(options=dict(card.spec.options), components=components, graph=facts.graph, flow=None)
    data = {"user": card.user_data, "components": components, "mode": "render" if final else "runtime"}
    instance.runtime_data = data
    html = instance.render(facts.task()) if final else instance.render_runtime(facts.task(), data)
    if not isinstance(html, str):
        raise TypeError(f"{made.__name__}.{'render' if final else 'render_runtime'}() returned a "
                        f"{type(html).__name__}, not the card's HTML as a str.")
    return html


def _html(card: CardComponents, facts: TaskFacts, components: list[dict], final: bool) -> str:
    title = card.spec.options.get("title") or f"{facts.pathspec} · {card.spec.id or card.spec.type}"
    return card_html(components, title=str(title), card_type=card.spec.type, live=not final,
                     task={"pathspec": facts.pathspec, "started_at": facts.started_at,
                           "finished_at": facts.finished_at})
