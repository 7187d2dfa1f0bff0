"""The cluster policy (entry point group `airflow.policy`): what the dag-processor refuses to load.

1. A DAG of your own scheduled on a finish asset with a plain asset schedule: finish events are
   partitioned by the run that finished, and Airflow queues only partitioned consumers for them, so
   that DAG would never run. An import error says what to write instead.
2. A flow DAG that does not come from its place in the deployment store. A `<project>.<branch>.<Flow>`
   DAG (its gate and expectation DAGs too) must be defined by a file in that branch's folder of the store, and a
   production DAG only by the DAG file of a deployment whose record the api-server (or a local
   `airflow create`) signed after checking the branch's production token. Otherwise Airflow would let
   any file in the dags folder take over a DAG id, the last one parsed silently winning.
"""
from __future__ import annotations

from pathlib import Path

from airflow.policies import hookimpl

from ..deployments import bundle, layout, signing  # bundle: as a module, it may be importing Airflow (and so us)
from ..errors import FlowTriggersError
from ..flows.triggers import validate_branch
from ..naming import BRANCH_TAG, PROJECT_TAG, branch_kind, tag_value
from .assets import GATE_SUFFIX, is_finish_asset
from .expectations import EXPECT_SUFFIX


@hookimpl
def dag_policy(dag) -> None:
    _refuse_plain_schedule_on_finish(dag)
    _refuse_misplaced_flow(dag)


def _refuse_plain_schedule_on_finish(dag) -> None:
    from airflow.sdk import PartitionedAssetTimetable
    timetable = dag.timetable
    condition = getattr(timetable, "asset_condition", None)
    if condition is None or isinstance(timetable, PartitionedAssetTimetable):
        return
    followed = [asset for asset in _leaves(condition) if getattr(asset, "uri", "") and is_finish_asset(asset)]
    if followed:
        name = getattr(followed[0], "name", None) or followed[0].uri
        _refuse(f"DAG {dag.dag_id} is scheduled on the finish asset {name}, whose events are partitioned by the run "
                "that finished, so a plain asset schedule never starts it: use schedule=PartitionedAssetTimetable("
                "assets=...) (from airflow.sdk) to run once per finish.")


def _leaves(condition):
    """The assets and asset references of an asset condition (AssetAll / AssetAny nest them)."""
    for item in getattr(condition, "objects", None) or [condition]:
        yield from (_leaves(item) if hasattr(item, "objects") else [item])


def _refuse_misplaced_flow(dag) -> None:
    claimed = _claimed_branch(dag)
    if claimed is None:
        return
    project, branch, flow_dag_id = claimed
    root = bundle.local_root()
    folder = root / project / branch
    fileloc = Path(dag.fileloc or "")
    if fileloc.parent != folder and fileloc.resolve().parent != folder.resolve():     # as written, else resolved
        _refuse(f"DAG {dag.dag_id} belongs to branch {branch} of project {project}, so it must come from that "
                f"branch's folder of the deployment store, {folder}, where `python flow.py airflow create` puts it; "
                f"it comes from {dag.fileloc}: deploy the flow with `airflow create`, or move the file there.")
    if branch_kind(branch) == "prod":
        problem = _unsigned_production(fileloc, flow_dag_id)
        if problem:
            _refuse(f"DAG {dag.dag_id} is a production DAG, and production DAGs come only from a deployment that "
                    "`python flow.py --production airflow create` made after checking the branch's production "
                    f"token: {problem}.")


def _claimed_branch(dag) -> tuple[str, str, str] | None:
    """(project, branch, the flow's DAG id) that `dag` claims: by its tags, or by an id of the form
    <project>.<branch>.<Flow> of a project that the deployment store holds. None for other DAGs."""
    flow_dag_id = dag.dag_id.removesuffix(f".{GATE_SUFFIX}")
    if EXPECT_SUFFIX in (dag.tags or ()):       # an expectation DAG (expectations.py): its consumer's place and record
        flow_dag_id = flow_dag_id.removesuffix(f".{EXPECT_SUFFIX}")
    project, branch = tag_value(dag.tags or (), PROJECT_TAG), tag_value(dag.tags or (), BRANCH_TAG)
    if project is not None and branch is not None:
        return project, branch, flow_dag_id
    parts = flow_dag_id.split(".")
    if len(parts) < 3:
        return None
    project, branch = parts[0], ".".join(parts[1:-1])
    try:
        validate_branch(branch)
    except FlowTriggersError:
        return None
    return (project, branch, flow_dag_id) if (bundle.local_root() / project).is_dir() else None


def _unsigned_production(fileloc: Path, flow_dag_id: str) -> str | None:
    """Why the DAG file `fileloc` is not a production deployment's, or None if it is."""
    record_file = fileloc.with_name(fileloc.stem + layout.RECORD_SUFFIX)
    try:
        record = layout.read_record(record_file)
    except FlowTriggersError as error:
        return str(error).rstrip(".")
    if record is None or record.get("dag_id") != flow_dag_id:
        return f"{fileloc.parent} has no deployment record of {flow_dag_id}"
    if not signing.is_signed(record):
        return f"its record {record_file} does not carry this Airflow's signature"
    if fileloc.read_text() != layout.entry_source(flow_dag_id):
        return f"{fileloc} is not the DAG file `airflow create` wrote"
    return None


def _refuse(message: str):
    from airflow.exceptions import AirflowClusterPolicyViolation
    raise AirflowClusterPolicyViolation(message)
