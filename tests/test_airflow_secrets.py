"""@secrets and @resources on a real Airflow (LocalExecutor, a file:// artifact root): the task reads an Airflow
connection and variable kept in Airflow's database (only a task can: through the worker's Execution API) into the
step's environment, Airflow's log shows `***` where the step prints one, and a step with @resources alone deploys and
runs as a task like any other, its request on the task."""
import hashlib

import pytest

from airflow_flow_triggers.runtime.client import Run
from airflow_flow_triggers.sandbox.harness import task_errors

pytestmark = pytest.mark.e2e

PASSWORD = "pw-e2e-4471-secret"
TOKEN = "token-e2e-9183-secret"

FLOW = '''
import hashlib
import os
from airflow_flow_triggers import FlowSpec, resources, secrets, step


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class SecretWarehouseFlow(FlowSpec):
    @secrets(sources=["airflow-connection.e2e_warehouse", "airflow-variable.e2e_token"])
    @step
    def start(self):
        print("host", os.environ["E2E_WAREHOUSE_HOST"], "password", digest(os.environ["E2E_WAREHOUSE_PASSWORD"]))
        print("the token is", os.environ["e2e_token"])
        self.next(self.sized)

    @resources(memory=16000, cpu=2)
    @step
    def sized(self):
        self.seen = sorted(name for name in os.environ if name.startswith("E2E_WAREHOUSE_") or name == "e2e_token")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SecretWarehouseFlow()
'''


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_a_task_reads_airflows_connections_and_variables_and_masks_them(airflow, tmp_path):
    airflow.cli("connections", "add", "e2e_warehouse", "--conn-uri",
                f"postgres://bob:{PASSWORD}@db.example.com:5432/sales")
    airflow.cli("variables", "set", "e2e_token", TOKEN)
    flow_file = tmp_path / "secret_warehouse_flow.py"
    flow_file.write_text(FLOW)
    airflow.deploy(flow_file)                    # @resources alone: no object storage, no image needed
    dag_id = "SecretWarehouseFlow"
    airflow.wait_for_dag(dag_id)
    run_id = airflow.trigger(dag_id)
    assert airflow.wait_for_run(dag_id, run_id)["state"] == "success", \
        [task_errors(airflow.task_log(dag_id, run_id, ti["task_id"])) for ti in airflow.task_instances(dag_id, run_id)
         if ti["state"] == "failed"]
    logged = [entry.get("event", "") for entry in airflow.task_log(dag_id, run_id, "start")]
    assert f"host db.example.com password {digest(PASSWORD)}" in logged, "\n".join(logged)
    assert "the token is ***" in logged                       # a secret printed is masked in Airflow's log
    assert not [line for line in logged if PASSWORD in line or TOKEN in line]
    tasks = {ti["task_id"]: ti for ti in airflow.task_instances(dag_id, run_id)}
    assert tasks["sized"]["operator"] == "_PythonDecoratedOperator" and tasks["sized"]["state"] == "success"
    run = Run(f"{dag_id}/{run_id}", store=airflow.store())
    assert run["sized"].task.data.seen == []                 # the next step's environment has none of them
    store_files = [p for p in (airflow.home / "flow_triggers" / "artifacts" / dag_id).rglob("*") if p.is_file()]
    assert store_files and not [str(p) for p in store_files if PASSWORD.encode() in p.read_bytes() or
                                TOKEN.encode() in p.read_bytes()]
