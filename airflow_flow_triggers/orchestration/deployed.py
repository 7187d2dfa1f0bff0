"""What a deployment's DAG file runs: its flow, from its own code package, built into its DAG.

Every deployment's DAG file is the same few lines (deployments/layout.py's ENTRY). `deployed_dag` reads
the record beside it, checks that the code package the record names still has that content, imports
the flow file with the package's folder first on `sys.path`, so that `import features` in the flow is
this deployment's `features.py` and no other branch's, and builds the DAG the record describes.
"""
from __future__ import annotations

from pathlib import Path

from ..deployments import layout
from ..deployments.loading import load_flow, load_module
from ..errors import FlowDefinitionError
from ..naming import branch_choice
from ..runtime.store import ArtifactStore
from ..runtime.task import run_code
from . import project_dags
from .assets import GATE_SUFFIX
from .dag_factory import build_dag
from .expectations import companion_id


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
    if package.get("kind") == "dag":
        return _deployed_airflow_dag(record, layout.package_folder(root, package["sha256"]))
    flow_cls = load_flow(layout.package_folder(root, package["sha256"]), package["sha256"], package["flow_file"],
                         record["flow"])
    dag = build_dag(flow_cls, **_branch_choice(record), deployed_by=record["deployer"],
                    decospecs=record.get("decospecs", ()))
    if dag.dag_id != record["dag_id"]:
        raise FlowDefinitionError(f"The code package of {record['dag_id']} defines flow {record['flow']} as "
                                  f"{dag.dag_id}: deploy the flow again with `python flow.py airflow create`.")
    return dag


def _deployed_airflow_dag(record: dict, folder: Path):
    """The project DAG a deployment's package defines, enrolled on the record's branch. Every other DAG its file
    builds stays out of Airflow: the deployment is this one DAG (and its gate and expectation DAG)."""
    from airflow.sdk.definitions._internal.contextmanager import DagContext
    package = record["package"]
    before = {id(dag) for dag, _ in DagContext.autoregistered_dags}
    code = _running_version(record["dag_id"])
    if code is None or not (folder.parent / code["sha256"]).is_dir():
        code = {"sha256": package["sha256"], "flow_file": package["flow_file"]}
    with project_dags.loading_as(**_branch_choice(record), deployer=record["deployer"], code=code) as loading:
        load_module(folder.parent / code["sha256"], code["sha256"], code["flow_file"])
    dags = [dag for name, dag in loading.enrolled if name == record["flow"]]
    if not dags or dags[-1].dag_id != record["dag_id"]:
        raise FlowDefinitionError(f"The code package of {record['dag_id']} defines no DAG {record['flow']} with "
                                  f"@project on branch {record['branch']}: deploy it again with `python -m "
                                  f"airflow_flow_triggers airflow create {package['flow_file']}`.")
    keep = {dags[-1].dag_id, f"{dags[-1].dag_id}.{GATE_SUFFIX}", companion_id(dags[-1].dag_id)}
    project_dags.keep_registered(lambda dag: id(dag) in before or dag.dag_id in keep)
    return dags[-1]


def _running_version(dag_id: str) -> dict | None:
    """In a worker about to run a task of `dag_id`, the code version its run started with (recorded by the run's
    first task): a run keeps the code it started with, as a flow's does (tasks.py's run_flow_class), whatever was
    deployed since. Airflow's task runner names the task instance it parses for in its log context."""
    import structlog
    bound = structlog.contextvars.get_contextvars()
    if bound.get("dag_id") != dag_id or not bound.get("run_id"):
        return None
    return run_code(ArtifactStore().run_path(dag_id, bound["run_id"]))


def _branch_choice(record: dict) -> dict:
    """build_dag's arguments for the record's branch: user=, branch= and/or production=."""
    return {} if record["project"] is None else branch_choice(record["branch"])
