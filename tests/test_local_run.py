"""`python flow.py run` end to end, in a subprocess, as a user types it."""
import re
import shutil

import pytest
from conftest import REPO, run_flow

SEED_PROJECT_FLOW = REPO / "dags" / "project_flow.py"


def seed_values(stdout):
    values = {}
    for key in ("project name", "project branch", "is this a production run?"):
        match = re.search(re.escape(key) + r":? (\S+)", stdout)
        values[key] = match.group(1) if match else None
    return values


@pytest.mark.parametrize("options, branch, production", [
    ([], "user.alice", "False"),
    (["--production"], "prod", "True"),
    (["--branch", "better_version"], "test.better_version", "False"),
    (["--branch", "better_version", "--production"], "prod.better_version", "True"),
])
def test_seed_project_flow(tmp_path, airflow_home, options, branch, production):
    flow = tmp_path / "project_flow.py"
    shutil.copy(SEED_PROJECT_FLOW, flow)
    result = run_flow(flow, *options, "run", airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    assert seed_values(result.stdout) == {"project name": "example_project", "project branch": branch,
                                          "is this a production run?": production}
    run_id = re.search(r"Workflow starting \(run-id (\d+)\)", result.stdout).group(1)
    assert f"Done! Run example_project.{branch}.ProjectFlow/{run_id} finished successfully." in result.stdout


SPLIT_FOREACH = '''
from airflow_flow_triggers import FlowSpec, step, Parameter, current, Flow

class BranchyFlow(FlowSpec):
    alpha = Parameter('alpha', default=0.5, help='a number')
    count = Parameter('count', default=4)

    @step
    def start(self):
        self.items = list(range(self.count))
        self.shared = 'same'
        self.log = []
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1 + self.alpha
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.log.append('b')          # changed in place, never reassigned
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = inputs.a.x + inputs.b.x
        self.from_b = inputs.b.log
        self.merge_artifacts(inputs, exclude=['x', 'log'])
        self.next(self.fan)

    @step
    def fan(self):
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.sq = self.input * self.input
        self.where = (self.index, current.task_id, current.step_name)
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.squares = [i.sq for i in inputs]
        self.wheres = [i.where for i in inputs]
        self.inputs_seen = [(i.index, i.input) for i in inputs]
        self.merge_artifacts(inputs, exclude=['sq', 'where'])
        self.next(self.end)

    @step
    def end(self):
        print('total', self.total, 'alpha', self.alpha, 'squares', self.squares, 'pathspec', current.pathspec)

if __name__ == '__main__':
    BranchyFlow()
'''


def test_split_join_foreach_and_client(write_flow, airflow_home, as_alice):
    flow = write_flow(SPLIT_FOREACH)
    result = run_flow(flow, "run", "--alpha", "2", "--max-workers", "2", airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    assert "total 5.0 alpha 2.0 squares [0, 1, 4, 9]" in result.stdout
    assert re.search(r"\[\d+/work/6-3\] Task finished successfully\.", result.stdout)

    from airflow_flow_triggers import Flow, Run
    run = Flow("BranchyFlow").latest_run
    assert run.successful and run.finished_at is not None
    assert run.data.squares == [0, 1, 4, 9]
    assert run.data.wheres == [(i, f"6-{i}", "work") for i in range(4)]
    assert run.data.inputs_seen == [(i, i) for i in range(4)]
    assert run.data.from_b == ["b"]
    assert run.data.shared == "same" and run.data.alpha == 2.0 and run.data.count == 4
    assert Run(run.pathspec).data.total == 5.0
    assert [t.id for t in run["work"].tasks()] == ["6-0", "6-1", "6-2", "6-3"]     # step 6, branches 0-3
    assert run["a"].task.data.log == [] and run["b"].task.data.log == ["b"]
    assert Flow("BranchyFlow").latest_successful_run.id == run.id


def test_parameter_of_wrong_type(write_flow, airflow_home):
    flow = write_flow(SPLIT_FOREACH)
    result = run_flow(flow, "run", "--alpha", "abc", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: Parameter 'alpha' expects a number value, got 'abc'."


FAILING = '''
from airflow_flow_triggers import FlowSpec, step

class FailingFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 0]
        self.next(self.divide, foreach='items')

    @step
    def divide(self):
        self.result = 10 / self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    FailingFlow()
'''


def test_failing_step_names_the_step(write_flow, airflow_home):
    flow = write_flow(FAILING)
    result = run_flow(flow, "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert re.search(r"\[\d+/divide/2-2\] ZeroDivisionError: division by zero", result.stdout)
    assert re.search(r'\[\d+/divide/2-2\]   File ".*flow.py", line 12, in divide', result.stdout)
    assert "airflow_flow_triggers" not in result.stdout.split("Traceback")[1].split("Task failed")[0]
    assert "Workflow failed." in result.stdout and "join/3] Task is starting" not in result.stdout
    assert re.fullmatch(r"error: Step 'divide' failed \(task FailingFlow/\d+/divide/2-2\): "
                        r"ZeroDivisionError: division by zero\n", result.stderr)


UNPICKLABLE = '''
import threading
from airflow_flow_triggers import FlowSpec, step

class LockFlow(FlowSpec):
    @step
    def start(self):
        self.fine = 1
        self.lock = threading.Lock()
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    LockFlow()
'''


def test_unpicklable_artifact_is_a_clear_error(write_flow, airflow_home):
    flow = write_flow(UNPICKLABLE)
    result = run_flow(flow, "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr.startswith("error: Artifact 'lock' of step 'start' cannot be stored: its value of "
                                    "type lock cannot be pickled")
    assert result.stderr.count("\n") == 1
    leftovers = list(airflow_home.rglob("lock.pickle"))
    assert leftovers == []


NOT_A_LIST = '''
from airflow_flow_triggers import FlowSpec, step

class NotListFlow(FlowSpec):
    @step
    def start(self):
        self.items = 5
        self.next(self.each, foreach='items')

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    NotListFlow()
'''


def test_foreach_over_non_list(write_flow, airflow_home):
    flow = write_flow(NOT_A_LIST)
    result = run_flow(flow, "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == (f"error: {flow}:8: Step 'start' fans out over self.items, which is a int, not "
                             "iterable: make it a list or tuple.\n")


MERGE_CONFLICT = '''
from airflow_flow_triggers import FlowSpec, step

class ConflictFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    ConflictFlow()
'''


def test_merge_conflict(write_flow, airflow_home):
    result = run_flow(write_flow(MERGE_CONFLICT), "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == ("error: Step 'join' cannot merge artifact 'x': its value differs between the "
                             "join's inputs; set self.x in the join before merging, or pass exclude=['x'].\n")


def test_bad_project_name_is_one_line(write_flow, airflow_home):
    flow = write_flow(SEED_PROJECT_FLOW.read_text().replace("example_project", "Example-Project"))
    result = run_flow(flow, "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == (f"error: {flow}:3: The project name must only contain lowercase alphanumeric "
                             "characters and underscores ('Example-Project' does not).\n")


def test_branch_conflict_with_code(write_flow, airflow_home):
    flow = write_flow(SEED_PROJECT_FLOW.read_text().replace(
        "@project(name='example_project')", "@project(name='example_project', branch='fixed')"))
    ok = run_flow(flow, "--branch", "fixed", "run", airflow_home=airflow_home)
    assert ok.returncode == 0 and "project branch: test.fixed" in ok.stdout
    bad = run_flow(flow, "--branch", "other", "run", airflow_home=airflow_home)
    assert bad.returncode == 1
    assert "You specified branch 'fixed' in @project and 'other' on the command line" in bad.stderr


def test_branch_without_project(write_flow, airflow_home):
    result = run_flow(write_flow(UNPICKLABLE), "--branch", "x", "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert "--branch needs a project: add @project(name='...') to flow LockFlow." in result.stderr


def test_invalid_branch_option(tmp_path, airflow_home):
    flow = tmp_path / "project_flow.py"
    shutil.copy(SEED_PROJECT_FLOW, flow)
    result = run_flow(flow, "--branch", "../x", "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == ("error: The branch name must only contain lowercase alphanumeric characters "
                             "and underscores ('../x' does not).\n")


def test_no_user(tmp_path, airflow_home):
    flow = tmp_path / "project_flow.py"
    shutil.copy(SEED_PROJECT_FLOW, flow)
    result = run_flow(flow, "run", airflow_home=airflow_home, user="root")
    assert result.returncode == 1
    assert result.stderr.startswith("error: Could not determine the user name: set one of the environment "
                                    "variables METAFLOW_USER, SUDO_USER, USERNAME, USER")


def test_artifact_root_from_airflow_config(tmp_path, airflow_home, as_alice):
    root = tmp_path / "elsewhere"
    (airflow_home / "airflow.cfg").write_text(f"[flow_triggers]\nartifact_root = file://{root}\n")
    result = run_flow(_copy_seed(tmp_path), "run",
                      airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    assert list(root.glob("example_project.user.alice.ProjectFlow/*/end/2/_task.json"))
    env_root = tmp_path / "from_env"
    result = run_flow(_copy_seed(tmp_path), "run", airflow_home=airflow_home,
                      AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT=str(env_root))
    assert result.returncode == 0, result.stderr
    assert list(env_root.glob("example_project.user.alice.ProjectFlow/*/end/2/_task.json"))


def _copy_seed(tmp_path):
    flow = tmp_path / "project_flow.py"
    shutil.copy(SEED_PROJECT_FLOW, flow)
    return flow


NO_AIRFLOW = '''
import atexit
import sys
from airflow_flow_triggers import FlowSpec, step

atexit.register(lambda: print("airflow modules:", sorted(m for m in sys.modules if m.split(".")[0] == "airflow")))

class NoAirflowFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.y = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    NoAirflowFlow()
'''


def test_local_run_never_imports_airflow(write_flow, airflow_home):
    """Importing Airflow costs ~2 s, more than a small local run: a `file://` root never needs it
    (the import-linter contract in setup.cfg keeps it so; this is the behaviour it protects)."""
    result = run_flow(write_flow(NO_AIRFLOW), "run", airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    assert "airflow modules: []" in result.stdout
