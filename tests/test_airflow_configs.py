"""Configs and custom decorators on a real Airflow: `airflow create --config-value` fixes the configs on the
deploying machine and stores them with the deployment, so the DAG (its project, retries and param defaults) and
every task's worker use exactly those values, whatever the workers' environment says; a FlowMutator's decorators
and a user step decorator run there too."""
import json

import pytest

from airflow_flow_triggers import Run
from airflow_flow_triggers.sandbox.harness import task_errors

pytestmark = pytest.mark.e2e

FLOW = '''
import os
from airflow_flow_triggers import (Config, FlowMutator, FlowSpec, Parameter, config_expr, current, environment,
                                   project, retry, step, user_step_decorator)


def doubled(ctx):
    return ctx.configs.cfg.size * 2


@user_step_decorator
def stamped(step_name, flow, inputs):
    yield
    flow.stamp = f"{step_name} stamped"


class Labelled(FlowMutator):
    def mutate(self, mutable_flow):
        label = dict(mutable_flow.configs)["cfg"].label
        for name, mutable_step in mutable_flow.steps:
            mutable_step.add_decorator(environment, deco_kwargs={"vars": {"LABEL": f"{label} {name}"}})


@Labelled
@project(name=config_expr("cfg").project)
class ConfiguredFlow(FlowSpec):
    cfg = Config("cfg", default_value={"project": "unconfigured", "size": 1, "retries": 0, "label": "default"})
    total = Parameter("total", default=doubled, type=int)

    @retry(times=config_expr("cfg").retries, minutes_between_retries=0)
    @step
    def start(self):
        self.seen = (self.cfg.to_dict(), self.total, os.environ["LABEL"], current.project_name)
        self.items = list(range(self.cfg.size))
        self.next(self.work, foreach="items")

    @stamped
    @step
    def work(self):
        self.label = os.environ["LABEL"]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.labels = sorted({i.label for i in inputs})
        self.stamps = sorted({i.stamp for i in inputs})
        self.sizes = sorted({i.cfg.size for i in inputs})
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConfiguredFlow()
'''

CONFIG = {"project": "configured", "size": 3, "retries": 2, "label": "given"}
DAG_ID = "configured.user.alice.ConfiguredFlow"


def failures(airflow, run_id: str) -> list:
    """What the failed tasks of a run logged as errors (the assertion's message)."""
    return [(ti["task_id"], task_errors(airflow.task_log(DAG_ID, run_id, ti["task_id"], max(ti["try_number"], 1),
                                                         ti.get("map_index", -1))))
            for ti in airflow.task_instances(DAG_ID, run_id) if ti["state"] == "failed"]


def test_a_deployed_flow_runs_with_the_configs_given_at_create(airflow, tmp_path):
    flow_file = tmp_path / "configured_flow.py"
    flow_file.write_text(FLOW)
    printed = airflow.deploy(flow_file, "--config-value", "cfg", json.dumps(CONFIG))
    assert f"Deployed {DAG_ID}" in printed
    airflow.wait_for_dag(DAG_ID)
    details = airflow.api("GET", f"dags/{DAG_ID}/details")
    assert details["params"]["total"]["value"] == 6                 # the default function, called at create
    tasks = {t["task_id"]: t for t in airflow.api("GET", f"dags/{DAG_ID}/tasks")["tasks"]}
    assert tasks["start"]["retries"] == 2 and tasks["work"]["retries"] == 0

    run_id = airflow.post_run(DAG_ID)
    assert airflow.wait_for_run(DAG_ID, run_id)["state"] == "success", failures(airflow, run_id)
    run = Run(f"{DAG_ID}/{run_id}", store=airflow.store())
    assert run["start"].task.data.seen == (CONFIG, 6, "given start", "configured")
    assert run["join"].task.data.labels == ["given work"]
    assert run["join"].task.data.stamps == ["work stamped"]
    assert run["join"].task.data.sizes == [3]                        # every worker read the config as given
    assert len(list(run["work"])) == 3
    for step_name in ("start", "work", "join", "end"):              # an artifact of every step, as in Metaflow
        assert next(iter(run[step_name])).data.cfg == CONFIG

    given = airflow.post_run(DAG_ID, {"total": 1})                   # a run's conf still wins over the default
    assert airflow.wait_for_run(DAG_ID, given)["state"] == "success", failures(airflow, given)
    assert Run(f"{DAG_ID}/{given}", store=airflow.store())["start"].task.data.seen[1] == 1
