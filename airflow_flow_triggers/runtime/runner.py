"""Local runs: the whole flow on this machine, split branches and foreach items at the same time.

Every task runs in a worker process (workers.py), never in this one, so that no step can take the run
down with it (a segfault fails its task, as in Metaflow, where each task is a process of its own). A flow
with splits or foreaches runs at most `max_workers` tasks at a time (default: the number of cores), so
CPU-bound steps use every core; a flow without any runs its tasks one after the other in one worker.
Threads walk the graph either way.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import FlowDefinitionError, FlowTriggersError, StepFailed
from ..flows.decorators import step_settings
from ..flows.graph import flow_graph
from ..naming import Deployment
from .cards import prepare_renderer
from .exit_hooks import run_exit_hooks
from .output import ProgressLog, foreach_yields, user_traceback
from .resume import Resume
from .store import ArtifactStore
from .task import TaskRef
from .workers import StepRaised, TaskSpec, WorkerDied, WorkerPool


class _Cancelled(Exception):
    """Another task failed, or the run was interrupted; this branch stops before its next task."""


MAX_NUM_SPLITS = 100   # Metaflow's default for --max-num-splits: a foreach over more items is an error


def new_run_id() -> str:
    return str(time.time_ns() // 1000)


def default_workers() -> int:
    return os.cpu_count() or 1


class LocalRun:
    def __init__(self, flow_cls: type, deployment: Deployment, parameters: dict, max_workers: int | None = None,
                 store: ArtifactStore | None = None, log: ProgressLog | None = None,
                 trigger_events: list[dict] | None = None, tags: list[str] | None = None,
                 max_num_splits: int = MAX_NUM_SPLITS, decospecs: tuple = (), resume: Resume | None = None):
        self.flow_cls, self.deployment, self.parameters = flow_cls, deployment, parameters
        self.trigger_events = trigger_events or []
        self.tags = tags or []
        self.max_num_splits, self.decospecs = max_num_splits, tuple(decospecs)
        self.resume = resume                # what this run reuses of an earlier one (`python flow.py resume`)
        self.graph = flow_graph(flow_cls)
        self.store = store or ArtifactStore()
        self.log = log or ProgressLog()
        self.max_workers = max_workers or default_workers()
        self.slots = threading.BoundedSemaphore(self.max_workers)   # tasks running at once
        self.failed = threading.Event()
        self.lock = threading.Lock()
        self.failure: FlowTriggersError | None = None
        self.pool: WorkerPool | None = None
        self.run_id = new_run_id()

    @property
    def pathspec(self) -> str:
        return f"{self.deployment.project_flow_name}/{self.run_id}"

    @property
    def parallel(self) -> bool:
        """Whether tasks can run at the same time: the flow splits or fans out, and more than one may run."""
        return self.max_workers > 1 and any(node.type in ("split", "foreach") for node in self.graph)

    def run(self) -> str:
        """Run the flow to its end, then its @exit_hook functions; returns the run id or raises StepFailed
        (KeyboardInterrupt on Ctrl-C)."""
        if self.resume is not None:
            self.log.line("Gathering required information to resume run (this may take a bit of time)...")
        self.log.line(f"Workflow starting (run-id {self.run_id}):")
        if self.resume is not None:
            self.resume.clone_into(self.run_id, self.tags, self.log)
        prepare_renderer(self.flow_cls)
        self.pool = WorkerPool(self.max_workers if self.parallel else 1, self.log, self.flow_cls)
        try:
            self._run_tasks()
        except KeyboardInterrupt:
            run_exit_hooks(self.flow_cls, self.pathspec, successful=False)      # Metaflow's: whatever ended it
            raise
        if self.failed.is_set():
            self.log.line("Workflow failed.")
            run_exit_hooks(self.flow_cls, self.pathspec, successful=False)
            raise self.failure
        run_exit_hooks(self.flow_cls, self.pathspec, successful=True)
        self.log.line(f"Done! Run {self.pathspec} finished successfully.")
        return self.run_id

    def _run_tasks(self) -> None:
        """Every task of the run, in the workers, until the end step or a failure; then the workers stop."""
        previous = self._stop_workers_on_ctrl_c()
        try:
            with self.log.capture():
                try:
                    self._segment("start", [], None, stop_at=None)
                except _Cancelled:
                    pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if self.pool is not None:
                self.pool.stop()

    def _stop_workers_on_ctrl_c(self):
        """On Ctrl-C end the workers at once (their tasks with them), then raise KeyboardInterrupt here."""
        if self.pool is None or threading.current_thread() is not threading.main_thread():
            return None

        def interrupted(signum, frame):
            self.failed.set()
            self.pool.stop(now=True)
            raise KeyboardInterrupt

        return signal.signal(signal.SIGINT, interrupted)

    def _segment(self, step: str, inputs: list[TaskRef], split_index: int | None,
                 stop_at: str | None) -> TaskRef:
        """Run from `step` until the step before `stop_at` (a join) or the end; returns the last task."""
        while True:
            node = self.graph[step]
            ref = self._task(step, inputs, split_index)
            if node.type == "end":
                return ref
            if node.type == "foreach" and ref.foreach_count > self.max_num_splits:
                self._stop(StepFailed(
                    f"Step '{step}' failed (task {self.pathspec}/{step}/{ref.task_id}): Foreach in step {step} "
                    f"yielded {ref.foreach_count} child steps, which is more than the current maximum of "
                    f"{self.max_num_splits} children: raise the maximum with --max-num-splits."))
            if node.type in ("split", "foreach"):
                step, inputs = node.matching_join, self._branches(node, ref)
                split_index = None
                continue
            step, inputs, split_index = ref.next_step or node.out_funcs[0], [ref], None   # a switch's case
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
        """Run one task, and again after a failure as often as its @retry says, at once (Metaflow's local runtime
        does not wait minutes_between_retries); with @catch, once more after a last attempt that crashed
        (Metaflow's fallback: @catch then takes the crash)."""
        reused = self.resume.reused(self.run_id, step, inputs, split_index) if self.resume is not None else None
        if reused is not None:
            return reused
        settings = step_settings(getattr(self.flow_cls, step))
        start = step == "start"
        with self.slots:
            last = settings.retries + (settings.catch is not None)
            for retry_count in range(last + 1):
                if self.failed.is_set():
                    raise _Cancelled()
                prefix = f"{self.run_id}/{step}"
                spec = TaskSpec(self.flow_cls, self.deployment, self.run_id, step, inputs, split_index,
                                self.parameters if start else None, self.store.url,
                                self.trigger_events if start else None, retry_count, self.tags if start else None,
                                self.resume.origin_run_id if start and self.resume is not None else None,
                                self.decospecs)
                try:
                    ref, prefix = self.pool.run(spec)
                except Exception as error:
                    prefix = getattr(error, "prefix", prefix)
                    crashed = isinstance(error, WorkerDied)
                    if retry_count == last or (retry_count == settings.retries and not crashed) or \
                            isinstance(error, FlowDefinitionError) or (self.failed.is_set() and crashed):
                        self._fail(step, prefix, error)
                    self._report(step, prefix, error)
                    continue
                if ref.foreach_count is not None:
                    self.log.line(foreach_yields(ref.foreach_count), prefix)
                self.log.line("Task finished successfully.", prefix)
                return ref

    def _fail(self, step: str, prefix: str, error: Exception):
        if self.failed.is_set() and isinstance(error, WorkerDied):
            raise _Cancelled()                  # the run was interrupted or failed: its workers were ended
        self._stop(self._report(step, prefix, error))

    def _stop(self, failure: FlowTriggersError):
        """End the run with `failure` (the first one, if several branches fail): no new task starts."""
        with self.lock:
            if not self.failed.is_set():
                self.failure = failure
                self.failed.set()
        raise _Cancelled()

    def _report(self, step: str, prefix: str, error: Exception) -> FlowTriggersError:
        """Print how the task failed; returns the run's failure it makes."""
        where = f"task {self.deployment.project_flow_name}/{prefix}"
        if isinstance(error, FlowTriggersError):
            self.log.line(str(error), prefix)
            failure = error
        elif isinstance(error, WorkerDied):
            failure = StepFailed(f"Step '{step}' failed ({where}): the worker process running {error.task} "
                                 f"{error.how} ({error.why}).")
        else:
            kind, message, trace = (error.kind, error.message, error.traceback) if isinstance(error, StepRaised) \
                else (type(error).__name__, str(error), user_traceback(error))
            self.log.line(trace, prefix)
            failure = StepFailed(f"Step '{step}' failed ({where}): {kind}: {message}")
        crash = isinstance(error, WorkerDied) and error.segfault
        self.log.line("Task failed with a segmentation fault." if crash else "Task failed.", prefix)   # Metaflow's
        return failure
