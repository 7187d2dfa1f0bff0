"""Deployments in a dags folder: a snapshot of the flow file per project branch, and its record.

    <dags folder>/<project>/<branch>/<FlowName>.py          the flow file as it was, plus its build_dag line
    <dags folder>/<project>/<branch>/<FlowName>.deploy.json  deployer, time, DAG id, upstream DAG ids
    <dags folder>/<project>/<branch>/.production_token.json  the branch's owner and token hash
    <dags folder>/<project>/<branch>/.deploy.lock             changes to a branch hold an OS lock on it

Flows without @project go to `<dags folder>/_flows/`. Everything is checked before anything is
written, and each file is replaced atomically, so a refused deployment leaves the folder as it was.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import CommandLineError, FlowDefinitionError
from ..flows.triggers import trigger_loop
from ..naming import Deployment
from ..orchestration.dag_factory import validate_deployment
from .tokens import TOKEN_FILE, check_token, hash_token

NO_PROJECT = "_flows"
RECORD_SUFFIX = ".deploy.json"
LOCK_FILE = ".deploy.lock"


def default_dags_folder() -> Path:
    from airflow.configuration import conf
    return Path(conf.get("core", "dags_folder"))


def branch_folder(dags_folder: Path, deployment: Deployment) -> Path:
    if deployment.project is None:
        return dags_folder / NO_PROJECT
    return dags_folder / deployment.project / deployment.branch


@dataclass
class Created:
    dag_id: str
    path: Path
    new_token: str | None       # printed once, when this deployment made or rotated the branch's token


def create(flow_cls, source_file: Path, deployment: Deployment, dags_folder: Path, deployer: str,
           authorize: str | None = None, generate_new_token: bool = False) -> Created:
    """Check, then write the snapshot and record of one deployment."""
    deployment = dataclasses.replace(deployment, deployer=deployer)
    upstreams = validate_deployment(flow_cls, deployment)
    _refuse_trigger_loop(dags_folder, deployment.project_flow_name, upstreams)
    folder = branch_folder(dags_folder, deployment)
    source = source_file.read_text()
    snapshot = (f"{source.rstrip()}\n\n\n# Deployed by airflow_flow_triggers: {deployment.project_flow_name}\n"
                f"from airflow_flow_triggers import build_dag as _build_dag  # noqa: E402\n"
                f"{build_dag_source_line(flow_cls.__name__, deployment)}\n")
    record = {"dag_id": deployment.project_flow_name, "flow": deployment.flow_name, "project": deployment.project,
              "branch": deployment.branch, "production": deployment.is_production, "deployer": deployer,
              "deployed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "source": str(source_file), "triggered_by": sorted(upstreams)}
    with branch_locked(folder):
        new_token = check_token(folder, deployment, deployer, authorize, generate_new_token)
        if new_token is not None:
            _write_atomically(folder / TOKEN_FILE, json.dumps({"owner": deployer,
                                                                "token_sha256": hash_token(new_token)}))
        _write_atomically(folder / f"{deployment.flow_name}{RECORD_SUFFIX}", json.dumps(record, indent=1))
        _write_atomically(folder / f"{deployment.flow_name}.py", snapshot)
    return Created(deployment.project_flow_name, folder / f"{deployment.flow_name}.py", new_token)


def delete(dags_folder: Path, deployment: Deployment, deployer: str, authorize: str | None,
           whole_branch: bool = False) -> list[str]:
    """Remove one deployment (or all of its branch); returns the DAG ids removed."""
    if whole_branch and deployment.project is None:
        raise CommandLineError(f"--branch-all removes every flow of a project branch, and flow {deployment.flow_name} "
                               "has no @project: delete it alone, without --branch-all.")
    folder = branch_folder(dags_folder, deployment)
    records = [r for r in _read_records(folder.glob(f"*{RECORD_SUFFIX}"))
               if whole_branch or r["flow"] == deployment.flow_name]
    if not records:
        what = f"branch {deployment.branch} of project {deployment.project}" if whole_branch else \
            deployment.project_flow_name
        raise CommandLineError(f"There is no deployment of {what} in {dags_folder}: `airflow list` shows "
                               "what is deployed.")
    with branch_locked(folder):
        check_token(folder, deployment, deployer, authorize, False)
        for record in records:
            for path in (folder / f"{record['flow']}.py", folder / f"{record['flow']}{RECORD_SUFFIX}"):
                path.unlink(missing_ok=True)
        if whole_branch:
            (folder / TOKEN_FILE).unlink(missing_ok=True)
            (folder / LOCK_FILE).unlink(missing_ok=True)   # still held: nobody changes the branch meanwhile
    if whole_branch and not any(folder.iterdir()):
        folder.rmdir()
    return [r["dag_id"] for r in records]


def list_records(dags_folder: Path) -> list[dict]:
    """Every deployment record under `dags_folder`."""
    return _read_records(dags_folder.glob(f"*/**/*{RECORD_SUFFIX}"))


def _read_records(paths) -> list[dict]:
    records = []
    for path in sorted(paths):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return records


def build_dag_source_line(flow_name: str, deployment: Deployment) -> str:
    """The line of a deployment's snapshot that builds its DAG, naming the deployment and deployer."""
    by = f"deployed_by={deployment.deployer!r}"
    if deployment.project is None:
        return f"dag = _build_dag({flow_name}, {by})"
    kind, _, rest = deployment.branch.partition(".")
    args = {"user": f"user={rest!r}",
            "test": f"branch={rest!r}, {by}",
            "prod": f"branch={rest!r}, production=True, {by}" if rest else f"production=True, {by}"}
    return f"dag = _build_dag({flow_name}, {args[kind]})"


def _refuse_trigger_loop(dags_folder: Path, dag_id: str, upstreams: set[str]) -> None:
    triggered_by = {r["dag_id"]: set(r.get("triggered_by", [])) for r in list_records(dags_folder)}
    triggered_by[dag_id] = set(upstreams)
    loop = trigger_loop(triggered_by, dag_id)
    if loop:
        raise FlowDefinitionError(f"Deploying {dag_id} would make flows trigger each other in a loop "
                                  f"({' <- '.join(loop)}, each started by the next): remove one "
                                  "@trigger_on_finish, or delete one of the deployments first.")


@contextlib.contextmanager
def branch_locked(folder: Path):
    """Hold an OS lock on the branch folder's lock file: changes to one branch happen one at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield                       # closing the file releases the lock


def _write_atomically(path: Path, text: str) -> None:
    """Write next to `path` under a name Airflow does not parse, then rename over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".deploying-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
