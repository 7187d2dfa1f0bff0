"""The DAG factory on a real Airflow: files dropped into the dags folder, runs started with the CLI."""
import pickle
import re
import subprocess

import pytest
from conftest import run_flow

from airflow_flow_triggers import Run
from airflow_flow_triggers.runtime.store import ArtifactStore
from airflow_flow_triggers.sandbox.harness import task_errors

pytestmark = pytest.mark.e2e

BRANCHY = '''
from airflow_flow_triggers import FlowSpec, step, Parameter, current, project, build_dag

@project(name='e2e')
class BranchyFlow(FlowSpec):
    """Split, join and a 20-way foreach."""
    alpha = Parameter('alpha', default=0.1, help='scale')

    @step
    def start(self):
        self.items = list(range(20))
        self.where = (current.project_flow_name, current.branch_name, current.is_production)
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1 + self.alpha
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = inputs.a.x + inputs.b.x
        self.merge_artifacts(inputs, exclude=['x'])
        self.next(self.fan)

    @step
    def fan(self):
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.sq = self.input * self.input * self.alpha
        self.next(self.double)

    @step
    def double(self):
        self.sq2 = 2 * self.sq
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.squares = [i.sq2 for i in inputs]
        self.indices = [i.index for i in inputs]
        self.merge_artifacts(inputs, exclude=['sq', 'sq2'])
        self.next(self.end)

    @step
    def end(self):
        print('squares', self.squares)

if __name__ == '__main__':
    BranchyFlow()

dag = build_dag(BranchyFlow, user='alice')
'''



def end_data(run):
    data = run.data
    return {name: getattr(data, name) for name in data}


def test_branchy_flow_on_airflow_matches_local_run(airflow, tmp_path):
    dag_id = "e2e.user.alice.BranchyFlow"
    airflow.drop("e2e/user.alice/branchy_flow.py", BRANCHY)
    dag = airflow.wait_for_dag(dag_id)
    assert dag["is_paused"] is False
    assert sorted(t["name"] for t in dag["tags"]) == ["BranchyFlow", "project:e2e", "project_branch:user.alice"]
    assert dag["owners"] == ["alice"]

    run_id = airflow.trigger(dag_id, {"alpha": 0.5})
    assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"
    on_airflow = Run(f"{dag_id}/{run_id}", store=airflow.store())
    assert on_airflow.successful
    mapped = [ti for ti in airflow.task_instances(dag_id, run_id) if ti["task_id"] == "work"]
    assert sorted(ti["map_index"] for ti in mapped) == list(range(20))

    flow_file = tmp_path / "branchy_flow.py"
    flow_file.write_text(BRANCHY)
    local = run_flow(flow_file, "run", "--alpha", "0.5", airflow_home=tmp_path / "home", user="alice")
    assert local.returncode == 0, local.stderr
    local_run_id = re.search(r"run-id (\d+)", local.stdout).group(1)
    local_run = Run(f"{dag_id}/{local_run_id}", store=ArtifactStore(f"file://{tmp_path}/home/flow_triggers/artifacts"))
    assert end_data(on_airflow) == end_data(local_run)
    assert on_airflow.data.squares == [2 * 0.5 * i * i for i in range(20)]
    assert on_airflow.data.where == (dag_id, "user.alice", False)

    events = airflow.asset_events(dag_id)
    assert len(events) == 1
    extra = events[0]["extra"]
    assert {k: extra[k] for k in ("flow", "project", "branch", "run_id", "pathspec")} == {
        "flow": "BranchyFlow", "project": "e2e", "branch": "user.alice", "run_id": run_id,
        "pathspec": f"{dag_id}/{run_id}"}
    assert extra["artifacts"] == f"file://{airflow.home}/flow_triggers/artifacts/{dag_id}/{run_id}"
    asset = next(a for a in airflow.assets() if a["name"] == dag_id)
    assert asset["uri"] == f"x-flow-finished://{dag_id}" and asset["group"] == "e2e"


TWO_BRANCHES = '''
from airflow_flow_triggers import FlowSpec, step, current, project, build_dag

@project(name='e2e')
class TwoBranchFlow(FlowSpec):
    @step
    def start(self):
        self.branch = current.branch_name
        self.next(self.end)

    @step
    def end(self):
        pass

'''


def drop_two_branches(airflow):
    """One DAG file per branch, each in its branch's folder (the cluster policy's rule)."""
    airflow.drop("e2e/user.alice/two_branch_flow.py", TWO_BRANCHES + "dag = build_dag(TwoBranchFlow, user='alice')\n")
    airflow.drop("e2e/test.new_model/two_branch_flow.py",
                 TWO_BRANCHES + "dag = build_dag(TwoBranchFlow, branch='new_model')\n")


def test_two_branches_are_two_dags_and_two_assets(airflow):
    drop_two_branches(airflow)
    for dag_id in ("e2e.user.alice.TwoBranchFlow", "e2e.test.new_model.TwoBranchFlow"):
        airflow.wait_for_dag(dag_id)
    run_id = airflow.post_run("e2e.test.new_model.TwoBranchFlow")
    assert airflow.wait_for_run("e2e.test.new_model.TwoBranchFlow", run_id)["state"] == "success"
    assert Run(f"e2e.test.new_model.TwoBranchFlow/{run_id}", store=airflow.store()).data.branch == \
        "test.new_model"
    assert len(airflow.asset_events("e2e.test.new_model.TwoBranchFlow")) == 1
    assert airflow.asset_events("e2e.user.alice.TwoBranchFlow") == []
    assert airflow.runs("e2e.user.alice.TwoBranchFlow") == []
    names = {a["name"] for a in airflow.assets()}
    assert {"e2e.user.alice.TwoBranchFlow", "e2e.test.new_model.TwoBranchFlow"} <= names


def test_dags_test_runs_a_generated_dag(airflow):
    drop_two_branches(airflow)
    airflow.wait_for_dag("e2e.user.alice.TwoBranchFlow")
    result = airflow.cli("dags", "test", "e2e.user.alice.TwoBranchFlow", timeout=300)
    assert "state=success" in result.stdout + result.stderr
    from airflow_flow_triggers import Flow
    latest = Flow("e2e.user.alice.TwoBranchFlow", store=airflow.store()).latest_run
    assert latest.successful and latest.data.branch == "user.alice"


FAILING = '''
from airflow_flow_triggers import FlowSpec, step, build_dag

class E2EFailingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.explode)

    @step
    def explode(self):
        raise ValueError('the step said no')
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(E2EFailingFlow)
'''


def test_step_failure_fails_the_task_with_its_traceback(airflow):
    airflow.drop("failing_flow.py", FAILING)
    airflow.wait_for_dag("E2EFailingFlow")
    run_id = airflow.post_run("E2EFailingFlow")
    assert airflow.wait_for_run("E2EFailingFlow", run_id)["state"] == "failed"
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("E2EFailingFlow", run_id)}
    assert states["start"] == "success" and states["explode"] == "failed"
    [error] = task_errors(airflow.task_log("E2EFailingFlow", run_id, "explode"))
    assert (error["exc_type"], error["exc_value"]) == ("ValueError", "the step said no")
    innermost = error["frames"][-1]
    assert innermost["filename"].endswith("failing_flow.py") and innermost["name"] == "explode"
    assert innermost["lineno"] == FAILING.splitlines().index("        raise ValueError('the step said no')") + 1


RETRY_TIMEOUT = '''
import os, time
from pathlib import Path
from airflow_flow_triggers import FlowSpec, step, retry, timeout, build_dag

MARKER = Path(os.environ['AIRFLOW_HOME']) / 'retry_marker_{name}'

class {name}(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if not MARKER.exists():
            MARKER.write_text('failed once')
            raise RuntimeError('first attempt fails')
        self.next(self.slow)

    @timeout(seconds={seconds})
    @step
    def slow(self):
        time.sleep(4)
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag({name})
'''


def test_retry_and_timeout(airflow):
    airflow.drop("retry_ok.py", RETRY_TIMEOUT.format(name="RetryFlow", seconds=60))
    airflow.drop("timeout_flow.py", RETRY_TIMEOUT.format(name="TimeoutFlow", seconds=1))
    airflow.wait_for_dag("RetryFlow")
    airflow.wait_for_dag("TimeoutFlow")
    ok = airflow.post_run("RetryFlow")
    late = airflow.post_run("TimeoutFlow")
    assert airflow.wait_for_run("RetryFlow", ok)["state"] == "success"
    flaky = next(ti for ti in airflow.task_instances("RetryFlow", ok) if ti["task_id"] == "flaky")
    assert flaky["try_number"] == 2
    assert airflow.wait_for_run("TimeoutFlow", late)["state"] == "failed"
    slow = next(ti for ti in airflow.task_instances("TimeoutFlow", late) if ti["task_id"] == "slow")
    assert slow["state"] == "failed"
    assert "AirflowTaskTimeout" in [e["exc_type"] for e in task_errors(airflow.task_log("TimeoutFlow", late, "slow"))]


BROKEN = '''
from airflow_flow_triggers import FlowSpec, step, build_dag

class BrokenFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def end(self):
        pass

dag = build_dag(BrokenFlow)
'''


def test_broken_flow_is_a_one_line_import_error(airflow):
    path = airflow.drop("broken_flow.py", BROKEN)

    def error():
        return next((e for e in airflow.import_errors() if e["filename"].endswith("broken_flow.py")), None)
    found = airflow.wait_until(error, 120, "the import error of broken_flow.py")
    message = f"{path}:7: Step 'start' goes to unknown step 'middle' in self.next(): define 'middle' as a " \
              "@step method or fix the name."
    assert found["stack_trace"].strip().splitlines()[-1] == \
        f"airflow_flow_triggers.errors.FlowDefinitionError: {message}"
    listed = airflow.cli("dags", "list-import-errors", "--output", "json", check=False).stdout
    assert message in listed
    assert listed.count("File \"") <= 2  # Airflow's own traceback depth, not ours


LOGGED = '''
import sys
from airflow_flow_triggers import FlowSpec, step, build_dag

class LoggedFlow(FlowSpec):
    @step
    def start(self):
        print('out of start')
        print('err of start', file=sys.stderr)
        self.items = ['a', 'b']
        self.next(self.work, foreach='items')

    @step
    def work(self):
        print('working on', self.input)
        self.done = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.done = sorted(i.done for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        raise KeyError('the end said no')

if __name__ == '__main__':
    LoggedFlow()

dag = build_dag(LoggedFlow)
'''


def test_logs_and_dump_of_an_airflow_run(airflow, tmp_path):
    """Each task's output is kept with it in the store, as a local run's (and Airflow's own task log still has
    it); the flow file's `logs` and `dump` read the Airflow run as they read a local one."""
    airflow.drop("logged_flow.py", LOGGED)
    airflow.wait_for_dag("LoggedFlow")
    run_id = airflow.post_run("LoggedFlow")
    assert airflow.wait_for_run("LoggedFlow", run_id)["state"] == "failed"
    flow_file = tmp_path / "logged_flow.py"
    flow_file.write_text(LOGGED)

    def command(*args: str) -> subprocess.CompletedProcess:
        result = run_flow(flow_file, *args, airflow_home=airflow.home)
        assert result.returncode == 0, result.stderr
        return result

    start = command("logs", f"{run_id}/start")
    assert start.stdout == "out of start\nerr of start\n"
    assert start.stderr.splitlines()[1:] == [f"Dumping logs of run_id={run_id} step=start task_id=1", "stdout",
                                             "stderr"]
    assert command("--quiet", "logs", "--stdout", f"{run_id}/work").stdout == "working on a\nworking on b\n"
    done = len(pickle.dumps(["A", "B"], protocol=pickle.HIGHEST_PROTOCOL))
    assert command("--quiet", "dump", f"{run_id}/join").stdout.splitlines() == [
        f"done [size: {done} type: <class 'list'>] = ['A', 'B']", "name [size: 25 type: <class 'str'>] = LoggedFlow"]
    failed = command("--quiet", "logs", "--stderr", f"{run_id}/end").stdout.splitlines()
    assert failed[-3:] == ["KeyError: 'the end said no'", "", "Task failed."]
    end = Run(f"LoggedFlow/{run_id}", store=airflow.store())["end"].task
    assert (end.successful, end.exception.type, end.exception.exception) == \
        (False, "builtins.KeyError", "'the end said no'")
    assert "out of start" in [entry.get("event") for entry in airflow.task_log("LoggedFlow", run_id, "start")]
