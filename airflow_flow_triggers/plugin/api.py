"""The plugin's FastAPI sub-app, mounted by the api-server at /flow-triggers.

    GET /flow-triggers/api/projects                               projects, their branches, flows
    GET /flow-triggers/api/projects/{project}/branches/{branch}   one branch's deployments and graph
    GET /flow-triggers/                                           the "Flow branches" page
    GET /flow-triggers/projects/{project}/branches/{branch}       one branch's page
    GET /flow-triggers/api/dags/{dag_id}/runs/{run_id}/why         why a run started, what its finish started
    GET /flow-triggers/api/dags/{dag_id}/missed                     finishes it missed while paused (replayable)
    GET /flow-triggers/api/dags/{dag_id}/expectation                its deadline (expect_every= / expect_by=): overdue?
    .../api/identity, .../api/deployments                         deploying from anywhere (deployments.py)
    .../cards/..., .../api/cards/...                              a task instance's cards (cards.py)

Authentication is Airflow's own (a JWT as Bearer header, or the UI's `_token` cookie); a user sees
only the DAGs the auth manager lets them read. Data comes from Airflow's metadata (metadata.py),
never from the dags folder.
"""
from __future__ import annotations

from pathlib import Path

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from ..deployments.store import DeploymentStore
from ..errors import FlowTriggersError
from ..flows.triggers import validate_branch
from ..naming import Deployment, branch_kind, validate_name
from . import cards, deployments, fates, metadata
from .access import readable, require_readable
from .branches import branch_view, expectation_view, graph_layout, projects_view
from .pages import render
from .urls import URL_PREFIX

HERE = Path(__file__).resolve().parent


def create_app() -> FastAPI:
    app = FastAPI(title="airflow_flow_triggers", description="Projects, branches and trigger graphs of flows.")
    app.add_api_route("/api/projects", projects, methods=["GET"])
    app.add_api_route("/api/projects/{project}/branches/{branch}", branch_detail, methods=["GET"])
    app.add_api_route("/api/dags/{dag_id}/runs/{run_id}/why", why, methods=["GET"])
    app.add_api_route("/api/dags/{dag_id}/missed", missed, methods=["GET"])
    app.add_api_route("/api/dags/{dag_id}/expectation", expectation, methods=["GET"])
    app.add_api_route("/", index_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/projects/{project}/branches/{branch}", branch_page, methods=["GET"],
                      response_class=HTMLResponse)
    app.add_api_route("/static/icon.svg", icon, methods=["GET"], include_in_schema=False)
    deployments.add_routes(app)
    cards.add_routes(app)
    app.add_exception_handler(HTTPException, _login_for_pages)
    return app


def projects(user: GetUserDep, session: SessionDep) -> dict:
    """Every project with its branches (sorted), and the flows without @project, that you can read."""
    yours = readable(user, session)
    return projects_view([row for row in metadata.flow_dags(session) if row.dag_id in yours])


def branch_detail(request: Request, project: str, branch: str, user: GetUserDep, session: SessionDep) -> dict:
    """One project branch: each deployment's DAG, flow, owner, state, trigger edges, last run (and its tasks'
    cards) and finish."""
    yours = readable(user, session)
    rows = [row for row in metadata.branch_dags(session, project, branch) if row.dag_id in yours]
    if not rows:
        raise HTTPException(404, f"Project {project!r} has no branch {branch!r} with a flow you can read: "
                                 f"GET {URL_PREFIX}/api/projects lists the projects and branches.")
    dag_ids = {row.dag_id for row in rows}
    edges, runs = metadata.trigger_edges(session, dag_ids), metadata.last_runs(session, dag_ids)
    records = _records(session, project, branch)
    view = branch_view(project, branch, rows, edges, runs, metadata.finish_assets(session, dag_ids), yours,
                       fates.causes(session, runs), fates.edge_fates(session, edges), records,
                       metadata.expectation_records(session, dag_ids))
    return with_cards(view, session, request.scope.get("root_path", ""))


def with_cards(view: dict, session, here: str) -> dict:
    """The branch's view with the cards of each last run's tasks (`cards_error`: why none could be read)."""
    runs = {d["dag_id"]: d["last_run"]["run_id"] for d in view["deployments"] if d["last_run"]}
    try:
        found, error = cards.run_cards(session, here, runs), None
    except HTTPException as failure:    # the store is down: the page without cards, saying so
        found, error = {}, failure.detail
    for deployment in view["deployments"]:
        if deployment["last_run"]:
            deployment["last_run"]["cards"] = found.get(deployment["dag_id"], [])
    return {**view, "cards_error": error}


def _records(session, project: str, branch: str) -> list[dict]:
    """The deployment records of a branch (none where its name is not one a deployment can have: a DAG file
    written by hand may tag itself with anything)."""
    try:
        deployment = Deployment("", validate_name("project", project), validate_branch(branch))
    except FlowTriggersError:
        return []
    return DeploymentStore(session=session).branch_records(deployment)


def index_page(request: Request, user: GetUserDep, session: SessionDep) -> HTMLResponse:
    listing = projects(user, session)
    for project in listing["projects"]:
        project["branches"] = [{"name": name, "kind": branch_kind(name)} for name in project["branches"]]
    return render(request, "index.html", listing=listing)


def branch_page(request: Request, project: str, branch: str, user: GetUserDep, session: SessionDep) -> HTMLResponse:
    view = branch_detail(request, project, branch, user, session)
    return render(request, "branch.html", view=view, layout=graph_layout(view))


def why(dag_id: str, run_id: str, user: GetUserDep, session: SessionDep) -> dict:
    """The run's cause (the finishes that started it, or by hand), and each fate of its own finish."""
    require_readable(user, session, dag_id)
    cause = fates.run_cause(session, dag_id, run_id)
    if cause is None:
        raise HTTPException(404, f"DAG {dag_id} has no run {run_id!r}: `airflow dags list-runs {dag_id}` lists "
                                 "its runs.")
    return {"cause": cause, "finish": fates.finish_fates(session, dag_id, run_id),
            "expectation": _expectation_of(session, dag_id)}


def expectation(dag_id: str, user: GetUserDep, session: SessionDep) -> dict:
    """The DAG's expectation of its upstreams, as its newest check found it (null without expect_every= /
    expect_by=)."""
    require_readable(user, session, dag_id)
    return {"dag_id": dag_id, "expectation": _expectation_of(session, dag_id)}


def _expectation_of(session, dag_id: str) -> dict | None:
    return expectation_view(dag_id, metadata.expectation_records(session, {dag_id}).get(dag_id))


def missed(dag_id: str, user: GetUserDep, session: SessionDep) -> dict:
    """The finishes of the DAG's upstreams that Airflow queued for no run of it while it was paused."""
    require_readable(user, session, dag_id)
    return {"dag_id": dag_id, "missed": fates.missed_finishes(session, dag_id)}


def icon() -> FileResponse:
    return FileResponse(HERE / "static" / "icon.svg", media_type="image/svg+xml")


async def _login_for_pages(request: Request, error: HTTPException):
    """A page opened without a session goes to Airflow's login; the API answers as Airflow's does."""
    from fastapi.exception_handlers import http_exception_handler
    if error.status_code == 401 and not request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/"):
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
    return await http_exception_handler(request, error)
