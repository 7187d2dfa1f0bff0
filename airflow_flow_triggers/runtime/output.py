"""Metaflow-style progress lines for local runs: each task's output prefixed with time and pathspec, and
the traceback a failing step prints (from the user's code down).

A local run schedules its tasks from threads of the runner's process; each task runs in a worker process
(workers.py), which runs one task at a time. sys.stdout/stderr are swapped, in the runner and in each
worker, for streams that route each write to the writer of the task it belongs to (the task of the
writing thread, a context variable).

Each task's own output is also kept with it in the store (`kept_output`, logs.py): the routing streams hand
every write of the task's thread to its log; where nothing routes (an Airflow task, a pod) sys.stdout and
sys.stderr are teed for the task's time, so Airflow's own task log still gets every line.
"""
from __future__ import annotations

import codecs
import contextlib
import datetime
import io
import signal
import sys
import threading
import traceback
from contextvars import ContextVar
from pathlib import Path

from ..errors import FlowTriggersError
from .logs import TaskLog

_task_prefix: ContextVar[str | None] = ContextVar("flow_triggers_output", default=None)
_task_log: ContextVar[TaskLog | None] = ContextVar("flow_triggers_task_log", default=None)
_lock = threading.Lock()
_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def timestamp() -> str:
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


class ProgressLog:
    """Writes whole lines, each stamped, to the real stdout of the process."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def line(self, text: str, prefix: str | None = None) -> None:
        with _lock:
            head = f"{timestamp()} [{prefix}] " if prefix else f"{timestamp()} "
            for part in text.splitlines() or [""]:
                self.stream.write(head + part + "\n")
            self.stream.flush()

    @contextlib.contextmanager
    def capture(self):
        """Route print() of tasks through `line`, prefixed with the task writing it."""
        streams = _RoutingStream(self, sys.stdout, "stdout"), _RoutingStream(self, sys.stderr, "stderr")
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = streams
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved
            for stream in streams:
                stream.flush_all()

    @contextlib.contextmanager
    def task(self, prefix: str):
        token = _task_prefix.set(prefix)
        try:
            yield
        finally:
            _task_prefix.reset(token)
            sys.stdout.flush()
            sys.stderr.flush()


@contextlib.contextmanager
def kept_output(task_path, attempt: int):
    """While the task runs, what it writes to stdout and stderr also goes to its log in the store; yields
    the TaskLog (to add the failure it ends with)."""
    log = TaskLog(task_path, attempt)
    token = _task_log.set(log)
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, _RoutingStream):
        sys.stdout = _Tee(sys.stdout, log, "stdout")
    if not isinstance(sys.stderr, _RoutingStream):
        sys.stderr = _Tee(sys.stderr, log, "stderr")
    try:
        yield log
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved
        _task_log.reset(token)
        log.close()


class _TextStream(io.TextIOBase):
    """A text stream standing in for sys.stdout or sys.stderr: text only, with the real stream's encoding,
    as a step's streams are in Metaflow."""

    def __init__(self, fallback, name: str):
        self.fallback, self.name = fallback, name

    @property
    def encoding(self):
        return getattr(self.fallback, "encoding", None) or "utf-8"

    @property
    def errors(self):
        return getattr(self.fallback, "errors", None) or "strict"

    def writable(self):
        return True

    def isatty(self):
        return self.fallback.isatty()

    def fileno(self):
        return self.fallback.fileno()

    def _check(self, text) -> None:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")


class _Tee(_TextStream):
    def __init__(self, fallback, log: TaskLog, name: str):
        super().__init__(fallback, name)
        self.log = log

    def write(self, text: str) -> int:
        self._check(text)
        self.log.write(self.name, text)
        return self.fallback.write(text)

    def flush(self):
        self.fallback.flush()


class _RoutingStream(_TextStream):
    mode, line_buffering = "w", False

    def __init__(self, log: ProgressLog, fallback, name: str):
        super().__init__(fallback, name)
        self.log = log
        self.pending: dict[str, str] = {}
        self.pending_lock = threading.Lock()
        self.buffer = _RoutedBytes(self)

    def isatty(self):
        return False         # its lines go out prefixed, as a Metaflow step's go to a pipe

    def write(self, text: str) -> int:
        self._check(text)
        task_log = _task_log.get()
        if task_log is not None:
            task_log.write(self.name, text)
        prefix = _task_prefix.get()
        if prefix is None:
            return self.fallback.write(text)
        with self.pending_lock:
            buffered = self.pending.pop(prefix, "") + text
            *complete, rest = buffered.split("\n")
            if rest:
                self.pending[prefix] = rest
        if complete:
            self.log.line("\n".join(complete), prefix)
        return len(text)

    def flush(self):
        prefix = _task_prefix.get()
        if prefix is None:
            self.fallback.flush()
            return
        with self.pending_lock:
            rest = self.pending.pop(prefix, "")
        if rest:
            self.log.line(rest, prefix)

    def flush_all(self):
        with self.pending_lock:
            pending, self.pending = self.pending, {}
        for prefix, rest in pending.items():
            self.log.line(rest, prefix)


class _RoutedBytes(io.RawIOBase):
    """A routing stream's `buffer`, as a step's `sys.stdout.buffer` is in Metaflow: bytes, decoded in the
    stream's encoding (a character split between writes too) and routed as its text."""

    def __init__(self, text: _RoutingStream):
        self.text = text
        self.decoder = codecs.getincrementaldecoder(text.encoding)(errors="replace")

    def writable(self):
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self.text.write(self.decoder.decode(data))
        return len(data)

    def flush(self):
        self.text.flush()

    def fileno(self):
        return self.text.fileno()


def user_traceback(error: BaseException) -> str:
    """The traceback from the user's step code down, without this package's frames above it."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb)).rstrip()


def failure_report(error: BaseException) -> str:
    """What a failed task says about its failure: our error's one sentence, else the user's traceback."""
    return str(error) if isinstance(error, FlowTriggersError) else user_traceback(error)


def foreach_yields(count: int) -> str:
    """The line that says how many branches a foreach opened (Metaflow's own words)."""
    return f"Foreach yields {count} child steps."


def killed_by(exitcode: int) -> str:
    """The signal that ended a process whose exit code is `exitcode` (negative): 'SIGKILL', or 'signal 42'."""
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"
