"""The finish Asset of a deployment: updated by its end task when a run succeeds."""
from __future__ import annotations

from ..naming import Deployment

FINISH_SCHEME = "x-flow-finished"  # Airflow keeps x- URIs verbatim


def finish_asset(deployment: Deployment):
    """Asset named like the DAG id, grouped by project, e.g. x-flow-finished://proj.user.alice.Flow."""
    from airflow.sdk import Asset
    name = deployment.project_flow_name
    return Asset(name=name, uri=f"{FINISH_SCHEME}://{name}", group=deployment.project or "asset")


def event_asset(full_event_name: str, project: str | None):
    """The asset an external event named `full_event_name` updates (see @trigger)."""
    from airflow.sdk import Asset
    return Asset(name=full_event_name, uri=f"x-flow-event://{full_event_name}", group=project or "asset")


def window_asset(deployment: Deployment):
    """The asset a window keeper updates to start `deployment` (see windows.py)."""
    from airflow.sdk import Asset
    name = deployment.project_flow_name
    return Asset(name=f"{name}.trigger_window", uri=f"x-flow-trigger-window://{name}",
                 group=deployment.project or "asset")


def finish_event_extra(deployment: Deployment, run_id: str, run_location: str, depth: int) -> dict:
    """What a finish event tells its consumers: which run of which deployment, and its artifacts."""
    return {
        "flow": deployment.flow_name,
        "project": deployment.project,
        "branch": deployment.branch,
        "project_flow_name": deployment.project_flow_name,
        "run_id": run_id,
        "pathspec": f"{deployment.project_flow_name}/{run_id}",
        "artifacts": run_location,
        "deployer": deployment.deployer,
        "depth": depth,
    }
