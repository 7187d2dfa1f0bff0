"""A cluster policy (entry point group `airflow.policy`): DAGs that follow a finish asset are partitioned.

Finish events are partitioned by the run that finished (one event, one key), and Airflow queues
only partitioned consumers for such events. A DAG of your own scheduled on a finish asset with a
plain asset schedule would never run; this policy makes that an import error that says what to write.
"""
from __future__ import annotations

from airflow.policies import hookimpl

from .assets import is_finish_asset


@hookimpl
def dag_policy(dag) -> None:
    from airflow.sdk import PartitionedAssetTimetable
    timetable = dag.timetable
    condition = getattr(timetable, "asset_condition", None)
    if condition is None or isinstance(timetable, PartitionedAssetTimetable):
        return
    followed = [asset for asset in _leaves(condition) if getattr(asset, "uri", "") and is_finish_asset(asset)]
    if followed:
        from airflow.exceptions import AirflowClusterPolicyViolation
        name = getattr(followed[0], "name", None) or followed[0].uri
        raise AirflowClusterPolicyViolation(
            f"DAG {dag.dag_id} is scheduled on the finish asset {name}, whose events are partitioned by the run "
            "that finished, so a plain asset schedule never starts it: use schedule=PartitionedAssetTimetable("
            "assets=...) (from airflow.sdk) to run once per finish.")


def _leaves(condition):
    """The assets and asset references of an asset condition (AssetAll / AssetAny nest them)."""
    for item in getattr(condition, "objects", None) or [condition]:
        yield from (_leaves(item) if hasattr(item, "objects") else [item])
