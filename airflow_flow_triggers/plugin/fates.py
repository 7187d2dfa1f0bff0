"""Why a run started, and what became of each finish, read back from Airflow's metadata database.

A run's cause is what its `start` task recorded (orchestration/causes.py): the finishes that started it, as
the artifact store vouched for them, and its verdict. A finish's fate, for each consumer scheduled on its
asset (a wait-for-all gate standing for its consumer), is one of FATES, found through Airflow's own rows:
the asset event, the partition log that sends it to a consumer's partition, the run made from that
partition and the cause its start task recorded, the gate's records and queue.

Each function is a fixed number of queries, whatever the number of runs or consumers.
"""
from __future__ import annotations

from sqlalchemy import and_, or_, select

from ..naming import split_flow_name
from ..orchestration.assets import FAILURE_SCHEME, FINISH_SCHEME, GATE_SUFFIX
from ..orchestration.causes import CAUSE_KEY, GATE_KEY, REFUSED, REJECTED, START_TASKS, STOPPED
from ..orchestration.gates import state_key

OUTCOME_SCHEMES = {FINISH_SCHEME: "succeeded", FAILURE_SCHEME: "failed"}   # the assets a run's end is announced on

FATES = {
    "started": "it started this run",
    "pending": "Airflow holds it for a run it has not made yet",
    "waiting": "it waits in the wait-for-all gate for a finish of the other upstreams",
    "expired": "it expired in the wait-for-all gate: a finish more than the window newer came first",
    "refused": "no run that ended so stands behind it, so it ran no step code",
    "stopped": "the run it started stopped at [flow_triggers] max_trigger_depth",
    "failed": "the run it started failed before any step code",
    "rejected": "its run's artifacts could not set the parameters of the run it started, which failed",
    "missed": "Airflow queued it for no run",
}


def run_cause(session, dag_id: str, run_id: str) -> dict | None:
    """Why run `run_id` of `dag_id` started (None when Airflow has no such run)."""
    from airflow.models.dagrun import DagRun
    run = session.execute(select(DagRun.id, DagRun.state, DagRun.run_type, DagRun.partition_key, DagRun.start_date)
                          .where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
    if run is None:
        return None
    record = _xcoms(session, [run.id], CAUSE_KEY).get(run.id)
    start_state = _start_states(session, [run.id]).get(run.id)
    found = {"dag_id": dag_id, "run_id": run_id, "state": _text(run.state), "run_type": _text(run.run_type),
             "partition_key": run.partition_key, "started_at": _iso(run.start_date)}
    if record is None:
        verdict = "failed" if start_state in ("failed", "upstream_failed") else None
        return {**found, "verdict": verdict, "started_by": [], "by_hand": None,
                "detail": "the start task failed before any step code" if verdict else
                "its start task has not recorded a cause (not run yet, or deployed before causes were recorded)"}
    started_by = [_upstream(event) for event in record["events"]]
    return {**found, "verdict": record["verdict"], "started_by": started_by, "parameters": record.get("parameters", {}),
            "by_hand": not started_by and not record.get("refused"),
            "refused": record.get("refused", []), "detail": record.get("detail", "")}


def finish_fates(session, upstream: str, run_id: str) -> dict:
    """What became of the finish of run `run_id` of `upstream`: its asset event, and a fate per consumer; and
    of each finish event posted by hand naming that run (a replay, or a forgery the consumers refused)."""
    events = {scheme: _finish_events(session, upstream, run_id, scheme) for scheme in OUTCOME_SCHEMES}
    consumers = {scheme: _consumers(session, upstream, scheme) for scheme in OUTCOME_SCHEMES}
    scheme = next((scheme for scheme, (emitted, _) in events.items() if emitted), FINISH_SCHEME)
    emitted = events[scheme][0]
    found = {"upstream": upstream, "run_id": run_id, "finished_at": _iso(emitted.timestamp) if emitted else None,
             "outcome": OUTCOME_SCHEMES[scheme] if emitted else None,
             "fates": [_fate(session, emitted, consumer, gate) for consumer, gate in consumers[scheme]]
             if emitted else [],
             "posted": [{"event_id": event.id, "at": _iso(event.timestamp), "outcome": OUTCOME_SCHEMES[posted_as],
                         "fates": [_fate(session, event, consumer, gate) for consumer, gate in consumers[posted_as]]}
                        for posted_as, (_, posted) in events.items() for event in posted]}
    if emitted is None:
        found["detail"] = "the run emitted no finish or failure event (it has not finished)"
    return found


def missed_finishes(session, consumer: str, limit: int = 100) -> list[dict]:
    """The newest finishes (and, for a consumer of failures, failures) of `consumer`'s upstreams that Airflow
    queued for no run of it while it was paused, newest first: what `airflow trigger --missed` replays (those
    from before it was deployed are no one's)."""
    missed = []
    for upstream, scheme in _upstreams(session, consumer):
        gate = dict(_consumers(session, upstream, scheme)).get(consumer)    # none for one upstream, or any=True's
        for event in _recent_finish_events(session, upstream, limit, scheme):
            fate = _fate(session, event, consumer, gate)
            if fate["fate"] == "missed" and fate["reason"] == "paused":
                missed.append({"upstream": upstream, "run_id": event.source_run_id, "outcome": OUTCOME_SCHEMES[scheme],
                               "pathspec": (event.extra or {}).get("pathspec"), "finished_at": _iso(event.timestamp),
                               "why": fate["why"]})
    return sorted(missed, key=lambda m: m["finished_at"] or "", reverse=True)[:limit]


# -- one fate ----------------------------------------------------------------------------------------

def _fate(session, event, consumer: str, gate: str | None) -> dict:
    target = gate or consumer
    fate = {"consumer": consumer, "via_gate": bool(gate)}
    partitions = _partitions(session, event.id, target)
    if not partitions:
        replay = _replayed_by(session, consumer, (event.extra or {}).get("pathspec"))
        if replay is not None:
            return {**fate, **_run_fate(session, consumer, replay), "replayed": True}
        reason, why = _missed_why(session, target, event)
        return {**fate, "fate": "missed", "reason": reason, "why": why}
    created = [p for p in partitions if p.created_dag_run_id is not None]
    if not created:
        return {**fate, "fate": "pending", "why": FATES["pending"]}
    if gate is None:
        return {**fate, **_run_fate(session, consumer, created[-1].created_dag_run_id)}
    return {**fate, **_gate_fate(session, consumer, gate, (event.extra or {}).get("pathspec"))}


def _run_fate(session, consumer: str, dag_run_pk: int) -> dict:
    from airflow.models.dagrun import DagRun
    run_id, state = session.execute(select(DagRun.run_id, DagRun.state).where(DagRun.id == dag_run_pk)).one()
    record = _xcoms(session, [dag_run_pk], CAUSE_KEY).get(dag_run_pk)
    start_state = _start_states(session, [dag_run_pk]).get(dag_run_pk)
    if record is None and start_state in ("failed", "upstream_failed"):
        kind = "failed"
    elif record is not None and record["verdict"] in (REFUSED, STOPPED, REJECTED):
        kind = record["verdict"]
    else:
        kind = "started"
    why = FATES[kind] if kind != "refused" else "; ".join(r["why"] for r in record.get("refused", [])) or FATES[kind]
    return {"fate": kind, "run_id": run_id, "run_state": _text(state),
            "why": record.get("detail") if kind in ("stopped", "rejected") and record.get("detail") else why}


def _gate_fate(session, consumer: str, gate: str, pathspec: str | None) -> dict:
    """Where the gate put the finish: in a set (the consumer run of that set's partition), expired, waiting."""
    from airflow.models.dagrun import DagRun
    records = _gate_records(session, gate)
    for record in records:
        for key, batch in record.get("matched", {}).items():
            if pathspec in batch:
                run = session.execute(select(DagRun.id).where(DagRun.dag_id == consumer,
                                                              DagRun.partition_key == key)).scalar()
                if run is None:
                    return {"fate": "pending", "with": batch, "why": FATES["pending"]}
                return {**_run_fate(session, consumer, run), "with": batch}
        for expired in record.get("expired", []):
            if expired["pathspec"] == pathspec:
                return {"fate": "expired", "by": expired["by"],
                        "why": f"{FATES['expired']} ({expired['by']}, window {record.get('window_seconds')} s)"}
        for refused in record.get("refused", []):
            if pathspec and pathspec in refused["what"]:
                return {"fate": "refused", "why": refused["why"]}
    waiting = _gate_waiting(session, consumer)
    if pathspec in waiting:
        others = sorted({name for name in waiting.values() if name != waiting[pathspec]})
        return {"fate": "waiting", "why": FATES["waiting"] + (f" (holds: {', '.join(others)})" if others else "")}
    return {"fate": "pending", "why": FATES["pending"]}


def _replayed_by(session, consumer: str, pathspec: str | None) -> int | None:
    """The consumer run (its primary key) that a replay of the finish of `pathspec` started, if one did."""
    from airflow.models.xcom import XComModel
    rows = session.execute(select(XComModel.dag_run_id, XComModel.value)
                           .where(XComModel.dag_id == consumer, XComModel.key == CAUSE_KEY)).all()
    for row in rows:
        record = XComModel.deserialize_value(row)
        if isinstance(record, dict) and any(e.get("pathspec") == pathspec for e in record.get("events", [])):
            return row.dag_run_id
    return None


def _missed_why(session, target: str, event) -> tuple[str, str]:
    """("unkeyed", "paused" or "not deployed", the sentence): why Airflow queued the finish for no run of
    `target`."""
    from airflow.models.dag_version import DagVersion
    if event.partition_key is None:
        return "unkeyed", (f"{FATES['missed']}: it carries no partition key, and {target} takes only a finish's "
                           "keyed event (post it with partition_key=<the run's pathspec>)")
    first = session.execute(select(DagVersion.created_at).where(DagVersion.dag_id == target)
                            .order_by(DagVersion.created_at).limit(1)).scalar()
    if first is None or first > event.timestamp:
        return "not deployed", f"{FATES['missed']}: {target} was not deployed when it came"
    return "paused", (f"{FATES['missed']}: {target} was paused when it came (Airflow queues asset events only for "
                      "DAGs that are not paused); replay it with `airflow trigger --missed`")


# -- queries -------------------------------------------------------------------------------------------

def _finish_events(session, upstream: str, run_id: str, scheme: str = FINISH_SCHEME) -> tuple:
    """(the finish event, or with FAILURE_SCHEME the failure event, run `run_id` of `upstream` emitted or None,
    the events posted by hand naming it)."""
    from airflow.models.asset import AssetEvent, AssetModel
    rows = session.scalars(
        select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetModel.uri == f"{scheme}://{upstream}",
               or_(and_(AssetEvent.source_dag_id == upstream, AssetEvent.source_run_id == run_id),
                   AssetEvent.source_dag_id.is_(None)))
        .order_by(AssetEvent.id)).all()
    emitted = next((row for row in rows if row.source_dag_id == upstream), None)
    posted = [row for row in rows if row.source_dag_id is None
              and (row.extra or {}).get("pathspec") == f"{upstream}/{run_id}"]
    return emitted, posted


def _recent_finish_events(session, upstream: str, limit: int, scheme: str = FINISH_SCHEME) -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    return session.scalars(
        select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetModel.uri == f"{scheme}://{upstream}", AssetEvent.source_dag_id == upstream)
        .order_by(AssetEvent.id.desc()).limit(limit)).all()


def _consumers(session, upstream: str, scheme: str = FINISH_SCHEME) -> list[tuple[str, str | None]]:
    """(consumer, its gate or None) of every live DAG scheduled on `upstream`'s finish asset (or, with
    FAILURE_SCHEME, its failure asset)."""
    from airflow.models.asset import AssetModel, DagScheduleAssetReference
    from airflow.models.dag import DagModel
    dag_ids = session.scalars(
        select(DagScheduleAssetReference.dag_id)
        .join(AssetModel, AssetModel.id == DagScheduleAssetReference.asset_id)
        .join(DagModel, DagModel.dag_id == DagScheduleAssetReference.dag_id)
        .where(AssetModel.uri == f"{scheme}://{upstream}", DagModel.is_stale.is_(False))).all()
    suffix = f".{GATE_SUFFIX}"
    return sorted((dag_id.removesuffix(suffix), dag_id if dag_id.endswith(suffix) else None) for dag_id in dag_ids)


def _upstreams(session, consumer: str) -> list[tuple[str, str]]:
    """(upstream DAG id, scheme) of each finish (FINISH_SCHEME) or failure (FAILURE_SCHEME) asset that `consumer`
    (or its gate) is scheduled on."""
    from airflow.models.asset import AssetModel, DagScheduleAssetReference
    uris = session.scalars(
        select(AssetModel.uri).join(DagScheduleAssetReference, DagScheduleAssetReference.asset_id == AssetModel.id)
        .where(or_(*(AssetModel.uri.like(f"{scheme}://%") for scheme in OUTCOME_SCHEMES)),
               DagScheduleAssetReference.dag_id.in_([consumer, f"{consumer}.{GATE_SUFFIX}"]))).all()
    return sorted({(uri.split("://", 1)[1], uri.split("://", 1)[0]) for uri in uris})


def _partitions(session, event_id: int, target: str) -> list:
    from airflow.models.asset import AssetPartitionDagRun, PartitionedAssetKeyLog
    return session.scalars(
        select(AssetPartitionDagRun).join(PartitionedAssetKeyLog, and_(
            PartitionedAssetKeyLog.asset_partition_dag_run_id == AssetPartitionDagRun.id,
            PartitionedAssetKeyLog.target_dag_id == target))
        .where(PartitionedAssetKeyLog.asset_event_id == event_id).order_by(AssetPartitionDagRun.id)).all()


def _gate_records(session, gate: str) -> list[dict]:
    """Every record the gate's runs pushed, newest first."""
    from airflow.models.xcom import XComModel
    rows = session.execute(select(XComModel.dag_run_id, XComModel.value)
                           .where(XComModel.dag_id == gate, XComModel.key == GATE_KEY)
                           .order_by(XComModel.dag_run_id.desc())).all()
    return [record for record in (XComModel.deserialize_value(row) for row in rows) if isinstance(record, dict)]


def _gate_waiting(session, consumer: str) -> dict[str, str]:
    """The finishes waiting in the consumer's gate: pathspec -> its upstream."""
    import json

    from airflow.models.variable import Variable
    row = session.execute(select(Variable).where(Variable.key == state_key(consumer))).scalar()
    if row is None:
        return {}
    state = json.loads(row.val)
    return {event["pathspec"]: upstream for upstream, events in state.get("waiting", {}).items() for event in events}


def _xcoms(session, dag_run_pks: list[int], key: str) -> dict[int, dict]:
    """The XCom `key` of each run (the cause: pushed by a flow's start step, or by each root task of a project's
    Airflow DAG, or its own start task)."""
    from airflow.models.xcom import XComModel
    rows = session.execute(select(XComModel.dag_run_id, XComModel.value)
                           .where(XComModel.dag_run_id.in_(dag_run_pks), XComModel.key == key)).all()
    return {row.dag_run_id: XComModel.deserialize_value(row) for row in rows}


def _start_states(session, dag_run_pks: list[int]) -> dict[int, str]:
    """The state of each run's start task: a project DAG's own first task where it has one (the DAG may have a
    task of its own called `start`)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    rows = session.execute(select(DagRun.id, TaskInstance.task_id, TaskInstance.state)
                           .join(TaskInstance, and_(TaskInstance.dag_id == DagRun.dag_id,
                                                    TaskInstance.run_id == DagRun.run_id))
                           .where(DagRun.id.in_(dag_run_pks), TaskInstance.task_id.in_(START_TASKS))
                           .order_by(TaskInstance.task_id == START_TASKS[1])).all()
    return {pk: _text(state) for pk, _, state in rows}


def _upstream(event: dict) -> dict:
    if event.get("type") != "run":
        return {"event": event.get("name"), "id": event.get("id"), "at": event.get("timestamp"), "type": "event"}
    project, branch, flow = split_flow_name(event["name"])
    return {"dag_id": event["name"], "run_id": event.get("id"), "flow": flow, "project": project, "branch": branch,
            "at": event.get("timestamp"), "type": "run"}


def _text(value) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# -- for the branch page: a fixed few queries for a whole branch ---------------------------------------

def causes(session, runs: dict[str, dict]) -> dict[str, str]:
    """'started by ...' for each DAG's run in `runs` ({dag_id: {"run_id", ...}}, as metadata.last_runs)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import tuple_
    pairs = [(dag_id, run["run_id"]) for dag_id, run in runs.items()]
    if not pairs:
        return {}
    rows = session.execute(select(XComModel.dag_id, XComModel.value)
                           .where(tuple_(XComModel.dag_id, XComModel.run_id).in_(pairs),
                                  XComModel.key == CAUSE_KEY)).all()
    found = {}
    for row in rows:
        record = XComModel.deserialize_value(row)
        started_by = [_upstream(event) for event in record.get("events", [])]
        found[row.dag_id] = ("started by hand" if not started_by else "started by " + ", ".join(
            f"{u['dag_id']} {u['run_id']}" if u["type"] == "run" else f"event {u['event']}" for u in started_by))
        if record.get("verdict") in (REFUSED, STOPPED):
            found[row.dag_id] += f" ({record['verdict']})"
    return found


def edge_fates(session, edges: list, recent: int = 20) -> dict[tuple[str, str], dict]:
    """For each (upstream, consumer) edge: how many finishes wait in the consumer's gate, and how many of the
    upstream's last `recent` finishes it missed while paused."""
    import json

    from airflow.models.asset import AssetEvent, AssetModel, PartitionedAssetKeyLog
    from airflow.models.dag_version import DagVersion
    from airflow.models.variable import Variable
    from sqlalchemy import func
    if not edges:
        return {}
    upstreams = sorted({edge.upstream for edge in edges})
    consumers = sorted({edge.consumer for edge in edges})
    targets = consumers + [f"{c}.{GATE_SUFFIX}" for c in consumers]
    events = session.execute(
        select(AssetModel.name, AssetEvent.id, AssetEvent.timestamp)
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetModel.uri.in_([f"{FINISH_SCHEME}://{u}" for u in upstreams]), AssetEvent.source_dag_id.is_not(None))
        .order_by(AssetEvent.id.desc()).limit(recent * len(upstreams))).all()
    logged = set(session.execute(
        select(PartitionedAssetKeyLog.asset_event_id, PartitionedAssetKeyLog.target_dag_id)
        .where(PartitionedAssetKeyLog.asset_event_id.in_([e.id for e in events]),
               PartitionedAssetKeyLog.target_dag_id.in_(targets))).all())
    deployed = dict(session.execute(select(DagVersion.dag_id, func.min(DagVersion.created_at))
                                    .where(DagVersion.dag_id.in_(targets)).group_by(DagVersion.dag_id)).all())
    queues = {row.key: json.loads(row.val) for row in session.scalars(
        select(Variable).where(Variable.key.in_([state_key(c) for c in consumers])))}
    found = {}
    for edge in edges:
        gate = f"{edge.consumer}.{GATE_SUFFIX}"
        target = gate if gate in deployed else edge.consumer
        since = deployed.get(target)
        missed = sum(1 for e in events if e.name == edge.upstream and since is not None and e.timestamp > since
                     and (e.id, target) not in logged)
        waiting = len(queues.get(state_key(edge.consumer), {}).get("waiting", {}).get(edge.upstream, []))
        found[(edge.upstream, edge.consumer)] = {"waiting": waiting, "missed": missed}
    return found


# -- for promote: which code versions have run -------------------------------------------------------------

def tested_versions(session, dag_id: str) -> dict[str, str]:
    """{code version (package SHA-256): the newest successful run of it} for one DAG, from the code version
    each run's start task recorded in its cause."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    rows = session.execute(select(XComModel.run_id, XComModel.value)
                           .join(DagRun, DagRun.id == XComModel.dag_run_id)
                           .where(XComModel.dag_id == dag_id, XComModel.key == CAUSE_KEY, DagRun.state == "success")
                           .order_by(DagRun.run_after)).all()
    versions = {}
    for row in rows:
        record = XComModel.deserialize_value(row)
        if isinstance(record, dict) and record.get("code"):
            versions[record["code"]] = row.run_id
    return versions


def running_versions(session) -> set[str]:
    """The code versions runs in progress (queued or running, past their start task) still use."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    rows = session.execute(select(XComModel.value)
                           .join(DagRun, DagRun.id == XComModel.dag_run_id)
                           .where(XComModel.key == CAUSE_KEY,
                                  DagRun.state.in_(("queued", "running")))).all()
    versions = (XComModel.deserialize_value(row) for row in rows)
    return {record["code"] for record in versions if isinstance(record, dict) and record.get("code")}
