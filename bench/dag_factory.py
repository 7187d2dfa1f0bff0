"""The DAG factory vs hand-written TaskFlow DAGs, side by side on one Airflow.

    python bench/dag_factory.py [--files 200] [--runs 10]

(a) Parse time: 200 generated DAG files (flow class + `build_dag(...)`) and 200 hand-written
    TaskFlow DAG files of the same shape (5 tasks: split, join, outlet Asset on the last), each
    folder parsed by Airflow's DagBag in a fresh process, 3 times, interleaved; median seconds.
    Both claim branch user.alice of project bench, so the cluster policy wants them in that branch's
    folder of the deployment store: each folder is the store's root (the DagBag's
    AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT), and its files lie in <root>/bench/user.alice/.
(b) Run time: a 10-step linear flow and the equivalent hand-written 10-task TaskFlow DAG (XCom
    passes a small value along), deployed on one real Airflow (SQLite, LocalExecutor, started by
    the tests' harness), triggered alternately; median of end_date - start_date of the DAG runs.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from airflow_flow_triggers.sandbox.harness import AirflowHarness

GENERATED = '''
from airflow_flow_triggers import FlowSpec, project, step, build_dag

@project(name='bench')
class ParseFlow{i}(FlowSpec):
    @step
    def start(self):
        self.x = {i}
        self.next(self.a, self.b)

    @step
    def a(self):
        self.y = self.x + 1
        self.next(self.join)

    @step
    def b(self):
        self.y = self.x + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(ParseFlow{i}, user='alice')
'''

HANDWRITTEN = '''
import pendulum
from airflow.sdk import DAG, Asset, task

with DAG("bench.user.alice.HandFlow{i}", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
         catchup=False, tags=["HandFlow{i}", "project:bench", "project_branch:user.alice"],
         default_args={{"owner": "alice"}}) as dag:
    @task
    def start():
        return {i}

    @task
    def a(x):
        return x + 1

    @task
    def b(x):
        return x + 2

    @task
    def join(ys):
        return sum(ys)

    @task(outlets=[Asset(name="bench.user.alice.HandFlow{i}", uri="x-hand://HandFlow{i}", group="bench")])
    def end(total):
        return total

    x = start()
    end(join([a(x), b(x)]))
'''

PARSE = '''
import sys, time
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.perf_counter() - started
assert not bag.import_errors, bag.import_errors
print("RESULT", len(bag.dags), elapsed)
'''

LINEAR_STEPS = [f"s{i}" for i in range(1, 9)]
BRANCH_FOLDER = "bench/user.alice"      # <deployments root>/<project>/<branch>/, as the cluster policy requires


def linear_flow() -> str:
    chain = ["start", *LINEAR_STEPS, "end"]
    steps = []
    for here, after in zip(chain, chain[1:] + [None], strict=True):
        body = "self.n = 0" if here == "start" else "self.n = self.n + 1"
        nxt = f"self.next(self.{after})" if after else "pass"
        steps.append(f"    @step\n    def {here}(self):\n        {body}\n        {nxt}\n")
    return ("from airflow_flow_triggers import FlowSpec, project, step, build_dag\n\n"
            "@project(name='bench')\nclass LinearFlow(FlowSpec):\n" + "\n".join(steps) +
            "\ndag = build_dag(LinearFlow, user='alice')\n")


def linear_handwritten() -> str:
    chain = ["start", *LINEAR_STEPS, "end"]
    tasks = "\n".join(f"    @task(task_id='{name}')\n    def {name}(n=None):\n"
                      "        return 0 if n is None else n + 1\n"
                      for name in chain)
    calls = "value = start()\n" + "".join(f"    value = {name}(value)\n" for name in chain[1:])
    return textwrap.dedent('''
        import pendulum
        from airflow.sdk import DAG, task

        with DAG("bench.user.alice.HandLinear", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
                 catchup=False) as dag:
        ''') + tasks + "\n    " + calls


def parse_times(files: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folders = {"generated": Path(tmp) / "generated", "handwritten": Path(tmp) / "handwritten"}
        for kind, folder in folders.items():
            (folder / BRANCH_FOLDER).mkdir(parents=True)
            template = GENERATED if kind == "generated" else HANDWRITTEN
            for i in range(files):
                (folder / BRANCH_FOLDER / f"flow_{i}.py").write_text(template.format(i=i) if kind == "handwritten"
                                                     else template.replace("{i}", str(i)))
        times = {kind: [] for kind in folders}
        env = {"AIRFLOW_HOME": str(Path(tmp) / "home"), "USER": "bench", "PATH": str(Path(sys.executable).parent)}
        for _ in range(repeat):
            for kind, folder in folders.items():
                stdout = subprocess.run([sys.executable, "-c", PARSE, str(folder)], capture_output=True, text=True,
                                        env={**env, "AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT": str(folder)},
                                        check=True).stdout
                out = next(line for line in stdout.splitlines() if line.startswith("RESULT")).split()[1:]
                assert int(out[0]) == files, out
                times[kind].append(float(out[1]))
    return {kind: statistics.median(values) for kind, values in times.items()}


def run_times(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        airflow = AirflowHarness(Path(tmp))
        try:
            airflow.start()
            airflow.drop(f"{BRANCH_FOLDER}/linear_flow.py", linear_flow())     # the dags folder is the store
            airflow.drop(f"{BRANCH_FOLDER}/hand_linear.py", linear_handwritten())
            dags = {"generated": "bench.user.alice.LinearFlow", "handwritten": "bench.user.alice.HandLinear"}
            for dag_id in dags.values():
                airflow.wait_for_dag(dag_id)
            durations = {kind: [] for kind in dags}
            for _ in range(runs):
                for kind, dag_id in dags.items():
                    run = airflow.wait_for_run(dag_id, airflow.trigger(dag_id))
                    assert run["state"] == "success", run
                    start, end = (datetime.datetime.fromisoformat(run[k]) for k in ("start_date", "end_date"))
                    durations[kind].append((end - start).total_seconds())
        finally:
            airflow.stop()
    return {kind: statistics.median(values) for kind, values in durations.items()}


def graph_build_times(files: int) -> dict:
    """Seconds to build `files` flow graphs (one class each, from its own file: the static analysis with
    `ast` that build_dag starts with) with Python's GC on and off."""
    import gc
    import importlib.util

    from airflow_flow_triggers.flows.graph import FlowGraph
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        classes = []
        for n in range(files):
            path = Path(tmp) / f"graph_flow_{n}.py"
            path.write_text(GENERATED.replace("{i}", str(n)).split("\ndag = build_dag(")[0])
            spec = importlib.util.spec_from_file_location(f"graph_flow_{n}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            classes.append(getattr(module, f"ParseFlow{n}"))
        for label, collect in (("gc_on", True), ("gc_off", False)):
            (gc.enable if collect else gc.disable)()
            began = time.perf_counter()
            for cls in classes:
                FlowGraph(cls)
            found[label] = time.perf_counter() - began
            gc.enable()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    parse = parse_times(args.files, 3)
    print(f"## (a) DagBag parse of {args.files} DAG files (median of 3, seconds)\n")
    print("| generated (build_dag) | hand-written TaskFlow | ratio (target <= 1.5) |")
    print("|---|---|---|")
    ratio = parse['generated'] / parse['handwritten']
    print(f"| {parse['generated']:.2f} | {parse['handwritten']:.2f} | {ratio:.2f} |",
          flush=True)

    graphs = graph_build_times(args.files)
    print(f"\nBuilding the {args.files} flow graphs (static analysis with `ast`) in one process: "
          f"{graphs['gc_on']:.3f} s with Python's GC on, {graphs['gc_off']:.3f} s with it off (the graph keeps no "
          "syntax tree, so a DagBag's full collections have none to walk)", flush=True)

    run = run_times(args.runs)
    print(f"\n## (b) 10-step linear run on Airflow (median of {args.runs}, seconds from run start to end)\n")
    print("| generated (build_dag) | hand-written TaskFlow | ratio (target <= 1.2) |")
    print("|---|---|---|")
    print(f"| {run['generated']:.2f} | {run['handwritten']:.2f} | {run['generated'] / run['handwritten']:.2f} |")


if __name__ == "__main__":
    main()
