"""One @exit_hook in a process of its own (Metaflow's exit_hook_script):

    python -m airflow_flow_triggers.runtime.exit_hook_script FLOW_FILE NAME PATHSPEC [MODULE]

NAME is an import path ('pkg.mod.fn', from the working directory or the flow's folder), else a function of the flow
file, which is imported to find it (its `build_dag(...)` line builds no DAG here; as module MODULE too, the name
the run imported it under, so that objects of its classes in the run's artifacts load). The hook is called with
`run=Run(PATHSPEC)` when it takes `run` or **kwargs, else with nothing. Exit status 1 when it cannot be loaded (one
sentence on stderr) or raises (its traceback on stderr, from the hook's code down).
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys

from . import pod
from .output import failure_report


class _NotFound(Exception):
    pass


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(f"Usage: python -m {__spec__.name if __spec__ else 'exit_hook_script'} FLOW_FILE NAME PATHSPEC "
              "[MODULE]", file=sys.stderr)
        return 1
    flow_file, name, pathspec = argv[:3]
    folder = os.path.dirname(os.path.abspath(flow_file))
    if folder not in sys.path:
        sys.path.insert(1, folder)                      # after the working directory, as `python flow.py` had it
    try:
        hook = load_hook(flow_file, name, argv[3] if len(argv) == 4 else None)
        if takes_run(hook):
            hook(run=the_run(pathspec))
        else:
            hook()
    except _NotFound as error:
        print(error, file=sys.stderr)
        return 1
    except Exception as error:                          # the hook's (or the flow file's) own: its traceback
        print(failure_report(error), file=sys.stderr)
        return 1
    return 0


def load_hook(flow_file: str, name: str, module_name: str | None = None):
    """The function NAME: by its import path, else from the flow file (Metaflow's order)."""
    if "." in name:
        module_path, function = name.rsplit(".", 1)
        try:
            return getattr(importlib.import_module(module_path), function)
        except (ImportError, AttributeError) as error:
            raise _NotFound(f"Could not load function '{name}' as an import path: {error} (imports start from the "
                            f"working directory, {os.getcwd()}, and the flow's folder).") from None
    module = _flow_module(flow_file, module_name)
    hook = getattr(module, name, None)
    if not callable(hook):
        raise _NotFound(f"Could not load function '{name}' from {flow_file}: it defines no function of that name.")
    return hook


def _flow_module(flow_file: str, module_name: str | None):
    stem = os.path.splitext(os.path.basename(flow_file))[0]
    spec = importlib.util.spec_from_file_location(stem, flow_file)
    if spec is None or not os.path.isfile(flow_file):
        raise _NotFound(f"Could not load the flow file {flow_file} to find its hooks: it is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    for name in {stem, module_name} - {None, "__main__"}:
        sys.modules.setdefault(name, module)
    pod.STEP_ONLY = True                                # a DAG file's build_dag(...) builds nothing here
    spec.loader.exec_module(module)
    return module


def takes_run(hook) -> bool:
    """Whether the hook is given the run: it has a `run` argument or **kwargs (Metaflow's rule)."""
    try:
        spec = inspect.getfullargspec(hook)
    except TypeError:
        return False
    return "run" in spec.args or "run" in spec.kwonlyargs or spec.varkw is not None


def the_run(pathspec: str):
    """Run(PATHSPEC) in any namespace; None, after saying why, when it cannot be read (as Metaflow's)."""
    from .client import Run
    try:
        return Run(pathspec, _namespace_check=False)
    except Exception as error:
        print(error)
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
