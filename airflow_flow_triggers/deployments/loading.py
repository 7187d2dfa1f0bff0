"""Importing a flow from its code package, as deployed: the package's folder first on `sys.path`, so that
`import features` in the flow is this deployment's `features.py` and no other branch's, after checking that
the folder still holds the code deployed (its content has the package's SHA-256)."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from ..errors import FlowDefinitionError
from . import packages


def load_flow(folder: Path, sha256: str, flow_file: str, class_name: str) -> type:
    """The flow class from the package in `folder`, after checking the package is the one deployed."""
    module = load_module(folder, sha256, flow_file)
    flow_cls = getattr(module, class_name, None)
    if not isinstance(flow_cls, type):
        raise FlowDefinitionError(f"The code package {folder} has no flow class {class_name} in {flow_file}.")
    flow_cls._code_package = (folder, flow_file)
    return flow_cls


def load_module(folder: Path, sha256: str, flow_file: str):
    """Import the file `flow_file` of the package in `folder`, after checking the package is the one deployed."""
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
    return module


def code_version(flow_cls: type) -> dict | None:
    """{"sha256", "flow_file"} of the code package `flow_cls` was loaded from; None for a DAG file written by
    hand (its code is the file Airflow parses)."""
    package = getattr(flow_cls, "_code_package", None)
    if package is None:
        return None
    folder, flow_file = package
    return {"sha256": Path(folder).name, "flow_file": flow_file}


def pinned_flow(flow_cls: type, code: dict | None) -> type:
    """The flow class of the code version `code` a run started with: `flow_cls` itself when it is that version
    (or the run knows none), else the same class from that version's package, beside the current one."""
    current = code_version(flow_cls)
    if code is None or current is None or code["sha256"] == current["sha256"]:
        return flow_cls
    folder = Path(flow_cls._code_package[0]).parent / code["sha256"]
    return load_flow(folder, code["sha256"], code["flow_file"], flow_cls.__name__)


def _use_package(folder: Path) -> None:
    """Imports resolve in `folder` first, and no module of another package stays imported in this process.

    Plain string prefixes, not Paths: this runs at every parse, over a thousand or more loaded modules."""
    packages_dir, own = f"{folder.parent}{os.sep}", f"{folder}{os.sep}"

    def elsewhere(path: str) -> bool:
        return path.startswith(packages_dir) and not path.startswith(own) and path != str(folder)

    sys.path[:] = [str(folder)] + [p for p in sys.path if p != str(folder) and not elsewhere(p)]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and elsewhere(file):
            del sys.modules[name]
