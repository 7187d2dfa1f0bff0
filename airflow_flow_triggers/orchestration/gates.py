"""The wait-for-all gate of a flow triggered by several upstream flows, on Airflow's own pieces.

For `@trigger_on_finish(flows=[...])`, with or without `within=`, the factory adds a small gate DAG,
`<consumer>.wait_for_all`, partitioned on every upstream's finish asset: it runs once per upstream
finish, one run at a time. Its task keeps the finishes not used yet in a queue per upstream (the
Airflow Variable `flow_triggers.wait_for_all.<consumer>`), adds the finish that started it, and
matches first in, first out: the oldest waiting finish of every upstream make one set. Each set
becomes one partition of the gate's asset, and so exactly one run of the consumer, whose
`current.trigger` lists that set. With a window, the finishes of a set lie within it of each other: a
waiting finish expires once a finish more than the window newer has come (measured between the finishes'
own times, never against the clock the gate runs at, so a burst queued behind the gate keeps its sets).
The log names every finish received, used, waiting or expired.

It reads only the event that started it (`triggering_asset_events`), never the asset history:
in Airflow 3.3.2 reading an event that a still-queued run consumed fails with HTTP 500.
"""
from __future__ import annotations

import datetime
import logging

from ..runtime.store import ArtifactStore
from .assets import partition_key
from .causes import GATE_KEY, gate_record
from .tasks import GATE_BATCHES, triggering_events

log = logging.getLogger(__name__)
STATE_PREFIX = "flow_triggers.wait_for_all."
MAX_WAITING = 1000  # finishes kept per upstream (the oldest go first, logged), and triggers remembered


def state_key(consumer_dag_id: str) -> str:
    """The Airflow Variable holding a gate's waiting finishes."""
    return STATE_PREFIX + consumer_dag_id


def gate_callable(consumer_dag_id: str, upstreams: list, gate, window: datetime.timedelta | None):
    """The gate's task: add the finish that started it, emit one partition of `gate` per complete set."""
    names = [asset.name for asset in upstreams]

    def match_finishes(**context):
        from airflow.sdk import Variable
        state = Variable.get(state_key(consumer_dag_id), default={}, deserialize_json=True)
        waiting = {name: list(state.get("waiting", {}).get(name, [])) for name in names}
        done = dict(state.get("done", {}))          # trigger pathspec -> the sets it completed
        batches, expired = {}, []
        events, refused = triggering_events(context, ArtifactStore())
        for what, reason in refused:
            log.warning("%s: ignored %s: %s", consumer_dag_id, what, reason)
        for event in events:
            if event["pathspec"] in done:            # a retry of this run: emit what it matched before
                batches.update(done[event["pathspec"]])
                continue
            log.info("%s: received %s (finished at %s)", consumer_dag_id, event["pathspec"], event["timestamp"])
            waiting[event["name"]].append(event)
            expired += _expire(consumer_dag_id, waiting, window, event)
            matched = _match(waiting, names)
            done[event["pathspec"]] = matched
            batches.update(matched)
        for events in waiting.values():
            for e in events:
                log.info("%s: waiting: %s (finished at %s) waits for the other upstreams", consumer_dag_id,
                         e["pathspec"], e["timestamp"])
        Variable.set(state_key(consumer_dag_id), {"waiting": waiting, "done": _last(done, MAX_WAITING)},
                     description=f"Finishes waiting to start {consumer_dag_id} (the {consumer_dag_id}."
                                 "wait_for_all gate's queue; see airflow_flow_triggers docs/triggers.md).",
                     serialize_json=True)
        context["ti"].xcom_push(GATE_KEY, gate_record(events, batches, expired, waiting, refused, window))
        if not batches:
            from airflow.sdk.exceptions import AirflowSkipException
            message = (f"Not starting {consumer_dag_id} yet: no set of finishes of {', '.join(names)}"
                       + (f" within {window}" if window else "") + ".")
            log.info(message)
            raise AirflowSkipException(message)
        for key, batch in batches.items():
            log.info("Starting %s (partition %s) for %s.", consumer_dag_id, key,
                     " + ".join(e["pathspec"] for e in batch))
        outlet = context["outlet_events"][gate]
        outlet.extra = {GATE_BATCHES: batches}
        outlet.add_partitions(list(batches))

    return match_finishes


def _expire(consumer_dag_id: str, waiting: dict[str, list[dict]], window, newest: dict) -> list[tuple[dict, dict]]:
    """Drop the waiting finishes more than `window` older than `newest`, the finish just received: no set
    with it, or with any finish after it, could hold them within the window. Returns (expired, newest) pairs."""
    now, expired = _when(newest), []
    for name, events in waiting.items():
        keep = []
        for e in events:
            if window is not None and now - _when(e) > window:
                log.info("%s: expired: %s finished at %s, more than %s before %s (finished at %s)", consumer_dag_id,
                         e["pathspec"], e["timestamp"], window, newest["pathspec"], newest["timestamp"])
                expired.append((e, newest))
            else:
                keep.append(e)
        for e in keep[:-MAX_WAITING]:
            log.warning("%s: dropped: %s, the oldest of over %d finishes of %s waiting", consumer_dag_id,
                        e["pathspec"], MAX_WAITING, name)
        waiting[name] = keep[-MAX_WAITING:]
    return expired


def _when(event: dict) -> datetime.datetime:
    return datetime.datetime.fromisoformat(event["timestamp"])


def _match(waiting: dict[str, list[dict]], names: list[str]) -> dict[str, list[dict]]:
    """Pop every complete set (the oldest waiting finish of each upstream), keyed by its newest finish."""
    sets = {}
    while all(waiting[name] for name in names):
        batch = [waiting[name].pop(0) for name in names]
        sets[partition_key(max(batch, key=lambda e: e["timestamp"])["pathspec"])] = batch
    return sets


def _last(done: dict, count: int) -> dict:
    return dict(list(done.items())[-count:])
