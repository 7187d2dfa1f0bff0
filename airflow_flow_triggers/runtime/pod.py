"""One step in a pod: `main()` (the pod's command), with the task in the environment (FLOW_TRIGGERS_POD_TASK).

The Airflow worker running the task publishes the flow's code (the DAG file, a deployment's snapshot)
content-addressed to `<artifact_root>/_code/<sha256>.py` and passes the hash; the pod fetches the
code, checks the hash, imports it under the module name Airflow gave it (so pickled objects of classes
defined there load alike everywhere), and runs the step through the same runtime as any task: its
artifacts and its record land in the artifact store, where the worker reads the record back.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

from ..errors import ArtifactError, FlowTriggersError
from ..naming import Deployment
from .output import user_traceback
from .store import ArtifactStore, reaching
from .task import TaskRef, execute_task

TASK_ENV = "FLOW_TRIGGERS_POD_TASK"
CODE_FOLDER = "_code"
STEP_ONLY = False  # True while a pod imports a flow's code: its `build_dag(...)` line builds no DAG there


def code_path(store: ArtifactStore, sha256: str):
    return store.root / CODE_FOLDER / f"{sha256}.py"


def publish_code(source_file: str, store: ArtifactStore) -> str:
    """Put a flow file into the store under its SHA-256 (once); returns the hash."""
    source = Path(source_file).read_bytes()
    sha256 = hashlib.sha256(source).hexdigest()
    target = code_path(store, sha256)
    with reaching(target, "publish the flow's code to"):
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source)
    return sha256


def load_flow(store: ArtifactStore, sha256: str, module_name: str, class_name: str) -> type:
    """The flow class from its published code, after checking the code is the one the worker sent."""
    global STEP_ONLY
    path = code_path(store, sha256)
    with reaching(path, "read the flow's code from"):
        source = path.read_bytes()
    if hashlib.sha256(source).hexdigest() != sha256:
        raise ArtifactError(f"The flow's code at {path} does not have the SHA-256 {sha256} its task was started "
                            "with: the code package was changed after it was published.")
    folder = Path(tempfile.mkdtemp(prefix="flow_code_"))
    file = folder / f"{module_name}.py"
    file.write_bytes(source)
    spec = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    STEP_ONLY = True
    try:
        spec.loader.exec_module(module)
    finally:
        STEP_ONLY = False
    return getattr(module, class_name)


def run(task: dict) -> TaskRef:
    store = ArtifactStore(task["artifact_root"])
    flow_cls = load_flow(store, task["code_sha256"], task["module"], task["flow"])
    return execute_task(flow_cls, Deployment(**task["deployment"]), task["run_id"], task["step"],
                        [TaskRef.from_dict(ref) for ref in task["inputs"]], task["split_index"],
                        task["parameters"], store, origin="kubernetes", trigger_events=task["events"])


def main() -> int:
    try:
        ref = run(json.loads(os.environ[TASK_ENV]))
    except FlowTriggersError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:                      # the step's own: its traceback, from its code down
        print(user_traceback(error), file=sys.stderr)
        return 1
    print(f"Task {ref.step}/{ref.task_id} finished successfully.")
    return 0

