"""A real Airflow for tests: api-server, scheduler and dag-processor on a temporary AIRFLOW_HOME.

SQLite, LocalExecutor, low parallelism, short intervals, DAGs unpaused at creation. The three
processes each lead a process group of their own (with what they start), which `stop` ends
(only those, by their ids); a test can kill and restart one component.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..orchestration.tasks import PACKAGE_TASKS

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
USER_VARS = ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER")


def processes_working_in(base: Path) -> list[int]:
    """PIDs of the processes whose working directory lies under `base`: only what a harness started there
    (each component starts in its base; a task process keeps that directory even when it leaves the
    component's process group, and its environment may no longer be readable once it renames itself)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if Path(os.readlink(proc / "cwd")).is_relative_to(base):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowHarness:
    def __init__(self, base: Path, **settings: str):
        self.base = base
        self.home = base / "airflow_home"
        self.dags = base / "dags"
        self.logs = base / "process_logs"
        for folder in (self.home, self.dags, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("AIRFLOW__") and k not in USER_VARS}
        self.env.update({
            "AIRFLOW_HOME": str(self.home),
            "USER": "airflow_server",  # never the user of any deployment
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home}/airflow.db",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            # the scheduler's log server (LocalExecutor): not Airflow's fixed 8793, which another Airflow may hold
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            # Airflow's default: a new or changed file is parsed at once anyway (file_parsing_sort_mode
            # modified_time); 5 s kept the one parsing process busy re-parsing unchanged files all along
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            # a task whose process died (killed scheduler, lost worker) is failed, and retried, within seconds
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
            "AIRFLOW__FLOW_TRIGGERS__MAX_TRIGGER_DEPTH": "3",  # a loop of two flows stops within minutes
            "AIRFLOW__FLOW_TRIGGERS__API_URL": self.url,       # steps publish events through it
        })
        self.env.update(settings)                # e.g. another auth manager, other users
        self.processes: dict[str, subprocess.Popen] = {}   # component -> its process, leader of its group
        self.commands: dict[str, tuple] = {}               # component -> how it was started
        self.restarted: list[str] | None = None            # inside `restarting()`: what was started again
        self._token: str | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, timeout: float = 180) -> AirflowHarness:
        if self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite"):
            self._wait_longer_for_sqlite_locks()
        self.cli("db", "migrate", timeout=300)
        for component in self.COMPONENTS:
            self.start_component(component)
        self.wait_until(lambda: self._healthy(), timeout, "the api-server to answer")
        return self

    COMPONENTS = ("api-server", "scheduler", "dag-processor")

    def _wait_longer_for_sqlite_locks(self, seconds: int = 20) -> None:
        """SQLite takes one writer at a time and makes the others wait 5 s, then fail ("database is locked", an
        HTTP 500 for a run posted while tasks write). Each component waits `seconds` instead, under the REST calls'
        own 30 s: Airflow's `[database] sql_alchemy_connect_args` import the connect arguments from a module in
        `$AIRFLOW_HOME/config`, which Airflow puts on sys.path before it connects."""
        config = self.home / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "flow_triggers_sqlite.py").write_text(f"CONNECT_ARGS = {{'timeout': {seconds}}}\n")
        self.env.update({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "flow_triggers_sqlite.CONNECT_ARGS",
                         "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "flow_triggers_sqlite.CONNECT_ARGS"})

    def start_component(self, component: str, command: list[str] | None = None, env: dict | None = None) -> None:
        """Start one Airflow component (`airflow <command>`, default: its name) in a process group of
        its own, with everything it starts; `env` adds to the harness's environment."""
        self.commands[component] = (command, env)
        log = open(self.logs / f"{component}.log", "ab")
        self.processes[component] = subprocess.Popen(
            [AIRFLOW, *(command or [component])], env={**self.env, **(env or {})}, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.base, process_group=0)

    def kill_component(self, component: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the component's whole process group (its workers and task processes too)."""
        process = self.processes.pop(component)
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        process.wait()

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 30
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)  # task runners left behind, if any
            except ProcessLookupError:
                pass
            process.wait()
        self.processes.clear()
        for pid in processes_working_in(self.base):    # a task process that left its group, orphaned
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    @contextlib.contextmanager
    def restarting(self):
        """Within it, a component that exits is started again, as a process supervisor (Docker's restart
        policy, a Kubernetes Deployment, systemd) does: Airflow's scheduler exits when its database goes
        away in the middle of one of its queries, and counts on being started again. Yields the list of
        components started again."""
        self.restarted = []
        try:
            yield self.restarted
        finally:
            self.restarted = None

    def _check_alive(self) -> None:
        for name, process in list(self.processes.items()):
            if process.poll() is not None and self.restarted is not None:
                self.restarted.append(name)
                self.start_component(name, *self.commands[name])
            elif process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {process.returncode}; see "
                                   f"{self.logs}/{name}.log:\n" + (self.logs / f"{name}.log").read_text()[-3000:])

    def wait_until(self, predicate, timeout: float, what: str, interval: float = 0.25):
        """Poll `predicate` until it returns something true (returned); a component that exited meanwhile is
        an error naming its log, or, inside `restarting()`, started again."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self._check_alive()
            result = predicate()
            if result:
                return result
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")

    # -- using it --------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout, cwd=self.base)
        if check and result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
        return result

    def api(self, method: str, path: str, body: dict | None = None):
        return self.request(method, f"/api/v2/{path.lstrip('/')}", body)

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """Call the api-server at `path` with a JWT (this harness's own by default); returns the JSON."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token or self.token()}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def token(self) -> str:
        """All-admins mode gives a token to anyone; otherwise the harness acts as `admin_user`."""
        if self._token is None:
            if self.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS") == "False":
                self._token = self.login(self.admin_user)
            else:
                with urllib.request.urlopen(f"{self.url}/auth/token", timeout=10) as response:
                    self._token = json.loads(response.read())["access_token"]
        return self._token

    admin_user = "admin"

    def login(self, username: str) -> str:
        """A JWT for one of the simple auth manager's users, with the password it generated."""
        passwords = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        request = urllib.request.Request(f"{self.url}/auth/token", method="POST",
                                         data=json.dumps({"username": username,
                                                          "password": passwords[username]}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["access_token"]

    def store(self):
        """The artifact store this Airflow's tasks write to (the default root under its home)."""
        from airflow_flow_triggers.runtime.store import ArtifactStore
        return ArtifactStore(f"file://{self.home}/flow_triggers/artifacts")

    def drop(self, name: str, source: str) -> Path:
        """Put a DAG file into the dags folder."""
        path = self.dags / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(source)
        tmp.replace(path)
        return path

    def deploy(self, flow_file: Path, *options: str, user: str = "alice") -> str:
        """`python <flow_file> [options] airflow create --dags-folder <dags>` as `user`, on this machine; returns
        what it printed."""
        env = {k: v for k, v in self.env.items() if k not in USER_VARS}
        result = subprocess.run([sys.executable, str(flow_file), *options, "airflow", "create", "--dags-folder",
                                 str(self.dags)], env={**env, "USER": user}, capture_output=True, text=True,
                                timeout=180, cwd=Path(flow_file).parent)
        if result.returncode != 0:
            raise RuntimeError(f"airflow create of {flow_file} {' '.join(options)} failed:\n{result.stderr}")
        return result.stdout

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict:
        def found():
            try:
                return self.api("GET", f"dags/{dag_id}")
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                raise
        return self.wait_until(found, timeout, f"DAG {dag_id} to be parsed")

    def dag_gone(self, dag_id: str) -> bool:
        """Whether Airflow's REST API no longer knows `dag_id` (404)."""
        try:
            self.api("GET", f"dags/{dag_id}")
            return False
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return True
            raise

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        """`airflow dags trigger` as a user types it; returns the run id."""
        args = ["dags", "trigger", dag_id, "--output", "json"]
        if conf is not None:
            args += ["-c", json.dumps(conf)]
        output = self.cli(*args).stdout
        return json.loads(output[output.index("[{"):])[0]["dag_run_id"]

    def post_run(self, dag_id: str, conf: dict | None = None) -> str:
        """Start a run through the REST API (POST dagRuns, what the UI's Trigger button sends); returns the run id.
        Unlike `trigger`, no Airflow process starts for it, so runs started one after another arrive together."""
        return self.api("POST", f"dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> dict:
        def finished():
            run = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None
        return self.wait_until(finished, timeout, f"run {run_id} of {dag_id} to finish")

    def wait_for_runs(self, dag_id: str, count: int, timeout: float = 240) -> list[dict]:
        """Wait until `dag_id` has `count` runs, all finished; returns them, oldest first."""
        def finished():
            runs = self.runs(dag_id)
            done = len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs)
            return runs if done else None
        return self.wait_until(finished, timeout, f"{count} finished run(s) of {dag_id}")

    def quiet(self, timeout: float = 240, polls: int = 3) -> None:
        """Wait until Airflow has nothing left to start or finish: no DAG run queued or running and no asset
        partition waiting to become a run, seen `polls` times in a row, 0.6 s apart (each gap longer than the
        scheduler's idle sleep, all of them shorter than any run). A finish makes its partition in the
        transaction of its task's success, while its run is still running, so a chain in flight always shows
        in one of the two; after `quiet`, the runs that happened are all the runs that will."""
        seen = 0

        def settled() -> bool:
            nonlocal seen
            seen = seen + 1 if self._idle() else 0
            return seen >= polls
        self.wait_until(settled, timeout, "Airflow to have no run queued or running and no partition pending",
                        interval=0.6)

    def _idle(self) -> bool:
        pending = self.request("GET", "/ui/partitioned_dag_runs?has_created_dag_run_id=false")["total"]
        active = self.api("GET", "dags/~/dagRuns?state=queued&state=running&limit=1")["total_entries"]
        return pending == 0 and active == 0

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of `dag_id`, by start date (the REST API's pages of 100, read to the end)."""
        runs: list[dict] = []
        while True:
            page = self.api("GET", f"dags/{dag_id}/dagRuns?order_by=start_date&limit=100&offset={len(runs)}")
            runs += page["dag_runs"]
            if len(runs) >= page["total_entries"] or not page["dag_runs"]:
                return runs

    def task_instances(self, dag_id: str, run_id: str, every: bool = False) -> list[dict]:
        """The run's task instances: its steps' (or its own tasks'), and with `every` the package's own teardowns
        too (the announcement of a failed run, which every DAG has, skipped by the scheduler when nothing failed, and
        the exit hooks' task of a flow with @exit_hook)."""
        found = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")["task_instances"]
        return found if every else [ti for ti in found if ti["task_id"] not in PACKAGE_TASKS]

    def asset_events(self, name: str) -> list[dict]:
        assets = self.api("GET", f"assets?name_pattern={name}")["assets"]
        asset = next((a for a in assets if a["name"] == name), None)
        if asset is None:
            return []
        return self.api("GET", f"assets/events?asset_id={asset['id']}&order_by=timestamp&limit=100")["asset_events"]

    def assets(self) -> list[dict]:
        """Every asset, page by page (the REST API gives at most `[api] maximum_page_limit`, 100, at a time)."""
        found: list[dict] = []
        while True:
            page = self.api("GET", f"assets?limit=100&offset={len(found)}")
            found += page["assets"]
            if not page["assets"] or len(found) >= page["total_entries"]:
                return found

    def import_errors(self) -> list[dict]:
        return self.api("GET", "importErrors")["import_errors"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1,
                 map_index: int = -1) -> list[dict]:
        """The task's structured log entries, as the UI gets them."""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
        if map_index >= 0:
            path += f"&map_index={map_index}"
        return [e for e in self.api("GET", path)["content"] if isinstance(e, dict)]


def task_errors(entries: list[dict]) -> list[dict]:
    """The exceptions in a task log: exc_type, exc_value and frames (filename, lineno, name)."""
    return [detail for entry in entries for detail in entry.get("error_detail") or []]
