"""Time windows for flows triggered by several upstream flows, on Airflow's own pieces.

Airflow's AND of assets waits forever: an upstream finish from last month still counts. For
`@trigger_on_finish(flows=[...], within=...)` the factory adds a small keeper DAG,
`<consumer>.trigger_window`, scheduled on ANY of the upstream finish assets. Its one task reads the
latest event of every upstream (`inlet_events`) and, only when each has one that is within the window
and was not used by an earlier trigger, updates the consumer's own trigger asset, carrying those
events in its extra. The consumer is scheduled on that asset alone. So a stale finish never starts
the consumer, and a fresh one waits (unused) for the others until it is itself stale.
"""
from __future__ import annotations

import datetime
import logging

from ..runtime.events import event_from_extra
from .tasks import WINDOW_EVENTS

log = logging.getLogger(__name__)
USED = "flow_triggers_used_event_ids"


def window_callable(consumer_dag_id: str, upstreams: list, gate, window: datetime.timedelta):
    """The keeper task: emit the `gate` asset event when every upstream finished within `window`."""

    def check_window(**context):
        from airflow.sdk.exceptions import AirflowSkipException

        inlet_events = context["inlet_events"]
        last_trigger = _latest(inlet_events[gate])
        used = set(last_trigger.extra.get(USED, [])) if last_trigger is not None else set()
        now = datetime.datetime.now(datetime.timezone.utc)
        chosen, waiting = [], []
        for asset in upstreams:
            event = _latest(inlet_events[asset])
            if event is None or event.id in used:
                waiting.append(f"{asset.name} (no new finish)")
            elif now - event.timestamp > window:
                waiting.append(f"{asset.name} (last finished {event.timestamp:%Y-%m-%d %H:%M:%S} UTC, older than "
                               f"the window of {window})")
            else:
                chosen.append(event)
        if waiting:
            message = f"Not starting {consumer_dag_id} yet: waiting for " + "; ".join(waiting) + "."
            log.info(message)
            raise AirflowSkipException(message)
        context["outlet_events"][gate].extra = {
            WINDOW_EVENTS: [event_from_extra(e.asset.name, e.timestamp, dict(e.extra or {})) for e in chosen],
            USED: [e.id for e in chosen],
        }
        log.info("Starting %s: %s all finished within %s.", consumer_dag_id,
                 ", ".join(a.name for a in upstreams), window)

    return check_window


def _latest(events):
    latest = events.ascending(False).limit(1)
    return latest[0] if len(latest) else None
