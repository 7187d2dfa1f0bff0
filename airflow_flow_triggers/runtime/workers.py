"""Worker processes for local runs: CPU-bound steps use every core instead of sharing one GIL.

A local run with splits or foreaches starts its workers once, before any task, by fork where the
platform allows it (a fork is near-instant and inherits the imported flow), else by forkserver.
Each worker runs one task at a time, for as long as the run lasts: a task goes to it as a
reference (the step and the refs of its inputs), artifacts go through the store, and its output is
written, prefixed per task, straight to the run's stdout. Written on multiprocessing's Process and
Pipe rather than ProcessPoolExecutor so that a worker that dies is known by name (which task, which
signal) and every worker can be ended at once on Ctrl-C (Python 3.11's pool can do neither).
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import sys
import threading
from dataclasses import dataclass

from ..errors import FlowTriggersError
from .output import ProgressLog, user_traceback
from .task import TaskRef, prepare_task


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs to run one task: references only, never artifacts."""

    flow_cls: type
    deployment: object
    run_id: str
    step: str
    inputs: list
    split_index: int | None
    parameters: dict | None
    store_url: str
    trigger_events: list | None
    retry_count: int = 0
    tags: list | None = None


class WorkerDied(Exception):
    """The worker process running a task ended without answering (killed, or crashed in C code): which task
    (its step and foreach branch), and how the process ended."""

    def __init__(self, exitcode: int | None, step: str, split_index: int | None):
        super().__init__(exitcode, step, split_index)
        self.exitcode, self.step, self.split_index = exitcode, step, split_index

    @property
    def task(self) -> str:
        return self.step if self.split_index is None else f"{self.step} (foreach branch {self.split_index})"

    @property
    def how(self) -> str:
        if self.exitcode is not None and self.exitcode < 0:
            return f"was killed by {signal.Signals(-self.exitcode).name}"
        return f"exited with status {self.exitcode}"


class StepRaised(Exception):
    """The step's own code raised; its traceback was formatted in the worker."""

    def __init__(self, kind: str, message: str, traceback: str):
        super().__init__(kind, message, traceback)
        self.kind, self.message, self.traceback = kind, message, traceback


def start_method() -> str:
    """fork on Linux (cheap, inherits the loaded flow); forkserver where fork is unsafe (macOS)."""
    return "fork" if sys.platform.startswith("linux") else "forkserver"


class WorkerPool:
    """`size` worker processes; `run(spec, prefix)` blocks the calling thread until its task is done."""

    def __init__(self, size: int, log: ProgressLog):
        context = multiprocessing.get_context(start_method())
        log.stream.flush()                     # nothing buffered may be written twice by a forked child
        self.idle: queue.Queue = queue.Queue()
        self.workers = []
        for _ in range(size):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_serve, args=(child_end,), daemon=True)
            process.start()
            child_end.close()
            self.workers.append((process, parent_end))
            self.idle.put((process, parent_end))
        self.lock = threading.Lock()
        self.stopped = False

    def run(self, spec: TaskSpec) -> tuple[TaskRef, str]:
        """The task's TaskRef and prefix; raises FlowTriggersError, StepRaised or WorkerDied (with .prefix)."""
        process, connection = self.idle.get()
        try:
            connection.send(spec)
            outcome, value, prefix = connection.recv()
        except (EOFError, OSError):
            process.join(timeout=5)
            raise WorkerDied(process.exitcode, spec.step, spec.split_index) from None
        self.idle.put((process, connection))
        if outcome == "ok":
            return value, prefix
        error = value if outcome == "error" else StepRaised(*value)
        error.prefix = prefix
        raise error

    def stop(self, now: bool = False) -> None:
        """End every worker: politely at the end of a run, at once (SIGKILL) when it is interrupted."""
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
        for process, connection in self.workers:
            if now:
                process.kill()
            else:
                try:
                    connection.send(None)
                except OSError:
                    pass
        for process, connection in self.workers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
            connection.close()


def _serve(connection) -> None:
    """A worker's loop: run one task at a time until told to stop (None) or the run goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the parent's to handle: it ends us
    log = ProgressLog(os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1))
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        if message is None:
            return
        connection.send(_run_one(message, log))


def _run_one(spec: TaskSpec, log: ProgressLog) -> tuple[str, object, str]:
    """("ok", TaskRef, prefix), ("error", FlowTriggersError, prefix) or
    ("failed", (kind, message, traceback), prefix)."""
    from .store import ArtifactStore
    with log.capture():
        try:
            return ("ok", *run_here(spec, ArtifactStore(spec.store_url), log))
        except FlowTriggersError as error:
            return "error", error, error.prefix
        except BaseException as error:                # the step's own exception: format it here
            return "failed", (type(error).__name__, str(error), user_traceback(error)), error.prefix


def run_here(spec: TaskSpec, store, log: ProgressLog) -> tuple[TaskRef, str]:
    """Run one task in this process, its output prefixed with its pathspec; returns its ref and prefix.
    What it raises carries the prefix as `.prefix`, for the lines that report the failure."""
    prefix = f"{spec.run_id}/{spec.step}"
    try:
        task = prepare_task(spec.flow_cls, spec.deployment, spec.run_id, spec.step, spec.inputs, spec.split_index,
                            spec.parameters, store, trigger_events=spec.trigger_events, retry_count=spec.retry_count,
                            tags=spec.tags)
        prefix = f"{spec.run_id}/{spec.step}/{task.task_id}"
        with log.task(prefix):
            log.line("Task is starting (retry)." if spec.retry_count else "Task is starting.", prefix)
            return task.execute(), prefix
    except BaseException as error:
        error.prefix = prefix
        raise
