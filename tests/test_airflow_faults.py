"""Faults on a real Airflow: the scheduler dies mid-step, and the chain still completes exactly once; a failed
task cleared (Airflow's own resume) runs again with the artifacts of the tasks before it."""

import re
import subprocess
import sys

import pytest

from airflow_flow_triggers import Run

pytestmark = pytest.mark.e2e

FAULT_UP = '''
import os, time
from pathlib import Path
from airflow_flow_triggers import FlowSpec, step, retry, build_dag

MARKER = Path(os.environ['AIRFLOW_HOME']) / 'fault_marker'

class FaultUp(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @retry(times=2, minutes_between_retries=0)
    @step
    def work(self):
        first = not MARKER.exists()
        MARKER.write_text('started')
        if first:
            time.sleep(120)            # the scheduler's process group is killed while this sleeps
        self.value = 'from the retried attempt'
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(FaultUp)
'''

FAULT_DOWN = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, current, build_dag

@trigger_on_finish(flow='FaultUp')
class FaultDown(FlowSpec):
    @step
    def start(self):
        self.seen = current.trigger.run.data.value
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(FaultDown)
'''


def test_scheduler_killed_mid_step_retries_and_triggers_once(airflow):
    airflow.drop("fault_up.py", FAULT_UP)
    airflow.drop("fault_down.py", FAULT_DOWN)
    airflow.wait_for_dag("FaultUp")
    airflow.wait_for_dag("FaultDown")
    run_id = airflow.post_run("FaultUp")
    marker = airflow.home / "fault_marker"
    airflow.wait_until(lambda: marker.exists(), 120, "the first attempt of step 'work' to start")
    airflow.wait_until(lambda: any(ti["task_id"] == "work" and ti["state"] == "running"
                              for ti in airflow.task_instances("FaultUp", run_id)), 60, "Airflow to see 'work' running")

    airflow.kill_component("scheduler")            # SIGKILL: the scheduler, its executor and the task process
    work = next(ti for ti in airflow.task_instances("FaultUp", run_id) if ti["task_id"] == "work")
    assert work["state"] == "running" and work["try_number"] == 1
    airflow.start_component("scheduler")

    assert airflow.wait_for_run("FaultUp", run_id, timeout=300)["state"] == "success"
    work = next(ti for ti in airflow.task_instances("FaultUp", run_id) if ti["task_id"] == "work")
    assert work["try_number"] == 2
    [down] = airflow.wait_for_runs("FaultDown", 1)
    airflow.quiet()
    assert len(airflow.runs("FaultDown")) == 1 and down["state"] == "success"
    assert Run(f"FaultDown/{down['dag_run_id']}", store=airflow.store()).data.seen == "from the retried attempt"


CLEARED = '''
import os, uuid
from pathlib import Path
from airflow_flow_triggers import FlowSpec, step, current, build_dag

FIXED = Path(os.environ['AIRFLOW_HOME']) / 'cleared_fixed'   # the fix: item 2 works once this file exists

class ClearedFlow(FlowSpec):
    @step
    def start(self):
        self.stamp = uuid.uuid4().hex
        self.items = [1, 2, 3]
        self.next(self.work, foreach='items')

    @step
    def work(self):
        if self.input == 2 and not FIXED.exists():
            raise ValueError('item 2 is broken')
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.stamp = inputs[0].stamp
        self.origin = current.origin_run_id
        self.retry_count = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(ClearedFlow)

if __name__ == '__main__':
    ClearedFlow()
'''


def _tries(airflow, run_id) -> dict:
    return {(ti["task_id"], ti["map_index"]): (ti["state"], ti["try_number"])
            for ti in airflow.task_instances("ClearedFlow", run_id)}


def test_clearing_a_failed_task_reruns_it_with_the_artifacts_before_it(airflow):
    """Airflow's own clear (the UI's Clear of the failed task, downstream included) is the resume of a run on
    Airflow: the cleared tasks run again in the same run and read what the tasks before them stored."""
    (airflow.home / "cleared_fixed").unlink(missing_ok=True)
    airflow.drop("cleared_flow.py", CLEARED)
    airflow.wait_for_dag("ClearedFlow")
    run_id = airflow.post_run("ClearedFlow")
    assert airflow.wait_for_run("ClearedFlow", run_id)["state"] == "failed"
    assert _tries(airflow, run_id)[("work", 1)] == ("failed", 1)
    stamp = Run(f"ClearedFlow/{run_id}", store=airflow.store())["start"].task.data.stamp

    (airflow.home / "cleared_fixed").write_text("fixed")
    cleared = airflow.api("POST", "dags/ClearedFlow/clearTaskInstances",
                          {"dag_run_id": run_id, "task_ids": ["work"], "only_failed": True,
                           "include_downstream": True, "dry_run": False})
    assert {(ti["task_id"], ti["map_index"]) for ti in cleared["task_instances"]} == {("work", 1), ("join", -1),
                                                                                     ("end", -1)}
    assert airflow.wait_for_run("ClearedFlow", run_id)["state"] == "success"
    assert _tries(airflow, run_id) == {("start", -1): ("success", 1), ("work", 0): ("success", 1),
                                       ("work", 1): ("success", 2), ("work", 2): ("success", 1),
                                       ("join", -1): ("success", 1), ("end", -1): ("success", 1)}
    run = Run(f"ClearedFlow/{run_id}", store=airflow.store())
    assert run.successful and run.data.total == 60 and run.data.stamp == stamp and run.data.origin is None
    assert run.data.retry_count == 0                # the first try after the clear, as a resumed task's


def test_a_failed_airflow_run_resumes_locally(airflow):
    """`python flow.py resume --origin-run-id <Airflow run id>`: a new local run that clones the Airflow run's
    successful tasks (from the shared artifact store) and runs the failed one, with the code on this machine."""
    (airflow.home / "cleared_fixed").unlink(missing_ok=True)
    path = airflow.drop("cleared_flow.py", CLEARED)
    airflow.wait_for_dag("ClearedFlow")
    run_id = airflow.post_run("ClearedFlow")
    assert airflow.wait_for_run("ClearedFlow", run_id)["state"] == "failed"
    stamp = Run(f"ClearedFlow/{run_id}", store=airflow.store())["start"].task.data.stamp

    (airflow.home / "cleared_fixed").write_text("fixed")
    result = subprocess.run([sys.executable, str(path), "resume", "--origin-run-id", run_id], capture_output=True,
                            text=True, timeout=120, cwd=path.parent, env={**airflow.env, "USER": "alice"})
    assert result.returncode == 0, result.stderr
    assert f"Cloning ClearedFlow/{run_id}\n" in result.stdout
    assert sorted(re.findall(r"\] Cloning previously run task \S+/(\w+/[\d-]+)\n", result.stdout)) == \
        ["start/1", "work/2-0", "work/2-2"]
    resumed_id = re.search(r"run-id (\d+)", result.stdout).group(1)
    resumed = Run(f"ClearedFlow/{resumed_id}", store=airflow.store())
    assert resumed.data.total == 60 and resumed.data.stamp == stamp and resumed.data.origin == run_id
    assert resumed.origin_pathspec == f"ClearedFlow/{run_id}"
