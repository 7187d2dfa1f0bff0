"""The plugin's FastAPI sub-app, mounted by the api-server at /flow-triggers.

    GET /flow-triggers/api/projects                               projects, their branches, flows
    GET /flow-triggers/api/projects/{project}/branches/{branch}   one branch's deployments and graph
    GET /flow-triggers/                                           the "Flow branches" page
    GET /flow-triggers/projects/{project}/branches/{branch}       one branch's page
    GET /flow-triggers/api/dags/{dag_id}/runs/{run_id}/why         why a run started, what its finish started
    GET /flow-triggers/api/dags/{dag_id}/missed                     finishes it missed while paused (replayable)
    .../api/identity, .../api/deployments                         deploying from anywhere (deployments.py)

Authentication is Airflow's own (a JWT as Bearer header, or the UI's `_token` cookie); a user sees
only the DAGs the auth manager lets them read. Data comes from Airflow's metadata (metadata.py),
never from the dags folder.
"""
from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import quote

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from ..deployments.store import DeploymentStore
from ..errors import FlowTriggersError
from ..flows.triggers import validate_branch
from ..naming import Deployment, branch_kind, validate_name
from . import deployments, fates, metadata
from .branches import branch_view, graph_layout, projects_view
from .urls import URL_PREFIX

HERE = Path(__file__).resolve().parent


def create_app() -> FastAPI:
    app = FastAPI(title="airflow_flow_triggers", description="Projects, branches and trigger graphs of flows.")
    app.add_api_route("/api/projects", projects, methods=["GET"])
    app.add_api_route("/api/projects/{project}/branches/{branch}", branch_detail, methods=["GET"])
    app.add_api_route("/api/dags/{dag_id}/runs/{run_id}/why", why, methods=["GET"])
    app.add_api_route("/api/dags/{dag_id}/missed", missed, methods=["GET"])
    app.add_api_route("/", index_page, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/projects/{project}/branches/{branch}", branch_page, methods=["GET"],
                      response_class=HTMLResponse)
    app.add_api_route("/static/icon.svg", icon, methods=["GET"], include_in_schema=False)
    deployments.add_routes(app)
    app.add_exception_handler(HTTPException, _login_for_pages)
    return app


def projects(user: GetUserDep, session: SessionDep) -> dict:
    """Every project with its branches (sorted), and the flows without @project, that you can read."""
    readable = _readable(user, session)
    return projects_view([row for row in metadata.flow_dags(session) if row.dag_id in readable])


def branch_detail(project: str, branch: str, user: GetUserDep, session: SessionDep) -> dict:
    """One project branch: each deployment's DAG, flow, owner, state, trigger edges, last run and finish."""
    readable = _readable(user, session)
    rows = [row for row in metadata.branch_dags(session, project, branch) if row.dag_id in readable]
    if not rows:
        raise HTTPException(404, f"Project {project!r} has no branch {branch!r} with a flow you can read: "
                                 f"GET {URL_PREFIX}/api/projects lists the projects and branches.")
    dag_ids = {row.dag_id for row in rows}
    edges, runs = metadata.trigger_edges(session, dag_ids), metadata.last_runs(session, dag_ids)
    records = _records(session, project, branch)
    return branch_view(project, branch, rows, edges, runs, metadata.finish_assets(session, dag_ids), readable,
                       fates.causes(session, runs), fates.edge_fates(session, edges), records)


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
    return _render(request, "index.html", listing=listing)


def branch_page(request: Request, project: str, branch: str, user: GetUserDep, session: SessionDep) -> HTMLResponse:
    view = branch_detail(project, branch, user, session)
    return _render(request, "branch.html", view=view, layout=graph_layout(view))


def why(dag_id: str, run_id: str, user: GetUserDep, session: SessionDep) -> dict:
    """The run's cause (the finishes that started it, or by hand), and each fate of its own finish."""
    _require_readable(user, session, dag_id)
    cause = fates.run_cause(session, dag_id, run_id)
    if cause is None:
        raise HTTPException(404, f"DAG {dag_id} has no run {run_id!r}: `airflow dags list-runs {dag_id}` lists "
                                 "its runs.")
    return {"cause": cause, "finish": fates.finish_fates(session, dag_id, run_id)}


def missed(dag_id: str, user: GetUserDep, session: SessionDep) -> dict:
    """The finishes of the DAG's upstreams that Airflow queued for no run of it while it was paused."""
    _require_readable(user, session, dag_id)
    return {"dag_id": dag_id, "missed": fates.missed_finishes(session, dag_id)}


def _require_readable(user, session, dag_id: str) -> None:
    if dag_id not in _readable(user, session):
        raise HTTPException(404, f"There is no DAG {dag_id!r} you can read: check its id (`airflow dags list`).")


def icon() -> FileResponse:
    return FileResponse(HERE / "static" / "icon.svg", media_type="image/svg+xml")


def _readable(user, session) -> set[str]:
    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)


def _render(request: Request, template: str, **values) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return HTMLResponse(_templates().get_template(template).render(
        here=root, airflow=root.removesuffix(URL_PREFIX), quote=quote, **values))


@functools.cache
def _templates():
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)


async def _login_for_pages(request: Request, error: HTTPException):
    """A page opened without a session goes to Airflow's login; the API answers as Airflow's does."""
    from fastapi.exception_handlers import http_exception_handler
    if error.status_code == 401 and not request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/"):
        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
    return await http_exception_handler(request, error)
