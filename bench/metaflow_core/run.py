"""Metaflow's own test/core suite against this package: each (test, graph) pair's flow imports `metaflow`, which
here is alias/metaflow, every name of it airflow_flow_triggers' own.

    git clone --depth 1 --branch 2.19.39 https://github.com/Netflix/metaflow /tmp/metaflow
    .venv/bin/python bench/metaflow_core/run.py --suite /tmp/metaflow/test/core --jobs 2 [--only Test[,Test:graph]]
    .venv/bin/python bench/metaflow_core/run.py --suite /tmp/metaflow/test/core --metaflow     # Metaflow itself

The pairs: every test of the `python3-all-local` context (executor `cli`) on the linear, branch and foreach graphs it
applies to, and the switch, nested-foreach and resume tests on their own graphs too. The suite's harness runs on the
installed Metaflow; only the flows and checkers it starts see the alias (PYTHONPATH). Prints PASS/FAIL per pair and
the count; `--out` keeps the failures' logs.
"""
import argparse
import contextlib
import io
import json
import os
import sys
from multiprocessing import Pool
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_GRAPHS = ("single-linear-step", "single-and-branch", "simple-foreach")
OWN_GRAPHS_OF = ("switch", "nested", "resume")     # tests measured on their own graphs too


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", required=True, help="Metaflow's test/core folder (of Metaflow 2.19.39)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default="", help="Test or Test:graph, comma-separated")
    parser.add_argument("--out", default=str(HERE / "results.txt"))
    parser.add_argument("--metaflow", action="store_true", help="run the flows on Metaflow itself (the baseline)")
    args = parser.parse_args()
    suite = Path(args.suite).resolve()
    sys.path.insert(0, str(suite))
    os.chdir(suite)
    os.environ.setdefault("USER", "tester")
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    os.environ["PYTHONPATH"] = "" if args.metaflow else f"{HERE / 'alias'}:{HERE.parent.parent}"
    wanted = set(filter(None, args.only.split(",")))
    chosen = [(test, graph) for test, graph in pairs() if not wanted or test in wanted or f"{test}:{graph}" in wanted]
    with Pool(args.jobs) as pool, open(args.out, "w") as out:
        passed = 0
        for test, graph, failed, log in pool.imap_unordered(run_pair, chosen):
            passed += not failed
            line = f"{'FAIL' if failed else 'PASS'} {test} {graph}"
            print(line, flush=True)
            out.write(line + "\n" + "".join(f"    {text}\n" for text in log[-6000:].splitlines() if failed))
        summary = f"{passed} / {len(chosen)} pairs passed"
        print(summary)
        out.write(summary + "\n")


def pairs() -> list[tuple[str, str]]:
    import run_tests
    from metaflow_test.formatter import FlowFormatter
    context = next(c for c in contexts()["contexts"] if c["name"] == "python3-all-local")
    graphs = {graph["name"]: graph for graph in run_tests.iter_graphs()}
    found = []
    for test in sorted(run_tests.iter_tests(), key=lambda t: t.PRIORITY):
        name = test.__class__.__name__
        if name in context["disabled_tests"]:
            continue
        for graph_name, graph in sorted(graphs.items()):
            own = any(word in name.lower() for word in OWN_GRAPHS_OF) and graph_name not in BASE_GRAPHS
            if FlowFormatter(graph, test).valid and (graph_name in BASE_GRAPHS or own):
                found.append((name, graph_name))
    return found


def contexts() -> dict:
    return json.loads(Path("contexts.json").read_text())


def run_pair(pair: tuple[str, str]) -> tuple[str, str, bool, str]:
    import run_tests
    from metaflow_test.formatter import FlowFormatter
    test_name, graph_name = pair
    test = next(t for t in run_tests.iter_tests() if t.__class__.__name__ == test_name)
    graph = next(g for g in run_tests.iter_graphs() if g["name"] == graph_name)
    context = next(c for c in contexts()["contexts"] if c["name"] == "python3-all-local")
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            failed, _ = run_tests.run_test(FlowFormatter(graph, test), context, False, contexts()["checks"],
                                           {"HOME": os.environ.get("HOME", "/root")}, "cli")
    except Exception as error:        # the harness itself failed on this pair: a failure, with why
        failed = True
        log.write(f"{type(error).__name__}: {error}\n")
    return test_name, graph_name, bool(failed), log.getvalue()


if __name__ == "__main__":
    main()
