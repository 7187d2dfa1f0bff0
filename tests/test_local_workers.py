"""Local runs in worker processes: every core used, output in order per task, failures, deaths, Ctrl-C."""
import os
import re
import signal
import subprocess
import sys

from conftest import flow_env, run_flow

FOREACH = '''
import os, signal, sys, time
from airflow_flow_triggers import FlowSpec, step, current

class WorkFlow(FlowSpec):
    @step
    def start(self):
        print("parent", os.getppid())
        self.items = list(range(6))
        self.next(self.work, foreach='items')

    @step
    def work(self):
        print("pid", os.getpid(), current.task_id, current.pathspec)
        for line in range(3):
            print(f"item {{self.input}} line {{line}}")
            time.sleep(0.05)
        {work}
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("values", self.values)

if __name__ == '__main__':
    WorkFlow()
'''


def lines_of(stdout: str, prefix: str) -> list[str]:
    return [line.split(f"[{prefix}] ", 1)[1] for line in stdout.splitlines() if f"[{prefix}] " in line]


def test_tasks_run_in_worker_processes_with_their_output_in_order(write_flow, airflow_home):
    result = run_flow(write_flow(FOREACH.format(work="")), "run", "--max-workers", "3", airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"run-id (\d+)", result.stdout).group(1)
    pids = set()
    for index in range(6):
        task = lines_of(result.stdout, f"{run_id}/work/2-{index}")
        assert task[0] == "Task is starting." and task[-1] == "Task finished successfully."
        pid, task_id, pathspec = task[1].split()[1:]
        assert (task_id, pathspec) == (f"2-{index}", f"WorkFlow/{run_id}/work/2-{index}")      # current, per worker
        assert task[2:5] == [f"item {index} line {n}" for n in range(3)]
        pids.add(int(pid))
    runner = int(lines_of(result.stdout, f"{run_id}/start/1")[1].split()[1])     # start's parent: the runner
    assert len(pids) <= 3 and runner not in pids
    assert lines_of(result.stdout, f"{run_id}/end/4")[1] == "values [0, 10, 20, 30, 40, 50]"


def test_a_failing_task_stops_the_run_and_names_its_step(write_flow, airflow_home):
    failing = "if self.input == 4:\n            raise ValueError('item four is bad')"
    result = run_flow(write_flow(FOREACH.format(work=failing)), "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert re.fullmatch(r"error: Step 'work' failed \(task WorkFlow/\d+/work/2-4\): ValueError: item four is bad\n",
                        result.stderr)
    run_id = re.search(r"run-id (\d+)", result.stdout).group(1)
    failed = lines_of(result.stdout, f"{run_id}/work/2-4")
    assert "Traceback (most recent call last):" in failed and failed[-1] == "Task failed."
    assert "ValueError: item four is bad" in failed and "Done!" not in result.stdout


def test_a_worker_that_dies_fails_its_task_with_one_sentence(write_flow, airflow_home):
    dies = "if self.input == 2:\n            os.kill(os.getpid(), signal.SIGKILL)"
    result = run_flow(write_flow(FOREACH.format(work=dies)), "run", airflow_home=airflow_home)
    assert result.returncode == 1             # never a hang: run_flow gives up after 300 s
    assert re.fullmatch(r"error: Step 'work' failed \(task WorkFlow/\d+/work/2-2\): the worker process running work "
                        r"\(foreach branch 2\) was killed by SIGKILL \(a crash in a C extension, the system out of "
                        r"memory, or a kill\)\.\n",
                        result.stderr)


def test_ctrl_c_stops_every_worker(write_flow, airflow_home):
    path = write_flow(FOREACH.format(work="time.sleep(120)"))
    run = subprocess.Popen([sys.executable, str(path), "run", "--max-workers", "2"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=flow_env(airflow_home), cwd=str(path.parent))
    workers = set()
    for line in run.stdout:
        if " pid " in line:
            workers.add(int(line.split(" pid ", 1)[1].split()[0]))
        if len(workers) == 2:
            break
    run.send_signal(signal.SIGINT)            # as a terminal's Ctrl-C does to the run (its workers ignore it)
    _, stderr = run.communicate(timeout=30)
    assert run.returncode == 130
    assert stderr == "error: Interrupted: the run stopped, and its worker processes with it.\n"
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


LINEAR = '''
import os
from airflow_flow_triggers import FlowSpec, step

class LineFlow(FlowSpec):
    @step
    def start(self):
        print("start in", os.getpid())
        self.next(self.middle)

    @step
    def middle(self):
        print("middle in", os.getpid())
        self.next(self.end)

    @step
    def end(self):
        print("end in", os.getpid(), "runner", os.getppid())

if __name__ == '__main__':
    LineFlow()
'''


def test_a_linear_flow_runs_its_tasks_in_one_worker_never_in_the_runner(write_flow, airflow_home):
    """No split or foreach: nothing would run at the same time, so one worker runs every task; never the runner's
    own process, which a step that crashes would take down with it."""
    result = run_flow(write_flow(LINEAR), "run", airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    [worker] = set(re.findall(r"(?:start|middle|end) in (\d+)", result.stdout))
    assert worker != re.search(r"runner (\d+)", result.stdout).group(1)


FORKSERVER_CONFIG_FLOW = '''
import airflow_flow_triggers.runtime.workers as workers
workers.start_method = lambda: "forkserver"       # as on macOS: each worker imports the flow anew
from airflow_flow_triggers import FlowSpec, step, Config, current


class CfgFlow(FlowSpec):
    settings = Config("settings", default_value={"n": 1})

    @step
    def start(self):
        print("start n", self.settings.n, "try", current.retry_count)
        if current.retry_count == 0:
            raise ValueError("the first try fails")
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        import os
        print("work n", self.settings.n, os.environ.get("GREETING"))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CfgFlow()
'''


def test_workers_started_by_forkserver_see_the_runs_configs_and_with_decorators(write_flow, airflow_home):
    result = run_flow(write_flow(FORKSERVER_CONFIG_FLOW), "--config-value", "settings", '{"n": 7}', "run",
                      "--with", "retry:times=1", "--with", 'environment:vars={"GREETING": "hi"}',
                      airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    printed = [line.split("] ", 1)[1] for line in result.stdout.splitlines() if " n " in line]
    assert sorted(printed) == ["start n 7 try 0", "start n 7 try 1", "work n 7 hi", "work n 7 hi"]
