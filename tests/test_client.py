"""The client's namespaces and pathspecs on runs made here (the side-by-side comparison with Metaflow is
test_client_oracle.py): deployed runs' namespaces and tags, one run id on two branches, the qualified form."""
import pytest

from airflow_flow_triggers import Flow, FlowSpec, Run, current, namespace, project, step
from airflow_flow_triggers.errors import NamingError, RunNotFoundError
from airflow_flow_triggers.naming import Deployment, check_tags
from airflow_flow_triggers.runtime.client import NamespaceMismatch
from airflow_flow_triggers.runtime.store import ArtifactStore
from airflow_flow_triggers.runtime.task import execute_task


@project(name='clients')
class SeenFlow(FlowSpec):
    @step
    def start(self):
        self.namespace = current.namespace
        previous = Flow('SeenFlow').latest_successful_run
        self.previous = previous.id if previous else None
        self.next(self.end)

    @step
    def end(self):
        pass


def run(store, branch: str, run_id: str, origin: str = "airflow", tags=()) -> None:
    """One whole run of SeenFlow as a deployment's task (origin 'airflow') or a local run would make it."""
    deployment = Deployment("SeenFlow", "clients", branch, "alice")
    ref = execute_task(SeenFlow, deployment, run_id, "start", [], store=store, origin=origin, tags=list(tags))
    execute_task(SeenFlow, deployment, run_id, "end", [ref], store=store, origin=origin)


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The artifact root, also the steps' own (they read Flow('SeenFlow') through the default store)."""
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", f"file://{tmp_path}/artifacts")
    return ArtifactStore(f"file://{tmp_path}/artifacts")


def test_a_deployed_run_lives_in_its_deployments_namespace(store):
    namespace("production:clients.prod")
    run(store, "prod", "scheduled__1", tags=["nightly"])
    run(store, "user.alice", "manual__2")
    run(store, "prod", "scheduled__3")
    prod = Flow("SeenFlow", store=store).latest_run
    # inside the step, the default namespace was prod's: the run before it on prod, not alice's manual__2
    assert (prod.id, prod.data.namespace, prod.data.previous) == ("scheduled__3", "production:clients.prod",
                                                                  "scheduled__1")
    assert [r.id for r in Flow("SeenFlow", store=store).runs("nightly")] == ["scheduled__1"]
    assert {"user:alice", "runtime:airflow", "project:clients", "project_branch:prod",
            "production:clients.prod"} <= prod.system_tags and prod.user_tags == frozenset()
    with pytest.raises(NamespaceMismatch, match=r"Run\('SeenFlow/manual__2'\) is not in namespace "
                                                r"'production:clients.prod' \(it is in 'production:clients.user"
                                                r"\.alice'\)"):
        Run("SeenFlow/manual__2", store=store)


def test_one_run_id_on_two_branches(store):
    run(store, "prod", "scheduled__2026-12-04T00:00:00+00:00")
    run(store, "test.b", "scheduled__2026-12-04T00:00:00+00:00")
    namespace("production:clients.test.b")
    mine = Run("SeenFlow/scheduled__2026-12-04T00:00:00+00:00", store=store)
    assert mine.qualified_pathspec == "clients.test.b.SeenFlow/scheduled__2026-12-04T00:00:00+00:00"
    assert mine.pathspec == "SeenFlow/scheduled__2026-12-04T00:00:00+00:00"
    namespace(None)
    with pytest.raises(RunNotFoundError, match=r"'SeenFlow/scheduled__2026-12-04T00:00:00\+00:00' names 2 runs, one "
                                               r"per project branch \(clients.prod.SeenFlow, clients.test.b.SeenFlow"
                                               r"\): write the branch's qualified name"):
        Run("SeenFlow/scheduled__2026-12-04T00:00:00+00:00", store=store)
    prod = Run("clients.prod.SeenFlow/scheduled__2026-12-04T00:00:00+00:00", store=store)
    assert "production:clients.prod" in prod.tags


def test_a_local_run_is_yours(store):
    run(store, "user.alice", "1796359321404188", origin="local")
    namespace("user:alice")
    local = Flow("SeenFlow", store=store).latest_run
    assert local.data.namespace == "user:alice" and "runtime:dev" in local.tags
    assert not any(tag.startswith("production:") for tag in local.tags)
    namespace("user:bob")
    with pytest.raises(NamespaceMismatch, match="Flow\\('SeenFlow'\\) has no run in namespace 'user:bob'"):
        Flow("SeenFlow", store=store)


def test_bad_tags_are_one_sentence():
    assert check_tags(["b", "a", "a"]) == ["a", "b"]
    with pytest.raises(NamingError, match="The tag '' is not a tag"):
        check_tags([""])
    with pytest.raises(NamingError, match="at most 512 characters"):
        check_tags(["x" * 513])
