"""`python flow.py airflow create` to the DAG listed by Airflow: through the plugin's API vs `--dags-folder`.

    .venv/bin/python bench/deploy.py [--repeat 5] [--many 100]

On the tests' harness (airflow_flow_triggers/sandbox/harness.py: SQLite, LocalExecutor, all-admins auth), a small
@project flow (start -> end) is deployed to a new branch each time (`--branch b<n>`, so every deploy is a
new DAG), as a user types it, in a subprocess; measured from starting the command to Airflow's REST API
answering 200 for `GET /api/v2/dags/<project>.test.b<n>.DeployFlow` (polled every 0.1 s from the start):

1. through the API: no --dags-folder, AIRFLOW__FLOW_TRIGGERS__API_URL = the harness's api-server, a
   client AIRFLOW_HOME of its own (an untimed `airflow list` first writes its airflow.cfg); the
   api-server writes the deployment store (the dags folder) and files a priority parsing request, so
   the dag-processor refreshes the bundle and parses the new file at once;
2. with `--dags-folder <the harness's dags folder>` (the harness's own AIRFLOW_HOME, as on the machine
   Airflow runs on): the file waits for the dag-processor's next refresh of the dags folder. Each of
   these deploys starts after a random pause of 0 to refresh_interval seconds (not counted), so that it
   begins at a random point of the refresh cycle, as a user's would, and not just after a refresh;

--repeat times each, alternately, on two Airflows one after the other: one with the harness's own
dag-processor intervals (refresh_interval 2 s, min_file_process_interval 5 s) and one with Airflow's
defaults (300 s and 30 s). Then, on the first:

3. --many deployments through the API one after another (branches m000...): the total, each command's
   median and p95, and the time from the first command's start until all of them are listed.

The goal: <= 10 s from `airflow create` to listed through the API on the test harness.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from pathlib import Path

from airflow_flow_triggers.sandbox.harness import USER_VARS, AirflowHarness

FLOW = '''from airflow_flow_triggers import FlowSpec, project, step


@project(name='{project}')
class DeployFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    DeployFlow()
'''

# the harness's refresh_interval (2 s), with the min_file_process_interval it had when bench/README.md's figures
# were taken (5 s; it is Airflow's 30 s now)
HARNESS = {"AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5"}
AIRFLOW_DEFAULTS = {"AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "300",
                    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30"}
POLL = 0.1


class Deployer:
    """`python <flow> --branch B airflow create [...]` against one harness, timed to the DAG being listed."""

    def __init__(self, airflow: AirflowHarness, work: Path):
        self.airflow = airflow
        self.refresh_interval = float(airflow.env["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"])
        self.flows = {}
        for project in ("deploybench", "deploymany"):            # a folder each: each is its own code package
            path = work / project / "deployflow.py"
            path.parent.mkdir(parents=True)
            path.write_text(FLOW.format(project=project))
            self.flows[project] = path
        client_home = work / "client_home"
        client_home.mkdir()
        client = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k not in USER_VARS}
        self.env = {
            "api": {**client, "AIRFLOW_HOME": str(client_home), "USER": "alice", "PYTHONUNBUFFERED": "1",
                    "AIRFLOW__FLOW_TRIGGERS__API_URL": airflow.url},
            "folder": {**{k: v for k, v in airflow.env.items() if k not in USER_VARS}, "USER": "alice"}}

    def command(self, path: str, project: str, *args: str) -> subprocess.Popen:
        options = ["--dags-folder", str(self.airflow.dags)] if path == "folder" and args[-1] == "create" else []
        flow = self.flows[project]
        return subprocess.Popen([sys.executable, str(flow), *args, *options], env=self.env[path], cwd=flow.parent,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def warm_up(self) -> None:
        """The client's first command writes its AIRFLOW_HOME's airflow.cfg: not part of any deploy."""
        listed = self.command("api", "deploybench", "airflow", "list")
        out, err = listed.communicate(timeout=300)
        if listed.returncode != 0:
            raise RuntimeError(f"airflow list failed:\n{err}")

    def deploy(self, path: str, branch: str, project: str = "deploybench", wait: bool = True) -> dict:
        """Seconds of the command, and (with `wait`) from its start to the DAG listed by the REST API."""
        dag_id = f"{project}.test.{branch}.DeployFlow"
        began = time.perf_counter()
        process = self.command(path, project, "--branch", branch, "airflow", "create")
        ended = []
        output = {}

        def finish():
            output["out"], output["err"] = process.communicate()
            ended.append(time.perf_counter())
        waiter = threading.Thread(target=finish)
        waiter.start()
        listed = None
        deadline = began + 2 * self.refresh_interval + 180
        while wait and listed is None:
            if ended and process.returncode != 0:
                break
            if self.listed(dag_id):
                listed = time.perf_counter() - began
            elif time.perf_counter() > deadline:
                raise TimeoutError(f"{dag_id} not listed {deadline - began:.0f} s after `airflow create`; import "
                                   f"errors: {self.airflow.import_errors()}")
            else:
                time.sleep(POLL)
        waiter.join()
        if process.returncode != 0 or "Deployed " not in output["out"]:
            raise RuntimeError(f"`airflow create` of {dag_id} ({path}) failed:\n{output['out']}\n{output['err']}")
        return {"command": ended[0] - began, "listed": listed}

    def listed(self, dag_id: str) -> bool:
        try:
            self.airflow.api("GET", f"dags/{dag_id}")
            return True
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise

    def count(self, project: str) -> int:
        return self.airflow.api("GET", f"dags?limit=1&tags=project:{project}")["total_entries"]


def repeated(deployer: Deployer, repeat: int, first: int, rng: random.Random, label: str) -> dict:
    results = {"api": [], "folder": []}
    for n in range(first, first + 2 * repeat):          # b<first>, b<first + 1>, ...: a new DAG each time
        path = ("api", "folder")[n % 2]
        if path == "folder":
            time.sleep(rng.uniform(0, deployer.refresh_interval))     # a random point of the refresh cycle
        result = deployer.deploy(path, f"b{n}")
        results[path].append(result)
        print(f"  {label}, {path}: b{n} command {result['command']:.2f} s, listed after {result['listed']:.2f} s",
              flush=True)
    return results


def many(deployer: Deployer, count: int) -> dict:
    began = time.perf_counter()
    commands = [deployer.deploy("api", f"m{n:03d}", project="deploymany", wait=False)["command"]
                for n in range(count)]
    created = time.perf_counter() - began
    deployer.airflow.wait_until(lambda: deployer.count("deploymany") >= count, 900, f"{count} DAGs listed",
                                interval=POLL)
    listed = time.perf_counter() - began
    commands.sort()
    return {"count": count, "total": created, "median": statistics.median(commands),
            "p95": commands[max(0, round(0.95 * count) - 1)], "max": commands[-1], "listed": listed,
            "after_last": listed - created}


def on_harness(settings: dict, repeat: int, first: int, count: int, rng: random.Random, label: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_deploy_") as tmp:
        airflow = AirflowHarness(Path(tmp) / "airflow", **settings)
        try:
            airflow.start()
            deployer = Deployer(airflow, Path(tmp))
            deployer.warm_up()
            print(f"{label}: Airflow up; refresh_interval {deployer.refresh_interval:.0f} s, min_file_process_interval "
                  f"{airflow.env['AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL']} s", flush=True)
            results = repeated(deployer, repeat, first, rng, label)
            if count:
                results["many"] = many(deployer, count)
                print(f"  {label}, {count} through the API: {results['many']}", flush=True)
        finally:
            airflow.stop()
    return results


def row(case: str, intervals: str, runs: list[dict]) -> str:
    commands = [r["command"] for r in runs]
    listed = [r["listed"] for r in runs]
    return (f"| {case} | {intervals} | {len(runs)} | {statistics.median(commands):.2f} / {max(commands):.2f} s | "
            f"{statistics.median(listed):.2f} / {max(listed):.2f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--many", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1, help="of the random pauses before --dags-folder deploys")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    began = time.time()
    harness = on_harness(HARNESS, args.repeat, 0, args.many, rng, "harness intervals")
    defaults = on_harness(AIRFLOW_DEFAULTS, args.repeat, 2 * args.repeat, 0, rng, "Airflow's default intervals")

    print(f"\n## `airflow create` to listed by the REST API ({args.repeat} deploys each, new branch each time)\n")
    print("| path | dag-processor intervals (refresh / min file process) | deploys | `airflow create` command, "
          "median / max | create → `GET /api/v2/dags/{id}` 200, median / max (goal through the API <= 10 s) |")
    print("|---|---|---|---|---|")
    for results, intervals in ((harness, "harness: 2 s / 5 s"), (defaults, "Airflow's defaults: 300 s / 30 s")):
        print(row("through the API", intervals, results["api"]))
        print(row("`--dags-folder`", intervals, results["folder"]))
    if args.many:
        m = harness["many"]
        print(f"| {m['count']} through the API, one after another | harness: 2 s / 5 s | {m['count']} | "
              f"{m['median']:.2f} s median, {m['p95']:.2f} s p95, {m['max']:.2f} s max; {m['total']:.1f} s in all | "
              f"all {m['count']} listed {m['listed']:.1f} s after the first began ({m['after_last']:.1f} s after the "
              "last returned) |")
    imports = import_seconds(args.repeat)
    print(f"\nWhere the command's time goes: `python -c 'import airflow'` {imports['airflow']:.2f} s, "
          f"`python -c 'import airflow_flow_triggers'` {imports['package']:.2f} s (median of {args.repeat}); "
          "the command builds the DAG as Airflow will, so it imports Airflow.")
    print(f"\nwhole bench: {time.time() - began:.0f} s")


def import_seconds(repeat: int) -> dict:
    """Wall seconds of a fresh interpreter importing Airflow, and this package (which does not import it)."""
    import statistics
    found = {}
    for name, module in (("airflow", "airflow"), ("package", "airflow_flow_triggers")):
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            subprocess.run([sys.executable, "-c", f"import {module}"], check=True, capture_output=True)
            times.append(time.perf_counter() - began)
        found[name] = statistics.median(times)
    return found


if __name__ == "__main__":
    main()
