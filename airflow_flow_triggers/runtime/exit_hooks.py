"""@exit_hook once a run has ended, as Metaflow's runtime calls them (runtime.py, `_run_exit_hooks`): the hooks of
the list its outcome picks (`on_success` when the end step finished, else `on_error`), of every @exit_hook the one
nearest the class first, one after the other, each in a process of its own (exit_hook_script.py). What a hook
prints is printed; a hook that fails says so in one line and changes nothing else: not the run's outcome, not the
hooks after it. Used by local runs (runner.py) and by a deployed flow's last Airflow task (orchestration/tasks.py).
"""
from __future__ import annotations

import os
import subprocess
import sys

from .output import killed_by

SCRIPT = "airflow_flow_triggers.runtime.exit_hook_script"


def hook_names(flow_cls: type, successful: bool) -> list[str]:
    """The names of the hooks to call after a run of `flow_cls` that succeeded (or not), in order."""
    return [name for hooks in getattr(flow_cls, "_exit_hooks", ())
            for name in (hooks.on_success if successful else hooks.on_error)]


def flow_file(flow_cls: type) -> str:
    """The file the flow class was loaded from, which a hook's process loads too (a deployed flow's: the file of
    its code package on the worker)."""
    module = sys.modules.get(flow_cls.__module__)
    return os.path.abspath(getattr(module, "__file__", None) or sys.argv[0])


def run_exit_hooks(flow_cls: type, pathspec: str, successful: bool, cwd: str | None = None,
                   env: dict | None = None) -> None:
    """Call the hooks of `flow_cls` for its run `pathspec` (`<project_flow_name>/<run id>`), each in a process of
    its own started in `cwd` with the environment `env` (defaults: this process's, as Metaflow's), printing what
    they print."""
    names = hook_names(flow_cls, successful)
    if names:
        path = flow_file(flow_cls)
        for name in names:
            call_hook(path, name, pathspec, flow_cls.__module__, cwd, env)


def call_hook(path: str, name: str, pathspec: str, module: str, cwd: str | None = None,
              env: dict | None = None) -> bool:
    """Run one hook in a process of its own; print its output, and why it failed if it did; whether it succeeded."""
    command = [sys.executable, "-m", SCRIPT, path, name, pathspec, module]
    try:
        done = subprocess.run(command, capture_output=True, cwd=cwd, env=os.environ if env is None else env)
    except Exception as error:                          # no process to run it in: the run's outcome stands
        print(f"[exit_hook] Unexpected error in hook '{name}': {error}", flush=True)
        return False
    output, errors = (text.decode(errors="replace") for text in (done.stdout, done.stderr))
    if output.strip() or done.returncode == 0:
        print(output.strip(), flush=True)               # as Metaflow's: what the hook printed, stripped
    why = None if done.returncode == 0 else _why_failed(done.returncode, errors)
    if errors.strip() and errors.strip() != why:        # what it wrote to stderr (its traceback), to stderr
        sys.stderr.write(errors if errors.endswith("\n") else errors + "\n")
        sys.stderr.flush()
    if why is None:
        return True
    print(f"[exit_hook] Hook '{name}' failed with error: {why}", flush=True)
    return False


def _why_failed(status: int, errors: str) -> str:
    """What ended a hook's process: the signal that killed it, else the last line of its traceback (the exception,
    or the one sentence saying it could not be loaded), else its exit status."""
    if status < 0:
        return f"its process was killed by {killed_by(status)}"
    lines = [line.strip() for line in errors.splitlines() if line.strip() and not line.startswith((" ", "\t"))]
    return lines[-1] if lines else f"its process exited with status {status}"
