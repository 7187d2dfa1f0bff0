"""The client's whole surface and the command line's read side (`logs`, `dump`, `tag`) side by side with Metaflow
2.19: tests/oracle/surface/surface_flow.py runs under both (once well, once with its end step failing), then
surface_notebook.py reads the runs back through the client and prints what it sees (output kept per task and
attempt, exceptions, parents and children, artifacts by pathspec, tags changed and refused, namespaces), and
the flow file's `logs`, `dump` and `tag` commands print; each must be the same.

Task ids differ between the two (Metaflow numbers tasks, ids here name foreach branches), so task ids in what
the commands print are masked, and the tasks of a step compared in any order; the first line each command
prints on stderr names the tool (`Metaflow 2.19.39 executing ...`, `airflow_flow_triggers 0.1.0 executing`).
"""
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_metaflow_oracle import ORACLE

SURFACE = ORACLE / "surface"
FLOW = "surface_flow.py"


def environment(folder: Path) -> dict:
    return {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
            "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
            "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}


class Tool:
    """The surface flow's folder for one tool ('metaflow' or 'ours'), its runs made."""

    def __init__(self, name: str, folder: Path):
        self.name, self.folder = name, folder
        folder.mkdir(parents=True)
        for source in SURFACE.glob("*.py"):
            text = source.read_text()
            if name == "ours":
                text = text.replace("from metaflow import", "from airflow_flow_triggers import")
            (folder / source.name).write_text(text)
        self.ok = self.run_id(self.python(FLOW, "run"))
        self.failed = self.run_id(self.python(FLOW, "run", "--fail", "True", status=1))

    def python(self, *args: str, status: int | None = 0) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, *args], cwd=self.folder, env=environment(self.folder),
                                capture_output=True, text=True, timeout=300)
        if status is not None:
            assert result.returncode == status, (self.name, args, result.stdout[-3000:], result.stderr[-3000:])
        return result

    def command(self, *args: str, status: int | None = 0) -> subprocess.CompletedProcess:
        """`python surface_flow.py <args>`, RUN standing for the good run's id and FAILED for the failed one's."""
        args = [arg.replace("RUN", self.ok).replace("FAILED", self.failed) for arg in args]
        return self.python(FLOW, *args, status=status)

    @staticmethod
    def run_id(result: subprocess.CompletedProcess) -> str:
        return re.search(r"run-id (\d+)", result.stdout + result.stderr).group(1)


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> dict[str, Tool]:
    base = tmp_path_factory.mktemp("surface")
    return {name: Tool(name, base / name) for name in ("metaflow", "ours")}


@pytest.fixture(scope="module")
def notebooks(tools) -> dict[str, list[str]]:
    return {name: tool.python("surface_notebook.py").stdout.splitlines() for name, tool in tools.items()}


def both(tools, *args, status: int | None = 0) -> dict[str, subprocess.CompletedProcess]:
    return {name: tool.command(*args, status=status) for name, tool in tools.items()}


def masked(text: str, tool: Tool) -> list[str]:
    """The lines with the tool's name, its run ids and the task ids masked."""
    text = re.sub(r"^(Metaflow|airflow_flow_triggers) \S+ executing", "TOOL executing", text, flags=re.MULTILINE)
    text = text.replace(tool.ok, "RUN").replace(tool.failed, "FAILED")
    return re.sub(r"task_id=\S+", "task_id=T", text).splitlines()


def test_the_notebook_reads_the_same_under_metaflow(notebooks):
    assert notebooks["ours"] == notebooks["metaflow"]


def test_what_the_notebook_saw(notebooks):
    """The comparison holds only if the notebook saw something: the lines the runs imply."""
    lines = notebooks["ours"]
    assert "start 'hello out\\nno newline\\n' 'hello err\\n' None True True" in lines
    assert "work work[1] 'work on b attempt 1\\n' '' 1 1 B None" in lines
    assert "attempt 0 'work on b attempt 0\\n' Task failed. 0" in lines
    assert "join parents ['work[0]', 'work[1]', 'work[2]'] ['fork[None]']" in lines
    assert any(line.startswith("failed end False False True builtins.KeyError 'the end said no' True True")
               for line in lines)
    assert "tags ['five', 'four', 'six'] True ['five', 'four', 'six']" in lines
    assert "namespaces mismatch mismatch mismatch ['A', 'B', 'C']" in lines


@pytest.mark.parametrize("args", [
    ["--quiet", "logs", "RUN/start"],
    ["--quiet", "logs", "--stdout", "RUN/start"],
    ["--quiet", "logs", "--stderr", "RUN/start"],
    ["--quiet", "logs", "RUN/end"],
    ["--quiet", "dump", "RUN/start"],
    ["--quiet", "dump", "RUN/join"],
    ["--quiet", "dump", "--max-value-size", "0", "RUN/meet"],
    ["--quiet", "dump", "--include", "sides,fail", "RUN/end"],
    ["logs", "RUN/start"],
    ["dump", "RUN/join"],
], ids=lambda args: " ".join(args))
def test_a_command_prints_the_same(tools, args):
    printed = both(tools, *args)
    for stream in ("stdout", "stderr"):
        theirs, ours = (masked(getattr(printed[name], stream), tools[name]) for name in ("metaflow", "ours"))
        assert ours == theirs, stream


@pytest.mark.parametrize("args, lines", [
    (["--quiet", "logs", "RUN/work"], 3),
    (["--quiet", "logs", "--stderr", "RUN/work"], 0),        # the latest attempt of each: b's second
    (["--quiet", "dump", "RUN/work"], 18),           # big, done, encodings, fail, items, name
], ids=lambda value: " ".join(value) if isinstance(value, list) else str(value))
def test_the_tasks_of_a_foreach_print_the_same(tools, args, lines):
    """A foreach step's tasks, in whichever order each tool lists them."""
    printed = both(tools, *args)
    assert sorted(printed["ours"].stdout.splitlines()) == sorted(printed["metaflow"].stdout.splitlines())
    assert len(printed["ours"].stdout.splitlines()) == lines


def test_a_failed_task_keeps_its_output_and_traceback(tools):
    printed = both(tools, "--quiet", "logs", "--stderr", "FAILED/end")
    for result in printed.values():
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        assert lines[-2:] == ["KeyError: 'the end said no'", "Task failed."], result.stdout


def test_dump_to_a_file_writes_every_task(tools):
    written = {}
    for name, tool in tools.items():
        tool.command("--quiet", "dump", "--include", "done,name,big", "--file", "dump.pickle", "RUN/work")
        with open(tool.folder / "dump.pickle", "rb") as handle:
            found = pickle.load(handle)
        assert all(key.startswith(f"{tool.ok}/work/") for key in found)
        written[name] = sorted(found.values(), key=lambda values: values["done"])
    assert written["ours"] == written["metaflow"]
    assert [values["done"] for values in written["ours"]] == ["A", "B", "C"]
    assert written["ours"][0]["big"] == list(range(500))        # whole: no --max-value-size for a file


def test_tags_change_and_list_the_same(tools, notebooks):
    def user_tags() -> dict[str, list[str]]:
        listed = both(tools, "tag", "list", "--flat", "--hide-system-tags", "--run-id", "RUN")
        return {name: sorted(result.stderr.splitlines()[1:]) for name, result in listed.items()}

    both(tools, "tag", "add", "--run-id", "RUN", "alpha", "beta", "runtime:dev")
    assert user_tags()["ours"] == user_tags()["metaflow"] == ["alpha", "beta", "five", "four", "six"]
    both(tools, "tag", "remove", "--run-id", "RUN", "alpha", "runtime:dev", status=1)   # all or nothing
    both(tools, "tag", "replace", "--run-id", "RUN", status=1)
    both(tools, "tag", "add", "--run-id", "RUN", "", status=1)
    both(tools, "tag", "add", "--run-id", "RUN", "x" * 501, status=1)
    both(tools, "tag", "replace", "--run-id", "RUN", "--remove", "alpha", "--add", "gamma", "--add", "刺身")
    both(tools, "tag", "remove", "--run-id", "RUN", "beta", "five")
    assert user_tags()["ours"] == user_tags()["metaflow"] == ["four", "gamma", "six", "刺身"]
    for args in (["--quiet", "tag", "list", "--hide-system-tags", "--run-id", "RUN"],
                 ["tag", "list", "--hide-system-tags", "--run-id", "RUN"],
                 ["tag", "list", "--group-by-tag", "--hide-system-tags", "--run-id", "RUN"],
                 ["--quiet", "tag", "list", "--group-by-run", "--hide-system-tags", "--run-id", "RUN"]):
        printed = both(tools, *args)
        for stream in ("stdout", "stderr"):
            theirs, ours = (masked(getattr(printed[name], stream), tools[name]) for name in ("metaflow", "ours"))
            assert ours == theirs, (args, stream)
