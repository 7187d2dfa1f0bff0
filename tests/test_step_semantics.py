"""What a step's code meets while it runs, as in Metaflow 2.19 (the oracle): exceptions that do not pickle, a
segfault, @timeout, @retry, sys.stdout/sys.stderr as files, class-level constants, merge_artifacts' exceptions,
iterating a flow and foreach_stack(). Each flow is run under Metaflow and, its import line changed, under this
package, and what each step printed compared (tests/test_metaflow_oracle.py's `printed`); where the two must
differ, the test says why. Every run has a timeout: a hang fails the test instead of stalling the suite.
"""
import importlib
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import import_file
from test_metaflow_oracle import printed

from airflow_flow_triggers import FlowTriggersError, Run, Task, errors
from airflow_flow_triggers.errors import (
    ArtifactError,
    FlowDefinitionError,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)
from airflow_flow_triggers.runtime.store import ArtifactStore

RUN_TIMEOUT = 180


def run(tool: str, source: str, tmp_path: Path, *args: str, timeout: int = RUN_TIMEOUT):
    """`python flow.py args` of `source` (written for Metaflow) under `tool`, 'metaflow' or 'ours'; returns the
    CompletedProcess, with `elapsed` seconds."""
    folder = tmp_path / tool
    folder.mkdir(parents=True, exist_ok=True)
    if tool == "ours":
        source = source.replace("from metaflow.exception import", "from airflow_flow_triggers import") \
                       .replace("from metaflow.cards import", "from airflow_flow_triggers.cards import") \
                       .replace("from metaflow import", "from airflow_flow_triggers import")
    (folder / "flow.py").write_text(source)
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
           "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
           "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "flow.py", *args], cwd=folder, env=env, capture_output=True, text=True,
                            timeout=timeout)
    result.elapsed = time.monotonic() - started
    return result


def steps_printed(result) -> dict:
    return printed(result.stdout + "\n" + result.stderr)


def same_as_metaflow(source: str, tmp_path: Path, *args: str, in_order: bool = True):
    """Our run of `source`, after checking it prints per step what Metaflow's prints, with the same exit status
    (`in_order=False`: each task's lines as a set, where it writes both streams: Metaflow reads its task's two
    pipes as they come, so their lines interleave as they may).

    Metaflow runs again (at most 3 times) while it differs: its runtime drains a failed attempt's pipes
    best-effort, so on a busy machine it now and then lacks a line the attempt printed (seen in CI: `attempt 1`
    of a @retry step; see test_metaflow_oracle.oracle); a real difference shows every time."""
    ours = run("ours", source, tmp_path, *args)
    for attempt in range(3):
        theirs = run("metaflow", source, tmp_path / f"try{attempt}", *args)
        if theirs.returncode == ours.returncode and \
                _lines(steps_printed(ours), in_order) == _lines(steps_printed(theirs), in_order):
            break
    assert steps_printed(ours) and ours.returncode == theirs.returncode, \
        (ours.stdout + ours.stderr, theirs.stdout + theirs.stderr)
    assert _lines(steps_printed(ours), in_order) == _lines(steps_printed(theirs), in_order), \
        (ours.stdout + ours.stderr, theirs.stdout + theirs.stderr)
    return ours


def _lines(steps: dict, in_order: bool) -> dict:
    return steps if in_order else {step: sorted(sorted(task) for task in tasks) for step, tasks in steps.items()}


def run_id_of(result) -> str:
    return re.search(r"run-id (\d+)", result.stdout).group(1)


def store_of(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(f"file://{tmp_path}/ours/airflow_home/flow_triggers/artifacts")


# -- A step's exception, whatever it is, fails its task: it never loses a worker, hangs the run or hides -----

UNPICKLABLE = '''
import threading
from airflow_flow_triggers import FlowSpec, FlowTriggersError, retry, step


class MyError(FlowTriggersError):                 # its own __init__: not rebuilt by FlowTriggersError's arguments
    def __init__(self, code, detail):
        super().__init__(f"code {{code}}: {{detail}}")
        self.code = code


class ResumeFromHere(FlowTriggersError):          # Metaflow style: MetaflowException with an __init__ of its own
    def __init__(self):
        super().__init__("resume from here")


class Locked(Exception):                          # cannot pickle at all
    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


def _refuse():
    raise RuntimeError("never read back")


class Unreadable(Exception):                      # pickles, but unpickling it raises
    def __reduce__(self):
        return _refuse, ()


ERRORS = {{"MyError": lambda: MyError(7, "bad input"), "ResumeFromHere": ResumeFromHere,
          "Locked": lambda: Locked("holds a lock"), "Unreadable": lambda: Unreadable("cannot be read back")}}


class RaisingFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach='items')

    {retry}
    @step
    def work(self):
        print("working on", self.input)
        raise ERRORS["{kind}"]()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    RaisingFlow()
'''

MESSAGES = {"MyError": "code 7: bad input", "ResumeFromHere": "resume from here", "Locked": "holds a lock",
            "Unreadable": "cannot be read back"}


@pytest.mark.parametrize("retried", [True, False], ids=["retry", "no-retry"])
@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_an_exception_that_does_not_pickle_fails_its_task_with_its_own_name_and_message(kind, retried, tmp_path):
    source = UNPICKLABLE.format(kind=kind, retry="@retry(times=2, minutes_between_retries=0)" if retried else "")
    result = run("ours", source, tmp_path, "run", "--max-workers", "2", timeout=120)   # it hung forever
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.fullmatch(rf"error: Step 'work' failed \(task RaisingFlow/\d+/work/2-\d\): {kind}: "
                        rf"{MESSAGES[kind]}\n", result.stderr)
    steps = steps_printed(result)
    failures = [[line for line in task if line.startswith("failed>")] for task in steps["work"]]
    assert all(set(failed) <= {f"failed> {kind}: {MESSAGES[kind]}"} for failed in failures)
    assert max(map(len, failures)) == (3 if retried else 1)     # the task that failed the run tried every attempt
    assert "Workflow failed." in result.stdout and "end" not in steps


class Coded(FlowTriggersError):
    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}", "flow.py", 7)
        self.code = code


def test_our_errors_and_user_subclasses_cross_processes_whole():
    """FlowTriggersError pickles by its state, not by calling __init__ again, so a subclass with other arguments
    comes back whole (with file and line for ours)."""
    import pickle
    back = pickle.loads(pickle.dumps(Coded(7, "bad input")))
    assert (type(back), str(back), back.code) == (Coded, "flow.py:7: code 7: bad input", 7)
    merge = pickle.loads(pickle.dumps(UnhandledInMergeArtifactsException("conflict", ["x", "y"])))
    assert (str(merge), merge.artifact_names) == ("conflict", ["x", "y"])


# -- A segfault is a failed task with a message, in a flow without splits too (Metaflow: DetectSegFaultTest) -----

SEGFAULT = '''
from metaflow import FlowSpec, step


class SegfaultFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        import ctypes
        print("Crash and burn!")
        ctypes.string_at(0)


if __name__ == '__main__':
    SegfaultFlow()
'''


def test_a_segfault_fails_its_task_with_metaflows_message_and_keeps_what_it_printed(tmp_path):
    result = same_as_metaflow(SEGFAULT, tmp_path, "run")        # both print "Task failed with a segmentation fault."
    assert steps_printed(result)["end"] == [("Crash and burn!", "Task failed with a segmentation fault.")]
    assert re.fullmatch(r"error: Step 'end' failed \(task SegfaultFlow/\d+/end/2\): the worker process running end "
                        r"was killed by SIGSEGV \(a segmentation fault: a crash in C code, e\.g\. an extension "
                        r"module\)\.\n", result.stderr)
    task = Task(f"SegfaultFlow/{run_id_of(result)}/end/2", store=store_of(tmp_path))
    assert "Crash and burn!" in task.stdout and "segmentation fault" in task.stderr
    assert not task.successful


SEGFAULT_RETRIED = '''
from metaflow import FlowSpec, catch, current, retry, step


class CrashingFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach='items')

    @catch(var='crash', print_exception=False)
    @retry(times=1)
    @step
    def work(self):
        import ctypes
        print("attempt", current.retry_count)
        ctypes.string_at(0)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.crashes = [i.crash.exception for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.crashes)


if __name__ == '__main__':
    CrashingFlow()
'''


def test_segfaults_retried_in_a_foreach_then_caught_as_metaflows_fallback(tmp_path):
    """Two workers, three branches each crashing twice: every crash replaces its worker (the run never waits for
    one that is gone), at once (Metaflow's local runtime does not wait minutes_between_retries), and @catch
    takes the last one through Metaflow's fallback attempt."""
    result = same_as_metaflow(SEGFAULT_RETRIED, tmp_path, "run", "--max-workers", "2")
    assert steps_printed(result)["work"] == 3 * [(
        "attempt 0", "Task failed with a segmentation fault.", "attempt 1", "Task failed with a segmentation fault.",
        "Task fallback is starting to handle the failure.")]
    assert result.elapsed < 120                      # the two minutes a bare @retry names were not waited


# -- @timeout is enforced in local runs (Metaflow: TimeoutDecoratorTest) -------------------------------------

TIMEOUT = '''
import time
from metaflow import FlowSpec, catch, current, retry, step, timeout


class SleepyFlow(FlowSpec):
    @catch(var='ex', print_exception=False)
    @retry(times=1, minutes_between_retries=0)
    @timeout(seconds=1)
    @step
    def start(self):
        self.check = True
        time.sleep(30)
        self.next(self.split)

    @step
    def split(self):
        self.start_ex = self.ex
        self.items = [1, 2]
        self.next(self.inner, foreach='items')

    @catch(var='ex', print_exception=False)
    @timeout(seconds=1)
    @step
    def inner(self):
        time.sleep(30)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.caught = [inputs[0].start_ex] + [i.ex for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        for ex in self.caught:
            print(ex.type, '|', ex.exception.splitlines()[0])


if __name__ == '__main__':
    SleepyFlow()
'''


def test_timeout_raises_metaflows_exception_in_the_step_so_retry_and_catch_apply(tmp_path):
    """@catch keeps it with Metaflow's type name (`metaflow.plugins.timeout_decorator.TimeoutException`)
    and message."""
    ours, theirs = run("ours", TIMEOUT, tmp_path, "run"), run("metaflow", TIMEOUT, tmp_path, "run")
    assert ours.returncode == theirs.returncode == 0, ours.stdout + ours.stderr
    assert steps_printed(ours)["end"] == steps_printed(theirs)["end"] == [(
        f"{TIMEOUT_TYPE} | Step start timed out after 0 hours, 0 minutes, 1 seconds",
        f"{TIMEOUT_TYPE} | Step inner timed out after 0 hours, 0 minutes, 1 seconds",
        f"{TIMEOUT_TYPE} | Step inner timed out after 0 hours, 0 minutes, 1 seconds")]
    assert ours.elapsed < 25                # 3 timeouts of 1 s, never a 30 s sleep
    assert steps_printed(ours)["start"][0].count("Step start timed out after 0 hours, 0 minutes, 1 seconds") == 2
    ex = Task(f"SleepyFlow/{run_id_of(ours)}/start/1", store=store_of(tmp_path)).data.ex
    assert ex.type == TIMEOUT_TYPE


TIMEOUT_TYPE = "metaflow.plugins.timeout_decorator.TimeoutException"


@pytest.mark.parametrize("ours", [cls for cls in vars(errors).values()
                                  if isinstance(cls, type) and "metaflow_name" in cls.__dict__])
def test_exceptions_standing_for_metaflows_are_named_as_metaflow_names_them(ours):
    """`.type` of a caught exception is what Metaflow 2.19 calls its own: the class exists there by that name."""
    module, name = ours.metaflow_name.rsplit(".", 1)
    theirs = getattr(importlib.import_module(module), name)
    assert (theirs.__name__, errors.type_name(ours("x"))) == (ours.__name__, f"{theirs.__module__}.{name}")
    assert errors.type_name(type(f"My{name}", (ours,), {})("x")).endswith(f".My{name}")   # a subclass is its own


def test_a_timeout_without_catch_fails_the_run_naming_the_step(tmp_path):
    caught = "    @catch(var='ex', print_exception=False)\n    @retry(times=1, minutes_between_retries=0)\n"
    source = TIMEOUT.replace(caught, "")
    result = run("ours", source, tmp_path, "run", timeout=60)
    assert result.returncode == 1 and result.elapsed < 25
    assert re.fullmatch(r"error: Step 'start' failed \(task SleepyFlow/\d+/start/1\): TimeoutException: Step start "
                        r"timed out after 0 hours, 0 minutes, 1 seconds\n", result.stderr)
    assert 'File "' in result.stdout and "time.sleep(30)" in result.stdout     # the traceback shows where it was


# -- @retry retries as Metaflow's local runtime does ---------------------------------------------------------

RETRY = '''
from metaflow import FlowSpec, current, retry, step


class FlakyFlow(FlowSpec):
    @retry
    @step
    def start(self):
        print("attempt", current.retry_count)
        if current.retry_count < 2:
            raise ConnectionError(f"attempt {current.retry_count} fails")
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        print("kept attempt", self.attempt)


if __name__ == '__main__':
    FlakyFlow()
'''


def test_retry_runs_the_next_attempt_at_once_as_metaflows_local_runtime(tmp_path):
    """A bare @retry says minutes_between_retries=2; Metaflow's local runtime does not wait for it (only
    schedulers do: on Airflow it is the task's retry_delay), nor does a local run here."""
    result = same_as_metaflow(RETRY, tmp_path, "run")
    assert steps_printed(result)["start"] == [("attempt 0", "failed> ConnectionError: attempt 0 fails", "attempt 1",
                                               "failed> ConnectionError: attempt 1 fails", "attempt 2")]
    assert result.elapsed < 120                      # the two minutes a bare @retry names were not waited


def test_more_retries_than_metaflows_maximum_is_one_error(tmp_path):
    source = RETRY.replace("@retry\n", "@retry(times=5)\n")
    ours, theirs = run("ours", source, tmp_path, "run"), run("metaflow", source, tmp_path, "run")
    assert ours.returncode == 1 and theirs.returncode != 0 and "@retry(times=4)" in theirs.stdout + theirs.stderr
    line = source.splitlines().index("    @retry(times=5)") + 1
    assert re.fullmatch(rf"error: \S+flow\.py:{line}: @retry\(times=5\) asks for more than the maximum of 4 retries "
                        r"\(Metaflow's\): use @retry\(times=4\) or fewer\.\n", ours.stderr)


# -- A step's sys.stdout and sys.stderr are files, as Metaflow's ----------------------------------------------

STREAMS = '''
import sys
from metaflow import FlowSpec, step


class StreamsFlow(FlowSpec):
    @step
    def start(self):
        for stream in (sys.stdout, sys.stderr):
            print(stream.mode, stream.encoding, stream.errors, stream.isatty(), stream.fileno(), stream.writable(),
                  stream.readable(), stream.seekable(), stream.closed, stream.line_buffering)
        data = "bytes, é split".encode()
        cut = data.index(b"\\xc3") + 1                  # in the middle of é
        sys.stdout.buffer.write(data[:cut])
        sys.stdout.buffer.write(data[cut:] + b" done\\n")
        sys.stdout.buffer.flush()
        sys.stderr.buffer.write(b"bytes to stderr\\n")
        sys.stdout.writelines(["one\\n", "two\\n"])
        try:
            sys.stdout.write(b"bytes")
        except TypeError as error:
            print("TypeError:", error)
        print("unicode é ✓", file=sys.stderr)
        sys.stdout.write("no newline at the end")
        self.next(self.end)

    @step
    def end(self):
        print("done")


if __name__ == '__main__':
    StreamsFlow()
'''


def test_a_steps_streams_behave_as_metaflows(tmp_path):
    result = same_as_metaflow(STREAMS, tmp_path, "run", in_order=False)
    assert "bytes, é split done" in steps_printed(result)["start"][0]


# -- Class-level constants: read-only in steps, stored as artifacts (Metaflow: ConstantsTest) ---------------------

CONSTANTS = '''
from metaflow import FlowSpec, Parameter, current, step


class ConstantsFlow(FlowSpec):
    str_const = "this is a constant"
    int_const = 123
    obj_const = []
    int_param = Parameter("int_param", default=456)

    def check(self):
        print(self.str_const, self.int_const, self.obj_const, self.int_param, sorted(current.parameter_names))
        for name in ("int_param", "int_const", "str_const"):
            try:
                setattr(self, name, 5)
            except AttributeError:
                print(name, "is read-only")
        self.obj_const.append(current.step_name)        # mutable: each task its own, as each Metaflow task's

    @step
    def start(self):
        self.check()
        self.items = [1, 2]
        self.next(self.a, foreach="items")

    @step
    def a(self):
        self.check()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.check()
        self.next(self.mid)

    @step
    def mid(self):
        self.check()
        self.next(self.b, self.c)

    @step
    def b(self):
        self.check()
        self.next(self.join2)

    @step
    def c(self):
        self.check()
        self.next(self.join2)

    @step
    def join2(self, inputs):
        self.check()
        self.next(self.end)

    @step
    def end(self):
        self.check()


if __name__ == '__main__':
    ConstantsFlow()
'''


def test_class_level_constants_are_read_only_artifacts_of_every_task(tmp_path):
    result = same_as_metaflow(CONSTANTS, tmp_path, "run", "--max-workers", "1")
    assert steps_printed(result)["end"] == [("this is a constant 123 [] 456 ['int_param']", "int_param is read-only",
                                             "int_const is read-only", "str_const is read-only")]
    run_id, store = run_id_of(result), store_of(tmp_path)
    tasks = [task for step in Run(f"ConstantsFlow/{run_id}", store=store) for task in step]
    assert len(tasks) == 9                                    # 8 steps, one of them a foreach of 2
    for task in tasks:
        assert (task["int_const"].data, task["str_const"].data, task["int_param"].data) == \
            (123, "this is a constant", 456)


# -- merge_artifacts raises Metaflow's exceptions and sees a conflict between a static split's branches -----------

MERGE = '''
from metaflow import FlowSpec, current, step
from metaflow.exception import MissingInMergeArtifactsException, UnhandledInMergeArtifactsException


class MergeFlow(FlowSpec):
    @step
    def start(self):
        self.passdown = "a"
        self.same = "b"
        self.differs = "c"
        self.ignored = "d"
        self.next(self.left, self.right)

    @step
    def left(self):
        self.same = "e"
        self.differs = "left"
        self.ignored = current.task_id      # as Metaflow's MergeArtifactsTest: a run's tasks have distinct ids
        self.next(self.join)

    @step
    def right(self):
        self.same = "e"
        self.differs = "right"
        self.ignored = current.task_id
        self.only_right = 1
        self.next(self.join)

    def attempt(self, inputs, **kwargs):
        try:
            self.merge_artifacts(inputs, **kwargs)
        except UnhandledInMergeArtifactsException as error:
            print("unhandled", sorted(error.artifact_names))
        except MissingInMergeArtifactsException as error:
            print("missing", error.artifact_names)
        except Exception:
            print("refused")
        print("set after it:", sorted(n for n in ("passdown", "same", "differs", "only_right") if hasattr(self, n)))

    @step
    def join(self, inputs):
        self.attempt(inputs)
        self.attempt(inputs, exclude=["ignored"], include=["passdown"])
        self.attempt(inputs, include=["passdown", "nothing"])
        self.differs = "set in the join"
        self.attempt(inputs, include=["passdown", "differs"])
        self.attempt(inputs, exclude=["ignored"])
        print(self.passdown, self.same, self.differs, self.only_right, hasattr(self, "ignored"))
        self.next(self.end)

    @step
    def end(self):
        self.attempt([])
        print(self.passdown, self.same, self.differs, self.only_right)


if __name__ == '__main__':
    MergeFlow()
'''


def test_merge_artifacts_raises_metaflows_exceptions_and_sees_a_static_splits_conflict(tmp_path):
    """The static split's branches are distinct tasks with distinct ids, as in Metaflow: an artifact set to
    current.task_id in each is a conflict."""
    result = same_as_metaflow(MERGE, tmp_path, "run")
    assert steps_printed(result)["join"][0][:2] == ("unhandled ['differs', 'ignored']", "set after it: []")


def test_merge_artifacts_exceptions_are_the_packages_errors_too():
    assert issubclass(UnhandledInMergeArtifactsException, ArtifactError)
    assert issubclass(MissingInMergeArtifactsException, FlowDefinitionError)
    import airflow_flow_triggers
    assert airflow_flow_triggers.UnhandledInMergeArtifactsException is UnhandledInMergeArtifactsException


MERGE_UNCAUGHT = MERGE.replace("        self.attempt(inputs)\n", "        self.merge_artifacts(inputs)\n", 1)


def test_an_unresolved_merge_fails_the_join_with_one_sentence(tmp_path):
    result = run("ours", MERGE_UNCAUGHT, tmp_path, "run")
    assert result.returncode == 1
    assert result.stderr == ("error: Step 'join' cannot merge artifacts 'differs', 'ignored': their values differ "
                             "between the join's inputs; set self.differs and self.ignored in the join before merging, "
                             "or pass exclude=['differs', 'ignored'].\n")


# -- Iterating a flow, flow.name, flow._graph, foreach_stack() --------------------------------------------------

ITERATE = '''
from metaflow import FlowSpec, step


class IterateFlow(FlowSpec):
    @step
    def start(self):
        print("steps", [s.name for s in self])
        print("name", self.name, self._graph["start"].type, self._graph["join_b"].type, self._graph["join_a"].type)
        print("stack", self.foreach_stack())
        self.xs = ["a", "b"]
        self.next(self.outer, foreach="xs")

    @step
    def outer(self):
        self.ys = [10, 20, 30]
        print("stack", self.foreach_stack())
        self.next(self.inner, foreach="ys")

    @step
    def inner(self):
        print("stack", self.foreach_stack())
        self.next(self.join_b)

    @step
    def join_b(self, inputs):
        print("stack", self.foreach_stack())
        self.next(self.join_a)

    @step
    def join_a(self, inputs):
        print("stack", self.foreach_stack())
        self.next(self.end)

    @step
    def end(self):
        print("stack", self.foreach_stack())


if __name__ == '__main__':
    IterateFlow()
'''


def test_iterating_a_flow_and_its_foreach_stack_as_metaflows(tmp_path):
    """Metaflow's flows give their steps by name (its graph lists them as dir() does), not in graph order."""
    result = same_as_metaflow(ITERATE, tmp_path, "run")
    assert steps_printed(result)["start"][0][0] == "steps ['end', 'inner', 'join_a', 'join_b', 'outer', 'start']"
    assert sorted(steps_printed(result)["join_b"]) == [("stack [(0, 2, None)]",), ("stack [(1, 2, None)]",)]


def test_a_flow_outside_a_run_iterates_as_metaflows(tmp_path):
    """What Metaflow's test suite does to check a run: `flow = Flow(use_cli=False)`, `for step in flow`."""
    seen = []
    for tool in ("metaflow", "ours"):
        source = ITERATE.replace("from metaflow import", "from airflow_flow_triggers import") if tool == "ours" \
            else ITERATE
        path = tmp_path / f"{tool}_iterate.py"
        path.write_text(source)
        flow = import_file(path, f"{tool}_iterate").IterateFlow(use_cli=False)
        seen.append(([step.name for step in flow], flow.name, flow._graph["outer"].type, flow._graph["join_a"].type))
    assert seen[0] == seen[1] == (["end", "inner", "join_a", "join_b", "outer", "start"], "IterateFlow", "foreach",
                                  "join")
