"""Metaflow-style progress lines for local runs: each task's output prefixed with time and pathspec, and
the traceback a failing step prints (from the user's code down).

A local run schedules its tasks from threads of the runner's process; each task runs either there, one
after another (a flow without splits or foreaches), or in a worker process. So sys.stdout/stderr are
swapped, for the run, for streams that route each write to the writer of the task it belongs to (the
task of the writing thread, a context variable), and a worker's output comes back through its pipe.
"""
from __future__ import annotations

import contextlib
import datetime
import io
import sys
import threading
import traceback
from contextvars import ContextVar
from pathlib import Path

_task_prefix: ContextVar[str | None] = ContextVar("flow_triggers_output", default=None)
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
        streams = _RoutingStream(self, sys.stdout), _RoutingStream(self, sys.stderr)
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


class _RoutingStream(io.TextIOBase):
    def __init__(self, log: ProgressLog, fallback):
        self.log, self.fallback = log, fallback
        self.pending: dict[str, str] = {}
        self.pending_lock = threading.Lock()

    def writable(self):
        return True

    def write(self, text: str) -> int:
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


def user_traceback(error: BaseException) -> str:
    """The traceback from the user's step code down, without this package's frames above it."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb)).rstrip()


def foreach_yields(count: int) -> str:
    """The line that says how many branches a foreach opened (Metaflow's own words)."""
    return f"Foreach yields {count} child steps."
