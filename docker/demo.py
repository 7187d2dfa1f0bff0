"""The main job: a real Airflow (SQLite, LocalExecutor) with the example flows deployed and triggered.

    make demo                                  # or: .venv/bin/python docker/demo.py [--keep-running]

Starts api-server, scheduler and dag-processor on `.demo/` (SQLite, LocalExecutor), deploys the
seed flows of dags/ (each with its one `build_dag(...)` line), triggers the first flow of every
chain with `airflow dags trigger`, waits for the downstream flows to start by themselves and finish,
and prints what happened. With --keep-running, Airflow stays up (UI address printed) until Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from airflow_harness import AirflowHarness  # noqa: E402

from airflow_flow_triggers import Run  # noqa: E402
from airflow_flow_triggers.naming import current_user  # noqa: E402
from airflow_flow_triggers.store import ArtifactStore  # noqa: E402


def deployments(user: str) -> dict[str, list[str]]:
    """Each example file and the build_dag line(s) that deploy it."""
    return {
        "firstflow.py": ["dag = build_dag(FirstFlow)"],
        "secondflow.py": ["dag = build_dag(SecondFlow)"],
        "modelrefreshflow.py": ["dag = build_dag(ModelRefreshFlow)"],
        "inferenceflow.py": ["dag = build_dag(InferenceFlow)"],
        "firstproject.py": [f"dag = build_dag(FirstProjectFlow, user='{user}')",
                            "new_model = build_dag(FirstProjectFlow, branch='new_model')"],
        "secondproject.py": [f"dag = build_dag(SecondProjectFlow, user='{user}')",
                             "new_model = build_dag(SecondProjectFlow, branch='new_model')"],
        "project_flow.py": [f"dag = build_dag(ProjectFlow, user='{user}')"],
        "fanout_flow.py": [f"dag = build_dag(FanoutFlow, user='{user}')"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-running", action="store_true", help="leave Airflow up until Ctrl-C")
    parser.add_argument("--home", default=str(REPO / ".demo"), help="where Airflow's home and dags go")
    args = parser.parse_args()
    user = current_user()
    base = Path(args.home)
    shutil.rmtree(base, ignore_errors=True)
    airflow = AirflowHarness(base)
    for name, lines in deployments(user).items():
        source = (REPO / "dags" / name).read_text()
        airflow.drop(name, source + "\nfrom airflow_flow_triggers import build_dag\n" + "\n".join(lines) + "\n")
    store = ArtifactStore(f"file://{airflow.home}/flow_triggers/artifacts")
    print(f"Starting Airflow (SQLite, LocalExecutor) in {base} ...", flush=True)
    try:
        airflow.start()
        print(f"Airflow is up at {airflow.url}; the example flows are in {airflow.dags}", flush=True)
        chains = [("FirstFlow", "SecondFlow", None),
                  ("ModelRefreshFlow", "InferenceFlow", {"scale": 3.0}),
                  (f"variant_demo.user.{user}.FirstProjectFlow", f"variant_demo.user.{user}.SecondProjectFlow", None),
                  ("variant_demo.test.new_model.FirstProjectFlow", "variant_demo.test.new_model.SecondProjectFlow",
                   None),
                  (f"example_project.user.{user}.FanoutFlow", None, {"alpha": 0.5, "n": 20})]
        for upstream, downstream, _ in chains:
            for dag_id in filter(None, (upstream, downstream)):
                airflow.wait_for_dag(dag_id)
        for upstream, downstream, conf in chains:
            run_id = airflow.trigger(upstream, conf)
            shown = f" -c '{json.dumps(conf)}'" if conf else ""
            print(f"\n$ airflow dags trigger {upstream}{shown}", flush=True)
            state = airflow.wait_for_run(upstream, run_id)["state"]
            print(f"  {upstream} {run_id}: {state}", flush=True)
            if downstream:
                [run] = airflow.wait_for_runs(downstream, 1)
                print(f"  -> started by itself: {downstream} {run['dag_run_id']}: {run['state']}", flush=True)
                report(airflow, store, downstream, run["dag_run_id"])
            else:
                data = Run(f"{upstream}/{run_id}", store=store).data
                print(f"  artifacts: {len(data.values)} values, sum {sum(data.values):.1f}", flush=True)
        airflow.settle(5)
        downstreams = [d for _, d, _ in chains if d]
        others = [d for d in downstreams if len(airflow.runs(d)) != 1]
        print("\nEvery chain completed; each branch triggered only its own downstream flow." if not others
              else f"\nUnexpected runs in {others}", flush=True)
        if args.keep_running:
            print(f"\nAirflow UI: {airflow.url} (Assets shows the finish assets). Ctrl-C stops Airflow.", flush=True)
            airflow.processes[0].wait()
    except KeyboardInterrupt:
        pass
    finally:
        airflow.stop()
        print("Airflow stopped.")


def report(airflow, store, dag_id: str, run_id: str) -> None:
    run = Run(f"{dag_id}/{run_id}", store=store)
    printed = [e.get("event", "") for e in airflow.task_log(dag_id, run_id, "start")]
    for line in printed:
        if line.startswith(("This ", "Triggering", "Model")):
            print(f"  {dag_id} printed: {line}", flush=True)
    print(f"  current.trigger.run = {run.trigger.run.pathspec}", flush=True)


if __name__ == "__main__":
    main()
