"""Local runs: the whole flow in this process, splits and foreach branches in threads."""
from __future__ import annotations

import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import FlowTriggersError, StepFailed
from ..flows.graph import flow_graph
from ..naming import Deployment
from .output import ProgressLog
from .store import ArtifactStore
from .task import TaskRef, prepare_task

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


class _Cancelled(Exception):
    """Another task failed; this branch stops before starting its next task."""


def new_run_id() -> str:
    return str(time.time_ns() // 1000)


class LocalRun:
    def __init__(self, flow_cls: type, deployment: Deployment, parameters: dict, max_workers: int = 16,
                 store: ArtifactStore | None = None, log: ProgressLog | None = None,
                 trigger_events: list[dict] | None = None):
        self.flow_cls, self.deployment, self.parameters = flow_cls, deployment, parameters
        self.trigger_events = trigger_events or []
        self.graph = flow_graph(flow_cls)
        self.store = store or ArtifactStore()
        self.log = log or ProgressLog()
        self.gate = threading.BoundedSemaphore(max_workers)
        self.failed = threading.Event()
        self.lock = threading.Lock()
        self.failure: FlowTriggersError | None = None
        self.run_id = new_run_id()

    @property
    def pathspec(self) -> str:
        return f"{self.deployment.project_flow_name}/{self.run_id}"

    def run(self) -> str:
        """Run the flow to its end; returns the run id or raises StepFailed."""
        self.log.line(f"Workflow starting (run-id {self.run_id}):")
        with self.log.capture():
            try:
                self._segment("start", [], None, stop_at=None)
            except _Cancelled:
                pass
        if self.failed.is_set():
            self.log.line("Workflow failed.")
            raise self.failure
        self.log.line(f"Done! Run {self.pathspec} finished successfully.")
        return self.run_id

    def _segment(self, step: str, inputs: list[TaskRef], split_index: int | None,
                 stop_at: str | None) -> TaskRef:
        """Run from `step` until the step before `stop_at` (a join) or the end; returns the last task."""
        while True:
            node = self.graph[step]
            ref = self._task(step, inputs, split_index)
            if node.type == "end":
                return ref
            if node.type in ("split", "foreach"):
                step, inputs = node.matching_join, self._branches(node, ref)
                split_index = None
                continue
            step, inputs, split_index = node.out_funcs[0], [ref], None
            if step == stop_at:
                return ref

    def _branches(self, node, ref: TaskRef) -> list[TaskRef]:
        join = node.matching_join
        if node.type == "foreach":
            starts = [(node.out_funcs[0], i) for i in range(ref.foreach_count)]
        else:
            starts = [(out, None) for out in node.out_funcs]
        with ThreadPoolExecutor(max_workers=len(starts)) as pool:
            futures = [pool.submit(self._segment, s, [ref], i, join) if s != join else None for s, i in starts]
            results, cancelled = [], False
            for future in futures:
                try:
                    results.append(ref if future is None else future.result())
                except _Cancelled:
                    cancelled = True
        if cancelled:
            raise _Cancelled()
        return results

    def _task(self, step: str, inputs: list[TaskRef], split_index: int | None) -> TaskRef:
        with self.gate:
            if self.failed.is_set():
                raise _Cancelled()
            prefix = f"{self.run_id}/{step}"
            try:
                task = prepare_task(self.flow_cls, self.deployment, self.run_id, step, inputs, split_index,
                                    self.parameters if step == "start" else None, self.store,
                                    trigger_events=self.trigger_events if step == "start" else None)
                prefix = f"{self.run_id}/{step}/{task.task_id}"
                with self.log.task(prefix):
                    self.log.line("Task is starting.", prefix)
                    ref = task.execute()
            except Exception as error:
                self._fail(step, prefix, error)
            self.log.line("Task finished successfully.", prefix)
            return ref

    def _fail(self, step: str, prefix: str, error: Exception):
        if isinstance(error, FlowTriggersError):
            self.log.line(str(error), prefix)
            failure = error
        else:
            self.log.line(_user_traceback(error), prefix)
            failure = StepFailed(f"Step '{step}' failed (task {self.deployment.project_flow_name}/{prefix}): "
                                 f"{type(error).__name__}: {error}")
        self.log.line("Task failed.", prefix)
        with self.lock:
            if not self.failed.is_set():
                self.failure = failure
                self.failed.set()
        raise _Cancelled()


def _user_traceback(error: BaseException) -> str:
    """The traceback from the user's step code down, without this package's frames above it."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb)).rstrip()
