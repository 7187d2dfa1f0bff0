"""The plugin's deployment API: `python flow.py airflow create | delete | list` from any machine.

    GET    /flow-triggers/api/identity                              the user deployments are named after
    GET    /flow-triggers/api/deployments                           the deployments you may read
    POST   /flow-triggers/api/deployments                           deploy a code package
    DELETE /flow-triggers/api/deployments/{dag_id}                  remove one deployment
    DELETE /flow-triggers/api/projects/{project}/branches/{branch}  remove every flow of a branch
    POST   /flow-triggers/api/projects/{project}/branches/{branch}/promote
                                                                    put another branch's code versions on it
    GET    /flow-triggers/api/dags/{dag_id}/versions                the code versions that ran successfully
    POST   /flow-triggers/api/projects/{project}/prune              list (dry run) or remove stale branches
    GET    /flow-triggers/api/versions/running                      the code versions runs in progress use

After every change, the code versions no deployment keeps and no run in progress uses are removed.
    DELETE /flow-triggers/api/dags/{dag_id}                         forget a DAG `airflow delete --dags-folder`
                                                                    removed (its runs, partitions, queued events)

The api-server never imports or runs flow code: these routes check names, paths, sizes and the
branch's production token, write the deployment store (deployments/store.py, with the branch kept and
locked in Airflow's metadata database), and ask the dag-processor to parse the new DAG file at once.
Who may deploy is the auth manager's call: deploying or deleting a DAG needs permission to edit it.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import datetime

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from ..deployments import layout, packages
from ..deployments.bundle import bundle_name
from ..deployments.provenance import checked_provenance
from ..deployments.prune import parse_age, stale_branches
from ..deployments.signing import SIGNATURE
from ..deployments.store import DeploymentStore
from ..deployments.tokens import BranchRefused
from ..errors import CommandLineError, FlowDefinitionError, FlowTriggersError
from ..flows.decospecs import parse_decospec
from ..flows.triggers import validate_branch
from ..naming import Deployment, branch_kind, check_dag_id, sanitize_user, split_flow_name, validate_name
from . import fates, metadata


class Change(BaseModel):
    deployer: str | None = None         # the client's user: names the deployer only where Airflow has no identity
    authorize: str | None = None        # the branch's production token


class DeployRequest(Change):
    flow: str
    project: str | None = None
    branch: str | None = None
    flow_file: str
    files: dict[str, str]               # path in the package -> base64 content
    data_files: list[str] = []          # the files of `files` that are the flow's IncludeFile defaults
    triggered_by: list[str] = []
    kind: str = "flow"                  # what flow_file holds: a flow class, or an Airflow DAG of the project ("dag")
    source: str = ""
    generate_new_token: bool = False
    git: dict | None = None             # {"commit", "dirty"} of the client's work tree (provenance.py)
    decospecs: list[str] = []           # `airflow create --with DECO`: decorators for every step


class PruneRequest(Change):
    older_than: str                     # an age: 30d, 12h, 2w, 90m
    dry_run: bool = True


class PromoteRequest(Change):
    source_branch: str
    flows: list[str] = []               # none: every flow of the source branch
    force: bool = False                 # promote code versions with no successful run
    generate_new_token: bool = False


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/api/identity", identity, methods=["GET"])
    app.add_api_route("/api/deployments", list_deployments, methods=["GET"])
    app.add_api_route("/api/deployments", create_deployment, methods=["POST"])
    app.add_api_route("/api/deployments/{dag_id}", delete_deployment, methods=["DELETE"])
    app.add_api_route("/api/projects/{project}/branches/{branch}", delete_branch, methods=["DELETE"])
    app.add_api_route("/api/dags/{dag_id}", forget_dag, methods=["DELETE"])
    app.add_api_route("/api/projects/{project}/branches/{branch}/promote", promote_branch, methods=["POST"])
    app.add_api_route("/api/dags/{dag_id}/versions", tested_versions, methods=["GET"])
    app.add_api_route("/api/projects/{project}/prune", prune_project, methods=["POST"])
    app.add_api_route("/api/versions/running", running_versions, methods=["GET"])


def identity(user: GetUserDep) -> dict:
    """The name `user.<name>` branches and deployment owners get; from_airflow is False in all-admins mode."""
    name = airflow_identity(user)
    return {"user": name, "from_airflow": name is not None}


def list_deployments(user: GetUserDep, session: SessionDep) -> dict:
    records = DeploymentStore(session=session).records()
    return {"deployments": [{k: v for k, v in r.items() if k != SIGNATURE} for r in records
                            if _may(user, "GET", r["dag_id"])]}


def create_deployment(request: DeployRequest, user: GetUserDep, session: SessionDep) -> dict:
    with _refusals():
        deployment = _deployment(request, user)
        _require(user, "PUT", deployment.project_flow_name, "deploy")
        package = packages.checked(request.flow_file, _decoded(request.files), request.data_files)
        upstreams = {_upstream_name(name) for name in request.triggered_by}
        store = DeploymentStore(session=session)
        created = store.create(deployment, package, upstreams, request.source, request.authorize,
                               request.generate_new_token, checked_provenance(request.git), request.kind,
                               _decospecs(request))
        note = _parse_now(session, store, [deployment])
        _collect_garbage(session, store)
    return {"dag_id": created.dag_id, "location": created.location, "package_sha256": created.package_sha256,
            "new_token": created.new_token, "note": note}


def delete_deployment(dag_id: str, change: Change, user: GetUserDep, session: SessionDep) -> dict:
    with _refusals():
        project, branch, flow = split_flow_name(dag_id)
        deployment = Deployment(flow, project, validate_branch(branch) if project else None)
        return _delete(deployment, change, user, session, whole_branch=False)


def delete_branch(project: str, branch: str, change: Change, user: GetUserDep, session: SessionDep) -> dict:
    with _refusals():
        deployment = Deployment("", validate_name("project", project), validate_branch(branch))
        return _delete(deployment, change, user, session, whole_branch=True)


def promote_branch(project: str, branch: str, request: PromoteRequest, user: GetUserDep, session: SessionDep) -> dict:
    """The code versions deployed on `request.source_branch`, deployed as they are on `branch`."""
    with _refusals():
        deployer = _deployer(request, user)
        target = Deployment("", validate_name("project", project), _own_branch(validate_branch(branch), deployer),
                            deployer)
        source = Deployment("", project, validate_branch(request.source_branch))
        store = DeploymentStore(session=session)
        for record in store.promoted_records(source, target, request.flows):
            _require(user, "GET", record["dag_id"], "read")
            _require(user, "PUT", target.sibling(record["flow"]).project_flow_name, "deploy")
        tested = None if request.force else (lambda dag_id: fates.tested_versions(session, dag_id))
        created = store.promote(source, target, request.flows, tested, request.authorize, request.generate_new_token)
        note = _parse_now(session, store, [target.sibling(c.dag_id.rsplit(".", 1)[-1]) for c in created])
        _collect_garbage(session, store)
    return {"promoted": [{"dag_id": c.dag_id, "location": c.location, "package_sha256": c.package_sha256}
                         for c in created],
            "new_token": next((c.new_token for c in created if c.new_token), None), "note": note}


def prune_project(project: str, request: PruneRequest, user: GetUserDep, session: SessionDep) -> dict:
    """The stale user.* and test.* branches of a project you may read (prune.py); with dry_run false, removed
    with their DAGs, gates, tokens, records and code versions (you must be allowed to delete their DAGs)."""
    with _refusals():
        older_than = parse_age(request.older_than)
        store = DeploymentStore(session=session)
        records = [r for r in store.records() if r["project"] == validate_name("project", project)
                   and _may(user, "GET", r["dag_id"])]
        runs = metadata.last_runs(session, {r["dag_id"] for r in records})
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        last_runs = {dag_id: run["end_date"] or run["start_date"] or now for dag_id, run in runs.items()}
        stale = stale_branches(records, last_runs, project, older_than)
        if request.dry_run:
            return {"stale": stale, "removed": False, "deleted": [], "still_running": [], "versions_removed": []}
        for branch in stale:
            for dag_id in branch["dag_ids"]:
                _require(user, "DELETE", dag_id, "delete")
        deleted, still_running = [], []
        for branch in stale:
            removed = store.remove_stale(branch)
            deleted += removed
            still_running += metadata.delete_dags(session, removed)
        versions = _collect_garbage(session, store)
    return {"stale": stale, "removed": True, "deleted": deleted, "still_running": still_running,
            "versions_removed": versions}


def running_versions(user: GetUserDep, session: SessionDep) -> dict:
    """The code versions runs in progress use (a client pruning a dags folder keeps them)."""
    return {"versions": sorted(fates.running_versions(session))}


def tested_versions(dag_id: str, user: GetUserDep, session: SessionDep) -> dict:
    """{code version: its newest successful run} of one DAG."""
    _require(user, "GET", dag_id, "read")
    return {"versions": fates.tested_versions(session, dag_id)}


def forget_dag(dag_id: str, user: GetUserDep, session: SessionDep) -> dict:
    """Out of Airflow's metadata, every trace of a DAG whose deployment was removed from a folder by hand or by
    `airflow delete --dags-folder`, as a delete through this API leaves none (metadata.delete_dags)."""
    _require(user, "DELETE", dag_id, "delete")
    return {"deleted": [dag_id], "still_running": metadata.delete_dags(session, [dag_id])}


def _delete(deployment: Deployment, change: Change, user, session, whole_branch: bool) -> dict:
    store = DeploymentStore(session=session)
    doomed = [r["dag_id"] for r in store.branch_records(deployment)
              if whole_branch or r["flow"] == deployment.flow_name]
    for dag_id in doomed:
        _require(user, "DELETE", dag_id, "delete")
    removed = store.delete(deployment, _deployer(change, user), change.authorize, whole_branch)
    still_running = metadata.delete_dags(session, removed)
    _collect_garbage(session, store)
    return {"deleted": removed, "still_running": still_running}


def airflow_identity(user) -> str | None:
    """`user`'s name as deployments name users, or None where Airflow knows nobody (all-admins mode)."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.configuration import conf
    if isinstance(get_auth_manager(), SimpleAuthManager) and \
            conf.getboolean("core", "simple_auth_manager_all_admins", fallback=False):
        return None
    return sanitize_user(user.get_name())


def _deployer(change: Change, user) -> str:
    name = airflow_identity(user) or sanitize_user(change.deployer or "")
    if not name:
        raise CommandLineError("This Airflow authenticates nobody (all-admins mode), so the request must name its "
                               "deployer: set METAFLOW_USER or USER where you run `airflow create`.")
    return name


def _deployment(request: DeployRequest, user) -> Deployment:
    """The deployment asked for, its names checked as Metaflow checks them, its deployer the Airflow user."""
    deployer = _deployer(request, user)
    if request.kind not in ("flow", "dag"):
        raise CommandLineError(f"'{request.kind}' is no kind of deployment: a package deploys a flow or a dag.")
    if not request.flow.isidentifier():
        raise CommandLineError(f"'{request.flow}' is not a {'DAG id' if request.kind == 'dag' else 'flow class name'} "
                               "of a project (letters, digits and '_', not first a digit).")
    if request.project is None:
        return Deployment(check_dag_id(request.flow), deployer=deployer)
    validate_name("project", request.project)
    branch = _own_branch(validate_branch(request.branch or ""), deployer)
    deployment = Deployment(request.flow, request.project, branch, deployer)
    check_dag_id(deployment.project_flow_name)
    return deployment


def _own_branch(branch: str, deployer: str) -> str:
    """`branch`, unless it is another user's branch."""
    if branch_kind(branch) == "user" and branch != f"user.{deployer}":
        raise BranchRefused(f"You are signed in to Airflow as {deployer}, so your user branch is "
                            f"user.{deployer}, not {branch}: deploy to your own branch, or to a shared one "
                            "with --branch.")
    return branch


def _upstream_name(name: str) -> str:
    project, branch, flow = split_flow_name(name)
    if project is not None:
        validate_branch(branch)
    if not flow.isidentifier():
        raise CommandLineError(f"'{name}' is not the name of a deployed flow.")
    return name


def _decoded(files: dict[str, str]) -> dict[str, bytes]:
    try:
        return {path: base64.b64decode(content, validate=True) for path, content in files.items()}
    except (binascii.Error, ValueError):
        raise CommandLineError("The code package's files must be base64-encoded.") from None


def _decospecs(request: DeployRequest) -> list[str]:
    """`--with` decorators, checked as the client checked them: a bad one would break the DAG file's every parse."""
    if request.decospecs and request.kind != "flow":
        raise CommandLineError("--with adds decorators to a flow's steps; an Airflow DAG has none: leave it out.")
    return [parse_decospec(text).text for text in request.decospecs]


def _may(user, method: str, dag_id: str) -> bool:
    return get_auth_manager().is_authorized_dag(method=method, details=DagDetails(id=dag_id), user=user)


def _require(user, method: str, dag_id: str, doing: str) -> None:
    if not _may(user, method, dag_id):
        raise HTTPException(403, f"Airflow user {user.get_name()} may not {doing} DAG {dag_id}: that needs "
                                 "permission to edit DAGs, which an Airflow admin gives.")


def _parse_now(session, store: DeploymentStore, deployments: list[Deployment]) -> str | None:
    """Ask the dag-processor to parse the deployments' DAG files at once (it refreshes their bundle first)."""
    name = bundle_name(store.url)
    if name is None:
        return (f"no DAG bundle of this Airflow reads the deployments root {store.url}, so Airflow will not see "
                "this deployment: add one to [dag_processor] dag_bundle_config_list (docs/deployments.md).")
    metadata.request_parsing(session, name, [layout.relative_entry(d) for d in deployments])
    return None


def _collect_garbage(session, store: DeploymentStore) -> list[str]:
    return store.collect_garbage(fates.running_versions(session))


@contextlib.contextmanager
def _refusals():
    """Our one-sentence errors as HTTP answers: a token refusal is 403, a conflict with what is deployed
    409, any other bad request 400."""
    try:
        yield
    except BranchRefused as error:
        raise HTTPException(403, error.message) from None
    except FlowDefinitionError as error:
        raise HTTPException(409, error.message) from None
    except FlowTriggersError as error:
        raise HTTPException(400, error.message) from None
