"""The runs of Airflow DAGs of a project in the artifact store, laid out as a flow's runs are, so that the client
(`Run('report/<run id>')`, `current.trigger.run`) and a consumer's check of a finish read them the same way:

    <dag_id>/<run_id>/_run.json                 by the run's first task: its trigger events, params and tags
                                                (kind "dag")
    <dag_id>/<run_id>/end/0/_task.json          by its last task, once every other task succeeded or was skipped
    <dag_id>/<run_id>/end/0/<task id>.pickle    what each task returned (its XCom return value), by task id

So a DAG run's `data` holds one artifact per task that returned something: `data.summarize` is what the task
`summarize` returned (a mapped task's: the list of its mapped tasks' values, by map index).
"""
from __future__ import annotations

import functools
import os

from ..naming import Deployment
from .current import TaskContext, register_dag
from .store import ArtifactStore, save_artifact
from .task import run_tags, run_trigger, write_run_record, write_task_record

END_STEP, END_TASK = "end", "0"


def enter_dag(dag_id: str, deployment: Deployment) -> None:
    """Let `current` see the tasks of DAG `dag_id`, a project's DAG deployed as `deployment`."""
    register_dag(dag_id, functools.partial(_task_context, deployment))


def forget_dag(dag_id: str) -> None:
    register_dag(dag_id, None)


@functools.cache
def _task_context(deployment: Deployment) -> TaskContext:
    """The running task of a project DAG, from the variables Airflow's task runner sets before executing it."""
    run_id, task_id = os.environ["AIRFLOW_CTX_DAG_RUN_ID"], os.environ.get("AIRFLOW_CTX_TASK_ID", "")
    store = ArtifactStore()
    run_path = store.run_path(deployment.project_flow_name, run_id)
    try_number = int(os.environ.get("AIRFLOW_CTX_TRY_NUMBER") or 1)
    trigger = functools.cache(functools.partial(run_trigger, run_path, store))
    return TaskContext(deployment, run_id, task_id, "0", trigger, max(try_number - 1, 0), True, None,
                       functools.partial(run_tags, run_path))


def record_start(store: ArtifactStore, deployment: Deployment, run_id: str, params: dict, events: list[dict],
                 tags: list[str], code: dict | None) -> None:
    write_run_record(store.run_path(deployment.project_flow_name, run_id), deployment, run_id, params, "airflow",
                     events, tags, code, kind="dag")


def record_finish(store: ArtifactStore, deployment: Deployment, run_id: str, returned: dict, started_at: str) -> None:
    """The run's end: every task's return value, then the record that says the run succeeded (last, so that a
    reader never sees a successful end without its data)."""
    path = store.task_path(deployment.project_flow_name, run_id, END_STEP, END_TASK)
    artifacts = {name: f"{END_STEP}/{END_TASK}/{save_artifact(path, END_STEP, name, value)}"
                 for name, value in returned.items()}
    write_task_record(path, END_STEP, END_TASK, True, started_at, artifacts)

