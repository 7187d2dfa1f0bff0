"""The client's surface and the read commands on what only this package does (the side-by-side comparison with
Metaflow is test_read_commands_oracle.py): a task's output kept in the store, whether its step ran in the runner's
process, in a worker process or where nothing routes output (an Airflow task, a pod), spooled for an object
store; a crashed task's output and the message added after it; tags changed by many processes at once; the
client reading another store (`metadata()`); each bad input one sentence."""
import os
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest
from conftest import run_flow
from upath import UPath

from airflow_flow_triggers import (
    Flow,
    FlowSpec,
    Run,
    Step,
    Task,
    current,
    default_metadata,
    get_metadata,
    metadata,
    namespace,
    step,
)
from airflow_flow_triggers.errors import ArtifactError, TaggingError
from airflow_flow_triggers.naming import Deployment
from airflow_flow_triggers.runtime import logs
from airflow_flow_triggers.runtime.client import InvalidPathspec
from airflow_flow_triggers.runtime.store import ArtifactStore
from airflow_flow_triggers.runtime.task import execute_task

LINEAR = '''
import sys
from airflow_flow_triggers import FlowSpec, step

class TalkFlow(FlowSpec):
    @step
    def start(self):
        print("to stdout")
        sys.stderr.write("to stderr\\n")
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        print("bye", self.x)

if __name__ == '__main__':
    TalkFlow()
'''

SPLIT = '''
import sys
from airflow_flow_triggers import FlowSpec, step

class SplitTalkFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        print("in a")
        self.next(self.join)

    @step
    def b(self):
        print("in b", file=sys.stderr)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    SplitTalkFlow()
'''


def run_id_of(result) -> str:
    assert result.returncode == 0, result.stderr
    return re.search(r"run-id (\d+)", result.stdout).group(1)


@pytest.fixture
def store(airflow_home, monkeypatch):
    """The default artifact root of `airflow_home`, for flows run here and read by the client."""
    return ArtifactStore(f"file://{airflow_home}/flow_triggers/artifacts")


def test_output_of_tasks_in_the_runners_process_and_in_workers(write_flow, airflow_home, store):
    linear = run_id_of(run_flow(write_flow(LINEAR, "talk.py"), "run", airflow_home=airflow_home))
    split = run_id_of(run_flow(write_flow(SPLIT, "split.py"), "run", "--max-workers", "2", airflow_home=airflow_home))
    start = Run(f"TalkFlow/{linear}", store=store)["start"].task
    assert (start.stdout, start.stderr) == ("to stdout\n", "to stderr\n")
    assert Run(f"TalkFlow/{linear}", store=store)["end"].task.stdout == "bye 1\n"
    run = Run(f"SplitTalkFlow/{split}", store=store)
    assert (run["a"].task.stdout, run["a"].task.stderr, run["b"].task.stderr) == ("in a\n", "", "in b\n")
    assert (start.path / "_logs" / "0.stdout.log").read_text() == "to stdout\n"    # kept with the task


def test_where_nothing_routes_output_the_step_is_teed(tmp_path, capfd):
    """An Airflow task (or a pod) prints to its own streams, which Airflow logs: they still get every line."""
    class TeeFlow(FlowSpec):
        @step
        def start(self):
            print("seen by both")
            print("an error line", file=sys.stderr)
            self.next(self.end)

        @step
        def end(self):
            pass

    store = ArtifactStore(f"file://{tmp_path}/artifacts")
    before = sys.stdout, sys.stderr
    execute_task(TeeFlow, Deployment("TeeFlow", None, None, "alice"), "manual__1", "start", [], store=store,
                 origin="airflow")
    assert (sys.stdout, sys.stderr) == before
    printed = capfd.readouterr()
    assert "seen by both" in printed.out and "an error line" in printed.err
    namespace(None)
    task = Run("TeeFlow/manual__1", store=store)["start"].task
    assert (task.stdout, task.stderr) == ("seen by both\n", "an error line\n")


def test_an_object_store_spools_the_output_until_the_task_ends(tmp_path):
    task_path = UPath("memory://surface/run/start/0")
    log = logs.TaskLog(task_path, 0)
    log.write("stdout", "one\n")
    log.write("stdout", "two")
    assert not logs.log_path(task_path, "stdout", 0).exists()      # in the spool on this machine until then
    log.close()
    assert logs.read_log(task_path, "stdout", 0) == "one\ntwo"
    assert logs.logged_attempts(task_path) == [0]


def test_a_crashed_tasks_output_and_the_message_after_it(tmp_path):
    """What a task printed before its process died stays, and the runner adds why it died (engineer 4's call)."""
    for root in (f"file://{tmp_path}/artifacts", "memory://crashed"):
        task_path = UPath(root) / "CrashFlow" / "1" / "end" / "0"
        dying = logs.TaskLog(task_path, 1)
        dying.write("stdout", "Crash and burn!\n")      # never closed: the process died
        logs.append_stderr(task_path, 1, "Task failed with a segmentation fault.")
        assert logs.read_log(task_path, "stdout", 1) == "Crash and burn!\n"
        assert logs.read_log(task_path, "stderr", 1) == "Task failed with a segmentation fault.\n"


def test_a_task_without_a_record_is_listed_unfinished(tmp_path):
    store = ArtifactStore(f"file://{tmp_path}/artifacts")

    class CrashFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    ref = execute_task(CrashFlow, Deployment("CrashFlow", None, None, "alice"), "9", "start", [], store=store)
    assert ref.task_id == "1"                       # start is the flow's step 1, end its step 2
    logs.append_stderr(store.task_path("CrashFlow", "9", "end", "2"), 0, "Task failed with a segmentation fault.")
    namespace(None)
    run = Run("CrashFlow/9", store=store)
    crashed = run["end"].task
    assert (crashed.successful, crashed.finished, crashed.finished_at, crashed.exception) == (False, False, None, None)
    assert crashed.stderr == "Task failed with a segmentation fault.\n"
    assert run.end_task.id == "2" and not run.finished and not run.successful


TAGGER = '''
import sys
from airflow_flow_triggers import Run
from airflow_flow_triggers.runtime.store import ArtifactStore

run = Run(sys.argv[1], store=ArtifactStore(sys.argv[2]))
for n in range(5):
    run.add_tag(f"{sys.argv[3]}-{n}")
'''


def test_many_processes_tag_one_run_at_once(write_flow, airflow_home, store):
    run_id = run_id_of(run_flow(write_flow(LINEAR, "talk.py"), "run", airflow_home=airflow_home))
    tagger = write_flow(TAGGER, "tagger.py")
    env = {**os.environ, "USER": "alice"}
    processes = [subprocess.Popen([sys.executable, str(tagger), f"TalkFlow/{run_id}", store.url, f"p{p}"], env=env)
                 for p in range(4)]
    assert [process.wait(timeout=120) for process in processes] == [0] * 4
    assert Run(f"TalkFlow/{run_id}", store=store).user_tags == {f"p{p}-{n}" for p in range(4) for n in range(5)}


def _add_and_read(args):
    pathspec, url, tag = args
    run = Run(pathspec, store=ArtifactStore(url))
    run.add_tag(tag)
    return sorted(Run(pathspec, store=ArtifactStore(url)).user_tags)


def test_tag_rules(write_flow, airflow_home, store):
    run_id = run_id_of(run_flow(write_flow(LINEAR, "talk.py"), "run", "--tag", "kept", airflow_home=airflow_home))
    run = Run(f"TalkFlow/{run_id}", store=store)
    with pytest.raises(TaggingError, match=r"Cannot remove \['runtime:dev'\]: system tags say who made the run"):
        run.remove_tags(["kept", "runtime:dev"])
    assert run.user_tags == {"kept"}                     # all or nothing
    for bad, why in (("", "cannot be empty"), ("x" * 501, "501 characters long: a tag has at most 500"),
                     (b"\xff", "is not UTF-8"), (7, "is a int, not text"), ("\udcff", "cannot be written as UTF-8")):
        with pytest.raises(TaggingError, match=re.escape(why)):
            run.add_tags([bad])
    with pytest.raises(TaggingError, match=re.escape("tags_to_remove must be a list of tags, not 4.")):
        run.remove_tag(4)                                # Metaflow's add_tag/remove_tag take a list too
    with pytest.raises(TaggingError, match="Give at least one tag to add or to remove"):
        run.replace_tags([], [])
    with pytest.raises(TaggingError, match="tags_to_add must be a list of tags, not the single tag 'x'"):
        run.replace_tags([], "x")
    run.add_tags([f"t{n}" for n in range(49)])
    with pytest.raises(TaggingError, match="A run has at most 50 user tags"):
        run.add_tag("one too many")
    run.replace_tag("t0", "swapped")
    assert len(run.user_tags) == 50 and "swapped" in run.user_tags and "t0" not in run.user_tags
    with ProcessPoolExecutor(2) as pool:      # the record others read is never half written
        seen = list(pool.map(_add_and_read, [(f"TalkFlow/{run_id}", store.url, "kept")] * 4))
    assert all(tags == sorted(run.user_tags) for tags in seen)


def test_metadata_chooses_the_store_the_client_reads(write_flow, airflow_home, tmp_path, monkeypatch):
    run_id = run_id_of(run_flow(write_flow(LINEAR, "talk.py"), "run", airflow_home=airflow_home))
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", f"file://{tmp_path}/elsewhere")
    assert get_metadata() == f"local@{tmp_path}/elsewhere"
    with pytest.raises(Exception, match="does not exist in the artifact store"):
        Flow("TalkFlow")
    root = f"{airflow_home}/flow_triggers/artifacts"
    try:
        assert metadata(f"local@{root}") == f"local@{root}"
        assert Flow("TalkFlow").latest_run.id == run_id
        assert metadata(f"file://{root}") == f"local@{root}" and Run(f"TalkFlow/{run_id}").successful
    finally:
        assert default_metadata() == f"local@{tmp_path}/elsewhere"
    with pytest.raises(ArtifactError, match=r"metadata\('service@https://mf.example.com'\) names no artifact store"):
        metadata("service@https://mf.example.com")


def test_the_client_reads_a_running_task(tmp_path):
    """Inside a step: Task(current.pathspec) is the running task, not yet finished; current.task and current.run
    pickle as artifacts and are found again after the run, whatever the namespace."""
    class LookFlow(FlowSpec):
        @step
        def start(self):
            mine = Task(current.pathspec)
            self.seen = (mine.successful, mine.finished, mine.finished_at, mine.stdout, current.task.pathspec)
            self.me, self.whole = current.task, current.run
            self.next(self.end)

        @step
        def end(self):
            pass

    store = ArtifactStore(f"file://{tmp_path}/artifacts")
    os.environ["AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT"] = store.url
    try:
        deployment = Deployment("LookFlow", None, None, "alice")
        ref = execute_task(LookFlow, deployment, "5", "start", [], store=store)
        execute_task(LookFlow, deployment, "5", "end", [ref], store=store)
    finally:
        del os.environ["AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT"]
    namespace("user:nobody")
    task = Task("LookFlow/5/start/1", store=store, _namespace_check=False)
    assert task.data.seen == (False, False, None, "", "LookFlow/5/start/1")
    assert (task.data.me.successful, task.data.whole.successful) == (True, True)
    assert [step.id for step in task.data.whole] == ["end", "start"]            # newest first, as Metaflow


def test_bad_inputs_are_one_sentence(write_flow, airflow_home, store):
    flow = write_flow(LINEAR, "talk.py")
    run_id = run_id_of(run_flow(flow, "run", airflow_home=airflow_home))
    cases = [
        (["logs", run_id], f"error: '{run_id}' is not a task or step: write RUN_ID/STEP or RUN_ID/STEP/TASK_ID."),
        (["logs", f"{run_id}/nope"], f"error: Run 'TalkFlow/{run_id}' has no step 'nope' (none of its tasks has "
                                     "started); it has: end, start."),
        (["dump", f"{run_id}/start/7"], f"error: Step 'TalkFlow/{run_id}/start' has no task '7'; it has: 1."),
        (["logs", "123/start"], "error: Run 'TalkFlow/123' does not exist in the artifact store at "),
        (["logs", "--timestamps", f"{run_id}/start"], "error: logs --timestamps: logs are kept without timestamps"),
        (["tag", "add", "solo"], f"error: Give the run with --run-id: the latest run of TalkFlow in namespace "
                                 f"user:alice is {run_id}."),
        (["tag", "add", "--run-id", f"TalkFlow/{run_id}", "x"], f"error: Run id 'TalkFlow/{run_id}' is not a run id"),
        (["tag", "add", "--run-id", "123", "x"], "error: No run TalkFlow/123: check the run id"),
        (["tag", "add", "--namespace", "user:bob", "--run-id", run_id, "x"],
         "error: No run of TalkFlow in namespace user:bob: switch with --namespace."),
        (["tag", "remove", "--run-id", run_id, "runtime:dev"], "error: Cannot remove ['runtime:dev']"),
        (["tag", "replace", "--run-id", run_id, "--add", "x"], "error: tag replace: give at least one tag to remove"),
        (["tag", "list", "--flat", "--group-by-tag"], "error: tag list: --flat cannot go with a --group-by-* option"),
    ]
    for args, message in cases:
        result = run_flow(flow, *args, airflow_home=airflow_home)
        assert (result.returncode, result.stderr.splitlines()[-1][:len(message)]) == (1, message), (args, result.stderr)
        assert "Traceback" not in result.stderr
    with pytest.raises(InvalidPathspec, match=r"'TalkFlow/1' is not a task pathspec: write it as "
                                              r"'FlowName/run_id/step_name/task_id'."):
        Task("TalkFlow/1", store=store)
    with pytest.raises(KeyError):
        Step(f"TalkFlow/{run_id}/nope", store=store)


def test_a_project_flows_runs_by_branch(write_flow, airflow_home):
    project_flow = LINEAR.replace("from airflow_flow_triggers import FlowSpec, step",
                                  "from airflow_flow_triggers import FlowSpec, step, project").replace(
        "class TalkFlow", "@project(name='talk')\nclass TalkFlow")
    flow = write_flow(project_flow, "talk.py")
    mine = run_id_of(run_flow(flow, "run", airflow_home=airflow_home))
    prod = run_id_of(run_flow(flow, "--production", "run", airflow_home=airflow_home))
    for options, run_id in (([], mine), ([], prod), (["--production"], prod)):
        result = run_flow(flow, *options, "--quiet", "dump", f"{run_id}/start", airflow_home=airflow_home)
        assert result.stdout.splitlines()[0] == "name [size: 23 type: <class 'str'>] = TalkFlow", result.stderr
    wrong = run_flow(flow, "--production", "logs", f"{mine}/start", airflow_home=airflow_home)
    assert f"error: Run 'talk.prod.TalkFlow/{mine}' does not exist" in wrong.stderr
