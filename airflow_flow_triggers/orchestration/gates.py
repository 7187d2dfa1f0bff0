"""The wait-for-all gate of a flow triggered by several upstream flows, on Airflow's own pieces.

For `@trigger_on_finish(flows=[...])`, with or without `within=`, the factory adds a small gate DAG,
`<consumer>.wait_for_all`, partitioned on every upstream's finish asset, so it runs once per upstream
finish. Its one task matches finishes first in, first out: the oldest unused finish of every
upstream (each within the window, when there is one) make one set; each set becomes one partition
of the gate's asset, and so exactly one run of the consumer, whose `current.trigger` lists that set.
Finishes left over wait for the other upstreams; with a window, a finish older than it expires and
is never used. The gate's log names every finish it has not used yet and why. It keeps no state of
its own: which finishes were used is in the extra of its own asset events.
"""
from __future__ import annotations

import datetime
import logging

from ..runtime.events import event_from_extra, forged_finish
from ..runtime.store import ArtifactStore
from .assets import partition_key
from .tasks import GATE_BATCHES

log = logging.getLogger(__name__)
LOOKBACK = 500  # asset events read per upstream (and of the gate) at each run


def gate_callable(consumer_dag_id: str, upstreams: list, gate, window: datetime.timedelta | None):
    """The gate's task: emit one partition of `gate` per complete set of upstream finishes."""

    def match_finishes(**context):
        inlet_events = context["inlet_events"]
        used = _used_pathspecs(inlet_events[gate])
        store = ArtifactStore()
        now = datetime.datetime.now(datetime.timezone.utc)
        pending, notes = {}, []
        for asset in upstreams:
            pending[asset.name] = []
            for event in _unused_finishes(inlet_events[asset], asset.name, used):
                reason = forged_finish(event, store)
                if reason is not None:
                    notes.append(f"ignored the finish event of {asset.name} at {event['timestamp']}: {reason}")
                elif window is not None and now - datetime.datetime.fromisoformat(event["timestamp"]) > window:
                    notes.append(f"expired: {event['pathspec']} finished at {event['timestamp']}, more than "
                                 f"{window} ago")
                else:
                    pending[asset.name].append(event)
        sets = min(len(events) for events in pending.values())
        batches = {}
        for i in range(sets):
            batch = [pending[asset.name][i] for asset in upstreams]
            batches[partition_key(max(batch, key=lambda e: e["timestamp"])["pathspec"])] = batch
        for events in pending.values():
            notes += [f"waiting: {e['pathspec']} (finished at {e['timestamp']}) waits for the other upstreams"
                      for e in events[sets:]]
        for note in notes:
            log.info("%s: %s", consumer_dag_id, note)
        if not batches:
            from airflow.sdk.exceptions import AirflowSkipException
            message = (f"Not starting {consumer_dag_id} yet: no set of finishes of "
                       f"{', '.join(a.name for a in upstreams)}" + (f" within {window}" if window else "") + ".")
            log.info(message)
            raise AirflowSkipException(message)
        for key, batch in batches.items():
            log.info("Starting %s (partition %s) for %s.", consumer_dag_id, key,
                     " + ".join(e["pathspec"] for e in batch))
        outlet = context["outlet_events"][gate]
        outlet.extra = {GATE_BATCHES: batches}
        outlet.add_partitions(list(batches))

    return match_finishes


def _used_pathspecs(gate_events) -> set[str]:
    """The upstream runs earlier sets used, from the gate's own events (newest LOOKBACK of them)."""
    return {event["pathspec"] for gate_event in gate_events.ascending(False).limit(LOOKBACK)
            for batch in (gate_event.extra or {}).get(GATE_BATCHES, {}).values() for event in batch}


def _unused_finishes(asset_events, name: str, used: set[str]) -> list[dict]:
    """The finishes of one upstream after the last one a set used, oldest first, as trigger events."""
    events = [event_from_extra(name, e.timestamp, dict(e.extra or {}), True, (e.source_dag_id, e.source_run_id))
              for e in reversed(asset_events.ascending(False).limit(LOOKBACK))]
    last_used = max((i for i, e in enumerate(events) if e["pathspec"] in used), default=-1)  # and older: seen
    return [e for e in events[last_used + 1:] if e["pathspec"] not in used]
