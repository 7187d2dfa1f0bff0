"""A task's stdout and stderr, kept with the task in the artifact store as Metaflow keeps them: one file per
stream and attempt, `<task>/_logs/<attempt>.<stream>.log`, read by `Task.stdout`, `Task.stderr` and
`python flow.py logs`.

A task's writes reach their file as they come: in place on a local root, else in a spool file on this
machine, uploaded when the task ends. So what a step printed before its process died is kept, and whoever
sees it die adds why (`append_stderr`: Metaflow's "Task failed with a segmentation fault.").
"""
from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

from .secrets import redact
from .store import reaching

STREAMS = ("stdout", "stderr")
LOGS = "_logs"
_SPOOL = Path(tempfile.gettempdir()) / "flow_triggers_logs"


def log_path(task_path, stream: str, attempt: int):
    return task_path / LOGS / f"{attempt}.{stream}.log"


def local_path(path) -> Path | None:
    """`path` as a plain local path when it is on a local root (file://), else None."""
    return Path(path.path) if getattr(path, "protocol", None) in ("file", "local") else None


class TaskLog:
    """The two streams of one attempt of one task, as they are written."""

    def __init__(self, task_path, attempt: int):
        self.task_path, self.attempt = task_path, attempt
        self._files: dict[str, object] = {}
        self._lock = threading.Lock()

    def write(self, stream: str, text: str) -> None:
        with self._lock:
            handle = self._files.get(stream)
            if handle is None:
                handle = self._files[stream] = _open(_writing_path(self.task_path, stream, self.attempt), "w")
            handle.write(redact(text))   # a @secrets value the step prints is kept as ***, as Airflow's log shows it
            handle.flush()          # a process that dies in C code loses nothing it printed

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            streams, self._files = list(self._files), {}
        _upload(self.task_path, self.attempt, streams)


def append_stderr(task_path, attempt: int, message: str) -> None:
    """Add `message` as a line to the stored stderr of attempt `attempt` of the task at `task_path`
    (`store.task_path(...)`), after what the task wrote before its process died."""
    with _open(_writing_path(task_path, "stderr", attempt), "a") as handle:
        handle.write(message if message.endswith("\n") else message + "\n")
    _upload(task_path, attempt, STREAMS)


def read_log(task_path, stream: str, attempt: int) -> str:
    """What attempt `attempt` of the task wrote to `stream` ('' when it wrote nothing)."""
    path = log_path(task_path, stream, attempt)
    try:
        with reaching(path, "read"):
            return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def logged_attempts(task_path) -> list[int]:
    """The attempts of the task that wrote a log, in order."""
    folder = task_path / LOGS
    try:
        with reaching(folder, "list"):
            names = [p.name for p in folder.iterdir()] if folder.exists() else []
    except FileNotFoundError:
        return []
    return sorted({int(name.split(".", 1)[0]) for name in names if name.split(".", 1)[0].isdigit()})


def _writing_path(task_path, stream: str, attempt: int) -> Path:
    """Where the stream is written while the task runs: its file in the store, or its spool here."""
    local = local_path(task_path)
    if local is not None:
        return local / LOGS / f"{attempt}.{stream}.log"
    return _spool(task_path, stream, attempt)


def _spool(task_path, stream: str, attempt: int) -> Path:
    return _SPOOL / hashlib.sha1(str(task_path).encode()).hexdigest()[:24] / f"{attempt}.{stream}.log"


def _open(path: Path, mode: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open(mode, encoding="utf-8", errors="backslashreplace")


def _upload(task_path, attempt: int, streams) -> None:
    """Copy the spooled `streams` of an object-storage root's task to the store, then drop them."""
    if local_path(task_path) is not None:
        return
    for stream in streams:
        spool = _spool(task_path, stream, attempt)
        if not spool.exists():
            continue
        target = log_path(task_path, stream, attempt)
        with reaching(target, "write"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(spool.read_bytes())
        spool.unlink()
    try:
        _spool(task_path, "stdout", attempt).parent.rmdir()
    except OSError:            # the other attempt's spool is still there, or there was none
        pass
