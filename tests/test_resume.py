"""`python flow.py resume` against Metaflow 2.19 as the oracle.

Each flow of tests/oracle/resume/ fails (or, for one, succeeds) under `run`; the test then fixes the flow
(BROKEN = False) and resumes it, under Metaflow and under this package alike, and compares: the exit
statuses, which steps' tasks resume cloned ("Cloning previously run task" lines) and which it ran ("Task is
starting."), what every step printed in both commands (the origin's run id, as each tool numbers it, read as
`<origin>`), and that `--run-id-file` named each run. A step of the origin stores a random stamp that a later
step prints after the resume: the same stamp, so the clone reused it rather than computed it again.
"""
import collections
import re
import sys
from pathlib import Path

import pytest
from conftest import run_flow
from test_metaflow_oracle import LINE, printed

from airflow_flow_triggers import Run

FLOWS = Path(__file__).resolve().parent / "oracle" / "resume"
# the message itself, found anywhere: Metaflow clones from threads, and writes a line's timestamp, task and
# message separately, so that its lines can interleave
CLONED = re.compile(r"Cloning previously run task (\d+)/(\w+)/[\w.-]+")

CASES = [
    ("foreach_inner_flow.py", ["--alpha", "5"], []),
    ("foreach_join_flow.py", [], []),
    ("foreach_split_flow.py", [], []),
    ("nested_foreach_flow.py", [], []),
    ("split_flow.py", [], []),
    ("switch_flow.py", [], []),
    ("recursive_switch_flow.py", [], []),
    ("start_flow.py", ["--alpha", "7", "--grid", '{"lr": [0.1, 0.2]}', "--colors", "blue,green"], []),
    ("succeeded_flow.py", [], ["middle"]),
]


def session(tool: str, flow: str, run_args: list[str], resume_args: list[str], folder: Path) -> dict:
    """`run` the flow, fix it, `resume` it; what each command did, the origin's run id read as <origin>."""
    import subprocess
    folder.mkdir(parents=True)
    source = (FLOWS / flow).read_text()
    if tool == "ours":
        source = source.replace("from metaflow import", "from airflow_flow_triggers import")
    path = folder / flow
    path.write_text(source)
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
           "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
           "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}

    def command(*args):
        return subprocess.run([sys.executable, flow, *args], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=300)

    first = command("run", "--max-workers", "4", "--run-id-file", "origin-id", *run_args)
    path.write_text(source.replace("BROKEN = True", "BROKEN = False"))
    second = command("resume", *resume_args, "--max-workers", "4", "--run-id-file", "resumed-id")
    origin, resumed = (folder / "origin-id").read_text(), (folder / "resumed-id").read_text()
    output = second.stdout + second.stderr
    cloned = list(CLONED.finditer(output))
    started = [LINE.match(line) for line in output.splitlines()]
    return {"status": (first.returncode, second.returncode), "origin": origin, "resumed": resumed,
            "workflow": re.search(r"Workflow starting \(run-id (\d+)\)", output).group(1),
            "clones of": sorted(match.group(1) for match in cloned),
            "cloned": collections.Counter(match.group(2) for match in cloned),
            "ran": collections.Counter(m.group(2) for m in started if m and m.group(4) == "Task is starting."),
            "run printed": stamped(printed(first.stdout + "\n" + first.stderr), origin),
            "resume printed": stamped(printed("\n".join(line for line in output.splitlines()
                                                        if not CLONED.search(line))), origin),
            "stdout": output, "run stdout": first.stdout}


def stamped(steps: dict, origin: str) -> dict:
    """Each step's lines with the origin run id as <origin> and the random stamp as <stamp>."""
    def plain(line: str) -> str:
        return re.sub(r"stamp [0-9a-f]{32}", "stamp <stamp>", line.replace(origin, "<origin>"))
    return {step: [tuple(plain(line) for line in task) for task in tasks] for step, tasks in steps.items()}


@pytest.mark.parametrize("flow, run_args, resume_args", CASES, ids=[case[0][:-8] for case in CASES])
def test_resume_does_what_metaflow_does(flow, run_args, resume_args, tmp_path):
    """Metaflow runs again (at most 3 times) while it differs: when a task fails, its runtime kills the tasks
    still running, so whether a sibling branch got past a step before the failure (the failing steps sleep
    to let it) depends on the machine's load; a real difference shows every time."""
    ours = session("ours", flow, run_args, resume_args, tmp_path / "ours")
    for attempt in range(3):
        theirs = session("metaflow", flow, run_args, resume_args, tmp_path / f"metaflow{attempt}")
        if compared(ours) == compared(theirs):
            break
    for outcome in (ours, theirs):
        assert outcome["resumed"] == outcome["workflow"] != outcome["origin"], outcome["stdout"]
        assert set(outcome["clones of"]) <= {outcome["origin"]}, outcome["stdout"]
        stamps = re.findall(r"stamp ([0-9a-f]{32})", outcome["run stdout"] + outcome["stdout"])
        assert len(set(stamps)) <= 1, stamps                 # a stamp the resumed run prints is the origin's
    assert compared(ours) == compared(theirs), (ours["run stdout"], ours["stdout"], theirs["run stdout"],
                                                theirs["stdout"])


def compared(outcome: dict) -> dict:
    return {key: outcome[key] for key in ("status", "cloned", "ran", "run printed", "resume printed")}


FOREACH = (FLOWS / "foreach_inner_flow.py").read_text().replace("from metaflow import",
                                                              "from airflow_flow_triggers import")


@pytest.fixture
def failed_foreach(tmp_path, airflow_home):
    """The foreach flow, failed in branch 1, then fixed: (its file, the failed run's id)."""
    path = tmp_path / "flow.py"
    path.write_text(FOREACH)
    result = run_flow(path, "run", "--alpha", "3", "--run-id-file", str(tmp_path / "origin"), airflow_home=airflow_home)
    assert result.returncode == 1, result.stderr
    path.write_text(FOREACH.replace("BROKEN = True", "BROKEN = False"))
    return path, (tmp_path / "origin").read_text()


def test_the_client_sees_the_origin_and_the_reused_artifacts(failed_foreach, airflow_home, monkeypatch):
    path, origin = failed_foreach
    result = run_flow(path, "resume", "--run-id-file", str(path.parent / "resumed"), airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
    run = Run(f"ResumeForeachInnerFlow/{(path.parent / 'resumed').read_text()}")
    before = Run(f"ResumeForeachInnerFlow/{origin}")
    assert run.origin_pathspec == f"ResumeForeachInnerFlow/{origin}" and before.origin_pathspec is None
    assert run.data.total == 18 and run.data.stamp == before["start"].task.data.stamp     # alpha 3 kept
    assert run["start"].task.origin_pathspec == f"ResumeForeachInnerFlow/{origin}/start/1"
    assert {task.id: task.origin_pathspec for task in run["work"]} == {
        "2-0": f"ResumeForeachInnerFlow/{origin}/work/2-0", "2-1": None,
        "2-2": f"ResumeForeachInnerFlow/{origin}/work/2-2"}
    assert run["end"].task.origin_pathspec is None and run["end"].origin_pathspec == \
        f"ResumeForeachInnerFlow/{origin}/end"
    cloned = run["start"].task.metadata_dict
    assert (cloned["origin-run-id"], cloned["origin-task-id"]) == (origin, "1")
    assert "origin-task-id" not in run["join"].task.metadata_dict
    assert sorted(run.user_tags) == [] and run.successful


def test_the_default_origin_is_the_latest_run_not_a_resume(failed_foreach, airflow_home):
    """As Metaflow's latest_run: a second resume resumes the run again, not the first resume."""
    path, origin = failed_foreach
    for _ in range(2):
        result = run_flow(path, "resume", "work", airflow_home=airflow_home)
        assert result.returncode == 0, result.stderr
        assert f"Cloning ResumeForeachInnerFlow/{origin}\n" in result.stdout
        assert result.stdout.count("Cloning previously run task") == 1      # start only: work and after rerun


def test_the_default_origin_is_this_users_latest_run(failed_foreach, airflow_home):
    path, origin = failed_foreach
    bob = run_flow(path, "run", airflow_home=airflow_home, user="bob")
    assert bob.returncode == 0, bob.stderr
    alice = run_flow(path, "resume", airflow_home=airflow_home)
    assert f"Cloning ResumeForeachInnerFlow/{origin}\n" in alice.stdout, alice.stdout
    assert "work 2 origin " + origin in alice.stdout


def test_an_explicit_origin_and_a_new_tag(failed_foreach, airflow_home, monkeypatch):
    path, origin = failed_foreach
    later = run_flow(path, "run", "--run-id-file", str(path.parent / "later"), airflow_home=airflow_home)
    assert later.returncode == 0
    result = run_flow(path, "resume", "--origin-run-id", origin, "--tag", "retried",
                      "--run-id-file", str(path.parent / "resumed"), airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    assert f"Cloning ResumeForeachInnerFlow/{origin}\n" in result.stdout
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
    run = Run(f"ResumeForeachInnerFlow/{(path.parent / 'resumed').read_text()}")
    assert run.user_tags == {"retried"} and run.data.total == 18


def test_a_resume_of_a_project_branch_resumes_that_branch(tmp_path, airflow_home):
    path = tmp_path / "flow.py"
    path.write_text(FOREACH.replace("class Resume", "@project(name='resumed')\nclass Resume")
                    .replace("import FlowSpec", "import project, FlowSpec"))
    assert run_flow(path, "--branch", "fix", "run", airflow_home=airflow_home).returncode == 1
    assert run_flow(path, "run", airflow_home=airflow_home).returncode == 1
    path.write_text(path.read_text().replace("BROKEN = True", "BROKEN = False"))
    result = run_flow(path, "--branch", "fix", "resume", airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    assert "Done! Run resumed.test.fix.ResumeForeachInnerFlow/" in result.stdout
    assert result.stdout.count("Cloning previously run task") == 3


@pytest.mark.parametrize("args, message", [
    (["resume", "nope"], "Cannot resume from step 'nope': flow ResumeForeachInnerFlow has no such step; resume "
                         "from one of start, work, join, end."),
    (["resume", "--origin-run-id", "123"], "Cannot resume run 123: no run of ResumeForeachInnerFlow has that id"),
    (["resume", "--alpha", "2"], "--alpha cannot be given to resume: a resumed run keeps the parameters of the run "
                                 "it resumes, as in Metaflow"),
    (["--trigger", "Other/1", "resume"], "--trigger cannot be given to resume"),
])
def test_bad_resumes_are_one_sentence(failed_foreach, airflow_home, args, message):
    path, _ = failed_foreach
    result = run_flow(path, *args, airflow_home=airflow_home)
    assert result.returncode == 1 and result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Workflow starting" not in result.stdout


def test_nothing_to_resume_is_one_sentence(tmp_path, airflow_home):
    path = tmp_path / "flow.py"
    path.write_text(FOREACH)
    result = run_flow(path, "resume", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == ("error: There is no earlier local run of ResumeForeachInnerFlow by user alice to resume: "
                             "start one with `run`, or name one with --origin-run-id.\n")


SPLIT = (FLOWS / "split_flow.py").read_text().replace("from metaflow import", "from airflow_flow_triggers import")


def test_a_clone_takes_its_id_in_the_resumed_code_when_a_step_was_added_before_it(tmp_path, airflow_home,
                                                                                  monkeypatch):
    """Task ids start with the step's number in the graph: a branch added before `a` renumbers it (2 -> 3), and
    resume clones a's task under the id the new code gives it, with its input renamed too."""
    path = tmp_path / "flow.py"
    path.write_text(SPLIT)
    origin = run_flow(path, "run", "--run-id-file", str(tmp_path / "origin"), airflow_home=airflow_home)
    assert origin.returncode == 1, origin.stderr
    path.write_text(SPLIT.replace("BROKEN = True", "BROKEN = False").replace(
        "self.next(self.a, self.b)", "self.next(self.c, self.a, self.b)").replace(
        "    @step\n    def a(self):",
        "    @step\n    def c(self):\n        self.part = 0\n        self.next(self.join)\n\n"
        "    @step\n    def a(self):"))
    result = run_flow(path, "resume", "--run-id-file", str(tmp_path / "resumed"), airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    origin_id = (tmp_path / "origin").read_text()
    assert f"Cloning previously run task {origin_id}/a/2\n" in result.stdout
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
    run = Run(f"ResumeSplitFlow/{(tmp_path / 'resumed').read_text()}")
    [a] = run["a"].tasks()
    assert (a.id, a.origin_pathspec, a.data.part) == ("3", f"ResumeSplitFlow/{origin_id}/a/2", 11)
    assert [parent.pathspec for parent in a.parent_tasks] == [f"ResumeSplitFlow/{run.id}/start/1"]
    assert [t.id for t in run["c"]] == ["2"] and run["end"].task.id == "6" and run.data.total == 23
