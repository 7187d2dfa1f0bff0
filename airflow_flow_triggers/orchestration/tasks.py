"""What runs inside an Airflow task: one step through the shared runtime, refs in and out as XCom."""
from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import dataclass

from .. import config
from ..deployments.loading import code_version, pinned_flow
from ..errors import TriggerParameterError
from ..flows.decospecs import attach_decorators
from ..flows.parameters import flow_parameters
from ..flows.triggers import event_parameters
from ..naming import Deployment
from ..runtime.events import (
    ForgedFinish,
    depth_of,
    external_event,
    failure_event,
    failure_extra,
    finish_event,
    finish_extra,
    trigger_parameters,
)
from ..runtime.exit_hooks import flow_file, hook_names, run_exit_hooks
from ..runtime.output import foreach_yields
from ..runtime.store import ArtifactStore
from ..runtime.task import TaskRef, prepare_task, run_code
from .assets import announced_dag_id, failure_asset, is_failure_asset, is_finish_asset, partition_key
from .causes import CAUSE_KEY, REFUSED, REJECTED, STARTED, STOPPED, cause
from .expectations import record_finish

log = logging.getLogger(__name__)
GATE_BATCHES = "flow_triggers_batches"  # a gate event's extra: {partition key: the upstream events it starts}
CONF_TRIGGER = "flow_triggers_trigger"  # `airflow trigger --trigger`: the events, in the run's conf
CONF_TAGS = "flow_triggers_tags"        # `airflow trigger --tag`: the run's own tags, in its conf


@dataclass(frozen=True)
class TaskInput:
    """What a step's task starts from: its inputs' refs, and for `start` the run's parameters and events."""

    refs: list[TaskRef]
    split_index: int | None
    parameters: dict | None
    events: list[dict] | None
    tags: list[str] | None = None
    from_trigger: dict | None = None     # the parameters @trigger_on_finish(parameters=...) set


FAILURE_TASK = "flow_triggers_failure"   # the teardown announcing a failed run (add_failure_announcement)
EXIT_HOOKS_TASK = "flow_triggers_exit_hooks"    # the teardown calling a flow's @exit_hook functions (add_exit_hooks)
PACKAGE_TASKS = (FAILURE_TASK, EXIT_HOOKS_TASK)  # the package's own tasks in a flow's DAG, after its steps
SWITCH_REF = "ref"  # a switch task's XCom key for its ref (its return value is the task id of the case taken)


def step_callable(flow_cls: type, deployment: Deployment, step: str, step_type: str, finish=None, pull=None):
    """The python_callable of the task for `step`; `finish` is the end step's outlet Asset. `pull`: the
    (task id, XCom key) of its upstreams when some may be skipped (a switch's cases not taken)."""

    def run_step(inputs=None, **context):
        store = ArtifactStore()
        if pull is not None:
            inputs = pulled_inputs(context["ti"], pull, step)
        given = task_input(flow_cls, deployment, step, inputs, context, store)
        flow = run_flow_class(flow_cls, deployment, step, context, store)
        task = prepare_task(flow, deployment, context["run_id"], step, given.refs, given.split_index,
                            given.parameters, store, origin="airflow", trigger_events=given.events,
                            retry_count=retry_count(context), tags=given.tags, code=code_version(flow))
        record_start(step, given, context, code_version(flow))
        return task_output(deployment, step_type, task.execute(), context, finish, store)

    run_step.__name__ = step
    return run_step


def run_flow_class(flow_cls: type, deployment: Deployment, step: str, context, store: ArtifactStore) -> type:
    """The flow class of the code version the run started with (its `start` task recorded it): a deployment
    redeployed while a run is under way changes the code of the next run, never of the steps still to run."""
    if step == "start":
        return flow_cls
    pinned = pinned_flow(flow_cls, run_code(store.run_path(deployment.project_flow_name, context["run_id"])))
    return flow_cls if pinned is flow_cls else attach_decorators(pinned, getattr(flow_cls, "_decospecs", ()))


def flatten_branches(lists) -> list[dict]:
    """A foreach inside a foreach: the refs of every inner branch of every outer branch, in order, one list
    for the inner steps' task mapping (mapping is one level deep)."""
    return [ref for i in range(len(lists)) for ref in lists[i]]


def group_branches(refs) -> list[list[dict]]:
    """The inner join's inputs per outer branch: the inner branches' refs grouped by their outer task id
    ('1-0', '1-1' -> '1'), in the outer branches' order."""
    groups: dict[str, list[dict]] = {}
    for i in range(len(refs)):
        ref = dict(refs[i])
        groups.setdefault(ref["task_id"].rsplit("-", 1)[0], []).append(ref)
    return list(groups.values())


def pulled_inputs(ti, sources, step: str) -> list[dict]:
    """The refs of the upstreams that ran toward `step`: a skipped case has no XCom, and a switch's ref counts
    only when the case it took is `step` itself."""
    refs = []
    for task_id, key in sources:
        value = ti.xcom_pull(task_ids=task_id, key=key)
        if value is not None and (key != SWITCH_REF or value.get("next_step") == step):
            refs.append(value)
    return refs


def retry_count(context) -> int:
    """`current.retry_count`: 0 on a task's first try, as Metaflow counts, and 0 again on its first try after
    Airflow's clear (Airflow numbers a cleared task's tries on from its last one, and reckons the first try of
    the current series from max_tries as here)."""
    ti = context["ti"]
    first_try = ti.max_tries - (ti.task.retries or 0) + 1
    return max(ti.try_number - first_try, 0)


def task_input(flow_cls: type, deployment: Deployment, step: str, inputs, context, store: ArtifactStore) -> TaskInput:
    """The refs of the upstream XCom; for `start`, the triggering events (checked) and the parameters."""
    refs, split_index = _refs(inputs)
    if step != "start":
        return TaskInput(refs, split_index, None, None)
    events = admitted_events(deployment, context, store)
    names = flow_parameters(flow_cls)  # conf may carry more keys than the flow's parameters
    params = {name: value for name, value in dict(context["params"]).items() if name in names}
    params.update(event_parameters(flow_cls, deployment, events))
    try:
        from_trigger = trigger_parameters(flow_cls, events, store)
    except TriggerParameterError as error:       # this run fails, saying why in its cause; no other run is touched
        context["ti"].xcom_push(CAUSE_KEY, cause(REJECTED, events, detail=error.message))
        raise
    if from_trigger:
        log.info("Parameters from the triggering run: %s", ", ".join(f"{k}={v!r}" for k, v in from_trigger.items()))
    return TaskInput(refs, split_index, {**params, **from_trigger}, events, run_tags_of(context), from_trigger)


def admitted_events(deployment: Deployment, context, store: ArtifactStore) -> list[dict]:
    """The run's trigger events, checked: a run that a forged finish started, or that is too deep in a chain of
    triggers, records why in its cause and is skipped (its first task raises AirflowSkipException)."""
    events, refused = triggering_events(context, store)
    record = functools.partial(context["ti"].xcom_push, CAUSE_KEY)
    if refused:
        record(cause(REFUSED, events, refused))
        _skip_forged(deployment, refused, store)
    stopped = _runaway_chain(deployment, events)
    if stopped:
        record(cause(STOPPED, events, detail=stopped))
        _skip(stopped)
    return events


def run_tags_of(context) -> list[str]:
    """The run's own tags (`airflow trigger --tag`), from its conf."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    return [str(tag) for tag in conf.get(CONF_TAGS) or []]


def record_start(step: str, given: TaskInput, context, code: dict | None) -> None:
    """A run's cause, once its start task is ready to run step code (a start task that fails before it
    records none: it failed before any step code), with the code version the run runs."""
    if step == "start":
        context["ti"].xcom_push(CAUSE_KEY, cause(STARTED, given.events, code=code, parameters=given.from_trigger))


def task_output(deployment: Deployment, step_type: str, ref: TaskRef, context, finish, store: ArtifactStore):
    """The task's XCom (refs, one per foreach branch after a foreach); the end task's finish event."""
    if step_type == "foreach":
        print(foreach_yields(ref.foreach_count))        # in the task's log, as a local run prints it
        return [dict(ref.to_dict(), split_index=i) for i in range(ref.foreach_count)]
    if step_type == "switch":   # a branching task: it returns the task id to follow, the others are skipped
        context["ti"].xcom_push(key=SWITCH_REF, value=ref.to_dict())
        return ref.next_step
    if finish is not None:
        emit_finish(deployment, context, finish, store)
    return ref.to_dict()


def emit_finish(deployment: Deployment, context, finish, store: ArtifactStore) -> None:
    """The run's finish event on the outlet `finish`, partitioned by the run that finished (assets.py)."""
    outlet = context["outlet_events"][finish]
    outlet.extra = finish_extra(deployment, context["run_id"], store)
    outlet.add_partitions(partition_key(outlet.extra["pathspec"]))
    record_finish(deployment.project_flow_name, context["run_id"])        # for expect_every= / expect_by=


def announce_failure(deployment: Deployment, context) -> None:
    """The failure announcement's task (dag_factory.add_failure_announcement): the run's failure event, partitioned
    by the run, as its finish event would have been."""
    asset = failure_asset(deployment)
    outlet = context["outlet_events"][asset]
    outlet.extra = failure_extra(deployment, context["run_id"], ArtifactStore())
    outlet.add_partitions(partition_key(outlet.extra["pathspec"]))
    record_finish(deployment.project_flow_name, context["run_id"], "failed")
    log.info("Run %s of %s failed: announced on %s for what is triggered on its failure.", context["run_id"],
             deployment.project_flow_name, asset.uri)


def exit_hooks_callable(flow_cls: type, deployment: Deployment):
    """The python_callable of the exit hooks' task (dag_factory.add_exit_hooks), once every other task of the run
    is done: the flow's @exit_hook functions for how the run ended (its end task succeeded, or not), each in a
    process of its own on this worker, as locally; their output goes to this task's log. A hook that fails is one
    line there and fails nothing (this task neither: a teardown, it never changes the run's state anyway)."""

    def call_exit_hooks(**context):
        run_id, store = context["run_id"], ArtifactStore()
        states = context["ti"].get_task_states(dag_id=context["ti"].dag_id, task_ids=["start", "end"],
                                               run_ids=[run_id]).get(run_id, {})
        if states.get("start") == "skipped":        # a run refused before any step code (admitted_events)
            log.info("Run %s ran no step code (its start task was skipped): no exit hook to call.", run_id)
            return
        successful = states.get("end") == "success"
        try:                                        # the code version the run started with, as its steps ran
            flow = run_flow_class(flow_cls, deployment, EXIT_HOOKS_TASK, context, store)
        except Exception as error:
            log.warning("Calling the exit hooks of the deployed code: the run's own version cannot be loaded (%s).",
                        error)
            flow = flow_cls
        names = hook_names(flow, successful)
        log.info("Run %s %s: calling its exit hooks %s.", run_id, "succeeded" if successful else "failed",
                 ", ".join(names) or "(none for this outcome)")
        run_exit_hooks(flow, f"{deployment.project_flow_name}/{run_id}", successful,
                       cwd=os.path.dirname(flow_file(flow)), env=hook_environment())

    return call_exit_hooks


BLOCKED_DATABASE = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__SQL_ALCHEMY_CONN")
# a database no process can open: Airflow imports with it (its engine connects lazily), and any query fails
UNOPENABLE_DATABASE = "sqlite:////proc/airflow-db-not-allowed"


def hook_environment() -> dict:
    """The environment of a hook's process on the worker: this task's, with the metadata database kept as out of
    reach as it is for task code. Airflow's task runner blocks it with a URL (`airflow-db-not-allowed:///`) that
    no process can even import Airflow with (a hook reading runs on an s3:// artifact root must): the hook's
    process gets one that Airflow imports with but that cannot be opened."""
    return {name: UNOPENABLE_DATABASE if name in BLOCKED_DATABASE and "not-allowed" in value else value
            for name, value in os.environ.items()}


def triggering_events(context, store: ArtifactStore) -> tuple[list[dict], list[tuple[str, str]]]:
    """(events, refused): the run's trigger events, oldest first, every finish derived from the artifact store
    (runtime/events.py's finish_event), and each finish refused, as (what, why).

    The events come from the run's asset events (a gate's are the set of upstream finishes it matched), or,
    for a run started by `airflow trigger --trigger FLOW/RUN_ID`, from its conf. A run made from a partition
    takes only its partition's events: one finish, one run, whatever else Airflow attached.
    """
    events, refused = [], []

    def add_finish(name, timestamp, pathspec, source, outcome: str = "succeeded") -> None:
        try:
            event = (finish_event if outcome == "succeeded" else failure_event)(name, timestamp, pathspec, source,
                                                                                 store)
            # an Airflow DAG's run: Airflow's metadata must say how it ended, but of a failure its own teardown
            # announced (the run may still be running its other tasks)
            if event.get("kind") == "dag" and not (outcome == "failed" and source[0] is not None):
                state, wanted = dag_run_state(name, event["id"]), "success" if outcome == "succeeded" else "failed"
                if state != wanted:
                    raise ForgedFinish(f"DAG run {event['id']} of {name} is {state} in Airflow, not {wanted}")
            events.append(event)
        except ForgedFinish as forged:
            what = "finish" if outcome == "succeeded" else "failure"
            refused.append((f"the {what} event of {name} at {timestamp} naming {pathspec}", forged.reason))

    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None) or {}
    for replay in conf.get(CONF_TRIGGER) or []:      # replays: believed as far as the store backs them
        add_finish(replay.get("name"), replay.get("timestamp"), replay.get("pathspec"), (None, None),
                   replay.get("outcome", "succeeded"))
    if conf.get(CONF_TRIGGER):
        return sorted(events, key=_time), refused
    run_key = getattr(dag_run, "partition_key", None)
    accessor = context.get("triggering_asset_events") or {}
    for asset in accessor:
        for event in accessor[asset]:
            if run_key and event.partition_key != run_key:
                log.warning("Ignoring the event of %s at %s: its partition %s is not this run's (%s).",
                            event.asset.name, event.timestamp, event.partition_key, run_key)
                continue
            extra = dict(event.extra or {})
            stamp = event.timestamp.isoformat() if event.timestamp else None
            if GATE_BATCHES in extra:
                for finish in _gate_set(extra[GATE_BATCHES], event, run_key):
                    add_finish(finish["name"], finish["timestamp"], finish["pathspec"],
                               (finish.get("source_dag_id"), finish.get("source_run_id")))
            elif is_finish_asset(event.asset):
                add_finish(event.asset.name, stamp, extra.get("pathspec"), (event.source_dag_id, event.source_run_id))
            elif is_failure_asset(event.asset):
                add_finish(announced_dag_id(event.asset.uri), stamp, extra.get("pathspec"),
                           (event.source_dag_id, event.source_run_id), outcome="failed")
            else:
                events.append(external_event(event.asset.name, stamp, extra))
    return sorted(events, key=_time), refused


def dag_run_state(dag_id: str, run_id: str, wait: float = 60.0) -> str:
    """The state of DAG run `run_id` of `dag_id` in Airflow's metadata, once it is no longer running (waiting at
    most `wait` seconds: its finish task is its last, and the scheduler marks the run a moment after)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    deadline = time.monotonic() + wait
    while True:
        try:
            state = str(RuntimeTaskInstance.get_dagrun_state(dag_id, run_id))
        except Exception as error:       # the API server's answer: no such run
            return f"unknown to Airflow ({type(error).__name__})"
        if state.rsplit(".", 1)[-1].lower() not in ("running", "queued") or time.monotonic() > deadline:
            return state.rsplit(".", 1)[-1].lower()
        time.sleep(1)


def _gate_set(batches: dict, event, run_key: str | None) -> list[dict]:
    """The set of finishes a gate event carries for this run's partition: never none (the run would then
    start as if by hand, with no trigger at all)."""
    batch = batches.get(event.partition_key)
    if not batch:
        raise RuntimeError(f"The gate event of {event.asset.name} at {event.timestamp} carries no set of finishes "
                           f"for partition {event.partition_key} (this run's: {run_key}), so this run has no trigger "
                           "to start from; it was not emitted by the gate (posted by hand?): trigger the consumer "
                           "with `airflow trigger --trigger FLOW/RUN_ID` instead.")
    return batch


def _time(event: dict) -> str:
    return event.get("timestamp") or ""


def _skip_forged(deployment: Deployment, refused: list[tuple[str, str]], store: ArtifactStore) -> None:
    """Run no step code for a finish (or failure) event that no run of its upstream ending so produced."""
    for what, reason in refused:
        _skip(f"Not running {deployment.project_flow_name}: {what} that started it stands for no real run "
              f"({reason}; artifact store {store.url}); such an event is posted by hand (POST /api/v2/assets/events), "
              f"not emitted by a run: start {deployment.project_flow_name} with `airflow dags trigger`, or let a real "
              "run of its upstream finish.")


def _runaway_chain(deployment: Deployment, events: list[dict]) -> str | None:
    """Why the run must not start, being too deep in a chain of triggers; None when it may."""
    limit = config.get_number("max_trigger_depth", int, required=True)
    depth = depth_of(events)
    if depth <= limit:
        return None
    chain = ", ".join(e["name"] for e in events)
    return (f"Not running {deployment.project_flow_name}: it was triggered by {chain} at trigger depth {depth}, "
            f"over [flow_triggers] max_trigger_depth = {limit}; flows that trigger each other in a loop stop "
            "here. Raise max_trigger_depth if the chain is meant to be this long.")


def _skip(message: str):
    """Skip the run's start task (and so the run), saying why in one log line."""
    from airflow.sdk.exceptions import AirflowSkipException
    log.warning(message)
    raise AirflowSkipException(message)


def _refs(inputs) -> tuple[list[TaskRef], int | None]:
    """Upstream XCom values (one ref, a list of refs, or a zipped tuple) as TaskRefs."""
    if inputs is None:
        return [], None
    if isinstance(inputs, dict):
        inputs = [inputs]
    refs, split_index = [], None
    # Index, not iterate: iterating Airflow's lazy XCom sequence probes one past the end and logs an error.
    for item in (inputs[i] for i in range(len(inputs))):
        data = dict(item)
        split_index = data.pop("split_index", split_index)
        refs.append(TaskRef.from_dict(data))
    return refs, split_index
