"""`current`: what the running step knows about itself, per thread of execution."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from ..flows.graph import flow_graph
from ..flows.mutators import parameter_names
from ..naming import Deployment, namespace_of, run_user


@dataclass(frozen=True)
class TaskContext:
    deployment: Deployment
    run_id: str
    step_name: str
    task_id: str
    trigger: Callable[[], object]   # reads the run's current.trigger (a client Trigger) when asked
    retry_count: int = 0             # 0 on the first attempt
    deployed: bool = False           # on Airflow (a worker or a pod), not a local run
    flow_cls: type | None = None
    tags: Callable[[], frozenset] = frozenset  # reads the run's user tags when asked
    task_object: Callable[[], object] | None = None  # the client's Task of this task (current.task)
    run_object: Callable[[], object] | None = None   # the client's Run of this run (current.run)
    origin_run_id: Callable[[], str | None] = lambda: None  # reads the run a resume reuses, when asked
    card: object | None = None       # current.card: the step's CardCollector, None without @card


_context: ContextVar[TaskContext | None] = ContextVar("flow_triggers_task", default=None)

# Airflow DAGs of a project built in this process: DAG id -> what makes the TaskContext of one of its tasks.
# Their tasks are the user's own operators, so `current` finds the task from the variables Airflow's task
# runner exports (AIRFLOW_CTX_DAG_ID, ...) before it executes one.
_dag_contexts: dict[str, Callable[[], TaskContext]] = {}


def register_dag(dag_id: str, make_context: Callable[[], TaskContext] | None) -> None:
    """Let `current` see the tasks of the project DAG `dag_id` (None: forget it, e.g. renamed)."""
    if make_context is None:
        _dag_contexts.pop(dag_id, None)
    else:
        _dag_contexts[dag_id] = make_context


def _active() -> TaskContext | None:
    ctx = _context.get()
    if ctx is None and _dag_contexts:
        make = _dag_contexts.get(os.environ.get("AIRFLOW_CTX_DAG_ID", ""))
        if make is not None and os.environ.get("AIRFLOW_CTX_DAG_RUN_ID"):
            ctx = make()
    return ctx


def _from_context(read):
    def get(self):
        ctx = _active()
        return None if ctx is None else read(ctx)
    return property(get)


# The flow a command runs, outside its steps (a parameter's default function): what `current` says of it there.
_flow_outside_steps: ContextVar[Deployment | None] = ContextVar("flow_triggers_flow", default=None)


@contextlib.contextmanager
def outside_steps(deployment: Deployment):
    """While the command line runs flow code outside a step (default functions), `current` knows the flow's name
    and project branch, as Metaflow's does; every other attribute stays None."""
    token = _flow_outside_steps.set(deployment)
    try:
        yield
    finally:
        _flow_outside_steps.reset(token)


def _from_deployment(read):
    def get(self):
        ctx = _active()
        deployment = ctx.deployment if ctx is not None else _flow_outside_steps.get()
        return None if deployment is None else read(deployment)
    return property(get)


class Current:
    """Read-only view of the running task; attributes are None outside a step (but the flow's name and project
    branch while a default function runs)."""

    flow_name = _from_deployment(lambda d: d.flow_name)
    run_id = _from_context(lambda c: c.run_id)
    step_name = _from_context(lambda c: c.step_name)
    task_id = _from_context(lambda c: c.task_id)
    pathspec = _from_context(lambda c: f"{c.deployment.flow_name}/{c.run_id}/{c.step_name}/{c.task_id}")
    project_name = _from_deployment(lambda d: d.project)
    branch_name = _from_deployment(lambda d: d.branch)
    is_user_branch = _from_deployment(lambda d: d.is_user_branch)
    is_production = _from_deployment(lambda d: d.is_production)
    project_flow_name = _from_deployment(lambda d: d.project_flow_name)
    deployment = _from_context(lambda c: c.deployment)
    trigger = _from_context(lambda c: c.trigger())
    retry_count = _from_context(lambda c: c.retry_count)
    origin_run_id = _from_context(lambda c: c.origin_run_id())  # the run a resume reuses, as Metaflow's
    namespace = _from_context(lambda c: namespace_of(c.deployment, c.deployed))
    username = _from_context(lambda c: run_user(c.deployment))
    tags = _from_context(lambda c: set(c.tags()))           # the run's own tags (--tag), as Metaflow's
    parameter_names = _from_context(lambda c: parameter_names(c.flow_cls) if c.flow_cls else [])
    graph = _from_context(lambda c: flow_graph(c.flow_cls).info() if c.flow_cls else None)
    task = _from_context(lambda c: c.task_object() if c.task_object else None)
    run = _from_context(lambda c: c.run_object() if c.run_object else None)

    @property
    def card(self):
        """The step's cards (Metaflow's current.card); only in a step with @card."""
        ctx = _active()
        if ctx is None or ctx.card is None:
            raise AttributeError("current.card is only there in a step with @card: decorate the step with @card "
                                 "(or @card(type='blank')).")
        return ctx.card

    @property
    def is_running_flow(self) -> bool:
        return _active() is not None

    def __repr__(self):
        return f"<current {self.pathspec}>" if self.is_running_flow else "<current: not in a running step>"


current = Current()


def enter_task(context: TaskContext):
    """Make `context` the current task in this thread; returns the token to leave it."""
    return _context.set(context)


def leave_task(token) -> None:
    _context.reset(token)
