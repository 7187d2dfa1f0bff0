"""Trigger events as plain dicts, the same whether they came from an Airflow asset event or from
`--trigger FLOW/RUN_ID` on a local run: {"name", "id", "timestamp", "type", "pathspec", "end_task",
"depth"}; for a finish, "name" is the deployment's DAG id and "id" the run id (what users see is
client.metaflow_event's MetaflowEvent).

They are stored in the run's record, so every step of the run reads the same `current.trigger`.
"""
from __future__ import annotations

from ..errors import RunNotFoundError, RunNotSuccessfulError
from ..flows.triggers import NamespacedEvent, check_event_name
from ..naming import Deployment, qualify
from .client import Run
from .current import current


def depth_of(events: list[dict]) -> int:
    """How many runs deep a chain of triggers is: 0 for a run nobody's finish started."""
    return max((e.get("depth", 0) + 1 for e in events if e.get("type", "run") == "run"), default=0)


def event_from_run(run) -> dict:
    """The trigger event a finished run stands for (local --trigger)."""
    end = run.end_task
    return {"name": run.project_flow_name, "id": run.id, "type": "run", "pathspec": run.qualified_pathspec,
            "end_task": f"{run.qualified_pathspec}/end/{end.id}" if end else None,
            "timestamp": run.finished_at.isoformat() if run.finished_at else None,
            "depth": run.trigger_depth}


def events_for_runs(pathspecs: list[str], deployment: Deployment, store=None) -> list[dict]:
    """Trigger events for `--trigger FLOW/RUN_ID` options: the runs must exist and have succeeded."""
    events = []
    for pathspec in pathspecs:
        flow, _, run_id = pathspec.partition("/")
        if not flow or not run_id or "/" in run_id:
            raise RunNotFoundError(f"--trigger '{pathspec}' is not a run: write it as FlowName/RUN_ID (a bare "
                                   "flow name means this project branch) or project.branch.FlowName/RUN_ID.")
        run = Run(f"{qualify(flow, deployment)}/{run_id}", store=store, _namespace_check=False)
        if not run.successful:
            raise RunNotSuccessfulError(f"Run '{run.qualified_pathspec}' did not succeed (it failed or has not "
                                        "finished): --trigger needs a successful run.")
        events.append(event_from_run(run))
    return events


def event_from_extra(asset_name: str, timestamp, extra: dict, finish: bool,
                     source: tuple[str | None, str | None] = (None, None)) -> dict:
    """The trigger event an Airflow asset event stands for: a flow's finish, or an external event.

    `source` is the (DAG id, run id) of the task that emitted it; (None, None) when it was posted
    through the REST API.
    """
    stamp = timestamp.isoformat() if timestamp else None
    if finish:
        return {"name": asset_name, "id": extra.get("run_id"), "type": "run", "pathspec": extra.get("pathspec"),
                "end_task": extra.get("end_task"), "timestamp": stamp, "depth": extra.get("depth", 0),
                "source_dag_id": source[0], "source_run_id": source[1]}
    return {"name": asset_name, "id": extra.get("id") or stamp, "type": "event", "pathspec": None,
            "timestamp": stamp, "extra": extra}


def forged_finish(event: dict, store=None) -> str | None:
    """Why a finish event does not stand for a successful run of the flow it names; None when it does.

    A task emits its deployment's finish asset with its own DAG and run as source; an event posted
    through the REST API has no source and is accepted only as a replay of a run that really
    succeeded (as `--trigger` is).
    """
    if event.get("type", "run") != "run":
        return None
    name, run_id, pathspec = event["name"], event.get("id"), event.get("pathspec")
    if not pathspec:
        return "it names no run (its extra has no pathspec)"
    if pathspec != f"{name}/{run_id}":
        return f"it names run '{pathspec}', which is not a run of {name}"
    source = (event.get("source_dag_id"), event.get("source_run_id"))
    if source[0] is not None and source != (name, run_id):
        return f"it was emitted by {source[0]}/{source[1]}, not by the run it names"
    try:
        run = Run(pathspec, store=store, _namespace_check=False)
    except RunNotFoundError:
        return f"run '{pathspec}' does not exist in the artifact store"
    if not run.successful:
        return f"run '{pathspec}' did not succeed"
    return None


class _BranchEvent(NamespacedEvent):
    def __call__(self) -> str:
        """The name for the branch of the running step (Metaflow resolves it from `current` too)."""
        return self.name_in(current.project_name, current.branch_name)


def namespaced_event_name(event_name: str) -> NamespacedEvent:
    """Metaflow 2.19's branch-scoped event name: `mfns.<project>.<branch>.<event_name>` for each deployment.

    Give it to @trigger(event=...) (resolved per deployment) or to AirflowEvent (resolved for the running
    step's branch; `mfns.<event_name>` outside a project).
    """
    check_event_name(event_name)
    return _BranchEvent(event_name)
