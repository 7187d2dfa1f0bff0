import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
USER_VARS = ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER")

# Nothing in the suite may touch the developer's own ~/airflow: a fresh home for the session,
# set before anything imports Airflow.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="flow_triggers_tests_")


def pytest_collection_modifyitems(items):
    """The topology modules, then the other end-to-end ones, then the rest: under `make test`'s three
    processes the longest units of work go first, so no process ends with one while the others idle."""
    items.sort(key=lambda item: (not item.get_closest_marker("topology"), not item.get_closest_marker("e2e")))


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory) -> Path:
    """A folder every process of `make test` sees: the parent of each pytest-xdist process's own temp folder."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(autouse=True)
def every_namespace(monkeypatch):
    """Tests read runs of many users and deployments: the client sees every run (Metaflow's namespace(None)),
    but in the tests of namespaces, which choose their own."""
    from airflow_flow_triggers.runtime import namespaces
    monkeypatch.setattr(namespaces, "_chosen", None)


@pytest.fixture
def airflow_home(tmp_path, monkeypatch):
    """A private AIRFLOW_HOME (and so a private artifact store) for the test."""
    home = tmp_path / "airflow_home"
    home.mkdir()
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    for name in list(os.environ):
        if name.startswith("AIRFLOW__FLOW_TRIGGERS__"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def as_alice(monkeypatch):
    for var in USER_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("USER", "alice")


def flow_env(airflow_home, user="alice", **extra):
    env = {k: v for k, v in os.environ.items() if k not in USER_VARS}
    env.update({"AIRFLOW_HOME": str(airflow_home), "USER": user, "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def run_flow(path, *args, airflow_home, user="alice", **extra_env):
    """`python <flow file> args...` as a user would type it; returns the CompletedProcess."""
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=300,
                          env=flow_env(airflow_home, user, **extra_env), cwd=str(Path(path).parent))


def import_file(path: Path, name: str):
    """Import a flow file as module `name` (registered, as Python does for a real import)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def write_flow(tmp_path):
    """Write flow source to a file and return its path."""
    def write(source: str, name: str = "flow.py") -> Path:
        path = tmp_path / name
        path.write_text(source)
        return path
    return write


@pytest.fixture(scope="session")
def airflow(tmp_path_factory):
    """A running Airflow (api-server, scheduler, dag-processor) shared by the session's e2e tests."""
    from airflow_flow_triggers.sandbox.harness import AirflowHarness
    harness = AirflowHarness(tmp_path_factory.mktemp("airflow"))
    try:
        yield harness.start()
    finally:
        harness.stop()


FEATURE_FLOW = '''
import os
from lib import features
from airflow_flow_triggers import FlowSpec, project, step


@project(name='{project}')
class FeatureFlow(FlowSpec):
    @step
    def start(self):
        self.version = features.VERSION
        self.worker = os.environ.get('TOPOLOGY_WORKER')
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    FeatureFlow()
'''


def write_feature_flow(folder: Path, project: str, version: str) -> Path:
    """A @project flow whose start step reads lib/features.py from beside it (VERSION = `version`): what a
    code package carries. Returns the flow file."""
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "__init__.py").write_text("")
    (folder / "lib" / "features.py").write_text(f"VERSION = {version!r}\n")
    (folder / "feature_flow.py").write_text(FEATURE_FLOW.format(project=project))
    return folder / "feature_flow.py"


def restricted_airflow(base: Path):
    """An Airflow (not started) whose simple auth manager is tests/restricted_auth.py's: alice is an admin, bob may
    read only branch test.new_model's DAGs."""
    from airflow_flow_triggers.sandbox.harness import AirflowHarness
    return AirflowHarness(
        base,
        AIRFLOW__CORE__AUTH_MANAGER="restricted_auth.RestrictedAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,alice:admin,bob:viewer",
        PYTHONPATH=str(Path(__file__).resolve().parent))

