"""The client of Airflow's API server: its REST API (v2) and the plugin's deployment API, over httpx.

Base URL and credentials: `[flow_triggers] api_url`, and either `api_token` (a JWT, e.g. from
`airflow` CLI login or your identity provider) or `api_username` / `api_password` (exchanged for a
JWT at `POST /auth/token`, as Airflow authenticates). With neither, the token comes from
`GET /auth/token`, which the simple auth manager answers in its all-admins mode.
"""
from __future__ import annotations

import base64
from urllib.parse import quote

import httpx

from .. import config
from ..errors import CommandLineError

PLUGIN = "/flow-triggers/api"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class AirflowAPI:
    def __init__(self, url: str | None = None):
        self.url = (url or config.get("api_url")).rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=TIMEOUT)
        self._token: str | None = None

    # -- Airflow's own REST API ------------------------------------------------------------

    def trigger(self, dag_id: str, conf: dict) -> str:
        """Start a run of `dag_id` with `conf`; returns its run id."""
        run = self._call("POST", f"/api/v2/dags/{quote(dag_id)}/dagRuns", {"logical_date": None, "conf": conf},
                         what=f"DAG {dag_id}")
        return run["dag_run_id"]

    def asset_id(self, name: str, uri: str) -> int | None:
        """The id of the asset named `name` with `uri`; None when Airflow has no such (active) asset."""
        found = self._call("GET", "/api/v2/assets", params={"name_pattern": name, "limit": 100}, what="assets")
        return next((a["id"] for a in found["assets"] if a["name"] == name and a["uri"] == uri), None)

    def post_asset_event(self, asset_id: int, extra: dict) -> dict:
        """Record an asset event (Airflow queues it for the DAGs scheduled on that asset)."""
        return self._call("POST", "/api/v2/assets/events", {"asset_id": asset_id, "extra": extra}, what="asset")

    def ui_address(self, dag_id: str, run_id: str) -> str:
        return f"{self.url}/dags/{quote(dag_id)}/runs/{quote(run_id)}"

    # -- the plugin's deployment API -------------------------------------------------------

    def identity(self) -> dict:
        """{"user": the Airflow user, sanitised as deployments name users, "from_airflow": bool}."""
        return self._call("GET", f"{PLUGIN}/identity", plugin=True)

    def deployments(self) -> list[dict]:
        return self._call("GET", f"{PLUGIN}/deployments", plugin=True)["deployments"]

    def create(self, request: dict, files: dict[str, bytes]) -> dict:
        body = {**request, "files": {path: base64.b64encode(data).decode() for path, data in files.items()}}
        return self._call("POST", f"{PLUGIN}/deployments", body, plugin=True)

    def delete(self, dag_id: str, change: dict) -> dict:
        """Remove one deployment; `change` names the deployer and the token, as for create.
        Returns {"deleted": DAG ids, "still_running": the DAG ids Airflow keeps until their tasks end}."""
        return self._call("DELETE", f"{PLUGIN}/deployments/{quote(dag_id)}", change, plugin=True)

    def latest_run(self, dag_id: str) -> str | None:
        """The run id of the DAG's newest run; None when it has none."""
        runs = self._call("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns",
                          params={"order_by": "-run_after", "limit": 1}, what=f"DAG {dag_id}")["dag_runs"]
        return runs[0]["dag_run_id"] if runs else None

    def why(self, dag_id: str, run_id: str) -> dict:
        """Why a run started, and what became of its finish (the plugin's answer)."""
        return self._call("GET", f"{PLUGIN}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}/why", plugin=True)

    def expectation(self, dag_id: str) -> dict | None:
        """The DAG's deadline (expect_every= / expect_by=) as its newest check found it; None without one."""
        return self._call("GET", f"{PLUGIN}/dags/{quote(dag_id)}/expectation", plugin=True)["expectation"]

    def missed(self, dag_id: str) -> list[dict]:
        """The finishes of the DAG's upstreams it missed while paused."""
        return self._call("GET", f"{PLUGIN}/dags/{quote(dag_id)}/missed", plugin=True)["missed"]

    def forget_dag(self, dag_id: str) -> dict:
        """Every trace of a DAG out of Airflow's metadata (after its files were removed from a folder)."""
        return self._call("DELETE", f"{PLUGIN}/dags/{quote(dag_id)}", plugin=True)

    def delete_branch(self, project: str, branch: str, change: dict) -> dict:
        return self._call("DELETE", f"{PLUGIN}/projects/{quote(project)}/branches/{quote(branch)}", change,
                          plugin=True)

    def promote(self, project: str, branch: str, request: dict) -> dict:
        """Deploy on `branch` the code versions deployed on request["source_branch"] (the plugin's answer)."""
        return self._call("POST", f"{PLUGIN}/projects/{quote(project)}/branches/{quote(branch)}/promote", request,
                          plugin=True)

    def tested_versions(self, dag_id: str) -> dict[str, str]:
        """{code version: its newest successful run} of one DAG."""
        return self._call("GET", f"{PLUGIN}/dags/{quote(dag_id)}/versions", plugin=True)["versions"]

    def prune(self, project: str, request: dict) -> dict:
        """The stale branches of a project; removed unless request["dry_run"] (the plugin's answer)."""
        return self._call("POST", f"{PLUGIN}/projects/{quote(project)}/prune", request, plugin=True)

    def running_versions(self) -> set[str]:
        """The code versions runs in progress use."""
        return set(self._call("GET", f"{PLUGIN}/versions/running", plugin=True)["versions"])

    def last_run_time(self, dag_id: str) -> str | None:
        """When the DAG's newest run ended (or started, or was queued); None when it has none."""
        runs = self._call("GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns", params={"order_by": "-run_after", "limit": 1},
                          what=f"DAG {dag_id}", missing={"dag_runs": []})["dag_runs"]
        if not runs:                # none, or the DAG is not (or no longer) in Airflow
            return None
        return runs[0]["end_date"] or runs[0]["start_date"] or runs[0]["queued_at"] or runs[0]["run_after"]

    # -- HTTP ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict | None = None, what: str = "", plugin: bool = False,
              params: dict | None = None, missing=None):
        """The answer to one request; `missing`, when given, is the answer to a 404 of Airflow's own API."""
        try:
            response = self._client.request(method, path, json=body, params=params,
                                            headers={"Authorization": f"Bearer {self.token()}"})
        except httpx.TransportError as error:
            raise self._unreachable(error) from None
        if response.is_success:
            return response.json() if response.content else None
        detail = _detail(response)
        if response.status_code == 404 and plugin and detail == "Not Found":
            raise CommandLineError(f"Airflow at {self.url} has no airflow_flow_triggers plugin ({method} {path} "
                                   "answered 404): install airflow_flow_triggers on its api-server, and restart it.")
        if response.status_code == 404 and not plugin and missing is not None:
            return missing
        if response.status_code == 404 and not plugin:
            raise CommandLineError(f"{what} is not in Airflow at {self.url} (yet): after `airflow create` the "
                                   "dag-processor needs a few seconds to parse the new file.")
        if response.status_code == 401:
            raise CommandLineError(f"Airflow at {self.url} did not accept the API token (401: {detail}): set "
                                   "[flow_triggers] api_token, or api_username and api_password.")
        if plugin and response.status_code in (400, 403, 404, 409, 413):
            raise CommandLineError(detail)          # the plugin's own sentence
        raise CommandLineError(f"Airflow at {self.url} refused {method} {path} ({response.status_code}: "
                               f"{detail[:300]}).")

    def token(self) -> str:
        if self._token is None:
            self._token = config.get("api_token") or self._new_token()
        return self._token

    def _new_token(self) -> str:
        username, password = config.get("api_username"), config.get("api_password")
        try:
            if username:
                response = self._client.post("/auth/token", json={"username": username, "password": password})
            else:
                response = self._client.get("/auth/token")
        except httpx.TransportError as error:
            raise self._unreachable(error) from None
        if not response.is_success:
            raise CommandLineError(f"Airflow at {self.url} did not give an API token ({response.status_code}): set "
                                   "[flow_triggers] api_username and api_password (env "
                                   "AIRFLOW__FLOW_TRIGGERS__API_USERNAME/..._PASSWORD), or api_token.")
        return response.json()["access_token"]

    def _unreachable(self, error) -> CommandLineError:
        return CommandLineError(f"Cannot reach Airflow's REST API at {self.url} ({error}): start Airflow's "
                                "api-server, or set [flow_triggers] api_url (env AIRFLOW__FLOW_TRIGGERS__API_URL).")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, str):
        return detail
    return str(detail) if detail is not None else response.text
