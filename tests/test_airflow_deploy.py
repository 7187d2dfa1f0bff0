"""`python flow.py airflow create/trigger/delete` against a real Airflow (the session's harness)."""
import re

import pytest
from conftest import REPO, run_flow

from airflow_flow_triggers import Run

pytestmark = pytest.mark.e2e


def copy_seed(tmp_path, name, renames):
    source = (REPO / "dags" / name).read_text()
    for old, new in renames.items():
        source = source.replace(old, new)
    path = tmp_path / name
    path.write_text(source)
    return path


def cli(airflow, flow_file, *args, user="alice"):
    """The flow's command line, pointed at the harness's Airflow, store and dags folder."""
    folder = ("--dags-folder", str(airflow.dags)) if args[-1] in ("create", "delete", "list") or \
        "--branch-all" in args else ()
    result = run_flow(flow_file, *args, *folder, airflow_home=airflow.home, user=user,
                      AIRFLOW__FLOW_TRIGGERS__API_URL=airflow.url)
    assert result.returncode == 0, result.stderr
    return result.stdout


def started_run(stdout):
    return re.search(r"^Started (\S+) run (\S+)$", stdout, re.M).groups()



def test_create_trigger_and_delete(airflow, tmp_path):
    renames = {"variant_demo": "deploy_demo"}
    first = copy_seed(tmp_path, "firstproject.py", renames)
    second = copy_seed(tmp_path, "secondproject.py", renames)
    created = cli(airflow, first, "airflow", "create")
    assert "Deployed deploy_demo.user.alice.FirstProjectFlow" in created
    cli(airflow, second, "airflow", "create")
    airflow.wait_for_dag("deploy_demo.user.alice.FirstProjectFlow")
    airflow.wait_for_dag("deploy_demo.user.alice.SecondProjectFlow")

    triggered = cli(airflow, first, "airflow", "trigger")
    dag_id, run_id = started_run(triggered)
    assert dag_id == "deploy_demo.user.alice.FirstProjectFlow"
    assert f"{airflow.url}/dags/{dag_id}/runs/" in triggered
    assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"
    [down] = airflow.wait_for_runs("deploy_demo.user.alice.SecondProjectFlow", 1)
    assert down["state"] == "success"

    listed = cli(airflow, first, "airflow", "list").splitlines()
    assert [line.split()[:5] for line in listed if line.startswith("deploy_demo")] == [
        ["deploy_demo", "user.alice", "FirstProjectFlow", "alice", "no"],
        ["deploy_demo", "user.alice", "SecondProjectFlow", "alice", "no"]]

    deleted = cli(airflow, second, "airflow", "delete")
    assert deleted == "Deleted deploy_demo.user.alice.SecondProjectFlow\n"
    assert not (airflow.dags / "deploy_demo" / "user.alice" / "SecondProjectFlow.py").exists()
    airflow.wait_until(lambda: airflow.dag_gone("deploy_demo.user.alice.SecondProjectFlow"), 60, "the DAG to go")


def test_trigger_as_if_an_upstream_run_had(airflow, tmp_path):
    renames = {"ModelRefreshFlow": "DeployModelFlow", "InferenceFlow": "DeployInferenceFlow"}
    model = copy_seed(tmp_path, "modelrefreshflow.py", renames)
    inference = copy_seed(tmp_path, "inferenceflow.py", renames)
    cli(airflow, model, "airflow", "create")
    cli(airflow, inference, "airflow", "create")
    airflow.wait_for_dag("DeployModelFlow")
    airflow.wait_for_dag("DeployInferenceFlow")
    _, model_run = started_run(cli(airflow, model, "airflow", "trigger", "--scale", "3"))
    airflow.wait_for_run("DeployModelFlow", model_run)
    airflow.wait_for_runs("DeployInferenceFlow", 1)          # started by the finish, as deployed

    _, manual = started_run(cli(airflow, inference, "airflow", "trigger", "--trigger", f"DeployModelFlow/{model_run}"))
    assert airflow.wait_for_run("DeployInferenceFlow", manual)["state"] == "success"
    run = Run(f"DeployInferenceFlow/{manual}", store=airflow.store())
    assert run.data.model == {"slope": 3.0, "intercept": 1.0}
    assert run.trigger.run.pathspec == f"DeployModelFlow/{model_run}"
    assert len(airflow.runs("DeployInferenceFlow")) == 2


VERSIONED = '''
from airflow_flow_triggers import FlowSpec, project, step

@project(name='versions')
class VersionedFlow(FlowSpec):
    @step
    def start(self):
        self.version = {version}
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    VersionedFlow()
'''


def test_prod_keeps_old_code_while_a_branch_runs_new_code(airflow, tmp_path):
    flow = tmp_path / "versioned.py"
    flow.write_text(VERSIONED.format(version=1))
    cli(airflow, flow, "--production", "airflow", "create")
    flow.write_text(VERSIONED.format(version=2))
    cli(airflow, flow, "--branch", "new_model", "airflow", "create")
    for dag_id in ("versions.prod.VersionedFlow", "versions.test.new_model.VersionedFlow"):
        # the deployer, recorded in the snapshot; never the server's own user (airflow_server here)
        assert airflow.wait_for_dag(dag_id)["owners"] == ["alice"]
    runs = {}
    for options in (["--production"], ["--branch", "new_model"]):
        dag_id, run_id = started_run(cli(airflow, flow, *options, "airflow", "trigger"))
        assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"
        runs[dag_id] = Run(f"{dag_id}/{run_id}", store=airflow.store()).data.version
    assert runs == {"versions.prod.VersionedFlow": 1, "versions.test.new_model.VersionedFlow": 2}


def test_tear_down_a_whole_branch(airflow, tmp_path):
    renames = {"variant_demo": "teardown_demo"}
    first = copy_seed(tmp_path, "firstproject.py", renames)
    second = copy_seed(tmp_path, "secondproject.py", renames)
    cli(airflow, first, "--branch", "new_model", "airflow", "create")
    cli(airflow, second, "--branch", "new_model", "airflow", "create")
    dag_ids = ["teardown_demo.test.new_model.FirstProjectFlow", "teardown_demo.test.new_model.SecondProjectFlow"]
    for dag_id in dag_ids:
        airflow.wait_for_dag(dag_id)
    deleted = cli(airflow, first, "--branch", "new_model", "airflow", "delete", "--branch-all")
    assert sorted(deleted.split("\n")[:2]) == [f"Deleted {d}" for d in dag_ids]
    assert not (airflow.dags / "teardown_demo" / "test.new_model").exists()    # the whole branch folder goes
    for dag_id in dag_ids:
        airflow.wait_until(lambda d=dag_id: airflow.dag_gone(d), 60, f"{dag_id} to go")


GONE_UP = '''
from airflow_flow_triggers import FlowSpec, Parameter, step


class {name}(FlowSpec):
    batch = Parameter('batch', default=0)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    {name}()
'''

GONE_DOWN = '''
from airflow_flow_triggers import FlowSpec, current, step, trigger_on_finish


@trigger_on_finish(flow='{upstream}')
class {name}(FlowSpec):
    @step
    def start(self):
        self.batch = current.trigger.run.data.batch
        self.batches = sorted(run.data.batch for run in current.trigger.runs)   # every finish it was given
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    {name}()
'''


@pytest.mark.parametrize("reachable", [True, False], ids=["airflow-reachable", "airflow-unreachable"])
def test_a_deleted_consumer_stays_deleted(airflow, tmp_path, reachable):
    """Deploy a pair, finish the upstream (batch 1), delete the consumer, finish the upstream while it is gone
    (batch 2), deploy it again and finish the upstream once more (batch 3): the consumer runs for batch 1,
    then for batch 3 exactly once, and never for a finish from before its new deployment. A delete that cannot
    reach Airflow deletes nothing and says so."""
    up_name, down_name = f"GoneUp{int(reachable)}", f"GoneDown{int(reachable)}"
    up, down = tmp_path / "gone_up.py", tmp_path / "gone_down.py"
    up.write_text(GONE_UP.format(name=up_name))
    down.write_text(GONE_DOWN.format(name=down_name, upstream=up_name))
    cli(airflow, up, "airflow", "create")
    cli(airflow, down, "airflow", "create")
    airflow.wait_for_dag(up_name)
    airflow.wait_for_dag(down_name)

    def finish(batch: int) -> None:
        run_id = started_run(cli(airflow, up, "airflow", "trigger", "--batch", str(batch)))[1]
        assert airflow.wait_for_run(up_name, run_id)["state"] == "success"

    def batches() -> list[list[int]]:
        """The finishes each successful consumer run was given, by their batch."""
        return sorted(Run(f"{down_name}/{run['dag_run_id']}", store=airflow.store()).data.batches
                      for run in airflow.runs(down_name) if run["state"] == "success")

    finish(1)
    airflow.wait_for_runs(down_name, 1)
    if not reachable:
        refused = run_flow(down, "airflow", "delete", "--dags-folder", str(airflow.dags), airflow_home=airflow.home,
                           AIRFLOW__FLOW_TRIGGERS__API_URL="http://127.0.0.1:9")
        assert refused.returncode == 1 and refused.stderr.startswith("error: Cannot reach Airflow's REST API at "
                                                                    "http://127.0.0.1:9"), refused.stderr
        assert "nothing was deleted" in refused.stderr and len(refused.stderr.splitlines()) == 1
        airflow.wait_for_dag(down_name)                   # still deployed, still Airflow's
    assert "Deleted " + down_name in cli(airflow, down, "airflow", "delete")
    assert airflow.dag_gone(down_name)
    finish(2)
    cli(airflow, down, "airflow", "create")
    airflow.wait_for_dag(down_name)
    airflow.quiet()
    assert airflow.runs(down_name) == []                  # no run for batch 1 again, none for batch 2
    finish(3)
    airflow.wait_for_runs(down_name, 1)
    airflow.quiet()
    assert batches() == [[3]]                              # one run, for batch 3's finish alone
