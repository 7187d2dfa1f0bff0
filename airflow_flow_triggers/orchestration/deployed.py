"""What a deployment's DAG file runs: its flow, from its own code package, built into its DAG.

Every deployment's DAG file is the same few lines (deployments/layout.py's ENTRY). `deployed_dag` reads
the record beside it, checks that the code package the record names still has that content, imports
the flow file with the package's folder first on `sys.path`, so that `import features` in the flow is
this deployment's `features.py` and no other branch's, and builds the DAG the record describes.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from ..deployments import layout, packages
from ..errors import FlowDefinitionError
from .dag_factory import build_dag


def deployed_dag(entry_file: str):
    """The DAG of the deployment whose DAG file is `entry_file`."""
    entry = Path(entry_file)
    record_file = entry.with_name(entry.stem + layout.RECORD_SUFFIX)
    record = layout.read_record(record_file)
    if record is None:
        raise FlowDefinitionError(f"The deployment's DAG file {entry} has no record {record_file.name} beside it: "
                                  "deploy the flow again with `python flow.py airflow create`.")
    root = layout.store_root_of_entry(entry, record["project"])
    package = record["package"]
    flow_cls = load_flow(layout.package_folder(root, package["sha256"]), package["sha256"], package["flow_file"],
                         record["flow"])
    dag = build_dag(flow_cls, **_branch_choice(record), deployed_by=record["deployer"])
    if dag.dag_id != record["dag_id"]:
        raise FlowDefinitionError(f"The code package of {record['dag_id']} defines flow {record['flow']} as "
                                  f"{dag.dag_id}: deploy the flow again with `python flow.py airflow create`.")
    return dag


def load_flow(folder: Path, sha256: str, flow_file: str, class_name: str) -> type:
    """The flow class from the package in `folder`, after checking the package is the one deployed."""
    files = packages.read_folder(folder) if folder.is_dir() else {}
    if packages.digest(files) != sha256:
        raise FlowDefinitionError(f"The code package {folder} does not hold the code deployed (its content does "
                                  f"not have the SHA-256 {sha256}): it was changed or removed after `airflow "
                                  "create`; deploy the flow again.")
    _use_package(folder)
    module_name = f"flow_package_{sha256[:16]}_{Path(flow_file).stem}"
    spec = importlib.util.spec_from_file_location(module_name, folder / flow_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    flow_cls = getattr(module, class_name, None)
    if not isinstance(flow_cls, type):
        raise FlowDefinitionError(f"The code package {folder} has no flow class {class_name} in {flow_file}.")
    flow_cls._code_package = (folder, flow_file)
    return flow_cls


def _use_package(folder: Path) -> None:
    """Imports resolve in `folder` first, and no module of another package stays imported in this process.

    Plain string prefixes, not Paths: this runs at every parse, over a thousand or more loaded modules."""
    packages, own = f"{folder.parent}{os.sep}", f"{folder}{os.sep}"

    def elsewhere(path: str) -> bool:
        return path.startswith(packages) and not path.startswith(own) and path != str(folder)

    sys.path[:] = [str(folder)] + [p for p in sys.path if p != str(folder) and not elsewhere(p)]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and elsewhere(file):
            del sys.modules[name]


def _branch_choice(record: dict) -> dict:
    """build_dag's arguments for the record's branch: user=, branch= and/or production=."""
    if record["project"] is None:
        return {}
    kind, _, rest = record["branch"].partition(".")
    return {"user": {"user": rest}, "test": {"branch": rest},
            "prod": {"branch": rest or None, "production": True}}[kind]
