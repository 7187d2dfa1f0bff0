"""Every query the plugin makes of Airflow's metadata database, in one place.

Airflow's ORM models are not its public interface, so they are touched here only. Each function is
one query (or a fixed few), whatever the number of DAGs: the page and the API stay constant-cost.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from ..naming import branch_tags
from ..orchestration import expectations
from ..orchestration.assets import FAILURE_SCHEME, FINISH_SCHEME, GATE_SUFFIX, announced_dag_id
from ..orchestration.gates import state_key

STALE_WAIT = 30.0        # seconds a delete waits for the dag-processor to let go of the DAGs it removes

FINISH_URIS = f"{FINISH_SCHEME}://%"


@dataclass(frozen=True)
class DagRow:
    dag_id: str
    owners: str
    is_paused: bool
    tags: frozenset[str]


@dataclass(frozen=True)
class Edge:
    """DAG `consumer` is scheduled on the finish asset of DAG `upstream`."""

    upstream: str
    consumer: str


def flow_dags(session) -> list[DagRow]:
    """Every live DAG that emits a finish asset (a deployed flow), with its tags."""
    from airflow.models.dag import DagModel, DagTag
    rows = session.execute(
        select(DagModel.dag_id, DagModel.owners, DagModel.is_paused, DagTag.name)
        .outerjoin(DagTag, DagTag.dag_id == DagModel.dag_id)
        .where(DagModel.is_stale.is_(False), DagModel.dag_id.in_(_finish_producers()))
    ).all()
    return _dag_rows(rows)


def branch_dags(session, project: str, branch: str) -> list[DagRow]:
    """The live flow DAGs of one project branch, with their tags."""
    from airflow.models.dag import DagModel, DagTag
    tagged = [select(DagTag.dag_id).where(DagTag.name == name).scalar_subquery()
              for name in branch_tags(project, branch)]
    rows = session.execute(
        select(DagModel.dag_id, DagModel.owners, DagModel.is_paused, DagTag.name)
        .outerjoin(DagTag, DagTag.dag_id == DagModel.dag_id)
        .where(DagModel.is_stale.is_(False), DagModel.dag_id.in_(_finish_producers()),
               DagModel.dag_id.in_(tagged[0]), DagModel.dag_id.in_(tagged[1]))
    ).all()
    return _dag_rows(rows)


def trigger_edges(session, dag_ids: set[str]) -> list[Edge]:
    """The finish -> trigger edges into or out of `dag_ids` (a trigger on an upstream's failure too); a
    wait-for-all gate stands for its consumer."""
    from airflow.models.asset import AssetModel, DagScheduleAssetReference
    from airflow.models.dag import DagModel
    gates = {f"{dag_id}.{GATE_SUFFIX}" for dag_id in dag_ids}
    announced = [f"{scheme}://{dag_id}" for scheme in (FINISH_SCHEME, FAILURE_SCHEME) for dag_id in dag_ids]
    rows = session.execute(
        select(AssetModel.uri, DagScheduleAssetReference.dag_id)
        .join(DagScheduleAssetReference, DagScheduleAssetReference.asset_id == AssetModel.id)
        .join(DagModel, DagModel.dag_id == DagScheduleAssetReference.dag_id)
        .where(or_(AssetModel.uri.like(FINISH_URIS), AssetModel.uri.like(f"{FAILURE_SCHEME}://%")),
               DagModel.is_stale.is_(False),
               or_(AssetModel.uri.in_(announced), DagScheduleAssetReference.dag_id.in_(dag_ids | gates)))
    ).all()
    return sorted({Edge(announced_dag_id(uri), consumer.removesuffix(f".{GATE_SUFFIX}")) for uri, consumer in rows},
                  key=lambda e: (e.upstream, e.consumer))


def last_runs(session, dag_ids: set[str]) -> dict[str, dict]:
    """The newest DAG run of each of `dag_ids`."""
    from airflow.models.dagrun import DagRun
    newest = (select(func.max(DagRun.id)).where(DagRun.dag_id.in_(dag_ids)).group_by(DagRun.dag_id)
              .scalar_subquery())
    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.start_date, DagRun.end_date)
        .where(DagRun.id.in_(newest))
    ).all()
    return {dag_id: {"run_id": run_id, "state": str(state) if state else None, "start_date": _iso(start),
                     "end_date": _iso(end)} for dag_id, run_id, state, start, end in rows}


def task_instance_state(session, dag_id: str, run_id: str, task_id: str, map_index: int) -> tuple[bool, str | None]:
    """(whether the task instance exists, its state: None before the scheduler gives it one)."""
    from airflow.models.taskinstance import TaskInstance
    row = session.execute(
        select(TaskInstance.state).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id,
                                         TaskInstance.task_id == task_id, TaskInstance.map_index == map_index)
    ).first()
    return (False, None) if row is None else (True, _state(row.state))


def run_task_instances(session, runs: dict[str, str]) -> list[tuple[str, str, int, str | None]]:
    """(dag_id, task_id, map_index, state) of every task instance of the runs `runs` ({dag_id: run_id})."""
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import tuple_
    if not runs:
        return []
    rows = session.execute(
        select(TaskInstance.dag_id, TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state)
        .where(tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(list(runs.items())))
        .order_by(TaskInstance.dag_id, TaskInstance.task_id, TaskInstance.map_index)
    ).all()
    return [(dag_id, task_id, map_index, _state(state)) for dag_id, task_id, map_index, state in rows]


def finish_assets(session, dag_ids: set[str]) -> dict[str, dict]:
    """Each of `dag_ids`' finish asset (id, for the asset page) and its newest event."""
    from airflow.models.asset import AssetEvent, AssetModel
    assets = select(AssetModel.id).where(AssetModel.uri.like(FINISH_URIS), AssetModel.name.in_(dag_ids))
    newest = (select(AssetEvent.asset_id, func.max(AssetEvent.id).label("event_id"))
              .where(AssetEvent.asset_id.in_(assets.scalar_subquery())).group_by(AssetEvent.asset_id).subquery())
    rows = session.execute(
        select(AssetModel.name, AssetModel.id, AssetEvent.timestamp, AssetEvent.extra, AssetEvent.source_run_id)
        .outerjoin(newest, newest.c.asset_id == AssetModel.id)
        .outerjoin(AssetEvent, AssetEvent.id == newest.c.event_id)
        .where(AssetModel.uri.like(FINISH_URIS), AssetModel.name.in_(dag_ids))
    ).all()
    return {name: {"asset_id": asset_id,
                   "last_finish": None if timestamp is None else
                   {"run_id": (extra or {}).get("run_id") or source_run_id, "timestamp": _iso(timestamp)}}
            for name, asset_id, timestamp, extra, source_run_id in rows}


def expectation_records(session, dag_ids: set[str]) -> dict[str, dict]:
    """For each of `dag_ids` with an expectation DAG (expect_every= / expect_by=): what its newest check found (its
    XCom), or {} when it has not checked yet. Two queries, whatever the number of DAGs."""
    from airflow.models.dag import DagModel
    from airflow.models.xcom import XComModel
    companions = {expectations.companion_id(dag_id): dag_id for dag_id in dag_ids}
    if not companions:
        return {}
    live = session.scalars(select(DagModel.dag_id).where(DagModel.dag_id.in_(companions),
                                                         DagModel.is_stale.is_(False))).all()
    newest = (select(func.max(XComModel.dag_run_id)).where(XComModel.dag_id.in_(live),
                                                            XComModel.key == expectations.EXPECT_KEY)
              .group_by(XComModel.dag_id).scalar_subquery())
    rows = session.execute(select(XComModel.dag_id, XComModel.value)
                           .where(XComModel.dag_run_id.in_(newest), XComModel.key == expectations.EXPECT_KEY)).all()
    found = {companions[dag_id]: {} for dag_id in live}
    for row in rows:
        record = XComModel.deserialize_value(row)
        if isinstance(record, dict):
            found[companions[row.dag_id]] = record
    return found


def request_parsing(session, bundle_name: str, relative_paths: list[str]) -> None:
    """Airflow's priority parsing requests: the dag-processor refreshes the bundle and parses these first."""
    from airflow.models.dagbag import DagPriorityParsingRequest
    for path in relative_paths:
        request = DagPriorityParsingRequest(bundle_name=bundle_name, relative_fileloc=path)
        request.id = hashlib.md5(f"{bundle_name}:{path}".encode()).hexdigest()   # Airflow's key: one per file
        session.merge(request)
    session.commit()


def delete_dags(session, dag_ids: list[str]) -> list[str]:
    """Delete the DAGs (and their gate DAGs) from the metadata, as `DELETE /api/v2/dags/{id}` does, and what
    that leaves behind: their pending asset partitions and queued asset events, and a gate's waiting finishes.
    Returns the DAG ids kept because a task of theirs still runs (they go stale once their file is gone).

    Airflow's delete_dag deletes the DAG's runs, and with them (by a cascade) the partitions those runs were
    made from, but not the partition log rows that name them: on SQLite a later partition may reuse a freed
    id and so inherit the deleted DAG's old finish events. A finish reaching the consumer while it is gone
    must start nothing when it comes back, so every trace goes in the same transaction."""
    from airflow.api.common.delete_dag import delete_dag
    from airflow.exceptions import AirflowException, DagNotFound
    _wait_until_stale(session, [one for dag_id in dag_ids for one in _owned(dag_id)])
    running = []
    for dag_id in dag_ids:
        for one in _owned(dag_id):
            try:
                delete_dag(one, session=session)
            except DagNotFound:
                pass
            except AirflowException:
                running.append(one)
                continue
            _forget_partitions(session, one)
        _forget_waiting_finishes(session, dag_id)
    session.commit()
    return running


def _owned(dag_id: str) -> tuple[str, ...]:
    """The DAG and the DAGs that come and go with it: its wait-for-all gate and its expectation DAG."""
    return dag_id, f"{dag_id}.{GATE_SUFFIX}", expectations.companion_id(dag_id)


def _wait_until_stale(session, dag_ids: list[str], timeout: float = STALE_WAIT) -> None:
    """Wait (at most `timeout` seconds) until the dag-processor has marked these DAGs stale, their files being
    gone: until then it may be updating their rows (marking them stale, or storing a parse begun before), and
    a row deleted under it makes it fail and exit (StaleDataError, Airflow 3.3.2). A parsing request for their
    files makes it refresh their bundle at its next loop. If it is not running, the rows go after the wait."""
    from airflow.models.dag import DagModel
    rows = session.execute(select(DagModel.bundle_name, DagModel.relative_fileloc)
                           .where(DagModel.dag_id.in_(dag_ids), DagModel.is_stale.is_(False))).all()
    for bundle in {row.bundle_name for row in rows if row.bundle_name}:
        request_parsing(session, bundle, sorted({row.relative_fileloc for row in rows
                                                 if row.bundle_name == bundle and row.relative_fileloc}))
    deadline = time.monotonic() + timeout
    while rows and time.monotonic() < deadline:
        time.sleep(0.25)
        session.commit()            # each look a transaction of its own: SQLite's lock is let go in between
        rows = session.execute(select(DagModel.dag_id).where(DagModel.dag_id.in_(dag_ids),
                                                             DagModel.is_stale.is_(False))).all()


def _forget_partitions(session, dag_id: str) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetPartitionDagRun, PartitionedAssetKeyLog
    from sqlalchemy import delete
    session.execute(delete(PartitionedAssetKeyLog).where(PartitionedAssetKeyLog.target_dag_id == dag_id))
    session.execute(delete(AssetPartitionDagRun).where(AssetPartitionDagRun.target_dag_id == dag_id))
    session.execute(delete(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id))


def _forget_waiting_finishes(session, consumer: str) -> None:
    """A gate's waiting finishes, the DAG's deadline alerts and the times of its own last finishes."""
    from airflow.models.variable import Variable
    from sqlalchemy import delete
    keys = [state_key(consumer), expectations.state_key(consumer),
            *(expectations.last_finish_key(consumer, outcome) for outcome in expectations.LAST_FINISH_PREFIXES)]
    session.execute(delete(Variable).where(Variable.key.in_(keys)))


def _finish_producers():
    from airflow.models.asset import AssetModel, TaskOutletAssetReference
    return (select(TaskOutletAssetReference.dag_id)
            .join(AssetModel, AssetModel.id == TaskOutletAssetReference.asset_id)
            .where(AssetModel.uri.like(FINISH_URIS)).scalar_subquery())


def _dag_rows(rows) -> list[DagRow]:
    dags: dict[str, tuple] = {}
    tags: dict[str, set[str]] = {}
    for dag_id, owners, is_paused, tag in rows:
        dags[dag_id] = (owners or "", bool(is_paused))
        if tag is not None:
            tags.setdefault(dag_id, set()).add(tag)
    return [DagRow(dag_id, owners, paused, frozenset(tags.get(dag_id, ()))) for dag_id, (owners, paused)
            in sorted(dags.items())]


def _state(state) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
