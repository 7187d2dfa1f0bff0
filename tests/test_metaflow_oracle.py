"""Metaflow 2.19 as the oracle: the flows of tests/oracle/, written for Metaflow, run under Metaflow and, with
their one import line changed, under this package; what each step printed must be the same.

Compared per step (as a multiset over its tasks, since branches run in any order): every line the step's
code printed, what @catch printed (its header and the exception's last line: the tracebacks differ by
the frameworks' own frames), and the exception a failed attempt ended with; and the exit status. The
progress lines and run ids of either tool are left out.
"""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    ("project_current_flow.py", ["run"]),
    ("project_current_flow.py", ["--branch", "better_version", "run"]),
    ("project_current_flow.py", ["--production", "run"]),
    ("project_current_flow.py", ["--branch", "better_version", "--production", "run"]),
]


def run(tool: str, flow: str, args: list[str], tmp_path: Path) -> tuple[int, dict]:
    """`python <flow> args` under `tool` ('metaflow' or 'ours'), in a fresh folder; (exit status, printed)."""
    folder = tmp_path / tool
    folder.mkdir(exist_ok=True)
    source = (ORACLE / flow).read_text()
    if tool == "ours":
        source = source.replace("from metaflow import", "from airflow_flow_triggers import")
    (folder / flow).write_text(source)
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
def test_the_same_flow_prints_the_same_under_metaflow(flow, args, tmp_path):
    theirs, ours = run("metaflow", flow, args, tmp_path), run("ours", flow, args, tmp_path)
    assert ours[1] and theirs[1], (ours, theirs)
    assert ours == theirs
