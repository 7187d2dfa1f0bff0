"""@timeout in a local run, as Metaflow's decorator enforces it: an alarm in the main thread of the process
running the step (a local run's worker) raises TimeoutException inside the step, so @retry retries it and
@catch takes it. On Airflow the task's execution_timeout does the same (orchestration/dag_factory.py)."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

from ..errors import TimeoutException
from ..flows.decorators import step_settings


@contextlib.contextmanager
def step_timeout(step: str, func, enforced: bool = True):
    """Run the body of the `with` under step `step`'s @timeout (read from its function `func`), if it has one."""
    limit = step_settings(func).timeout
    if limit is None or not enforced or threading.current_thread() is not threading.main_thread():
        yield
        return
    message = _timed_out(step, func)

    def alarm(signum, frame):
        print(message, file=sys.stderr)        # as Metaflow logs it; the traceback shows where the step was
        raise TimeoutException(message)

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit.total_seconds())
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _timed_out(step: str, func) -> str:
    """Metaflow's words, with the decorator's arguments as written."""
    given = next((d["attributes"] for d in getattr(func, "step_decorators", []) if d["name"] == "timeout"), {})
    return (f"Step {step} timed out after {given.get('hours', 0)} hours, {given.get('minutes', 0)} minutes, "
            f"{given.get('seconds', 0)} seconds")
