"""Scale on the production-like topology (PostgreSQL, Redis, SeaweedFS, Celery x2), side by side with
hand-written Airflow DAGs of the same shapes.

    .venv/bin/python bench/scale.py [--counts 100 500 2000] [--fan-out 100] [--burst 200]

The topology's deployment store is on S3 (s3://artifacts_s3@artifacts/deployments), read by the
dag-processor and each worker as a DAG bundle; the cluster policy accepts a project branch's DAG only
from that branch's folder of the store, and a production DAG only from a deployment the api-server signed.

1. Registration: N deployments across N/10 branches (each branch a chain of 10 flows, flow i
   triggered by flow i-1's finish), written with `airflow create --dags-folder`'s own code (the
   deployment store's `create()`, in this process) into a local staging store, then copied into the
   S3 store at once (code package and records first, the N DAG files last, as `create()` orders them),
   against N hand-written TaskFlow files of the same shapes (start -> end, the end task's outlet an
   Asset, the next DAG scheduled on it; tagged project:<name> only, so no branch is claimed) in the
   dags folder. Seconds from the DAG files appearing to
   the dag-processor having registered all N DAGs.
2. `python flow.py --branch <new> airflow create` of one more deployment, through the plugin's API
   (a client with an AIRFLOW_HOME of its own), into the store of N deployments (the api-server reads
   every record to refuse trigger loops): wall seconds of the command.
3. Fan-out: one production upstream (deployed by `python upstream.py --production airflow create`
   through the API, so its record is signed) finishing with K consumers (K deployments, one per branch,
   pinning it with `@trigger_on_finish(flow='scale.prod.Upstream')`, staged and copied into the store
   as in 1.) against a hand-written upstream whose outlet Asset schedules K DAGs: seconds from the
   upstream's finish event to the last consumer run's start.
4. The plugin's branch endpoint at the largest count: p50/p95 over --endpoint-requests GETs, and the SQL
   statements of one request (its own function, counted by plugin_api.py's COUNT_QUERIES).
5. A burst of --burst finishes of one upstream at once (a consumer deployed through the API) against
   hand-written partitioned DAGs (a keyed outlet event, a PartitionedAssetTimetable consumer): seconds
   from the first upstream run's end task ending to the last downstream run ending, and how many
   downstream runs each side made.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from airflow_flow_triggers.sandbox.harness import USER_VARS
from airflow_flow_triggers.sandbox.topology import BUCKET, Topology, tools_missing

REPO = Path(__file__).resolve().parent.parent

STORE = f"{BUCKET}/deployments"          # the topology's deployments root, s3://artifacts_s3@artifacts/deployments

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


if __name__ == '__main__':
    Flow{i:02d}()
'''

HANDWRITTEN = '''import pendulum
from airflow.sdk import DAG, Asset, task
{schedule_import}
finish = Asset(name="{dag_id}", uri="x-hand://{dag_id}", group="{project}")
with DAG("{dag_id}", schedule={schedule}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         is_paused_upon_creation=False, tags=["{flow}", "project:{project}"],
         default_args={{"owner": "alice"}}):
    @task(task_id="start")
    def start():
        return {{"step": "start"}}

    @task(task_id="end", outlets=[finish])
    def end(ref):
        return {{"step": "end"}}

    end(start())
'''


def ours(project: str, i: int, upstream: str | None) -> str:
    decorator = f"@trigger_on_finish(flow='{upstream}')" if upstream else ""
    return FLOW.format(project=project, i=i, decorator=decorator)


def handwritten(project: str, branch: str, i: int, upstream: str | None) -> str:
    dag_id = f"{project}.{branch}.Flow{i:02d}"
    schedule = f'Asset(name="{upstream}", uri="x-hand://{upstream}")' if upstream else "None"
    return HANDWRITTEN.format(dag_id=dag_id, project=project, branch=branch, flow=f"Flow{i:02d}",
                              schedule=schedule, schedule_import="")


def deploy_staged(code: Path, flows: list[tuple[str, str]], store: Path) -> float:
    """`airflow create --dags-folder`'s code (deploy/airflow_commands.py), in this process: each (flow file
    name in the folder `code`, branch) deployed as alice into the local store `store`; returns seconds."""
    from airflow_flow_triggers.deployments.packages import collect
    from airflow_flow_triggers.deployments.store import DeploymentStore
    from airflow_flow_triggers.flows.decorators import deployment_of
    from airflow_flow_triggers.orchestration.dag_factory import validate_deployment
    started = time.perf_counter()
    for n, (name, branch) in enumerate(flows):
        source = code / name
        module = import_file(source, f"{code.name}_{source.stem}_{n}")
        flow_cls = next(v for v in vars(module).values() if isinstance(v, type) and v.__module__ == module.__name__)
        deployment = dataclasses.replace(deployment_of(flow_cls, branch), deployer="alice")
        upstreams = validate_deployment(flow_cls, deployment)
        DeploymentStore(f"file://{store}").create(deployment, collect(source, leave_out=(store,)), upstreams,
                                                  str(source))
    return time.perf_counter() - started


def deploy_ours(count: int, project: str, store: Path, work: Path) -> float:
    """count deployments, 10 per branch, of the 10 flow files of one folder (one code package)."""
    code = work / f"{project}_flows"
    code.mkdir()
    for i in range(10):
        (code / f"flow{i:02d}.py").write_text(ours(project, i, f"Flow{i - 1:02d}" if i else None))
    return deploy_staged(code, [(f"flow{i:02d}.py", f"b{b:03d}") for b in range(count // 10) for i in range(10)],
                         store)


def upload(topology, store: Path) -> float:
    """Copy the staged store into the S3 store, the DAG files last (at once); returns when they started."""
    from airflow_flow_triggers.deployments import guards, layout
    fs = topology.s3.filesystem()
    files = {path.relative_to(store).as_posix(): path.read_bytes() for path in sorted(store.rglob("*"))
             if path.is_file() and path.name not in (guards.LOCK_FILE, guards.TOKEN_FILE)}
    first = {rel: data for rel, data in files.items() if not rel.endswith(".py") or rel.startswith(layout.PACKAGES)}
    fs.pipe({f"{STORE}/{rel}": data for rel, data in first.items()})          # packages and records
    started = time.time()
    fs.pipe({f"{STORE}/{rel}": data for rel, data in files.items() if rel not in first})   # then the DAG files
    layout.write_generation(fs, STORE)                    # as every change of the store ends: readers list it
    return started


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
    airflow.wait_until(lambda: registered(airflow, project) >= count, 1800, f"{count} DAGs of {project}", interval=1)
    return time.time() - started


def registration(topology, count: int, work: Path) -> dict:
    airflow = topology.airflow
    staging = work / f"ours{count}_store"
    deploy_seconds = deploy_ours(count, f"ours{count}", staging, work)
    started = upload(topology, staging)
    ours_seconds = wait_registered(airflow, f"ours{count}", count, started)

    hand = airflow.dags / f"hand{count}"
    write_handwritten(count, f"hand{count}", work / f"hand{count}")
    started = time.time()
    (work / f"hand{count}").rename(hand)                   # the dags folder is on the same disk
    hand_seconds = wait_registered(airflow, f"hand{count}", count, started)

    one_more = work / f"one_more_{count}" / "flow.py"      # a folder of its own: the code package is this file
    one_more.parent.mkdir()
    one_more.write_text(ours(f"ours{count}", 0, None))
    began = time.perf_counter()
    created = create_through_api(topology, work, one_more, "--branch", "extra")
    create_seconds = time.perf_counter() - began
    assert created.returncode == 0 and "Deployed ours" in created.stdout, (created.stdout, created.stderr)
    return {"count": count, "ours": ours_seconds, "hand": hand_seconds, "create": create_seconds,
            "deploy_in_process": deploy_seconds}


def create_through_api(topology, work: Path, flow_file: Path, *options: str) -> subprocess.CompletedProcess:
    """`python <flow_file> [options] airflow create` as alice types it on a client with an AIRFLOW_HOME of its
    own, through the plugin's API (the harness's Airflow runs in all-admins mode: no credentials)."""
    home = work / "client_home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k not in USER_VARS}
    env.update({"AIRFLOW_HOME": str(home), "USER": "alice",
                "AIRFLOW__FLOW_TRIGGERS__API_URL": topology.airflow.url})
    return subprocess.run([sys.executable, str(flow_file), *options, "airflow", "create"], env=env,
                          capture_output=True, text=True, timeout=300, cwd=flow_file.parent)


FAN_UP = '''from airflow_flow_triggers import FlowSpec, project, step

@project(name='scale')
class Upstream(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    Upstream()
'''

FAN_DOWN = '''from airflow_flow_triggers import FlowSpec, project, step, trigger_on_finish

@trigger_on_finish(flow='scale.prod.Upstream')
@project(name='scale')
class Consumer(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
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


def fan_out(topology, consumers: int, work: Path) -> dict:
    airflow = topology.airflow
    up = work / "fan_up" / "upstream.py"                         # production: only a signed deployment will do
    up.parent.mkdir()
    up.write_text(FAN_UP)
    created = create_through_api(topology, work, up, "--production")
    assert created.returncode == 0 and "Deployed scale.prod.Upstream" in created.stdout, (created.stdout,
                                                                                          created.stderr)
    down = work / "fan_down"
    down.mkdir()
    (down / "consumer.py").write_text(FAN_DOWN)
    staging = work / "fan_store"                                 # one deployment per branch, one code package
    deploy_staged(down, [("consumer.py", f"c{n:03d}") for n in range(consumers)], staging)
    upload(topology, staging)
    airflow.drop("handfan/upstream.py", HAND_UP)
    for first in range(0, consumers, 10):                        # ten consumers per file
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
            [run] = airflow.wait_until(lambda d=dag_id: [r for r in airflow.runs(d) if r["start_date"]], 900,
                                  f"{dag_id} to start")
            starts.append(_time(run["start_date"]))
        result[name] = (max(starts) - finished).total_seconds()
    return result


BURST_UP = '''from airflow_flow_triggers import FlowSpec, Parameter, project, step

@project(name='scale')
class BurstUp(FlowSpec):
    batch = Parameter('batch', default=0)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    BurstUp()
'''

BURST_DOWN = '''from airflow_flow_triggers import FlowSpec, project, step, trigger_on_finish

@trigger_on_finish(flow='BurstUp')
@project(name='scale')
class BurstDown(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    BurstDown()
'''

# Airflow's own way to one downstream run per upstream run: a keyed outlet event, a partitioned consumer.
HAND_BURST = '''import pendulum
from airflow.sdk import DAG, Asset, PartitionedAssetTimetable, task

done = Asset(name="handburst.Up", uri="x-hand://handburst.Up")
start_date = pendulum.datetime(2024, 1, 1, tz="UTC")

with DAG("handburst.Up", schedule=None, start_date=start_date, catchup=False, is_paused_upon_creation=False,
         tags=["project:handburst"]):
    @task
    def start():
        return 1

    @task(outlets=[done])
    def end(x, **context):
        context["outlet_events"][done].add_partitions(context["run_id"])

    end(start())

with DAG("handburst.Down", schedule=PartitionedAssetTimetable(assets=done), start_date=start_date, catchup=False,
         is_paused_upon_creation=False, tags=["project:handburst"]):
    @task
    def start():
        return 1

    @task
    def end(x):
        return x

    end(start())
'''


def burst(topology, size: int, work: Path) -> dict:
    """`size` finishes of one upstream at once: seconds from the first upstream run's end task ending to the
    last downstream run ending, ours (deployed through the API) against hand-written partitioned DAGs, one
    after the other; and how many downstream runs each side made (one per finish is the rule)."""
    airflow = topology.airflow
    for name, source in (("burstup.py", BURST_UP), ("burstdown.py", BURST_DOWN)):
        flow = work / "burst" / name
        flow.parent.mkdir(exist_ok=True)
        flow.write_text(source)
        created = create_through_api(topology, work, flow, "--branch", "burst")
        assert created.returncode == 0, (created.stdout, created.stderr)
    airflow.drop("handburst/pair.py", HAND_BURST)
    for dag_id in ("scale.test.burst.BurstUp", "scale.test.burst.BurstDown", "handburst.Up", "handburst.Down"):
        airflow.wait_for_dag(dag_id, timeout=600)
    result = {}
    for name, up, down in (("ours", "scale.test.burst.BurstUp", "scale.test.burst.BurstDown"),
                           ("hand", "handburst.Up", "handburst.Down")):
        runs = [airflow.trigger(up, {"batch": n} if name == "ours" else None) for n in range(size)]
        ups = [airflow.wait_for_run(up, run_id, timeout=3600) for run_id in runs]
        downs = airflow.wait_for_runs(down, size, timeout=3600)
        airflow.quiet(timeout=3600)
        downs = airflow.runs(down)
        ends = [next(ti for ti in airflow.task_instances(up, run["dag_run_id"]) if ti["task_id"] == "end")["end_date"]
                for run in ups[:1]]
        first_end = _time(ends[0])
        last = max(_time(run["end_date"]) for run in downs)
        result[name] = {"seconds": (last - first_end).total_seconds(), "downstream_runs": len(downs),
                        "succeeded": sum(run["state"] == "success" for run in downs)}
    return result


def branch_endpoint(topology, project: str, branches: list[str], requests: int) -> dict:
    """The plugin's branch endpoint at this many deployments: p50/p95 of `requests` GETs round-robin over
    `branches`, and the SQL statements of one request (the endpoint's own function, counted in a process on
    the same database)."""
    import statistics
    airflow = topology.airflow
    timings = []
    for n in range(requests + len(branches)):               # one warm-up pass
        began = time.perf_counter()
        airflow.request("GET", f"/flow-triggers/api/projects/{project}/branches/{branches[n % len(branches)]}")
        if n >= len(branches):
            timings.append((time.perf_counter() - began) * 1000)
    from plugin_api import COUNT_QUERIES
    env = {**os.environ, **airflow.env}
    counted = subprocess.run([sys.executable, "-c", COUNT_QUERIES, json.dumps([[project, b] for b in branches[:2]])],
                             env=env, capture_output=True, text=True, timeout=600)
    assert counted.returncode == 0, counted.stderr[-3000:]
    counts = json.loads(counted.stdout.strip().splitlines()[-1])
    timings.sort()
    return {"p50_ms": statistics.median(timings), "p95_ms": timings[int(len(timings) * 0.95) - 1],
            "statements": sorted({c["statements"] for c in counts.values()})}


def _time(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--fan-out", type=int, default=100)
    parser.add_argument("--burst", type=int, default=200, help="finishes of one upstream at once")
    parser.add_argument("--endpoint-requests", type=int, default=200)
    args = parser.parse_args()
    missing = tools_missing()
    if missing:
        raise SystemExit(f"bench/scale.py needs {', '.join(missing)}")
    base = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    os.environ["AIRFLOW_HOME"] = str(base / "bench_home")     # this process imports Airflow to deploy; not ~/airflow
    topology = Topology(base, AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="2",
                        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="600",   # parse each file once
                        AIRFLOW__FLOW_TRIGGERS__MAX_TRIGGER_DEPTH="20")
    began = time.time()
    try:
        topology.start()
        print(f"topology up in {time.time() - began:.0f} s", flush=True)
        rows = [registration(topology, count, base) for count in args.counts]
        print("\n| deployments | registered: ours | hand-written | ratio (target <= 1.3) | dag-processor per file: "
              "ours / hand-written | `airflow create` of one more (target <= 2 s) | the N `create()` calls in one "
              "process |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            print(f"| {row['count']} | {row['ours']:.1f} s | {row['hand']:.1f} s | {row['ours'] / row['hand']:.2f} | "
                  f"{row['ours'] / row['count'] * 1000:.0f} / {row['hand'] / row['count'] * 1000:.0f} ms | "
                  f"{row['create']:.2f} s | {row['deploy_in_process']:.1f} s |", flush=True)
        largest = max(args.counts)
        endpoint = branch_endpoint(topology, f"ours{largest}", [f"test.b{b:03d}" for b in range(largest // 10)],
                                   args.endpoint_requests)
        print(f"\nbranch endpoint at {largest} deployments ({largest // 10} branches of 10), "
              f"{args.endpoint_requests} requests: p50 {endpoint['p50_ms']:.1f} ms, p95 {endpoint['p95_ms']:.1f} ms; "
              f"SQL statements per request: {endpoint['statements']}", flush=True)
        fan = fan_out(topology, args.fan_out, base)
        print(f"\n| fan-out to {args.fan_out} consumers | ours | hand-written | ratio (target <= 1.2) |")
        print("|---|---|---|---|")
        print(f"| upstream finish -> last consumer run started | {fan['ours']:.1f} s | {fan['hand']:.1f} s | "
              f"{fan['ours'] / fan['hand']:.2f} |")
        if args.burst:
            result = burst(topology, args.burst, base)
            print(f"\n| burst of {args.burst} finishes of one upstream | ours | hand-written partitioned DAGs | ratio "
                  "(target <= 1.2) |")
            print("|---|---|---|---|")
            print(f"| first upstream end -> last downstream run end | {result['ours']['seconds']:.0f} s | "
                  f"{result['hand']['seconds']:.0f} s | {result['ours']['seconds'] / result['hand']['seconds']:.2f} |")
            ours, hand = result["ours"], result["hand"]
            print(f"| downstream runs (succeeded) | {ours['downstream_runs']} ({ours['succeeded']}) | "
                  f"{hand['downstream_runs']} ({hand['succeeded']}) | |", flush=True)
        print(f"\nwhole bench: {time.time() - began:.0f} s")
    finally:
        topology.stop()


if __name__ == "__main__":
    main()
