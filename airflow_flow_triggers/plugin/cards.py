"""The cards of a flow's task instances (@card), where the "Card" extra link of a step task leads:

    GET /flow-triggers/cards/{dag_id}/{run_id}/{task_id}?map_index=N                  the viewer page
    GET /flow-triggers/api/cards/{dag_id}/{run_id}/{task_id}?map_index=N              its cards and the task's state
    GET /flow-triggers/cards/{dag_id}/{run_id}/{task_id}/{position}/raw?map_index=N   one card's HTML

Only a user who may read the DAG sees its cards (404 otherwise). Where the cards are in the artifact store
follows from Airflow's metadata alone: the task instance must exist, the DAG's id is the deployment's
project_flow_name and the run's id the store's (orchestration/store_tasks.py); nothing in the URL is a path.

A card is a whole HTML document its step wrote, so it is served as if hostile: in an iframe sandboxed without
scripts, and with a Content-Security-Policy of its own that makes it an opaque origin even opened on its own,
so it can neither run a script nor act as the viewer (cookies, storage, Airflow's API).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from ..errors import ArtifactError
from ..orchestration.store_tasks import NOT_MAPPED, mapped_task_ids, run_graph, store_task_id, unmapped_task_id
from ..runtime.card_files import CardFile, card_version, read_card_html, task_cards
from ..runtime.store import ArtifactStore
from . import metadata
from .access import require_readable
from .pages import render

CARD_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                               "font-src data:",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}   # no card of the task changes any more
LOOKED_AT_PER_RUN = 200      # the branch page looks for the cards of at most this many task instances of a run


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/api/cards/{dag_id}/{run_id}/{task_id}", card_list, methods=["GET"])
    app.add_api_route("/cards/{dag_id}/{run_id}/{task_id}", card_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/cards/{dag_id}/{run_id}/{task_id}/{position}/raw", raw_card, methods=["GET"],
                      response_class=HTMLResponse)


@dataclass(frozen=True)
class TaskCards:
    """A task instance of a flow's DAG run, where its cards are in the store (None: not known yet)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    task_path: object | None


def card_list(request: Request, dag_id: str, run_id: str, task_id: str, user: GetUserDep, session: SessionDep,
              map_index: int = NOT_MAPPED) -> dict:
    """The task's cards (position, type, id, etag: changes with the card, url of its HTML) and its state."""
    task = located(user, session, dag_id, run_id, task_id, map_index)
    return listing(task, request.scope.get("root_path", ""))


def card_page(request: Request, dag_id: str, run_id: str, task_id: str, user: GetUserDep, session: SessionDep,
              map_index: int = NOT_MAPPED) -> HTMLResponse:
    task = located(user, session, dag_id, run_id, task_id, map_index)
    here = request.scope.get("root_path", "")
    return render(request, "cards.html", task=task, listing=listing(task, here), finished=sorted(FINISHED),
                  list_url=f"{here}/api/cards/{task_url(task)}")


def raw_card(dag_id: str, run_id: str, task_id: str, position: int, user: GetUserDep, session: SessionDep,
             map_index: int = NOT_MAPPED) -> Response:
    """One card's HTML, sandboxed by its own headers (CARD_HEADERS)."""
    task = located(user, session, dag_id, run_id, task_id, map_index)
    card = next((c for c in _cards(task) if c.position == position), None)
    if card is None:
        raise HTTPException(404, f"Task {task_id} of run {run_id} of {dag_id} has no card at position {position}: "
                                 f"GET .../api/cards/{task_url(task)} lists its cards.")
    return Response(_read(task, card), media_type="text/html; charset=utf-8", headers=CARD_HEADERS)


def located(user, session, dag_id: str, run_id: str, task_id: str, map_index: int) -> TaskCards:
    """The task instance, if the user may read its DAG and it exists (404 otherwise), and its cards' folder."""
    require_readable(user, session, dag_id)
    exists, state = metadata.task_instance_state(session, dag_id, run_id, task_id, map_index)
    if not exists or not all(map(_plain, (dag_id, run_id, task_id))):
        where = f"[{map_index}]" if map_index != NOT_MAPPED else ""
        raise HTTPException(404, f"DAG {dag_id} has no task instance {task_id}{where} in run {run_id!r}: its run's "
                                 "page in Airflow lists them.")
    store = ArtifactStore()
    store_id = _resolved(store_task_id, store, dag_id, run_id, task_id, map_index)
    path = None if store_id is None else store.task_path(dag_id, run_id, task_id, store_id)
    return TaskCards(dag_id, run_id, task_id, map_index, state, path)


def listing(task: TaskCards, here: str) -> dict:
    """What the card list endpoint answers, and the viewer page shows."""
    cards = []
    for card in _cards(task):
        etag = hashlib.sha256(_version(task, card).encode()).hexdigest()[:16]
        cards.append({"position": card.position, "type": card.type, "id": card.id, "etag": etag,
                      "url": f"{here}/cards/{task_url(task, f'/{card.position}/raw')}"})
    return {"dag_id": task.dag_id, "run_id": task.run_id, "task_id": task.task_id, "map_index": task.map_index,
            "state": task.state, "finished": task.state in FINISHED, "cards": cards}


def run_cards(session, here: str, runs: dict[str, str]) -> dict[str, list[dict]]:
    """For the branch page: {dag_id: [{"task_id", "map_index", "type", "id", "url"}]}, the cards of the task
    instances of each DAG's run in `runs` ({dag_id: run_id}), of its first LOOKED_AT_PER_RUN task instances."""
    store, found, mapped, graphs = ArtifactStore(), {}, {}, {}
    for dag_id, task_id, map_index, state in metadata.run_task_instances(session, runs):
        looked_at = found.setdefault(dag_id, {})
        if len(looked_at) >= LOOKED_AT_PER_RUN:
            continue
        if map_index == NOT_MAPPED:             # the run's record read once for all its unmapped tasks
            if dag_id not in graphs:
                graphs[dag_id] = _resolved(run_graph, store, dag_id, runs[dag_id])
            store_id = unmapped_task_id(graphs[dag_id], task_id)
        else:
            if (dag_id, task_id) not in mapped:
                mapped[dag_id, task_id] = _resolved(mapped_task_ids, store, dag_id, runs[dag_id], task_id)
            ids = mapped[dag_id, task_id] or []
            store_id = ids[map_index] if map_index < len(ids) else None
        task = TaskCards(dag_id, runs[dag_id], task_id, map_index, state,
                         None if store_id is None else store.task_path(dag_id, runs[dag_id], task_id, store_id))
        looked_at[task_id, map_index] = [{"task_id": task_id, "map_index": map_index, "type": card.type,
                                          "id": card.id, "url": f"{here}/cards/{task_url(task)}"}
                                         for card in _cards(task)]
    return {dag_id: [card for cards in tasks.values() for card in cards] for dag_id, tasks in found.items()}


def task_url(task: TaskCards, then: str = "") -> str:
    """`dag_id/run_id/task_id{then}[?map_index=N]`, quoted, for after the cards' URL prefixes."""
    path = "/".join(quote(part, safe="") for part in (task.dag_id, task.run_id, task.task_id))
    return path + then + (f"?map_index={task.map_index}" if task.map_index != NOT_MAPPED else "")


def _cards(task: TaskCards) -> list[CardFile]:
    return [] if task.task_path is None else _resolved(task_cards, task.task_path) or []


def _read(task: TaskCards, card: CardFile) -> str:
    try:
        return _resolved(read_card_html, task.task_path, card)
    except FileNotFoundError:           # removed since it was listed: the task is being run again
        raise HTTPException(404, f"Card {card.stem} of task {task.task_id} is gone: reload the card list.") from None


def _version(task: TaskCards, card: CardFile) -> str:
    try:
        return _resolved(card_version, task.task_path, card)
    except FileNotFoundError:           # removed since it was listed: the task is being run again
        return "gone"


def _resolved(function, *args):
    """`function(*args)`, a store that fails answering 503 with the store's own sentence."""
    try:
        return function(*args)
    except ArtifactError as error:
        raise HTTPException(503, str(error)) from None


def _plain(piece: str) -> bool:
    """Whether an id can name a folder of the store as it is (never '..', a separator or a NUL)."""
    return piece not in ("", ".", "..") and not any(c in piece for c in "/\\\0")
