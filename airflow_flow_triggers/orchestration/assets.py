"""The assets a deployment emits and listens to, and the partition key of a finish event.

Every finish event is partitioned by the run that finished (key = its pathspec), so a consumer
scheduled with `PartitionedAssetTimetable` gets exactly one run per upstream finish, however many
finishes reach the scheduler at once.
"""
from __future__ import annotations

import hashlib

from ..naming import Deployment

FINISH_SCHEME = "x-flow-finished"  # Airflow keeps x- URIs verbatim
FAILURE_SCHEME = "x-flow-failed"
FAILED_SUFFIX = ".failed"   # a failure asset's name: `<DAG id>.failed`
EVENT_SCHEME = "x-flow-event"
EVENTS_GROUP = "flow-events"  # one group for every event: an event is global, whoever listens to it
GATE_SUFFIX = "wait_for_all"  # the gate DAG and its asset: `<consumer DAG id>.wait_for_all`
MAX_PARTITION_KEY = 250  # Airflow's ID_LEN, the partition_key column


def finish_asset(deployment: Deployment):
    """Asset named like the DAG id, grouped by project, e.g. x-flow-finished://proj.user.alice.Flow."""
    from airflow.sdk import Asset
    name = deployment.project_flow_name
    return Asset(name=name, uri=f"{FINISH_SCHEME}://{name}", group=deployment.project or "asset")


def is_finish_asset(asset) -> bool:
    """Whether `asset` (anything with a `uri`) is a deployment's finish asset."""
    return asset.uri.startswith(f"{FINISH_SCHEME}://")


def failure_asset(deployment: Deployment):
    """The asset a deployment's failed runs update, e.g. x-flow-failed://proj.user.alice.Flow, named
    `<DAG id>.failed`, grouped with its finish asset."""
    from airflow.sdk import Asset
    name = deployment.project_flow_name
    return Asset(name=f"{name}{FAILED_SUFFIX}", uri=f"{FAILURE_SCHEME}://{name}", group=deployment.project or "asset")


def is_failure_asset(asset) -> bool:
    return asset.uri.startswith(f"{FAILURE_SCHEME}://")


def outcome_assets(deployment: Deployment, outcome: str) -> list:
    """The assets of `deployment` whose events an @trigger_on_finish(outcome=...) starts on."""
    return {"succeeded": [finish_asset(deployment)], "failed": [failure_asset(deployment)],
            "any": [finish_asset(deployment), failure_asset(deployment)]}[outcome]


def announced_dag_id(uri: str) -> str:
    """The DAG id whose finish or failure the asset of `uri` announces."""
    return uri.split("://", 1)[1]


def event_asset(name: str):
    """The asset an external event named `name` updates (see @trigger), grouped as its events are."""
    from airflow.sdk import Asset
    return Asset(name=name, uri=event_uri(name), group=EVENTS_GROUP)


def event_uri(name: str) -> str:
    return f"{EVENT_SCHEME}://{name}"


def gate_asset(deployment: Deployment):
    """The asset the wait-for-all gate updates to start `deployment` (see gates.py)."""
    from airflow.sdk import Asset
    name = deployment.project_flow_name
    return Asset(name=f"{name}.{GATE_SUFFIX}", uri=f"x-flow-all-finished://{name}",
                 group=deployment.project or "asset")



def partition_key(pathspec: str) -> str:
    """The partition key of a finish event: the finished run's pathspec (a digest if over 250 chars)."""
    if len(pathspec) <= MAX_PARTITION_KEY:
        return pathspec
    return "sha256:" + hashlib.sha256(pathspec.encode()).hexdigest()
