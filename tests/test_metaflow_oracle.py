"""Metaflow 2.19 as the oracle: the flows of tests/oracle/, written for Metaflow, run under Metaflow and, with
their one import line changed, under this package; what each step printed must be the same.

Compared per step (as a multiset over its tasks, since branches run in any order): every line the step's
code printed, what @catch printed (its header and the exception's last line: the tracebacks differ by
the frameworks' own frames), and the exception a failed attempt ended with; and the exit status. The
progress lines and run ids of either tool are left out.
"""
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_flow_triggers.runtime.store import write_file

ORACLE = Path(__file__).resolve().parent / "oracle"
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(\d+)/(\w+)/([\w.-]+)(?: \(pid \d+\))?\] (.*)$")
PROGRESS = {"Task is starting.", "Task is starting (retry).", "Task finished successfully."}

CASES = [
    ("catch_retry_flow.py", ["run"]),
    ("bare_decorators_flow.py", ["run"]),
    ("environment_flow.py", ["run"]),
    ("current_flow.py", ["run"]),
    ("linear_flow.py", ["run"]),
    ("split_join_flow.py", ["run"]),
    ("foreach_flow.py", ["run"]),
    ("nested_foreach_flow.py", ["run"]),
    ("split_in_foreach_flow.py", ["run"]),
    ("switch_flow.py", ["run"]),
    ("switch_in_foreach_flow.py", ["run"]),
    ("recursive_switch_flow.py", ["run"]),
    ("parameters_flow.py", ["run"]),
    ("parameters_flow.py", ["run", "--who", "alice", "--count", "7", "--rate", "2", "--verbose", "True",
                            "--config", '{"depth": 5}']),
    ("failing_flow.py", ["run"]),
    ("branch_in_switch_flow.py", ["run"]),
    ("branch_in_switch_flow.py", ["run", "--mode", "skip"]),
    ("foreach_in_switch_flow.py", ["run"]),
    ("foreach_in_switch_flow.py", ["run", "--mode", "skip"]),
    ("nested_switch_flow.py", ["run"]),
    ("switch_in_branch_flow.py", ["run"]),
    ("deep_nested_foreach_flow.py", ["run"]),
    ("nested_branches_flow.py", ["run"]),
    ("foreach_in_branch_flow.py", ["run"]),
    ("merge_artifacts_flow.py", ["run"]),
    ("merge_conflict_flow.py", ["run"]),
    ("retry_recovers_flow.py", ["run"]),
    ("catch_in_foreach_flow.py", ["run"]),
    ("json_foreach_flow.py", ["run"]),
    ("json_foreach_flow.py", ["run", "--grid", '{"lr": [1, 2, 3], "depth": 1}']),
    ("small_foreach_flow.py", ["run"]),
    ("more_parameters_flow.py", ["run", "--who", "bob"]),
    ("more_parameters_flow.py", ["run", "--who", "bob", "--colors", "blue", "--table",
                                 "more_parameters_flow.other.csv"]),
    ("project_current_flow.py", ["run"]),
    ("project_current_flow.py", ["--branch", "better_version", "run"]),
    ("project_current_flow.py", ["--production", "run"]),
    ("project_current_flow.py", ["--branch", "better_version", "--production", "run"]),
]


# flow file -> {Metaflow's line: (ours, why)}; explained in docs/flows.md ("Where it differs from Metaflow")
DIFFERENCES = {
    "merge_conflict_flow.py": {
        "failed> To remedy this issue, be sure to explicitly set those artifacts (using self.<artifact_name> = ...) "
        "prior to calling merge_artifacts.": (
            "failed> Step 'join' cannot merge artifact 'value': its value differs between the join's inputs; set "
            "self.value in the join before merging, or pass exclude=['value'].",
            "a bad merge is one sentence naming the artifact and the fix, as every error here, not Metaflow's "
            "four-line MergeArtifactsException"),
    },
}


def expected(flow: str, printed: dict, differences: dict | None = None) -> dict:
    """Metaflow's printed lines with the flow's named differences applied (DIFFERENCES, then `differences`)."""
    changed = {line: ours for line, (ours, _) in {**DIFFERENCES.get(flow, {}), **(differences or {})}.items()}
    return {step: sorted(tuple(changed.get(line, line) for line in task) for task in tasks)
            for step, tasks in printed.items()}


def oracle(flow: str, args: list[str], tmp_path: Path, memory: Path, want=None, tries: int = 5) -> tuple[int, dict]:
    """Metaflow's (exit status, printed), run again while, with the named differences, it is not `want`
    (at most `tries` runs).

    Metaflow's runtime drains a dead task's pipes best-effort (runtime.py, Worker.terminate reads them
    non-blocking), so on a busy machine its console now and then lacks the last lines a failing attempt
    printed (seen in CI: `attempt 0` of a @retry step). Metaflow is otherwise deterministic on these flows,
    so a real difference shows in every run and still fails the test.
    """
    for attempt in range(tries):
        result = metaflow(flow, args, tmp_path / f"try{attempt}", memory, again=attempt > 0)
        if want is None or (result[0], expected(flow, result[1])) == want:
            break
    return result


def metaflow(flow: str, args: list[str], tmp_path: Path, memory: Path, again: bool = False) -> tuple[int, dict]:
    """Metaflow's (exit status, printed) of the case: as remembered in `memory` (a folder all processes of
    `make test` see: both oracle modules compare against Metaflow, which need not run a case twice), or, if
    not there or `again`, run now and remembered."""
    path = memory / "metaflow_runs" / f"{hashlib.sha256(json.dumps([flow, args]).encode()).hexdigest()[:16]}.json"
    if path.exists() and not again:
        status, steps = json.loads(path.read_text())
        return status, {step: [tuple(task) for task in tasks] for step, tasks in steps.items()}
    result = run("metaflow", flow, args, tmp_path)
    write_file(path, json.dumps(result).encode())      # whole, for the other process that may read it now
    return result


def run(tool: str, flow: str, args: list[str], tmp_path: Path) -> tuple[int, dict]:
    """`python <flow> args` under `tool` ('metaflow' or 'ours'), in a fresh folder; (exit status, printed)."""
    folder = tmp_path / tool
    folder.mkdir(parents=True, exist_ok=True)
    source = (ORACLE / flow).read_text()
    if tool == "ours":
        source = source.replace("from metaflow import", "from airflow_flow_triggers import")
    (folder / flow).write_text(source)
    for data in ORACLE.glob(f"{flow[:-3]}.*"):                 # the flow's data files (IncludeFile defaults)
        if data.suffix != ".py":
            shutil.copyfile(data, folder / data.name)
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
           "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
           "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}
    result = subprocess.run([sys.executable, flow, *args], cwd=folder, env=env, capture_output=True, text=True,
                            timeout=600)
    return result.returncode, printed(result.stdout + "\n" + result.stderr)


def printed(output: str) -> dict[str, list[tuple[str, ...]]]:
    """{step: sorted list of each task's lines}, without progress lines, tracebacks reduced to their last line."""
    tasks: dict[tuple[str, str], list[str]] = {}
    for line in output.splitlines():
        match = LINE.match(line)
        if match:
            tasks.setdefault((match.group(2), match.group(3)), []).append(match.group(4).rstrip())
    steps: dict[str, list[tuple[str, ...]]] = {}
    for (step, _), lines in tasks.items():
        steps.setdefault(step, []).append(tuple(_reduced(lines)))
    return {step: sorted(found) for step, found in steps.items()}


def _reduced(lines: list[str]) -> list[str]:
    kept, failing, caught = [], False, None
    for line in lines:
        if line in PROGRESS or not line.strip() and not failing:
            continue
        if line.startswith(">  "):                              # @catch's traceback: keep its last line
            caught = line[3:].strip()
            continue
        if caught is not None:
            kept.append(f"@catch> {caught}")
            caught = None
        if line == "Task failed." and not failing and kept:      # our one-sentence error, then "Task failed."
            kept.append(f"failed> {kept.pop()}")
            continue
        if line.endswith(" failed:") or line == "Traceback (most recent call last):":
            failing, last = True, None                          # a failed attempt: keep the exception it ended with
            continue
        if failing:
            if line == "Task failed.":
                kept.append(f"failed> {last}")
                failing = False
            elif line.strip() and not line.startswith((" ", "\t")) and line != "Internal error":
                last = line.strip()
            continue
        kept.append(line)
    if caught is not None:
        kept.append(f"@catch> {caught}")
    return kept


@pytest.fixture(scope="module", autouse=True)
def metaflow_installed():
    if importlib.util.find_spec("metaflow") is None:
        pytest.fail("Metaflow is the oracle of these tests: install the test extra (pip install -e '.[test]')")


@pytest.mark.parametrize("flow, args", CASES, ids=[f"{flow[:-3]}:{' '.join(args)}" for flow, args in CASES])
def test_the_same_flow_prints_the_same_under_metaflow(flow, args, tmp_path, shared_tmp):
    ours = run("ours", flow, args, tmp_path)
    status, theirs = oracle(flow, args, tmp_path, shared_tmp, want=ours)
    assert ours[1] and theirs, (ours, theirs)
    for line in DIFFERENCES.get(flow, {}):           # a named difference is one Metaflow's output has
        assert any(line in task for tasks in theirs.values() for task in tasks), line
    assert ours == (status, expected(flow, theirs))
