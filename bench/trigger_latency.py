"""Trigger latency: upstream end task's success -> downstream run's start, vs hand-written Asset-linked DAGs.

    python bench/trigger_latency.py [--triggers 10] [--database sqlite|postgres]

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
from airflow_flow_triggers.sandbox.topology import Postgres

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


PARTS = ("total", "event", "queued", "started")


def when(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def latency(airflow: AirflowHarness, up: str, down: str, seen: int) -> dict:
    """Seconds from the upstream end task's success to the downstream run's start, and its three parts: the
    finish event registered, the downstream run queued, the run started (all from Airflow's REST API)."""
    run_id = airflow.trigger(up)
    assert airflow.wait_for_run(up, run_id)["state"] == "success"
    end_task = next(ti for ti in airflow.task_instances(up, run_id) if ti["task_id"] == "end")
    runs = airflow.wait_for_runs(down, seen + 1)
    newest = airflow.wait_for_run(down, max(runs, key=lambda r: r["queued_at"])["dag_run_id"])
    event = next(e for e in airflow.asset_events(up) if e["source_run_id"] == run_id)
    ended, registered = when(end_task["end_date"]), when(event["timestamp"])
    queued, started = when(newest["queued_at"]), when(newest["start_date"])
    return {"total": (started - ended).total_seconds(), "event": (registered - ended).total_seconds(),
            "queued": (queued - registered).total_seconds(), "started": (started - queued).total_seconds()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=10)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="the metadata database: the harness's SQLite, or a throw-away PostgreSQL 15")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        postgres = Postgres(Path(tmp)).start() if args.database == "postgres" else None
        settings = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
                    f"postgresql+psycopg2://postgres@{postgres.address}/airflow"} if postgres else {}
        airflow = AirflowHarness(Path(tmp) / "airflow", **settings)
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
            if postgres is not None:
                postgres.stop()
    median = {kind: {part: statistics.median(sample[part] for sample in samples) for part in PARTS}
              for kind, samples in results.items()}
    print(f"## Trigger latency on {args.database} (median of {args.triggers}, seconds from upstream end task "
          "success to downstream run start)\n")
    print("| | total | finish event registered | downstream run queued | run started |")
    print("|---|---|---|---|---|")
    for kind, label in (("ours", "@trigger_on_finish"), ("hand", "hand-written Asset-linked DAGs")):
        print(f"| {label} | " + " | ".join(f"{median[kind][part]:.2f}" for part in PARTS) + " |")
    print(f"\nratio of the totals (target <= 1.1): {median['ours']['total'] / median['hand']['total']:.2f}")
    for kind in results:
        print(f"all totals, {kind}:", " ".join(f"{sample['total']:.2f}" for sample in results[kind]))


if __name__ == "__main__":
    main()
