"""Worker processes for local runs: every task runs in one, never in the runner's own process.

So a step that crashes the interpreter (a segfault in a C extension) fails its task, not the run; a step's
@timeout alarm fires in the main thread of the process running it; and CPU-bound steps of a flow with
splits or foreaches use every core instead of sharing one GIL (one worker runs a flow without them).
A run starts its workers once, before any task, by fork where the platform allows it (a fork is
near-instant and inherits the imported flow class, which then never needs to pickle), else by
forkserver. Each worker runs one task at a time, for as long as the run lasts: a task goes to it as a
reference (the step and the refs of its inputs), artifacts go through the store, and its output is
written, prefixed per task, straight to the run's stdout. A worker that dies is replaced at once, so no
number of crashes or retries can leave a run waiting for a worker that will never come. Written on
multiprocessing's Process and Pipe rather than ProcessPoolExecutor so that a worker that dies is known
by name (which task, which signal) and every worker can be ended at once on Ctrl-C (Python 3.11's pool
can do neither).
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
from dataclasses import dataclass

from ..errors import FlowTriggersError, told_in_one_sentence
from ..flows.configs import config_values, configured
from ..flows.configure import ensure_configured
from ..flows.decorators import step_settings
from ..flows.decospecs import attach_decorators
from .logs import append_stderr
from .output import ProgressLog, killed_by, user_traceback
from .output import _lock as _output_lock
from .task import TaskRef, prepare_task


@dataclass(frozen=True)
class TaskSpec:
    """What a worker needs to run one task: references only, never artifacts."""

    flow_cls: type | None       # None on its way to a worker, which has the class already
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
    origin_run_id: str | None = None     # the start of a resumed run: the run it resumes
    decospecs: tuple = ()                # `run --with DECO`


class WorkerDied(Exception):
    """The worker process running a task ended without answering (killed, or crashed in C code): which task
    (its step and foreach branch), and how the process ended."""

    def __init__(self, exitcode: int | None, step: str, split_index: int | None, prefix: str | None = None):
        super().__init__(exitcode, step, split_index, prefix)
        self.exitcode, self.step, self.split_index = exitcode, step, split_index
        if prefix is not None:
            self.prefix = prefix                # run/step/task_id, once the worker said which task it started

    @property
    def task(self) -> str:
        return self.step if self.split_index is None else f"{self.step} (foreach branch {self.split_index})"

    @property
    def segfault(self) -> bool:
        return self.exitcode == -signal.SIGSEGV

    @property
    def how(self) -> str:
        if self.exitcode is not None and self.exitcode < 0:
            return f"was killed by {killed_by(self.exitcode)}"
        return f"exited with status {self.exitcode}"

    @property
    def why(self) -> str:
        if self.segfault:
            return "a segmentation fault: a crash in C code, e.g. an extension module"
        return "a crash in a C extension, the system out of memory, or a kill"


class StepRaised(Exception):
    """The step's own code raised; its traceback was formatted in the worker."""

    def __init__(self, kind: str, message: str, traceback: str):
        super().__init__(kind, message, traceback)
        self.kind, self.message, self.traceback = kind, message, traceback


def start_method() -> str:
    """fork on Linux (cheap, inherits the loaded flow); forkserver where fork is unsafe (macOS)."""
    return "fork" if sys.platform.startswith("linux") else "forkserver"


class WorkerPool:
    """`size` worker processes of `flow_cls`; `run(spec)` blocks the calling thread until its task is done."""

    def __init__(self, size: int, log: ProgressLog, flow_cls: type):
        self.context = multiprocessing.get_context(start_method())
        self.flow_cls = flow_cls
        log.stream.flush()                     # nothing buffered may be written twice by a forked child
        self.lock = threading.RLock()          # re-entered by the Ctrl-C handler, which runs in any frame
        self.stopped = False
        self.idle: queue.Queue = queue.Queue()
        self.workers = [self._start() for _ in range(size)]
        for worker in self.workers:
            self.idle.put(worker)

    def _start(self) -> tuple:
        """A new worker. The output lock is held across the fork, so that no other thread of the runner holds
        it at that moment (a child would inherit it held, forever); the child releases its copy."""
        parent_end, child_end = self.context.Pipe()
        configured_as = (config_values(self.flow_cls), tuple(getattr(self.flow_cls, "_decospecs", ())))
        process = self.context.Process(target=_serve, args=(child_end, self.flow_cls, configured_as), daemon=True)
        with _output_lock:
            process.start()
        child_end.close()
        return process, parent_end

    def run(self, spec: TaskSpec) -> tuple[TaskRef, str]:
        """The task's TaskRef and prefix; raises FlowTriggersError, StepRaised or WorkerDied (with .prefix)."""
        worker = self.idle.get()
        process, connection = worker
        prefix, answer = None, None
        try:
            connection.send(dataclasses.replace(spec, flow_cls=None))
            answer = connection.recv()
            while answer[0] == "started":      # the worker names the task before running it
                prefix = answer[1]
                answer = connection.recv()
        except (EOFError, OSError):            # it died: replaced below, outside this handler (a child forked
            answer = None                      # inside it would start with this EOFError as its context)
        except BaseException:                  # anything else: the worker is fine and goes on serving
            self.idle.put(worker)
            raise
        if answer is None:
            process.join(timeout=5)
            died = WorkerDied(process.exitcode, spec.step, spec.split_index, prefix)
            self._replace(worker)
            if prefix is not None and not self.stopped:
                self._note_crash(spec, prefix, died)
            raise died
        outcome, value, prefix = answer
        self.idle.put(worker)
        if outcome == "ok":
            return value, prefix
        error = value if outcome == "error" else StepRaised(*value)
        error.prefix = prefix
        raise error

    @staticmethod
    def _note_crash(spec: TaskSpec, prefix: str, died: WorkerDied) -> None:
        """Metaflow's last line of a task whose process died, after what it printed, in its stored stderr: as
        Metaflow's, best effort (a store that cannot be written now must not hide why the task failed)."""
        from .store import ArtifactStore
        try:
            task_path = ArtifactStore(spec.store_url).task_path(spec.deployment.project_flow_name, spec.run_id,
                                                               spec.step, prefix.rsplit("/", 1)[1])
            append_stderr(task_path, spec.retry_count,
                          "Task failed with a segmentation fault." if died.segfault else "Task failed.")
        except (FlowTriggersError, OSError):
            pass

    def _replace(self, dead: tuple) -> None:
        with self.lock:
            if self.stopped:
                return
            self.workers.remove(dead)
            dead[1].close()
            worker = self._start()
            self.workers.append(worker)
        self.idle.put(worker)

    def stop(self, now: bool = False) -> None:
        """End every worker: politely at the end of a run, at once (SIGKILL) when it is interrupted."""
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
            workers = list(self.workers)
        for process, connection in workers:
            if now:
                process.kill()
            else:
                try:
                    connection.send(None)
                except OSError:
                    pass
        for process, connection in workers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
            connection.close()


def _serve(connection, flow_cls: type, configured_as: tuple[dict, tuple]) -> None:
    """A worker's loop: run one task at a time until told to stop (None) or the run goes away.

    A forked worker has the runner's flow class as it is; one started by forkserver (macOS) imported the flow
    anew, so it configures it as the runner did (`configured_as`: the configs' values and the `--with` texts).
    """
    if not configured(flow_cls):
        configs, decospecs = configured_as
        attach_decorators(ensure_configured(flow_cls, configs), list(decospecs))
    if _output_lock.locked():                   # held by the parent across the fork (WorkerPool._start)
        _output_lock.release()
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the parent's to handle: it ends us
    log = ProgressLog(os.fdopen(os.dup(_stdout_fd()), "w", buffering=1))
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        if message is None:
            return
        connection.send(_run_one(dataclasses.replace(message, flow_cls=flow_cls), log, connection))


def _stdout_fd() -> int:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return 1


def _run_one(spec: TaskSpec, log: ProgressLog, connection) -> tuple[str, object, str]:
    """("ok", TaskRef, prefix), ("error", FlowTriggersError, prefix) or ("failed", (kind, message, traceback),
    prefix): whatever the step raised, an answer the runner can read. ("started", prefix) goes first, so that
    the runner knows the task if this process dies running it."""
    from .store import ArtifactStore
    prefix = f"{spec.run_id}/{spec.step}"
    with log.capture():
        try:
            task = prepare_task(spec.flow_cls, spec.deployment, spec.run_id, spec.step, spec.inputs,
                                spec.split_index, spec.parameters, ArtifactStore(spec.store_url),
                                trigger_events=spec.trigger_events, retry_count=spec.retry_count, tags=spec.tags,
                                origin_run_id=spec.origin_run_id)
            prefix = f"{spec.run_id}/{spec.step}/{task.task_id}"
            connection.send(("started", prefix))
            with log.task(prefix):
                log.line(_starting(spec), prefix)
                return "ok", task.execute(), prefix
        except BaseException as error:
            return (*crossing(error), prefix)


def _starting(spec: TaskSpec) -> str:
    """Metaflow's line for an attempt: the first, a retry, or @catch's fallback after the last one crashed."""
    if spec.retry_count > step_settings(getattr(spec.flow_cls, spec.step)).retries:
        return "Task fallback is starting to handle the failure."
    return "Task is starting (retry)." if spec.retry_count else "Task is starting."


def crossing(error: BaseException) -> tuple[str, object]:
    """How a task's exception crosses to the runner. This package's own errors go as themselves (printed as
    their one sentence). Anything else, the step's own exception whatever its type (a subclass of
    FlowTriggersError with its own __init__, one holding a lock, one whose unpickling raises), goes as its
    type name, message and traceback, formatted here: it never has to pickle."""
    if told_in_one_sentence(error) and _round_trips(error):
        return "error", error
    return "failed", (type(error).__name__, _message(error), user_traceback(error))


def _round_trips(error: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return f"<{type(error).__name__} object: its str() failed>"
