"""What runs inside an Airflow task: one step through the shared runtime, refs in and out as XCom."""
from __future__ import annotations

from .assets import finish_event_extra
from .naming import Deployment
from .runtime import TaskRef, execute_task
from .store import ArtifactStore


def step_callable(flow_cls: type, deployment: Deployment, step: str, step_type: str, finish=None):
    """The python_callable of the task for `step`; `finish` is the end step's outlet Asset."""

    def run_step(inputs=None, **context):
        refs, split_index = _refs(inputs)
        run_id = context["run_id"]
        store = ArtifactStore()
        ref = execute_task(flow_cls, deployment, run_id, step, refs, split_index,
                           dict(context["params"]) if step == "start" else None, store, origin="airflow")
        if step_type == "foreach":
            return [dict(ref.to_dict(), split_index=i) for i in range(ref.foreach_count)]
        if finish is not None:
            run_location = str(store.run_path(deployment.project_flow_name, run_id))
            context["outlet_events"][finish].extra = finish_event_extra(deployment, run_id, run_location)
        return ref.to_dict()

    run_step.__name__ = step
    return run_step


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
