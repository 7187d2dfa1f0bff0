"""Faults on a real Airflow: the scheduler dies mid-step, and the chain still completes exactly once."""

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
