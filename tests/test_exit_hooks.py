"""@exit_hook (Metaflow 2.19's): the decorator's checks, local runs against Metaflow as the oracle, and the task it
adds to a flow's DAG (the end-to-end run on Airflow is in test_airflow_outcomes.py).

The oracle: tests/oracle/exit_hooks/exit_hook_flow.py (two @exit_hook, hooks taking nothing, `run` or **kwargs,
by function, by name and by import path, one that raises and one that does not exist) is run (its end step fails:
the error hooks) and resumed once fixed (the success hooks), under Metaflow and here; the lines the hooks print,
in order and where they fall among the run's own lines, are the same, but the two differences named in
docs/flows.md.
"""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import import_file, run_flow

from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.orchestration.tasks import EXIT_HOOKS_TASK, FAILURE_TASK

FOLDER = Path(__file__).resolve().parent / "oracle" / "exit_hooks"
FLOW = "exit_hook_flow.py"
STAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (.*)$")

# Where it differs from Metaflow (docs/flows.md): a failing hook's output is printed (Metaflow's runtime drops it,
# reading the hook's stdout with check_output), and the failure names what failed (the exception, or why the hook
# could not be loaded), not the hook process's command line.
PRINTED_BEFORE_FAILING = {"explode": ["hook: explode, before it raises"], "no_such_hook": []}
WHY = {"explode": "RuntimeError: the notification service is down",
       "no_such_hook": "Could not load function 'no_such_hook' from {folder}/exit_hook_flow.py: it defines no "
                       "function of that name."}
METAFLOW_FAILED = re.compile(r"^\[exit_hook\] Hook '(\w+)' failed with error: Command '\[.*exit_hook_script.*\]' "
                             r"returned non-zero exit status 1\.$")


def session(tool: str, folder: Path) -> dict:
    """`run` the flow (its end step fails), fix it, `resume` it: each command's exit status and what it printed."""
    folder.mkdir(parents=True)
    source = (FOLDER / FLOW).read_text()
    if tool == "ours":
        source = source.replace("from metaflow import", "from airflow_flow_triggers import")
    (folder / FLOW).write_text(source)
    (folder / "hooks_lib.py").write_text((FOLDER / "hooks_lib.py").read_text())
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "USER": "alice", "METAFLOW_USER": "alice",
           "HOME": str(folder), "AIRFLOW_HOME": str(folder / "airflow_home"), "PYTHONUNBUFFERED": "1",
           "METAFLOW_DEFAULT_DATASTORE": "local", "METAFLOW_DEFAULT_METADATA": "local"}

    def command(*args):
        return subprocess.run([sys.executable, FLOW, *args], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=300)

    failed = command("run")
    (folder / FLOW).write_text(source.replace("FAIL_AT_END = True", "FAIL_AT_END = False"))
    resumed = command("resume")
    return {"status": (failed.returncode, resumed.returncode), "run": failed, "resume": resumed,
            "lines": (hook_lines(failed.stdout), hook_lines(resumed.stdout))}


def hook_lines(stdout: str) -> list[str]:
    """What the hooks printed, with the run's last line before or after them ('Workflow failed.', 'Done!')."""
    found = []
    for line in stdout.splitlines():
        message = STAMPED.match(line).group(1) if STAMPED.match(line) else None
        if message == "Workflow failed.":
            found.append(message)
        elif message is not None and message.startswith("Done!"):     # ours names the run after it
            found.append("Done!")
        elif line.startswith(("hook:", "[exit_hook]")):
            found.append(line)
    return found


def as_ours(lines: list[str], folder: Path) -> list[str]:
    """Metaflow's hook lines with the named differences made."""
    changed = []
    for line in lines:
        failed = METAFLOW_FAILED.match(line)
        if failed is None:
            changed.append(line)
            continue
        name = failed.group(1)
        changed += [*PRINTED_BEFORE_FAILING[name],
                    f"[exit_hook] Hook '{name}' failed with error: {WHY[name].format(folder=folder)}"]
    return changed


def test_exit_hooks_print_what_they_print_under_metaflow(tmp_path):
    theirs, ours = session("metaflow", tmp_path / "metaflow"), session("ours", tmp_path / "ours")
    assert theirs["status"] == ours["status"] == (1, 0), (theirs["run"].stderr, ours["run"].stderr)
    assert theirs["lines"][0] == [                                # the error hooks, the nearest @exit_hook first
        "Workflow failed.",
        "hook: report False False 7 ['end', 'start']",
        theirs["lines"][0][2], theirs["lines"][0][3],             # explode and no_such_hook failed
        "hook: collect ['run'] ExitHookFlow",
        "hook: page, by its import path False"]
    assert [METAFLOW_FAILED.match(line).group(1) for line in theirs["lines"][0][2:4]] == ["explode", "no_such_hook"]
    assert theirs["lines"][1][-1] == "Done!" and "hook: report True True 7 ['end', 'start']" in theirs["lines"][1]
    for theirs_lines, ours_lines in zip(theirs["lines"], ours["lines"], strict=True):
        assert ours_lines == as_ours(theirs_lines, tmp_path / "ours")
    for tool in (theirs, ours):                                   # the failing hook's traceback, on stderr
        assert "RuntimeError: the notification service is down" in tool["run"].stderr
        assert "RuntimeError: the notification service is down" in tool["resume"].stderr
    assert "error: Step 'end' failed" in ours["run"].stderr       # the run's outcome, whatever the hooks did


def load(tmp_path, source: str, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return import_file(path, name), path


HOOKED = '''
from airflow_flow_triggers import FlowSpec, exit_hook, step


def notify(run):
    pass


@exit_hook(on_error=[notify])
@exit_hook(on_success=['hooks.done'], on_error=['notify'])
class HookedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_the_decorator_keeps_the_hooks_names_nearest_first(tmp_path):
    from airflow_flow_triggers.runtime.exit_hooks import hook_names
    module, _ = load(tmp_path, HOOKED, "hooked_names_module")
    assert hook_names(module.HookedFlow, successful=True) == ["hooks.done"]
    assert hook_names(module.HookedFlow, successful=False) == ["notify", "notify"]
    assert hook_names(module.PlainFlow, successful=False) == []


@pytest.mark.parametrize("decorator, message", [
    ("@exit_hook()", "@exit_hook needs a hook to call: choose at least one of the options on_success/on_error, "
                     "e.g. @exit_hook(on_error=[notify])."),
    ("@exit_hook", "@exit_hook needs a hook to call: choose at least one of the options on_success/on_error, "
                   "e.g. @exit_hook(on_error=[notify])."),
    ("@exit_hook(on_success=[], on_error=[])", "@exit_hook needs a hook to call: choose at least one of the options "
                                               "on_success/on_error, e.g. @exit_hook(on_error=[notify])."),
    ("@exit_hook(on_success=[notify, 42])", "Exit hooks inside 'on_success' must be a function or a string referring "
                                            "to the function, and 42 (of type int) is neither."),
    ("@exit_hook(on_error=[None])", "Exit hooks inside 'on_error' must be a function or a string referring to the "
                                    "function, and None (of type NoneType) is neither."),
    ("@exit_hook(on_error=notify)", "@exit_hook(on_error=notify) needs a list of functions or their names: write "
                                    "on_error=[notify]."),
    ("@exit_hook(on_success='notify')", "@exit_hook(on_success='notify') needs a list of functions or their names: "
                                        "write on_success=['notify']."),
    ("@exit_hook(on_error=[lambda: None])", "Exit hook '<lambda>' inside 'on_error' is a lambda, which a hook's "
                                            "process cannot find by name: define it with def."),
    ("@exit_hook(on_success=['not a name'])", "Exit hook 'not a name' inside 'on_success' is neither a function's "
                                              "name nor an import path such as 'pkg.mod.fn'."),
])
def test_a_bad_exit_hook_is_one_sentence_at_its_line(tmp_path, decorator, message):
    source = f'''
from airflow_flow_triggers import FlowSpec, exit_hook, step


def notify():
    pass


{decorator}
class BadHookFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''
    with pytest.raises(FlowDefinitionError) as refused:
        load(tmp_path, source, f"bad_hook_{abs(hash(decorator))}")
    assert str(refused.value).startswith(f"{tmp_path / f'bad_hook_{abs(hash(decorator))}.py'}:9: {message}")
    assert len(str(refused.value).splitlines()) == 1


def test_a_bad_exit_hook_is_one_error_line_for_the_user(tmp_path):
    path = tmp_path / "flow.py"
    path.write_text(textwrap.dedent('''
        from airflow_flow_triggers import FlowSpec, exit_hook, step


        @exit_hook(on_success=[1])
        class BadFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass


        if __name__ == '__main__':
            BadFlow()
    '''))
    done = run_flow(path, "run", airflow_home=tmp_path / "airflow_home")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"error: {path}:5: Exit hooks inside 'on_success' must be a function or a string "
                           "referring to the function, and 1 (of type int) is neither.\n")


def test_exit_hook_decorates_flow_classes_only(tmp_path):
    from airflow_flow_triggers import exit_hook
    with pytest.raises(FlowDefinitionError, match="@exit_hook decorates flow classes"):
        exit_hook(on_error=["notify"])(object)


def test_a_flow_with_exit_hooks_ends_its_dag_with_their_teardown(tmp_path, airflow_home):
    from airflow_flow_triggers import build_dag
    module, _ = load(tmp_path, HOOKED, "hooked_dag_module")
    dag = build_dag(module.HookedFlow)
    assert [t.task_id for t in dag.topological_sort()] == ["start", "end", FAILURE_TASK, EXIT_HOOKS_TASK]
    hooks = dag.get_task(EXIT_HOOKS_TASK)          # after every other task, whatever their outcome; never the run's
    assert hooks.is_teardown and hooks.trigger_rule == "all_done" and hooks.retries == 0
    assert hooks.upstream_task_ids == {"start", "end", FAILURE_TASK} and not hooks.downstream_task_ids
    assert EXIT_HOOKS_TASK not in build_dag(module.PlainFlow).task_dict       # only a flow with @exit_hook


def test_a_hook_that_cannot_run_changes_nothing_else(tmp_path, airflow_home, capsys):
    """Called directly (as the Airflow task calls them): a hook killed by a signal, one that exits, one that prints
    (to stdout and stderr); none raises here."""
    from airflow_flow_triggers.runtime.exit_hooks import call_hook
    path = tmp_path / "hooks_flow.py"
    path.write_text("import os, signal, sys\n\ndef killed():\n    os.kill(os.getpid(), signal.SIGKILL)\n\n"
                    "def exits():\n    sys.exit(3)\n\ndef fine(**kwargs):\n    print('fine', kwargs)\n"
                    "    print('a warning', file=sys.stderr)\n")
    assert not call_hook(str(path), "killed", "NoFlow/1", "hooks_flow")
    assert not call_hook(str(path), "exits", "NoFlow/1", "hooks_flow")
    assert call_hook(str(path), "fine", "NoFlow/1", "hooks_flow")
    printed = capsys.readouterr()
    out = printed.out.splitlines()
    assert out[0] == "[exit_hook] Hook 'killed' failed with error: its process was killed by SIGKILL"
    assert out[1] == "[exit_hook] Hook 'exits' failed with error: its process exited with status 3"
    assert out[2].startswith("Run 'NoFlow/1' does not exist in the artifact store at ")     # as Metaflow: printed
    assert out[3] == "fine {'run': None}"
    assert printed.err == "a warning\n"                       # a hook's stderr is passed on
