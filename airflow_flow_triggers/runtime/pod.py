"""One step in a pod: `main()` (the pod's command), with the task in the environment (FLOW_TRIGGERS_POD_TASK).

The Airflow worker running the task publishes the flow's code (a deployment's code package, or the DAG
file alone for a DAG file written by hand) as a zip archive, content-addressed, to
`<artifact_root>/_code/<sha256>.zip`, and passes the hash; the pod fetches the archive, checks the hash,
unpacks it, imports the flow file under the module name the worker gave it (so pickled objects of
classes defined there load alike everywhere), with the package's folder first on sys.path, and runs the
step through the same runtime as any task: its artifacts and its record land in the artifact store,
where the worker reads the record back.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import ArtifactError, FlowTriggersError
from ..flows.decospecs import attach_decorators
from ..naming import Deployment
from .output import user_traceback
from .store import ArtifactStore, reaching
from .task import TaskRef, execute_task

TASK_ENV = "FLOW_TRIGGERS_POD_TASK"
CODE_FOLDER = "_code"
STEP_ONLY = False  # True while a pod imports a flow's code: its `build_dag(...)` line builds no DAG there


def code_path(store: ArtifactStore, sha256: str):
    return store.root / CODE_FOLDER / f"{sha256}.zip"


def publish_code(files: dict[str, bytes], store: ArtifactStore) -> str:
    """Put a flow's code ({path in the package: content}) into the store under its SHA-256 (once); returns it."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
        for path in sorted(files):           # the same files always make the same bytes, and the same hash
            packed.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), files[path])
    data = archive.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    target = code_path(store, sha256)
    with reaching(target, "publish the flow's code to"):
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return sha256


def load_flow(store: ArtifactStore, sha256: str, flow_file: str, module_name: str, class_name: str) -> type:
    """The flow class from its published code, after checking the code is the one the worker sent."""
    global STEP_ONLY
    path = code_path(store, sha256)
    with reaching(path, "read the flow's code from"):
        data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArtifactError(f"The flow's code at {path} does not have the SHA-256 {sha256} its task was started "
                            "with: the code package was changed after it was published.")
    folder = Path(tempfile.mkdtemp(prefix="flow_code_"))
    with zipfile.ZipFile(io.BytesIO(data)) as packed:
        packed.extractall(folder)
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(module_name, folder / flow_file)
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
    flow_cls = attach_decorators(load_flow(store, task["code_sha256"], task["flow_file"], task["module"], task["flow"]),
                                 task.get("decospecs", ()))
    return execute_task(flow_cls, Deployment(**task["deployment"]), task["run_id"], task["step"],
                        [TaskRef.from_dict(ref) for ref in task["inputs"]], task["split_index"],
                        task["parameters"], store, origin="kubernetes", trigger_events=task["events"],
                        retry_count=task.get("retry_count", 0), tags=task.get("tags"))


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

