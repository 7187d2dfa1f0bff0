"""The plugin's branch endpoint with 500 deployed flows across 50 branches: latency and query count.

    .venv/bin/python bench/plugin_api.py [--branches 50 --flows 10 --requests 200]

Starts a real Airflow (airflow_flow_triggers/sandbox/harness.py: SQLite, LocalExecutor), drops 50 x 10 generated DAG
files (each branch a chain: flow i is triggered by flow i-1's finish; a gate DAG joins two flows
per branch) into their branch folders of the deployment store (the dags folder), bench/test.<branch>/,
as the cluster policy requires; waits until the dag-processor has registered all of them, runs the
chains of 5 branches (so runs and finish events exist to report), then:

- times GET /flow-triggers/api/projects/bench/branches/<branch> over many requests (round-robin over
  the branches, one warm-up pass), and reports p50/p95/max;
- counts the SQL statements one branch request makes, in a separate process on the same database, by
  calling the endpoint's own function (`plugin.api.branch_detail`, the auth manager's readable-DAG
  query included) with an admin user, for a branch of 2 flows and a branch of 10: the count must not
  grow with the branch.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from airflow_flow_triggers.sandbox.harness import AirflowHarness

REPO = Path(__file__).resolve().parent.parent

FLOW = '''
from airflow_flow_triggers import FlowSpec, project, step, trigger_on_finish, build_dag

{decorator}
@project(name='bench')
class Flow{i:02d}(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(Flow{i:02d}, branch='{branch}')
'''

COUNT_QUERIES = '''
import json, sys
from sqlalchemy import event
from airflow import settings
from airflow.api_fastapi.app import init_auth_manager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow_flow_triggers.plugin.api import branch_detail

init_auth_manager()                     # the endpoint asks Airflow's auth manager for the readable DAGs
counts = {}
statements = []
event.listen(settings.engine, "before_cursor_execute", lambda *args, **kw: statements.append(args[2]))
user = SimpleAuthManagerUser(username="admin", role="admin")
for project, branch in json.loads(sys.argv[1]):
    with settings.Session() as session:
        statements.clear()
        view = branch_detail(project, branch, user=user, session=session)   # the endpoint's own function
        counts[branch] = {"flows": len(view["deployments"]), "statements": len(statements)}
print(json.dumps(counts))
'''


def flow_source(i: int, branch: str) -> str:
    if i == 0:
        decorator = ""
    elif i == 9:
        decorator = "@trigger_on_finish(flows=['Flow07', 'Flow08'])"     # a wait-for-all gate in every branch
    else:
        decorator = f"@trigger_on_finish(flow='Flow{i - 1:02d}')"
    return FLOW.format(i=i, branch=branch, decorator=decorator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--flows", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--run-branches", type=int, default=5, help="branches whose chain runs before timing")
    args = parser.parse_args()
    branches = [f"b{b:02d}" for b in range(args.branches)]
    airflow = AirflowHarness(Path(tempfile.mkdtemp(prefix="bench_plugin_")),
                             AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="2",
                             AIRFLOW__FLOW_TRIGGERS__MAX_TRIGGER_DEPTH="20")  # chains of 10 flows
    try:
        airflow.start()
        for branch in branches:
            for i in range(args.flows):
                airflow.drop(f"bench/test.{branch}/flow{i:02d}.py", flow_source(i, branch))
        airflow.drop("bench/test.small/flow00.py", flow_source(0, "small"))
        airflow.drop("bench/test.small/flow01.py", flow_source(1, "small"))
        total = args.branches * args.flows + 2
        started = time.time()
        airflow.wait_until(lambda: _registered(airflow) >= total + args.branches, 1800,
                      f"{total} DAGs and {args.branches} gates to be registered", interval=5)
        print(f"registered {total} flow DAGs (+ {args.branches} gates) in {time.time() - started:.0f} s")

        for branch in branches[:args.run_branches]:               # runs and finish events to report
            airflow.api("POST", f"dags/bench.test.{branch}.Flow00/dagRuns", {"logical_date": None})
        for branch in branches[:args.run_branches]:
            airflow.wait_for_runs(f"bench.test.{branch}.Flow{args.flows - 1:02d}", 1, timeout=900)
        print(f"ran the chains of {args.run_branches} branches ({args.run_branches * args.flows} flow runs)")

        token = airflow.token()
        for branch in branches:                                   # warm-up
            airflow.request("GET", f"/flow-triggers/api/projects/bench/branches/test.{branch}", token=token)
        timings = []
        for n in range(args.requests):
            branch = branches[n % len(branches)]
            begin = time.perf_counter()
            view = airflow.request("GET", f"/flow-triggers/api/projects/bench/branches/test.{branch}", token=token)
            timings.append((time.perf_counter() - begin) * 1000)
            assert len(view["deployments"]) == args.flows
        timings.sort()
        p95 = timings[int(0.95 * len(timings)) - 1]
        print(f"GET branch ({args.flows} flows, {total} deployed): p50 {statistics.median(timings):.1f} ms, "
              f"p95 {p95:.1f} ms, max {timings[-1]:.1f} ms over {len(timings)} requests")

        counted = subprocess.run([sys.executable, "-c", COUNT_QUERIES,
                                  json.dumps([["bench", "test.small"], ["bench", f"test.{branches[0]}"]])],
                                 env=airflow.env, capture_output=True, text=True, check=True)
        counts = json.loads(counted.stdout.strip().splitlines()[-1])
        for branch, count in counts.items():
            print(f"SQL statements for branch {branch}: {count['statements']} ({count['flows']} flows)")
    finally:
        airflow.stop()


def _registered(airflow) -> int:
    return airflow.api("GET", "dags?limit=1&tags=project:bench")["total_entries"]


if __name__ == "__main__":
    main()
