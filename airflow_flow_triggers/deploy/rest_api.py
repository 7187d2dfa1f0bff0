"""The little of Airflow's REST API (v2) the deployment commands use: start a DAG run, delete a DAG.

Base URL and credentials: `[flow_triggers] api_url`, `api_username`, `api_password` (or
AIRFLOW__FLOW_TRIGGERS__API_URL, ...). Without a user name, the token comes from `GET /auth/token`,
which Airflow's simple auth manager answers when `simple_auth_manager_all_admins` is on.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from .. import config
from ..errors import CommandLineError


class AirflowAPI:
    def __init__(self, url: str | None = None):
        self.url = (url or config.get("api_url")).rstrip("/")
        self._token: str | None = None

    def trigger(self, dag_id: str, conf: dict) -> str:
        """Start a run of `dag_id` with `conf`; returns its run id."""
        run = self._call("POST", f"/api/v2/dags/{urllib.parse.quote(dag_id)}/dagRuns",
                         {"logical_date": None, "conf": conf}, what=f"DAG {dag_id}")
        return run["dag_run_id"]

    def delete_dag(self, dag_id: str) -> bool:
        """Remove a DAG's metadata; False when Airflow does not know it."""
        try:
            self._call("DELETE", f"/api/v2/dags/{urllib.parse.quote(dag_id)}", what=f"DAG {dag_id}")
        except CommandLineError as error:
            if "is not in Airflow" in error.message:
                return False
            raise
        return True

    def ui_address(self, dag_id: str, run_id: str) -> str:
        return f"{self.url}/dags/{urllib.parse.quote(dag_id)}/runs/{urllib.parse.quote(run_id)}"

    def _call(self, method: str, path: str, body: dict | None = None, what: str = ""):
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {self.token()}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise CommandLineError(f"{what} is not in Airflow at {self.url} (yet): after `airflow create` "
                                       "the dag-processor needs a few seconds to parse the new file.") from None
            detail = error.read().decode(errors="replace")[:300]
            raise CommandLineError(f"Airflow at {self.url} refused {method} {path} ({error.code}: {detail}).") \
                from None
        except (urllib.error.URLError, OSError) as error:
            raise self._unreachable(error) from None

    def token(self) -> str:
        if self._token is not None:
            return self._token
        username, password = config.get("api_username"), config.get("api_password")
        if username:
            request = urllib.request.Request(f"{self.url}/auth/token", method="POST",
                                             data=json.dumps({"username": username, "password": password}).encode(),
                                             headers={"Content-Type": "application/json"})
        else:
            request = urllib.request.Request(f"{self.url}/auth/token")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self._token = json.loads(response.read())["access_token"]
        except urllib.error.HTTPError as error:
            raise CommandLineError(f"Airflow at {self.url} did not give an API token ({error.code}): set "
                                   "[flow_triggers] api_username and api_password (env "
                                   "AIRFLOW__FLOW_TRIGGERS__API_USERNAME/..._PASSWORD).") from None
        except (urllib.error.URLError, OSError) as error:
            raise self._unreachable(error) from None
        return self._token

    def _unreachable(self, error) -> CommandLineError:
        reason = getattr(error, "reason", error)
        return CommandLineError(f"Cannot reach Airflow's REST API at {self.url} ({reason}): start Airflow's "
                                "api-server, or set [flow_triggers] api_url (env AIRFLOW__FLOW_TRIGGERS__API_URL).")
