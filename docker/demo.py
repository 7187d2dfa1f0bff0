"""The main job: a real Airflow (SQLite, LocalExecutor) with the example flows deployed and triggered.

    make demo                                  # or: .venv/bin/python docker/demo.py [--keep-running]

Starts api-server, scheduler and dag-processor on `.demo/` (SQLite, LocalExecutor), deploys the
seed flows of dags/ with `python <flow>.py [--branch B] airflow create` and its Airflow DAGs with
`python -m airflow_flow_triggers airflow create <file>` (through the api-server), starts the first flow
of every chain with `python <flow>.py airflow trigger`, waits for the downstream flows and DAGs to start
by themselves and finish, and prints what happened. With --keep-running,
Airflow stays up (UI address printed) until Ctrl-C or SIGTERM; either stops it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from airflow_flow_triggers import Run
from airflow_flow_triggers.naming import current_user
from airflow_flow_triggers.runtime.store import ArtifactStore
from airflow_flow_triggers.sandbox.harness import AirflowHarness

REPO = Path(__file__).resolve().parent.parent

# (flow file, top-level options) of every deployment, as a user types `python <file> <options> airflow create`
DEPLOYMENTS = [
    ("firstflow.py", []), ("secondflow.py", []),
    ("modelrefreshflow.py", []), ("inferenceflow.py", []),
    ("firstproject.py", []), ("secondproject.py", []),
    ("firstproject.py", ["--branch", "new_model"]), ("secondproject.py", ["--branch", "new_model"]),
    ("project_flow.py", []), ("fanout_flow.py", []),
    # Airflow DAGs of the project, deployed with `python -m airflow_flow_triggers airflow create <file>`:
    # FirstProjectFlow -> daily_report (TaskFlow) -> publish_report (classic) -> ArchiveReportFlow
    ("daily_report.py", []), ("publish_report.py", []), ("archiveflow.py", []),
]
DAG_FILES = {"daily_report.py", "publish_report.py"}
# the DAGs and flow that follow Alice's FirstProjectFlow after its finish, and the task whose log shows what it read
MIXED_CHAIN = [("daily_report", "summarize"), ("publish_report", "publish"), ("ArchiveReportFlow", "start")]


def command(name: str, action: str, *options: str) -> list[str]:
    """The arguments of `python ...` for `airflow <action>` of a flow file or a project DAG file."""
    if name in DAG_FILES:
        return ["-m", "airflow_flow_triggers", "airflow", action, name, *options]
    return [name, *options, "airflow", action]


def flow_command(airflow, *args: str) -> str:
    """`python <flow file> ...` in dags/, pointed at this Airflow; prints and returns what it printed."""
    env = dict(os.environ, AIRFLOW_HOME=str(airflow.home), AIRFLOW__FLOW_TRIGGERS__API_URL=airflow.url,
               AIRFLOW__CORE__DAGS_FOLDER=str(airflow.dags))
    print(f"$ python {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, *args], cwd=REPO / "dags", env=env, capture_output=True, text=True)
    for line in (result.stdout + result.stderr).splitlines():
        print(f"  {line}", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"python {' '.join(args)} failed")
    return result.stdout


def main() -> int:
    """Exit status 0 when every chain ran as it should: each upstream and downstream run succeeded, and each
    downstream flow ran exactly once."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-running", action="store_true", help="leave Airflow up until Ctrl-C")
    parser.add_argument("--home", default=str(REPO / ".demo"), help="where Airflow's home and dags go")
    args = parser.parse_args()
    # kill, systemd and containers stop a process with SIGTERM: leave through `finally` as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    user = current_user()
    base = Path(args.home)
    shutil.rmtree(base, ignore_errors=True)
    airflow = AirflowHarness(base)
    store = ArtifactStore(f"file://{airflow.home}/flow_triggers/artifacts")
    print(f"Starting Airflow (SQLite, LocalExecutor) in {base} ...", flush=True)
    wrong: list[str] = []
    try:
        airflow.start()
        print(f"Airflow is up at {airflow.url}; deploying the example flows through its api-server into "
              f"{airflow.dags}\n", flush=True)
        for name, options in DEPLOYMENTS:
            flow_command(airflow, *command(name, "create", *options))
        chains = [("firstflow.py", [], [], "FirstFlow", "SecondFlow"),
                  ("modelrefreshflow.py", [], ["--scale", "3"], "ModelRefreshFlow", "InferenceFlow"),
                  ("firstproject.py", [], [], f"variant_demo.user.{user}.FirstProjectFlow",
                   f"variant_demo.user.{user}.SecondProjectFlow"),
                  ("firstproject.py", ["--branch", "new_model"], [], "variant_demo.test.new_model.FirstProjectFlow",
                   "variant_demo.test.new_model.SecondProjectFlow"),
                  ("fanout_flow.py", [], ["--alpha", "0.5", "--n", "20"], f"example_project.user.{user}.FanoutFlow",
                   None)]
        for *_, upstream, downstream in chains:
            for dag_id in filter(None, (upstream, downstream)):
                airflow.wait_for_dag(dag_id)
        for name, options, params, upstream, downstream in chains:
            print(flush=True)
            started = flow_command(airflow, name, *options, "airflow", "trigger", *params)
            run_id = started.split(" run ", 1)[1].split()[0]
            state = airflow.wait_for_run(upstream, run_id)["state"]
            print(f"  {upstream} {run_id}: {state}", flush=True)
            if state != "success":
                wrong.append(f"{upstream} {run_id} ended {state}")
                continue
            if downstream:
                run = started_by_itself(airflow, downstream, wrong)
                if run is None:
                    continue
                report(airflow, store, downstream, run["dag_run_id"])
            else:
                data = Run(f"{upstream}/{run_id}", store=store).data
                print(f"  artifacts: {len(data.values)} values, sum {sum(data.values):.1f}", flush=True)
            if upstream == f"variant_demo.user.{user}.FirstProjectFlow":
                wrong += mixed_chain(airflow, user)
        airflow.quiet()
        downstreams = [chain[-1] for chain in chains if chain[-1]]
        downstreams += [f"variant_demo.user.{user}.{name}" for name, _ in MIXED_CHAIN]
        wrong += [f"{d} ran {len(airflow.runs(d))} times, not once" for d in downstreams if len(airflow.runs(d)) != 1]
        print("\nEvery chain completed; each branch triggered only its own downstream flow." if not wrong
              else f"\nThe chains did not run as they should: {'; '.join(wrong)}.", flush=True)
        print(flush=True)
        flow_command(airflow, "secondproject.py", "airflow", "why")     # what started alice's newest run
        flow_command(airflow, "firstproject.py", "airflow", "why")      # and what her upstream's finish started
        flow_command(airflow, *command("publish_report.py", "why"))     # a DAG started by a DAG, starting a flow
        show_plugin(airflow, user)
        if args.keep_running:
            print(f"\nAirflow UI: {airflow.url} (\"Flow branches\" in the navigation; Assets shows the finish "
                  "assets). Ctrl-C or SIGTERM stops Airflow.", flush=True)
            airflow.processes["api-server"].wait()
    except KeyboardInterrupt:
        pass
    finally:
        airflow.stop()
        print("Airflow stopped.")
    return 1 if wrong else 0


def show_plugin(airflow, user: str) -> None:
    """What the plugin's API says about the deployed projects and Alice's branch."""
    print("\n$ curl -H 'Authorization: Bearer ...' /flow-triggers/api/projects", flush=True)
    print("  " + json.dumps(airflow.request("GET", "/flow-triggers/api/projects")), flush=True)
    print(f"$ curl ... /flow-triggers/api/projects/variant_demo/branches/user.{user}", flush=True)
    view = airflow.request("GET", f"/flow-triggers/api/projects/variant_demo/branches/user.{user}")
    for deployment in view["deployments"]:
        run = deployment["last_run"] or {}
        print(f"  {deployment['dag_id']}: owner {deployment['owner']}, last run {run.get('state')}, "
              f"triggered by {deployment['triggered_by'] or '-'}, triggers {deployment['triggers'] or '-'}", flush=True)
    print(f"  Page: {airflow.url}/flow-triggers/ (in Airflow's UI: {airflow.url}/plugin/flow-branches)", flush=True)


def mixed_chain(airflow, user: str) -> list[str]:
    """Alice's FirstProjectFlow also started her DAGs and, after them, a flow: wait for each, show what it read."""
    wrong = []
    for name, task_id in MIXED_CHAIN:
        dag_id = f"variant_demo.user.{user}.{name}"
        run = started_by_itself(airflow, dag_id, wrong)
        for line in (e.get("event", "") for e in airflow.task_log(dag_id, run["dag_run_id"], task_id)) if run else ():
            if line.startswith(("branch ", "publishing ", "Archiving ")):
                print(f"  {dag_id} printed: {line}", flush=True)
    return wrong


def started_by_itself(airflow, dag_id: str, wrong: list[str]) -> dict | None:
    """The one run of `dag_id` that started by itself, once finished, printed; None (said in `wrong`) if it failed."""
    [run] = airflow.wait_for_runs(dag_id, 1)
    run = airflow.wait_for_run(dag_id, run["dag_run_id"])
    print(f"  -> started by itself: {dag_id} {run['dag_run_id']}: {run['state']}", flush=True)
    if run["state"] == "success":
        return run
    wrong.append(f"{dag_id} {run['dag_run_id']} ended {run['state']}")
    return None


def report(airflow, store, dag_id: str, run_id: str) -> None:
    run = Run(f"{dag_id}/{run_id}", store=store)
    printed = [e.get("event", "") for e in airflow.task_log(dag_id, run_id, "start")]
    for line in printed:
        if line.startswith(("This ", "Triggering", "Model")):
            print(f"  {dag_id} printed: {line}", flush=True)
    print(f"  current.trigger.run = {run.trigger.run.pathspec}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
