"""Faults, counted: each fault repeated `--trials` times on the Celery topology, and how many trials lost or
doubled a run.

    python bench/faults.py [--trials 20] [--faults scheduler,worker,postgres,store,one_of_two_schedulers]

On the tested topology (airflow_flow_triggers/sandbox/topology.py: PostgreSQL 15, Redis, SeaweedFS's S3, the
CeleryExecutor with two workers), each trial triggers a fresh upstream run of a chain whose step `work` runs a
few seconds (it marks its start in a file), applies the fault while `work` runs, and waits until Airflow has
nothing queued, running or pending (the harness's quiet()). Then it counts, for that one finish:

- lost: the upstream run did not succeed, or no downstream run read it;
- doubled: more than one downstream run read it, or `work` succeeded more than once (two tries both done).

The faults:
- scheduler: the scheduler's process group SIGKILLed (its executor goes with it), then started again;
- worker: the Celery worker running `work` SIGKILLed, then started again (the task is retried on the other);
- postgres: `pg_ctl restart -m fast` while `work` runs (components that exit are started again, as a
  supervisor does: compose.yaml's restart policy);
- store: the S3 server stopped for a few seconds while `work` runs, then started again;
- one_of_two_schedulers: a second scheduler runs beside the first; the first is SIGKILLed (HA mode) and
  started again only after the trial.

Results go to stdout as a table (and --json FILE); bench/README.md records them with this command.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from airflow_flow_triggers import Run, namespace
from airflow_flow_triggers.runtime.store import ArtifactStore
from airflow_flow_triggers.sandbox.topology import ARTIFACT_ROOT, Topology, tools_missing

FAULTS = ("scheduler", "worker", "postgres", "store", "one_of_two_schedulers")

CHAIN = '''
import os, time
from pathlib import Path
from airflow_flow_triggers import FlowSpec, Parameter, step, retry, trigger_on_finish, current, build_dag

MARKERS = Path(os.environ['TOPOLOGY_BASE']) / 'fault_markers'

class FaultUp(FlowSpec):
    trial = Parameter('trial', default='')

    @step
    def start(self):
        self.next(self.work)

    @retry(times=3, minutes_between_retries=0)
    @step
    def work(self):
        MARKERS.mkdir(exist_ok=True)
        (MARKERS / self.trial).write_text('started')
        time.sleep(8)
        self.done = self.trial
        self.next(self.end)

    @step
    def end(self):
        pass

@trigger_on_finish(flow='FaultUp')
class FaultDown(FlowSpec):
    @step
    def start(self):
        self.trial = current.trigger.run.data.done
        self.next(self.end)

    @step
    def end(self):
        pass

up = build_dag(FaultUp)
down = build_dag(FaultDown)
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    faults = args.faults.split(",")
    unknown = set(faults) - set(FAULTS)
    if unknown or tools_missing():
        sys.exit(f"error: unknown faults {sorted(unknown)}" if unknown else f"error: missing {tools_missing()}")
    topology = Topology(Path(tempfile.mkdtemp(prefix="flow_triggers_faults_")))
    results = {}
    started = time.time()
    try:
        with topology.start().artifacts_here():
            namespace(None)
            airflow = topology.airflow
            airflow.drop("fault_chain.py", CHAIN)
            airflow.wait_for_dag("FaultUp")
            airflow.wait_for_dag("FaultDown")
            for fault in faults:
                results[fault] = [trial(topology, fault, f"{fault}-{n}") for n in range(args.trials)]
                summary = summarize(results[fault])
                print(f"{fault:<24} {summary['trials']:>3} trials: {summary['lost']} lost, {summary['doubled']} "
                      f"doubled, median {summary['median_s']:.1f} s per trial", flush=True)
    finally:
        topology.stop()
    table = {fault: summarize(outcomes) for fault, outcomes in results.items()}
    print(f"\n{'fault':<24} trials  lost  doubled  median s/trial   ({time.time() - started:.0f} s in all)")
    for fault, row in table.items():
        print(f"{fault:<24} {row['trials']:>6} {row['lost']:>5} {row['doubled']:>8} {row['median_s']:>15.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"table": table, "trials": results}, indent=2))
    return 0


def trial(topology, fault: str, name: str) -> dict:
    airflow = topology.airflow
    began = time.time()
    downs_before = len(airflow.runs("FaultDown"))
    run_id = airflow.trigger("FaultUp", {"trial": name})
    marker = topology.base / "fault_markers" / name
    airflow.wait_until(marker.exists, 300, f"trial {name}'s step 'work' to start")
    with airflow.restarting():                  # a component the fault makes exit is started again
        apply(topology, fault, run_id)
        up = airflow.wait_for_run("FaultUp", run_id, timeout=900)
        airflow.quiet(timeout=900)
    if fault == "one_of_two_schedulers":
        airflow.kill_component("scheduler2")
        airflow.start_component("scheduler")
    store = ArtifactStore(ARTIFACT_ROOT)
    readers = [run for run in airflow.runs("FaultDown")[downs_before:]
               if Run(f"FaultDown/{run['dag_run_id']}", store=store).data.trial == name]
    work_done = [ti for ti in airflow.task_instances("FaultUp", run_id) if ti["task_id"] == "work"
                 and ti["state"] == "success"]
    return {"trial": name, "upstream": up["state"], "downstream_runs": len(readers),
            "lost": up["state"] != "success" or not readers, "doubled": len(readers) > 1 or len(work_done) > 1,
            "seconds": round(time.time() - began, 1)}


def apply(topology, fault: str, run_id: str) -> None:
    airflow = topology.airflow
    if fault == "scheduler":
        airflow.kill_component("scheduler")
        airflow.start_component("scheduler")
    elif fault == "worker":
        work = next(ti for ti in airflow.task_instances("FaultUp", run_id) if ti["task_id"] == "work")
        airflow.kill_component(work["hostname"])
        topology.start_worker(work["hostname"])
    elif fault == "postgres":
        topology.postgres.restart()
    elif fault == "store":
        topology.s3.stop()
        time.sleep(5)
        topology.s3.start()
    elif fault == "one_of_two_schedulers":
        airflow.start_component("scheduler2", ["scheduler"])
        time.sleep(2)                          # both are scheduling when one dies
        airflow.kill_component("scheduler")


def summarize(outcomes: list[dict]) -> dict:
    seconds = sorted(o["seconds"] for o in outcomes)
    return {"trials": len(outcomes), "lost": sum(o["lost"] for o in outcomes),
            "doubled": sum(o["doubled"] for o in outcomes),
            "median_s": seconds[len(seconds) // 2] if seconds else 0.0}


if __name__ == "__main__":
    sys.exit(main())
