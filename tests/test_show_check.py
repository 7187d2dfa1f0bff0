"""`python flow.py show`, `check` and `python flow.py` alone print what Metaflow 2.19 prints, on every flow of
tests/oracle/ (Metaflow's core test graphs and everyday flows), stdout and stderr each; Metaflow's first line
(`Metaflow 2.19.39 executing <Flow> for user:<name>`, its own banner) and the flow file's folder aside."""
import subprocess
import sys
from pathlib import Path

import pytest

ORACLE = Path(__file__).resolve().parent / "oracle"
FLOWS = sorted(str(path.relative_to(ORACLE)) for folder in (ORACLE, ORACLE / "resume", ORACLE / "options")
               for path in folder.glob("*_flow.py"))

FAKE_PYLINT = '''
import sys

class Run:
    """Stands in for pylint.lint.Run (Metaflow's and our check call it alike): prints what pylint would."""
    def __init__(self, args, reporter=None, exit=True):
        print("************* Module flow")
        print(f"{args[0]}:3:0: E0611: No name 'step' in module 'airflow_flow_triggers' (no-name-in-module)")
        if "--errors-only" not in args:
            print(f"{args[0]}:1:0: C0114: Missing module docstring (missing-module-docstring)")
        print(f"{args[0]}:12:8: E0602: Undefined variable 'nowhere' (undefined-variable)")
'''


def both(flow: str, args: list[str], tmp_path: Path, pylint: bool = False) -> tuple[tuple, tuple]:
    """(ours, Metaflow's) (exit status, stdout, stderr) of `python <flow> args`, in the same folder."""
    outcomes = []
    for tool in ("ours", "metaflow"):
        folder = tmp_path / "flow"
        (folder / ".metaflow").mkdir(parents=True, exist_ok=True)   # else Metaflow says it creates its datastore
        source = (ORACLE / flow).read_text()
        if tool == "ours":
            source = source.replace("from metaflow import", "from airflow_flow_triggers import")
        path = folder / Path(flow).name
        path.write_text(source)
        env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
               "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
               "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}
        if pylint:
            (tmp_path / "fake" / "pylint").mkdir(parents=True, exist_ok=True)
            (tmp_path / "fake" / "pylint" / "__init__.py").write_text("")
            (tmp_path / "fake" / "pylint" / "lint.py").write_text(FAKE_PYLINT)
            env["PYTHONPATH"] = str(tmp_path / "fake")
        result = subprocess.run([sys.executable, path.name, *args], cwd=folder, env=env, capture_output=True,
                                text=True, timeout=120)
        stderr = result.stderr.replace("airflow_flow_triggers", "metaflow")
        if tool == "metaflow" and stderr.startswith("Metaflow 2."):
            stderr = stderr.split("\n", 1)[1]
        outcomes.append((result.returncode, result.stdout, stderr))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("flow", FLOWS)
def test_show_prints_what_metaflow_prints(flow, tmp_path):
    ours, theirs = both(flow, ["show"], tmp_path)
    assert ours[0] == 0 and "Step start" in ours[1]
    assert ours == theirs


@pytest.mark.parametrize("args", [["check"], ["--no-pylint", "check"], ["--quiet", "check"], [],
                                  ["--with", "retry", "show"], ["--with", "catch:var=oops", "--quiet", "show"]],
                         ids=["check", "no-pylint", "quiet", "alone", "with-show", "with-quiet-show"])
def test_check_prints_what_metaflow_prints(args, tmp_path):
    ours, theirs = both("split_join_flow.py", args, tmp_path)
    assert ours[0] == 0 and ours == theirs
    assert ("Validating your flow..." in ours[2]) == (args in ([], ["check"], ["--no-pylint", "check"]))


@pytest.mark.parametrize("args", [["check"], ["check", "--warnings"], ["--no-pylint", "check"]])
def test_check_runs_pylint_as_metaflow_does(args, tmp_path):
    """The same pylint complaints, filtered alike; then Metaflow's exception block, here one `error:` line."""
    ours, theirs = both("linear_flow.py", args, tmp_path, pylint=True)
    if "--no-pylint" in args:
        assert ours[0] == 0 and ours == theirs
        return
    assert ours[0] == theirs[0] == 1 and ours[1] == theirs[1] == ""
    *listed, error = ours[2].splitlines()
    assert listed == theirs[2].splitlines()[:-3] and theirs[2].splitlines()[-3:] == [
        "    Pylint is not happy:", "    Fix Pylint warnings listed above or say --no-pylint.", ""]
    assert error == "error: Pylint is not happy: fix the Pylint warnings listed above, or say --no-pylint."
    assert "    " + str(tmp_path / "flow" / "linear_flow.py") + \
        ":12:8: E0602: Undefined variable 'nowhere' (undefined-variable)" in listed
    assert "no-name-in-module" not in ours[2] and ("missing-module-docstring" in ours[2]) == ("--warnings" in args)
