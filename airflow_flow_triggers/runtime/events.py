"""The trigger events of a run, one schema for all of them, whatever brought them: an Airflow asset event,
a wait-for-all gate's set, `airflow trigger --trigger` or a local `--trigger FLOW/RUN_ID`.

A flow's finish event carries only the finished run's pathspec (`finish_extra`; its flow, project,
branch, run id and artifact location too, for people reading it in Airflow's UI). Everything else a
consumer knows of it, its end task, its depth in a chain of triggers, whether it succeeded at all, is read
once from the artifact store by `finish_event`, which refuses a finish no successful run stands behind (an
event posted by hand). As a dict: {"name" (the upstream's DAG id), "id" (its run id), "type": "run",
"pathspec", "end_task", "timestamp", "depth", "source_dag_id", "source_run_id"} (a failure event:
"outcome": "failed" and "failed_task" instead of "end_task"); an external event
{"name", "id", "type": "event", "pathspec": None, "timestamp", "extra"}. The run's record keeps them, so
every step of the run reads the same `current.trigger` (what users see is client.metaflow_event's MetaflowEvent).
"""
from __future__ import annotations

from ..errors import CommandLineError, RunNotFoundError, RunNotSuccessfulError, TriggerParameterError
from ..flows.parameters import flow_parameters
from ..flows.triggers import NamespacedEvent, check_event_name
from ..naming import Deployment, qualify
from .client import Run
from .current import current


class ForgedFinish(Exception):
    """A finish event that no successful run of the flow it names stands behind; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def finish_extra(deployment: Deployment, run_id: str, store) -> dict:
    """The `extra` of a finish event: the finished run's pathspec, and for people its flow, project, branch,
    run id and where its artifacts are."""
    return {"pathspec": f"{deployment.project_flow_name}/{run_id}", "flow": deployment.flow_name,
            "project": deployment.project, "branch": deployment.branch, "run_id": run_id,
            "artifacts": store.run_url(deployment.project_flow_name, run_id)}


def failure_extra(deployment: Deployment, run_id: str, store) -> dict:
    """The `extra` of a failure event: as a finish event's, with the outcome."""
    return {**finish_extra(deployment, run_id, store), "outcome": "failed"}


def failure_event(name: str, timestamp: str | None, pathspec: str | None,
                  source: tuple[str | None, str | None] = (None, None), store=None) -> dict:
    """The trigger event of the failure of run `pathspec` of `name`, from the store's facts: the run must exist
    and have a task that failed (its `failed_task`, whose exception the client reads), and no successful end;
    raises ForgedFinish otherwise (an event posted by hand, naming a run that did not fail)."""
    run_id = _checked_source(name, pathspec, source)
    run = _stored_run(pathspec, store)
    if run.successful:
        raise ForgedFinish(f"run '{pathspec}' succeeded")
    failed = next((task for step in run for task in step.tasks() if task._record is not None and not task.successful),
                  None)
    if failed is None and source[0] is None and run.kind != "dag":     # the run's own announcement: a task died
        raise ForgedFinish(f"no task of run '{pathspec}' failed")
    return {"name": name, "id": run_id, "type": "run", "outcome": "failed", "pathspec": pathspec,
            "failed_task": failed.pathspec if failed is not None else None, "timestamp": timestamp,
            "depth": run.trigger_depth, "source_dag_id": source[0], "source_run_id": source[1], "kind": run.kind}


def _checked_source(name: str, pathspec: str | None, source) -> str:
    """The run id of `pathspec`, when it is a run of `name` and the event's source (if any) is that run."""
    if not pathspec:
        raise ForgedFinish("it names no run (its extra has no pathspec)")
    flow, _, run_id = pathspec.partition("/")
    if flow != name or not run_id:
        raise ForgedFinish(f"it names run '{pathspec}', which is not a run of {name}")
    if source[0] is not None and tuple(source) != (name, run_id):
        raise ForgedFinish(f"it was emitted by {source[0]}/{source[1]}, not by the run it names")
    return run_id


def _stored_run(pathspec: str, store):
    try:
        return Run.stored(pathspec, store)
    except RunNotFoundError:
        raise ForgedFinish(f"run '{pathspec}' does not exist in the artifact store") from None


def finish_event(name: str, timestamp: str | None, pathspec: str | None,
                 source: tuple[str | None, str | None] = (None, None), store=None) -> dict:
    """The trigger event of the finish of `pathspec` announced on `name`'s finish asset at `timestamp`, from
    the store's facts; raises ForgedFinish when no successful run of `name` stands behind it.

    `source` is the (DAG id, run id) of the task that emitted it: a task emits its own deployment's finish,
    an event posted through the REST API has none and is accepted only as the replay of a run that really
    succeeded (as `--trigger` is)."""
    run_id = _checked_source(name, pathspec, source)
    run = _stored_run(pathspec, store)
    end = run.end_task
    if end is None or not end.successful:
        raise ForgedFinish(f"run '{pathspec}' did not succeed")
    return {"name": name, "id": run_id, "type": "run", "pathspec": pathspec, "end_task": f"{pathspec}/end/{end.id}",
            "timestamp": timestamp, "depth": run.trigger_depth, "source_dag_id": source[0],
            "source_run_id": source[1], "kind": run.kind}


def verified(event: dict, store=None) -> dict:
    """A finish or failure event as another reader left it (a gate's set, a run's conf), derived again from the
    store: nothing it says beyond its name, pathspec, time, source and outcome is believed."""
    derive = failure_event if event.get("outcome") == "failed" else finish_event
    return derive(event["name"], event.get("timestamp"), event.get("pathspec"),
                  (event.get("source_dag_id"), event.get("source_run_id")), store)


def external_event(name: str, timestamp: str | None, payload: dict) -> dict:
    """The trigger event of an external event (@trigger) with its payload."""
    return {"name": name, "id": payload.get("id") or timestamp, "type": "event", "pathspec": None,
            "timestamp": timestamp, "extra": payload}


def depth_of(events: list[dict]) -> int:
    """How many runs deep a chain of triggers is: 0 for a run nobody's finish started."""
    return max((e["depth"] + 1 for e in events if e.get("type", "run") == "run"), default=0)


def event_from_run(run) -> dict:
    """The trigger event a finished run stands for (local --trigger)."""
    stamp = run.finished_at.isoformat() if run.finished_at else None
    return finish_event(run.project_flow_name, stamp, run.qualified_pathspec, store=run.flow.store)


def events_for_runs(pathspecs: list[str], deployment: Deployment, store=None,
                    outcome: str = "succeeded") -> list[dict]:
    """Trigger events for `--trigger FLOW/RUN_ID` options: the runs must exist and have ended as the flow's
    @trigger_on_finish(outcome=...) asks (succeeded by default)."""
    events = []
    for pathspec in pathspecs:
        flow, _, run_id = pathspec.partition("/")
        if not flow or not run_id or "/" in run_id:
            raise RunNotFoundError(f"--trigger '{pathspec}' is not a run: write it as FlowName/RUN_ID (a bare "
                                   "flow name means this project branch) or project.branch.FlowName/RUN_ID.")
        run = Run(f"{qualify(flow, deployment)}/{run_id}", store=store, _namespace_check=False)
        if run.successful and outcome != "failed":
            events.append(event_from_run(run))
        elif outcome == "succeeded":
            raise RunNotSuccessfulError(f"Run '{run.qualified_pathspec}' did not succeed (it failed or has not "
                                        "finished): --trigger needs a successful run.")
        else:
            events.append(_failed_run_event(run, outcome))
    return events


def _failed_run_event(run, outcome: str) -> dict:
    try:
        return failure_event(run.project_flow_name, None, run.qualified_pathspec, store=run.flow.store)
    except ForgedFinish as not_failed:
        why = "succeeded" if run.successful else f"did not fail ({not_failed.reason})"
        also = " or a successful one" if outcome == "any" else ""
        raise RunNotSuccessfulError(f"Run '{run.qualified_pathspec}' {why}: @trigger_on_finish(outcome='{outcome}') "
                                    f"makes --trigger name a failed run{also}.") from None


def trigger_parameters(flow_cls, events: list[dict], store=None) -> dict:
    """The flow's parameters that @trigger_on_finish(parameters=...) sets from the triggering run's artifacts, by
    parameter name, converted to their types; raises TriggerParameterError (one sentence) for an artifact or key
    the run does not have, or a value the parameter cannot take."""
    spec = getattr(flow_cls, "_trigger_on_finish", None)
    runs = [event for event in events if event.get("type", "run") == "run" and event.get("pathspec")]
    if spec is None or not spec.parameters or not runs:
        return {}
    pathspec = runs[-1]["pathspec"]
    run, params, values = Run.stored(pathspec, store), flow_parameters(flow_cls), {}
    for name, path in spec.parameters:
        where = f"@trigger_on_finish(parameters=...) sets parameter '{name}' from '{path}' of run {pathspec}"
        value = _artifact_at(run, path, where)
        if params[name].type is str and not isinstance(value, (str, int, float)):
            raise TriggerParameterError(f"{where}, whose value is a {type(value).__name__}, not a str: point it at a "
                                        "value of the parameter's type, or read it in start (current.trigger.run).")
        try:
            values[name] = params[name].convert(value)
        except CommandLineError as error:
            raise TriggerParameterError(f"{where}, but {error.message[0].lower()}{error.message[1:]}") from None
    return values


def _artifact_at(run, path: str, where: str):
    """The value at `path` ('artifact' or 'artifact.key.key') among the artifacts of `run`'s last task that ran."""
    name, *keys = path.split(".")
    tasks = [run.end_task] if run.successful else [task for step in run for task in step.tasks()]
    task = next((t for t in reversed(tasks) if t is not None and name in t), None)
    if task is None:
        raise TriggerParameterError(f"{where}, which has no artifact '{name}': set self.{name} in the upstream, or "
                                    "change the mapping.")
    value = task[name].data
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            held = ".".join([name, *keys[:depth]])
            has = f" with keys {', '.join(map(str, list(value)[:8]))}" if isinstance(value, dict) else ""
            raise TriggerParameterError(f"{where}, but '{held}' has no key '{key}' (it is a {type(value).__name__}"
                                        f"{has}).")
        value = value[key]
    return value


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
