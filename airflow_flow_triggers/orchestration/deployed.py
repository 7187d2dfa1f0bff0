"""What a deployment's DAG file runs: its flow, from its own code package, built into its DAG.

Every deployment's DAG file is the same few lines (deployments/layout.py's ENTRY). `deployed_dag` reads
the record beside it, checks that the code package the record names still has that content, imports
the flow file with the package's folder first on `sys.path`, so that `import features` in the flow is
this deployment's `features.py` and no other branch's, and builds the DAG the record describes.
"""
from __future__ import annotations

from pathlib import Path

from ..deployments import layout
from ..deployments.loading import load_flow
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


def _branch_choice(record: dict) -> dict:
    """build_dag's arguments for the record's branch: user=, branch= and/or production=."""
    if record["project"] is None:
        return {}
    kind, _, rest = record["branch"].partition(".")
    return {"user": {"user": rest}, "test": {"branch": rest},
            "prod": {"branch": rest or None, "production": True}}[kind]
