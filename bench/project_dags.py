"""Airflow DAGs in a project vs the same DAGs hand-written without the package, side by side.

    python bench/project_dags.py [--files 100] [--triggers 10]

(a) Parse time per file: --files TaskFlow DAG files with @project and @trigger_on_finish (three tasks), and as
    many hand-written files of the same DAG without the package (the same three tasks, its own tags and owner,
    scheduled with PartitionedAssetTimetable on the upstream's asset, an event keyed by the run on the last
    task's outlet Asset). Each
    folder is parsed by Airflow's DagBag in a fresh process, 3 times, interleaved; median seconds per file. The
    project DAGs lie in <root>/bench/user.alice/ (the deployment store's branch folder that gives their branch).
(b) Trigger latency on one real Airflow (the tests' harness: SQLite, LocalExecutor): a project DAG triggered by
    the finish of another project DAG, and the hand-written pair (a DAG whose last task emits an event on its
    outlet Asset keyed by its run, a DAG partitioned on that Asset: one run per upstream run), each upstream
    triggered alternately through the REST API. Two latencies, from Airflow's REST API, both from the end of the
    upstream's last task (`load`, which emits the finish in both): to the downstream run's start_date, and to the
    start_date of the downstream's first task (`extract`, which checks the trigger first in ours). Medians of
    --triggers each. Both DAGs have the everyday shape (one leaf, default trigger rules), so the package adds no
    task to them (docs/airflow-dags.md).
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from dag_factory import PARSE  # bench/dag_factory.py's DagBag timing, run in a fresh process

from airflow_flow_triggers.sandbox.harness import AirflowHarness

OURS = '''
from airflow.sdk import dag, task
from airflow_flow_triggers import project, trigger_on_finish

@project(name='bench')
@trigger_on_finish(flow='{upstream}')
@dag(schedule=None, tags=['reports'])
def {name}():
    @task
    def extract():
        return 1

    @task
    def transform(x):
        return x + 1

    @task
    def load(x):
        return x
    load(transform(extract()))

{name}()
'''

HAND = '''
import pendulum
from airflow.sdk import DAG, Asset, PartitionedAssetTimetable, task

with DAG('{name}', schedule={schedule}, start_date=pendulum.datetime(2024, 1, 1, tz='UTC'), catchup=False,
         tags=['reports', 'bench'], default_args={{'owner': 'alice'}}, is_paused_upon_creation=False):
    @task
    def extract():
        return 1

    @task
    def transform(x):
        return x + 1

    @task(outlets=[Asset(name='{name}', uri='x-hand://{name}')])
    def load(x, **context):
        # one downstream run per run of this DAG: the event keyed by the run (a partitioned consumer ignores others)
        context['outlet_events'][Asset(name='{name}', uri='x-hand://{name}')].add_partitions(context['run_id'])
        return x
    load(transform(extract()))
'''
HAND_SCHEDULE = "PartitionedAssetTimetable(assets=Asset(name='{up}', uri='x-hand://{up}'))"



def parse_times(files: int, repeat: int = 3) -> dict:
    """Median DagBag seconds per file for each folder, fresh process each time, the two kinds interleaved."""
    with tempfile.TemporaryDirectory() as tmp:
        folders = {"ours": Path(tmp) / "ours", "hand": Path(tmp) / "hand"}
        branch = folders["ours"] / "bench" / "user.alice"
        branch.mkdir(parents=True)
        folders["hand"].mkdir()
        for i in range(files):
            (branch / f"report{i}.py").write_text(OURS.format(name=f"report{i}", upstream=f"Up{i}"))
            (folders["hand"] / f"report{i}.py").write_text(
                HAND.format(name=f"report{i}", schedule=HAND_SCHEDULE.format(up=f"Up{i}")))
        times = {kind: [] for kind in folders}
        for _ in range(repeat):
            for kind, folder in folders.items():
                env = {"AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT": str(folders["ours"]),
                       "AIRFLOW_HOME": str(Path(tmp) / "home"), "PATH": "/usr/bin:/bin"}
                out = subprocess.run([sys.executable, "-c", PARSE, str(folder)], capture_output=True, text=True,
                                     env=env, check=True).stdout
                count, elapsed = out.split("RESULT", 1)[1].split()
                assert int(count) == files, (kind, count)
                times[kind].append(float(elapsed) / files)
        return {kind: statistics.median(values) for kind, values in times.items()}


def when(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def latency(airflow: AirflowHarness, up: str, last: str, down: str, first: str, seen: int) -> dict:
    """Seconds from the upstream's last task's end to the downstream run's start and to its first own task's."""
    run_id = airflow.post_run(up)
    assert airflow.wait_for_run(up, run_id)["state"] == "success"
    ended = when(next(ti for ti in airflow.task_instances(up, run_id) if ti["task_id"] == last)["end_date"])
    runs = airflow.wait_for_runs(down, seen + 1)
    newest = airflow.wait_for_run(down, max(runs, key=lambda r: r["queued_at"])["dag_run_id"])
    assert newest["state"] == "success", newest
    task = next(ti for ti in airflow.task_instances(down, newest["dag_run_id"]) if ti["task_id"] == first)
    return {"run": (when(newest["start_date"]) - ended).total_seconds(),
            "task": (when(task["start_date"]) - ended).total_seconds()}


def trigger_latencies(triggers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        airflow = AirflowHarness(Path(tmp) / "airflow")
        try:
            airflow.start()
            airflow.drop("bench/user.alice/up.py", OURS.replace("@trigger_on_finish(flow='{upstream}')\n", "")
                         .format(name="report_up"))
            airflow.drop("bench/user.alice/down.py", OURS.format(name="report_down", upstream="report_up"))
            airflow.drop("hand_up.py", HAND.format(name="hand_up", schedule="None"))
            airflow.drop("hand_down.py", HAND.format(name="hand_down", schedule=HAND_SCHEDULE.format(up="hand_up")))
            ours = ("bench.user.alice.report_up", "load", "bench.user.alice.report_down", "extract")
            hand = ("hand_up", "load", "hand_down", "extract")
            for dag_id in (ours[0], ours[2], hand[0], hand[2]):
                airflow.wait_for_dag(dag_id)
            results = {"ours": [], "hand": []}
            for i in range(triggers):
                results["ours"].append(latency(airflow, *ours, i))
                results["hand"].append(latency(airflow, *hand, i))
        finally:
            airflow.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--triggers", type=int, default=10)
    args = parser.parse_args()
    parsed = parse_times(args.files)
    print(f"## (a) DagBag parse, median of 3, {args.files} files each\n")
    print("| | ms per file |\n|---|---|")
    print(f"| project DAG (@project, @trigger_on_finish) | {parsed['ours'] * 1000:.1f} |")
    print(f"| the same DAG hand-written, partitioned on an Asset | {parsed['hand'] * 1000:.1f} |")
    print(f"\nratio (target <= 1.1): {parsed['ours'] / parsed['hand']:.2f}\n", flush=True)
    results = trigger_latencies(args.triggers)
    median = {kind: {part: statistics.median(s[part] for s in samples) for part in ("run", "task")}
              for kind, samples in results.items()}
    print(f"## (b) Trigger latency, median of {args.triggers}, seconds from the upstream's last task's end\n")
    print("| | to the downstream run's start | to its first task of the DAG's own |\n|---|---|---|")
    for kind, label in (("ours", "project DAG -> project DAG"), ("hand", "hand-written, partitioned on an Asset")):
        print(f"| {label} | {median[kind]['run']:.2f} | {median[kind]['task']:.2f} |")
    print(f"\nratios (target <= 1.1): run start {median['ours']['run'] / median['hand']['run']:.2f}, "
          f"first own task {median['ours']['task'] / median['hand']['task']:.2f}")
    for kind in results:
        print(f"samples, {kind}:", " ".join(f"{s['run']:.2f}/{s['task']:.2f}" for s in results[kind]))


if __name__ == "__main__":
    main()
