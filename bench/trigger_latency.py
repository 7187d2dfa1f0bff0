"""Trigger latency: upstream end task's success -> downstream run's start, vs hand-written Asset-linked DAGs.

    python bench/trigger_latency.py [--triggers 10]

On one real Airflow (SQLite, LocalExecutor, started by the tests' harness): our LatencyUpFlow ->
LatencyDownFlow pair (`@trigger_on_finish`, built with `build_dag`) and a hand-written pair (a TaskFlow
DAG whose last task has an outlet Asset, and a DAG scheduled on that Asset). Each pair is triggered
alternately with `airflow dags trigger`; latency = the downstream DAG run's start_date minus the
end_date of the upstream's last task instance, from Airflow's REST API. Median of --triggers each.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import tempfile
from pathlib import Path

from airflow_flow_triggers.sandbox.harness import AirflowHarness

OURS = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, build_dag

class LatencyUpFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

@trigger_on_finish(flow='LatencyUpFlow')
class LatencyDownFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

up = build_dag(LatencyUpFlow)
down = build_dag(LatencyDownFlow)
'''

HANDWRITTEN = '''
import pendulum
from airflow.sdk import DAG, Asset, task

done = Asset(name="HandUp", uri="x-hand://HandUp")
start_date = pendulum.datetime(2024, 1, 1, tz="UTC")

with DAG("HandUp", schedule=None, start_date=start_date, catchup=False):
    @task
    def start():
        return 1

    @task(outlets=[done])
    def end(x):
        return x

    end(start())

with DAG("HandDown", schedule=[done], start_date=start_date, catchup=False):
    @task
    def start():
        return 1

    @task
    def end(x):
        return x

    end(start())
'''


def when(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def latency(airflow: AirflowHarness, up: str, down: str, seen: int) -> float:
    run_id = airflow.trigger(up)
    assert airflow.wait_for_run(up, run_id)["state"] == "success"
    end_task = next(ti for ti in airflow.task_instances(up, run_id) if ti["task_id"] == "end")
    runs = airflow.wait_for_runs(down, seen + 1)
    newest = max(runs, key=lambda r: r["queued_at"])
    return (when(newest["start_date"]) - when(end_task["end_date"])).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        airflow = AirflowHarness(Path(tmp))
        try:
            airflow.start()
            airflow.drop("ours.py", OURS)
            airflow.drop("hand.py", HANDWRITTEN)
            for dag_id in ("LatencyUpFlow", "LatencyDownFlow", "HandUp", "HandDown"):
                airflow.wait_for_dag(dag_id)
            results = {"ours": [], "hand": []}
            for i in range(args.triggers):
                results["ours"].append(latency(airflow, "LatencyUpFlow", "LatencyDownFlow", i))
                results["hand"].append(latency(airflow, "HandUp", "HandDown", i))
        finally:
            airflow.stop()
    ours, hand = statistics.median(results["ours"]), statistics.median(results["hand"])
    print(f"## Trigger latency (median of {args.triggers}, seconds from upstream end task success to "
          "downstream run start)\n")
    print("| @trigger_on_finish | hand-written Asset-linked DAGs | ratio (target <= 1.1) |")
    print("|---|---|---|")
    print(f"| {ours:.2f} | {hand:.2f} | {ours / hand:.2f} |")
    print("\nall samples, ours:", " ".join(f"{x:.2f}" for x in results["ours"]))
    print("all samples, hand:", " ".join(f"{x:.2f}" for x in results["hand"]))


if __name__ == "__main__":
    main()
