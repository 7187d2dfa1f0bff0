"""The oracle corpus on Airflow: every flow of tests/oracle/ that test_metaflow_oracle.py runs with `run` (and
parameter options), deployed on a real Airflow with its import line changed, prints per step what it prints
under Metaflow 2.19.

One Airflow for the module; the runs are triggered BATCH at a time (parameter options become the run's conf, as a user
writes them for `airflow dags trigger -c`: JSON values) and awaited together. Per step, each task's lines are
its `task.stdout` log entries over all its tries, reduced as test_metaflow_oracle reduces Metaflow's output,
and a failed try adds the exception it ended with (its log's error_detail). Intended differences are named in
AIRFLOW_DIFFERENCES (and explained in docs/flows.md, "Where it differs from Metaflow"); flows that do not deploy on
Airflow yet are named in LEFT_OUT, and a test checks they still do not (delete the entry when one does).
"""
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_metaflow_oracle import CASES, ORACLE, _reduced, expected, metaflow, run

from airflow_flow_triggers.errors import FlowTriggersError
from airflow_flow_triggers.sandbox.harness import AirflowHarness, task_errors

pytestmark = pytest.mark.e2e

LEFT_OUT = {
    "switch_in_foreach_flow.py": "Airflow refuses a switch inside a foreach today (an import error)",
    "recursive_switch_flow.py": "Airflow refuses a recursive switch (a DAG cannot loop; an import error)",
}

# flow file -> {Metaflow's line: (the line on Airflow, why)}, beside test_metaflow_oracle's DIFFERENCES
AIRFLOW_DIFFERENCES = {
    "current_flow.py": {
        "namespace user:alice user alice": (
            "namespace production:CurrentFlow user airflow_server",
            "a deployment's runs live in production:<deployment>; this DAG is built without a deployer "
            "(build_dag(CurrentFlow)), so the run's user is the worker's (deployed with airflow create, its "
            "deployer's); a local run is alice's own"),
    },
}


def plain(args: list[str]) -> bool:
    """`run` followed by parameter options only (options before `run`, --branch, --production, are not)."""
    return args[:1] == ["run"] and len(args) % 2 == 1 and all(a.startswith("--") for a in args[1::2])


def conf_value(text: str):
    """A command-line value as a user writes it in conf: JSON (7, 2, {"depth": 5}), True/False as booleans, a
    file of an IncludeFile as its content (what `airflow trigger --table file.csv` sends)."""
    if text.endswith(".csv") and (ORACLE / text).is_file():
        return (ORACLE / text).read_text()
    if text in ("True", "False"):
        return text == "True"
    try:
        return json.loads(text)
    except ValueError:
        return text


BATCH = 6   # runs at once: SQLite's writers wait at most 5 s for each other, too little for 35 runs at once
RUNS = [(flow, args) for flow, args in CASES if plain(args) and flow not in LEFT_OUT]
IDS = [f"{flow[:-3]}:{' '.join(args)}" for flow, args in RUNS]


def flow_class(flow: str) -> str:
    source = (ORACLE / flow).read_text()
    return source.split("\nclass ", 1)[1].split("(", 1)[0]


def project_of(flow: str) -> str | None:
    found = re.search(r"^@project\(name='(\w+)'\)", (ORACLE / flow).read_text(), re.MULTILINE)
    return found.group(1) if found else None


def dag_id(flow: str) -> str:
    """A @project flow is deployed on alice's branch, the branch its local run is on."""
    project = project_of(flow)
    return f"{project}.user.alice.{flow_class(flow)}" if project else flow_class(flow)


def dag_file(flow: str) -> str:
    """Where the DAG file goes: a branch's DAG lives in its branch's folder (the cluster policy's rule)."""
    project = project_of(flow)
    return f"{project}/user.alice/{flow}" if project else flow


def dag_source(flow: str) -> str:
    source = (ORACLE / flow).read_text().replace("from metaflow import", "from airflow_flow_triggers import")
    whose = ", user='alice'" if project_of(flow) else ""
    return f"{source}\nfrom airflow_flow_triggers import build_dag\n\ndag = build_dag({flow_class(flow)}{whose})\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory, shared_tmp):
    """{case id: (Metaflow's (exit status, printed), the Airflow run, its per-step printed)}."""
    base = tmp_path_factory.mktemp("oracle")
    harness = AirflowHarness(base / "airflow")
    for i in range(len(RUNS)):
        (base / f"metaflow{i}").mkdir()
    with ThreadPoolExecutor(2) as pool:
        theirs = pool.map(lambda case: metaflow(case[0], case[1], base / case[2], shared_tmp),
                          [(flow, args, f"metaflow{i}") for i, (flow, args) in enumerate(RUNS)])
        try:
            harness.start()
            for flow in {flow for flow, _ in RUNS}:
                harness.drop(dag_file(flow), dag_source(flow))
                for data in ORACLE.glob(f"{flow[:-3]}.*"):          # IncludeFile defaults, beside the flow
                    if data.suffix != ".py":
                        harness.drop(str(Path(dag_file(flow)).parent / data.name), data.read_text())
            for flow in {flow for flow, _ in RUNS}:
                harness.wait_for_dag(dag_id(flow), timeout=300)
            run_ids, finished = [], []
            for first in range(0, len(RUNS), BATCH):
                batch = RUNS[first:first + BATCH]
                run_ids += [harness.post_run(dag_id(flow), {args[i][2:]: conf_value(args[i + 1])
                                                            for i in range(1, len(args), 2)}) for flow, args in batch]
                finished += [harness.wait_for_run(dag_id(flow), run_id, timeout=600)
                             for (flow, _), run_id in zip(batch, run_ids[first:], strict=True)]
            ours = [airflow_printed(harness, dag_id(flow), run_id) for (flow, _), run_id in zip(RUNS, run_ids,
                                                                                                  strict=True)]
            yield dict(zip(IDS, zip(list(theirs), finished, ours, strict=True), strict=True))
        finally:
            harness.stop()


def failed_line(error: dict) -> str:
    """How a failed try reads, as _reduced() gives it locally: our own errors are their one sentence."""
    ours = error["exc_type"].rsplit(".", 1)[-1] in {cls.__name__ for cls in _subclasses(FlowTriggersError)}
    return f"failed> {error['exc_value']}" if ours else f"failed> {error['exc_type']}: {error['exc_value']}"


def _subclasses(cls: type) -> list[type]:
    return [cls] + [sub for child in cls.__subclasses__() for sub in _subclasses(child)]


def airflow_printed(airflow, dag_id: str, run_id: str) -> dict[str, list[tuple[str, ...]]]:
    """{step: sorted list of each task's lines} from the run's task logs, as printed() gives Metaflow's."""
    steps: dict[str, list[tuple[str, ...]]] = {}
    for ti in airflow.task_instances(dag_id, run_id):
        if ti["state"] not in ("success", "failed"):       # skipped, upstream_failed: never ran, as under Metaflow
            continue
        if "-" in ti["task_id"]:                            # the DAG's own helper tasks (row-branches), no step
            continue
        lines = []
        for try_number in range(1, ti["try_number"] + 1):
            entries = airflow.task_log(dag_id, run_id, ti["task_id"], try_number, ti["map_index"])
            stdout = [line.rstrip() for e in entries if e.get("logger") == "task.stdout"
                      for line in str(e.get("event", "")).splitlines()]
            lines += _reduced(stdout)
            errors = task_errors(entries)
            if errors:
                lines.append(failed_line(errors[-1]))
        steps.setdefault(ti["task_id"], []).append(tuple(lines))
    return {step: sorted(found) for step, found in steps.items()}


@pytest.mark.parametrize("flow, args", RUNS, ids=IDS)
def test_the_same_flow_prints_the_same_on_airflow_as_under_metaflow(results, flow, args, tmp_path):
    (status, theirs), finished, ours = results[f"{flow[:-3]}:{' '.join(args)}"]
    differences = AIRFLOW_DIFFERENCES.get(flow, {})
    for attempt in range(4):        # Metaflow's console may lose a failing attempt's last lines: see oracle()
        if ours == expected(flow, theirs, differences):
            break
        status, theirs = run("metaflow", flow, args, tmp_path / f"again{attempt}")
    assert theirs and ours, (theirs, ours)
    for line in differences:                         # a named difference is one Metaflow's output has
        assert any(line in task for tasks in theirs.values() for task in tasks), line
    assert ours == expected(flow, theirs, differences)
    assert finished["state"] == ("success" if status == 0 else "failed")


@pytest.mark.parametrize("flow", sorted(LEFT_OUT))
def test_a_left_out_flow_still_does_not_deploy_on_airflow(flow, tmp_path):
    """When one of them deploys, delete its LEFT_OUT entry: the comparison above then covers it."""
    from conftest import import_file

    from airflow_flow_triggers.errors import FlowTriggersError
    path = tmp_path / flow
    path.write_text(dag_source(flow))
    with pytest.raises(FlowTriggersError):
        import_file(path, f"oracle_left_out_{flow[:-3]}")


def test_left_out_flows_are_oracle_cases():
    assert set(LEFT_OUT) <= {flow for flow, args in CASES if plain(args)}, LEFT_OUT

