"""Scale on the production-like topology (PostgreSQL, Redis, SeaweedFS, Celery x2), side by side with
hand-written Airflow DAGs of the same shapes.

    .venv/bin/python bench/scale.py [--counts 100 500] [--fan-out 100]

1. Registration: N deployments across N/10 branches (each branch a chain of 10 flows, flow i
   triggered by flow i-1's finish), written with `airflow create`'s own code into a fresh folder of
   the dags folder, against N hand-written TaskFlow files of the same shapes (start -> end, the end
   task's outlet an Asset, the next DAG scheduled on it). Seconds from the files appearing to the
   dag-processor having registered all N DAGs.
2. `python flow.py --branch <new> airflow create` of one more deployment into the folder of N
   deployments (it reads every record to refuse trigger loops): wall seconds of the command.
3. Fan-out: one production upstream finishing with K consumers (K branches pinning it with
   `@trigger_on_finish(flow='scale.prod.Upstream')`) against a hand-written upstream whose outlet Asset
   schedules K DAGs: seconds from the upstream's finish event to the last consumer run's start.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from topology import Topology, tools_missing  # noqa: E402

FLOW = '''from airflow_flow_triggers import FlowSpec, project, step, trigger_on_finish
{decorator}
@project(name='{project}')
class Flow{i:02d}(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

HANDWRITTEN = '''import pendulum
from airflow.sdk import DAG, Asset, task
{schedule_import}
finish = Asset(name="{dag_id}", uri="x-hand://{dag_id}", group="{project}")
with DAG("{dag_id}", schedule={schedule}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         is_paused_upon_creation=False, tags=["{flow}", "project:{project}", "project_branch:{branch}"],
         default_args={{"owner": "alice"}}):
    @task(task_id="start")
    def start():
        return {{"step": "start"}}

    @task(task_id="end", outlets=[finish])
    def end(ref):
        return {{"step": "end"}}

    end(start())
'''


def ours(project: str, branch: str, i: int, upstream: str | None) -> str:
    decorator = f"@trigger_on_finish(flow='{upstream}')" if upstream else ""
    return FLOW.format(project=project, i=i, decorator=decorator)


def handwritten(project: str, branch: str, i: int, upstream: str | None) -> str:
    dag_id = f"{project}.{branch}.Flow{i:02d}"
    schedule = f'Asset(name="{upstream}", uri="x-hand://{upstream}")' if upstream else "None"
    return HANDWRITTEN.format(dag_id=dag_id, project=project, branch=branch, flow=f"Flow{i:02d}",
                              schedule=schedule, schedule_import="")


def deploy_ours(count: int, project: str, dags: Path, work: Path) -> float:
    """`airflow create`'s code, in this process: count deployments, 10 per branch; returns seconds."""
    from airflow_flow_triggers.deploy.snapshots import create

    from airflow_flow_triggers.flows.decorators import deployment_of
    started = time.perf_counter()
    for b in range(count // 10):
        for i in range(10):
            source = work / f"{project}_b{b:03d}_flow{i:02d}.py"
            source.write_text(ours(project, f"b{b:03d}", i, f"Flow{i - 1:02d}" if i else None))
            flow_cls = getattr(import_file(source, source.stem), f"Flow{i:02d}")
            create(flow_cls, source, deployment_of(flow_cls, f"b{b:03d}"), dags, "alice")
    return time.perf_counter() - started


def write_handwritten(count: int, project: str, folder: Path) -> None:
    folder.mkdir(parents=True)
    for b in range(count // 10):
        for i in range(10):
            upstream = f"{project}.test.b{b:03d}.Flow{i - 1:02d}" if i else None
            (folder / f"b{b:03d}_flow{i:02d}.py").write_text(handwritten(project, f"test.b{b:03d}", i, upstream))


def import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def registered(airflow, project: str) -> int:
    return airflow.api("GET", f"dags?limit=1&tags=project:{project}")["total_entries"]


def wait_registered(airflow, project: str, count: int, started: float) -> float:
    airflow._wait(lambda: registered(airflow, project) >= count, 1800, f"{count} DAGs of {project}", interval=1)
    return time.time() - started


def registration(topology, count: int, work: Path) -> dict:
    airflow = topology.airflow
    staging = work / f"ours{count}"
    staging.mkdir()
    deploy_seconds = deploy_ours(count, f"ours{count}", staging / "dags", work)
    started = time.time()
    shutil.move(str(staging / "dags" / f"ours{count}"), str(airflow.dags / f"ours{count}"))
    ours_seconds = wait_registered(airflow, f"ours{count}", count, started)

    write_handwritten(count, f"hand{count}", work / f"hand{count}")
    started = time.time()
    shutil.move(str(work / f"hand{count}"), str(airflow.dags / f"hand{count}"))
    hand_seconds = wait_registered(airflow, f"hand{count}", count, started)

    one_more = work / "one_more.py"
    one_more.write_text(ours(f"ours{count}", "extra", 0, None) + "\n\nif __name__ == '__main__':\n    Flow00()\n")
    began = time.perf_counter()
    created = subprocess.run([sys.executable, str(one_more), "--branch", "extra", "airflow", "create",
                              "--dags-folder", str(airflow.dags)], env={**airflow.env, "USER": "alice"},
                             capture_output=True, text=True)
    create_seconds = time.perf_counter() - began
    assert created.returncode == 0 and "Deployed ours" in created.stdout, (created.stdout, created.stderr)
    return {"count": count, "ours": ours_seconds, "hand": hand_seconds, "create": create_seconds,
            "deploy_in_process": deploy_seconds}


FAN_UP = '''from airflow_flow_triggers import FlowSpec, project, step, build_dag

@project(name='scale')
class Upstream(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(Upstream, production=True, deployed_by='alice')
'''

FAN_DOWN = '''from airflow_flow_triggers import FlowSpec, project, step, trigger_on_finish, build_dag

@trigger_on_finish(flow='scale.prod.Upstream')
@project(name='scale')
class Consumer(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

dags = [build_dag(Consumer, branch=f'c{{n:03d}}', deployed_by='alice') for n in range({first}, {last})]
'''

HAND_UP = '''import pendulum
from airflow.sdk import DAG, Asset, task
with DAG("handfan.Upstream", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         is_paused_upon_creation=False, tags=["project:handfan"]):
    task(task_id="end", outlets=[Asset(name="handfan.Upstream", uri="x-hand://handfan.Upstream")])(lambda: None)()
'''

HAND_DOWN = '''import pendulum
from airflow.sdk import DAG, Asset, task
for n in range({first}, {last}):
    with DAG(f"handfan.c{{n:03d}}.Consumer", schedule=[Asset(name="handfan.Upstream", uri="x-hand://handfan.Upstream")],
             start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, is_paused_upon_creation=False,
             tags=["project:handfan"]) as dag:
        task(task_id="start")(lambda: None)()
    globals()[f"dag_{{n}}"] = dag
'''


def fan_out(topology, consumers: int) -> dict:
    airflow = topology.airflow
    airflow.drop("fan/upstream.py", FAN_UP)
    airflow.drop("handfan/upstream.py", HAND_UP)
    for first in range(0, consumers, 10):                        # ten consumers per file
        airflow.drop(f"fan/consumers_{first:03d}.py", FAN_DOWN.format(first=first, last=first + 10))
        airflow.drop(f"handfan/consumers_{first:03d}.py", HAND_DOWN.format(first=first, last=first + 10))
    wait_registered(airflow, "scale", consumers + 1, time.time())
    wait_registered(airflow, "handfan", consumers + 1, time.time())
    result = {}
    for name, upstream, consumer in (("ours", "scale.prod.Upstream", "scale.test.c{n:03d}.Consumer"),
                                     ("hand", "handfan.Upstream", "handfan.c{n:03d}.Consumer")):
        run_id = airflow.trigger(upstream)
        airflow.wait_for_run(upstream, run_id, timeout=600)
        # The end task's end (its finish event is registered with its success). Not the asset event's own
        # timestamp: Airflow 3.3.2's REST API answers 500 for events consumed by runs still queued.
        end = next(ti for ti in airflow.task_instances(upstream, run_id) if ti["task_id"] == "end")
        finished = _time(end["end_date"])
        starts = []
        for n in range(consumers):
            dag_id = consumer.format(n=n)
            [run] = airflow._wait(lambda d=dag_id: [r for r in airflow.runs(d) if r["start_date"]], 900,
                                  f"{dag_id} to start")
            starts.append(_time(run["start_date"]))
        result[name] = (max(starts) - finished).total_seconds()
    return result


def _time(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--fan-out", type=int, default=100)
    args = parser.parse_args()
    missing = tools_missing()
    if missing:
        raise SystemExit(f"bench/scale.py needs {', '.join(missing)}")
    base = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    topology = Topology(base, AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="2",
                        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="600",   # parse each file once
                        AIRFLOW__FLOW_TRIGGERS__MAX_TRIGGER_DEPTH="20")
    began = time.time()
    try:
        topology.start()
        print(f"topology up in {time.time() - began:.0f} s", flush=True)
        rows = [registration(topology, count, base) for count in args.counts]
        print("\n| deployments | registered: ours | hand-written | ratio (target <= 1.3) | `airflow create` of one "
              "more (target <= 2 s) | 10 x N `create()` in one process |")
        print("|---|---|---|---|---|---|")
        for row in rows:
            print(f"| {row['count']} | {row['ours']:.1f} s | {row['hand']:.1f} s | {row['ours'] / row['hand']:.2f} | "
                  f"{row['create']:.2f} s | {row['deploy_in_process']:.1f} s |", flush=True)
        fan = fan_out(topology, args.fan_out)
        print(f"\n| fan-out to {args.fan_out} consumers | ours | hand-written | ratio (target <= 1.2) |")
        print("|---|---|---|---|")
        print(f"| upstream finish -> last consumer run started | {fan['ours']:.1f} s | {fan['hand']:.1f} s | "
              f"{fan['ours'] / fan['hand']:.2f} |")
        print(f"\nwhole bench: {time.time() - began:.0f} s")
    finally:
        topology.stop()


if __name__ == "__main__":
    main()
