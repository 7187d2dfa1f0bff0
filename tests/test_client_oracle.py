"""Metaflow's client and namespaces, side by side with Metaflow 2.19 (issue: each deployment an isolated
namespace). Alice and Bob run tests/oracle/client/clientflow.py locally, on their user branches, a test branch
and prod; then alice's notebook script prints namespaces, latest runs, tags, run counts and the errors of
objects outside her namespace, under Metaflow and under this package: the same lines.

The same client then reads runs made on the test Airflow: inside a deployed run the default namespace is the
deployment's, so its `Flow('ClientFlow').latest_successful_run` is one of its own branch's runs.
"""
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_flow
from test_metaflow_oracle import ORACLE

CLIENT = ORACLE / "client"
RUNS = [("alice", ["run", "--mark", "1"]),
        ("alice", ["run", "--mark", "2", "--tag", "experiment"]),
        ("bob", ["run", "--mark", "3"]),
        ("alice", ["--branch", "new_model", "run", "--mark", "4"]),
        ("alice", ["--production", "run", "--mark", "5"])]


def environment(folder: Path, user: str) -> dict:
    return {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": user, "METAFLOW_USER": user,
            "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
            "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}


def copied(tool: str, folder: Path) -> Path:
    """The client files in `folder`, with the import line changed for this package."""
    folder.mkdir(parents=True)
    for source in CLIENT.glob("*.py"):
        text = source.read_text()
        if tool == "ours":
            text = text.replace("from metaflow import", "from airflow_flow_triggers import")
        (folder / source.name).write_text(text)
    return folder


def python(folder: Path, user: str, *args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=folder, env=environment(folder, user), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-3000:])
    return result.stdout


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """{tool: what the notebook printed after the runs}."""
    base = tmp_path_factory.mktemp("client")
    found = {}
    for tool in ("metaflow", "ours"):
        folder = copied(tool, base / tool)
        for user, args in RUNS:
            python(folder, user, "clientflow.py", *args)
        found[tool] = python(folder, "alice", "notebook.py")
    return found


def test_the_notebook_prints_the_same_under_metaflow(printed):
    assert printed["ours"].splitlines() == printed["metaflow"].splitlines()


def test_what_the_notebook_saw(printed):
    """The comparison above holds only if the notebook saw something: the lines the runs imply."""
    lines = printed["ours"].splitlines()
    assert lines[0] == "namespace user:alice user:alice"
    assert "latest ClientFlow 5 True True" in lines
    assert "alice [1, 2, 4, 5] [2] [4]" in lines
    assert "latest previous 4 user:alice" in lines
    assert "foreign run namespace mismatch" in lines and "carol namespace mismatch []" in lines
    assert "everyone [1, 2, 3, 4, 5] 5" in lines


@pytest.mark.e2e
def test_deployed_runs_live_in_their_deployments_namespace(airflow, tmp_path, monkeypatch):
    from airflow_flow_triggers import Flow, Metaflow, get_namespace, namespace
    folder = copied("ours", tmp_path / "client")
    flow_file = folder / "clientflow.py"
    for options in ((), ("--production",)):
        airflow.deploy(flow_file, *options)
        airflow.wait_for_dag(f"clientdemo.{'prod' if options else 'user.alice'}.ClientFlow")

    def trigger(*options: str, production: bool = False) -> None:
        branch = ["--production"] if production else []
        result = run_flow(flow_file, *branch, "airflow", "trigger", *options, airflow_home=airflow.home,
                          AIRFLOW__FLOW_TRIGGERS__API_URL=airflow.url)
        assert result.returncode == 0, result.stderr
        dag_id, run_id = result.stdout.split()[1], result.stdout.split()[3]
        assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"

    trigger("--mark", "10")
    trigger("--mark", "20", "--tag", "nightly", production=True)
    trigger("--mark", "11")

    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", airflow.store().url)
    namespace("production:clientdemo.user.alice")
    mine = Flow("ClientFlow").latest_run
    # inside the step the namespace was the deployment's: the run before it on its own branch, not prod's
    assert (mine.data.mark, mine.data.previous_mark, mine.data.seen_namespace) == \
        (11, 10, "production:clientdemo.user.alice")
    assert sorted(run.data.mark for run in Flow("ClientFlow")) == [10, 11]
    assert {"user:alice", "runtime:airflow", "project:clientdemo", "project_branch:user.alice",
            "production:clientdemo.user.alice"} <= mine.tags

    namespace("production:clientdemo.prod")
    [prod] = Flow("ClientFlow").runs()
    assert (prod.data.mark, prod.data.previous_mark, prod.user_tags) == (20, None, frozenset({"nightly"}))
    assert [run.data.mark for run in Flow("ClientFlow").runs("nightly")] == [20]
    assert [flow.id for flow in Metaflow().flows] == ["ClientFlow"]

    namespace("user:alice")               # alice's own runs: here her deployments' too (docs/flows.md)
    assert sorted(run.data.mark for run in Flow("ClientFlow")) == [10, 11, 20]
    assert get_namespace() == "user:alice"
