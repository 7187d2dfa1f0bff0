"""The "Card" extra link of a flow's step tasks: to the plugin's card viewer for the task instance.

Airflow 3's task runner calls `get_link` on the worker as the task ends and keeps what it returns as an XCom,
which the api-server and the UI read back (the api-server never runs this code: a serialized DAG's links are
only names and XCom keys). An empty link is no link: the UI shows none for a task without a card.
"""
from __future__ import annotations

import functools
import logging
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

log = logging.getLogger(__name__)

# Where the plugin serves its card pages: the plugin's URL_PREFIX (plugin/urls.py, a layer above) + "/cards".
CARD_PAGES = "/flow-triggers/cards"


class CardLink(BaseOperatorLink):
    name = "Card"

    def get_link(self, operator, *, ti_key) -> str:
        if not has_cards(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index):
            return ""
        return card_page_url(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)


def card_page_url(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The viewer of the task instance's cards, under Airflow's `[api] base_url` (root-relative without one)."""
    from airflow.configuration import conf
    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    path = "/".join(quote(part, safe="") for part in (dag_id, run_id, task_id))
    return f"{base}{CARD_PAGES}/{path}" + (f"?map_index={map_index}" if map_index >= 0 else "")


def has_cards(dag_id: str, run_id: str, step: str, map_index: int) -> bool:
    """Whether the task has a card in the artifact store; True when the store cannot tell (the viewer says why)."""
    from ..runtime.card_files import task_cards
    from ..runtime.store import ArtifactStore
    from .store_tasks import store_task_id
    try:
        store = ArtifactStore()
        task_id = store_task_id(store, dag_id, run_id, step, map_index)
        return task_id is None or bool(task_cards(store.task_path(dag_id, run_id, step, task_id)))
    except Exception as error:      # never fail a task's end over its link
        log.warning("Could not tell whether task %s of run %s has a card (%s): linking its card page anyway.",
                    step, run_id, error)
        return True


def with_card_link(decorated):
    """The task decorator `decorated` (`@task(...)(step)`) making operators that also have the "Card" link;
    a mapped task takes its links from its operator class, so the class gets it."""
    decorated.operator_class = _linked(decorated.operator_class)
    return decorated


@functools.cache
def _linked(operator_class: type) -> type:
    return type(operator_class)(operator_class.__name__, (operator_class,), {
        "__module__": __name__, "__doc__": operator_class.__doc__,
        "operator_extra_links": (*operator_class.operator_extra_links, CardLink())})
