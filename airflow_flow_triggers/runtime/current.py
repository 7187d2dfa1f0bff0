"""`current`: what the running step knows about itself, per thread of execution."""
from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from ..naming import Deployment


@dataclass(frozen=True)
class TaskContext:
    deployment: Deployment
    run_id: str
    step_name: str
    task_id: str
    trigger: Callable[[], object]   # reads the run's current.trigger (a client Trigger) when asked


_context: ContextVar[TaskContext | None] = ContextVar("flow_triggers_task", default=None)


def _from_context(read):
    def get(self):
        ctx = _context.get()
        return None if ctx is None else read(ctx)
    return property(get)


class Current:
    """Read-only view of the running task; attributes are None outside a step."""

    flow_name = _from_context(lambda c: c.deployment.flow_name)
    run_id = _from_context(lambda c: c.run_id)
    step_name = _from_context(lambda c: c.step_name)
    task_id = _from_context(lambda c: c.task_id)
    pathspec = _from_context(lambda c: f"{c.deployment.flow_name}/{c.run_id}/{c.step_name}/{c.task_id}")
    project_name = _from_context(lambda c: c.deployment.project)
    branch_name = _from_context(lambda c: c.deployment.branch)
    is_user_branch = _from_context(lambda c: c.deployment.is_user_branch)
    is_production = _from_context(lambda c: c.deployment.is_production)
    project_flow_name = _from_context(lambda c: c.deployment.project_flow_name)
    deployment = _from_context(lambda c: c.deployment)
    trigger = _from_context(lambda c: c.trigger())

    @property
    def is_running_flow(self) -> bool:
        return _context.get() is not None

    def __repr__(self):
        return f"<current {self.pathspec}>" if self.is_running_flow else "<current: not in a running step>"


current = Current()


def enter_task(context: TaskContext):
    """Make `context` the current task in this thread; returns the token to leave it."""
    return _context.set(context)


def leave_task(token) -> None:
    _context.reset(token)
