"""Every bad input is one `error:` line, exit status 1, no traceback, and nothing written.

A table of bad inputs across names, decorators, graphs, parameters, `--trigger` and every `airflow`
subcommand, each run as a user types it (`python flow.py ...`) against a dags folder with one
deployment and an artifact store with one successful and one failed run, both of which must be
byte-for-byte unchanged afterwards.
"""
import re
import shutil

import pytest
from conftest import run_flow

FLOW = '''
from airflow_flow_triggers import (FlowSpec, IncludeFile, Parameter, current, project, retry, schedule, step, timeout,
                                   trigger, trigger_on_finish)

{decorators}
class BadFlow(FlowSpec):
    alpha = Parameter('alpha', default=0.5)
{parameters}
    {start_decorators}
    def start(self):
{start_body}
        self.next(self.end)

    @step
    def end(self):
        pass
{more_steps}
if __name__ == '__main__':
    BadFlow()
'''

GOOD = '''
from airflow_flow_triggers import FlowSpec, step

class {name}(FlowSpec):
    @step
    def start(self):
        {body}
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    {name}()
'''


def flow(decorators="", parameters="", start_decorators="@step", start_body="        self.x = 1", more_steps="",
         replace=()):
    source = FLOW.format(decorators=decorators, parameters=parameters, start_decorators=start_decorators,
                         start_body=start_body, more_steps=more_steps)
    for old, new in replace:
        assert old in source, old
        source = source.replace(old, new)
    return source


FOREACH_UNASSIGNED = flow(replace=[("        self.next(self.end)\n\n    @step\n    def end(self):",
                                    "        self.next(self.work, foreach='items')\n\n    @step\n    def work(self):\n"
                                    "        self.next(self.join)\n\n    @step\n    def join(self, inputs):\n"
                                    "        self.next(self.end)\n\n    @step\n    def end(self):")])
RECURSIVE_SWITCH = flow(replace=[(
    "        self.next(self.end)\n\n    @step\n    def end(self):",
    "        self.next(self.loop)\n\n    @step\n    def loop(self):\n        self.state = 'done'\n"
    "        self.next({'again': self.loop, 'done': self.end}, condition='state')\n\n    @step\n    def end(self):")])
P = "@project(name='p')"

# (case id, flow source, command line, extra environment, what the one error line must say)
CASES = [
    # names
    ("project_chars", flow(decorators="@project(name='Bad-Name')"), ["run"], {},
     "The project name must only contain lowercase alphanumeric characters and underscores"),
    ("project_empty", flow(decorators="@project(name='')"), ["run"], {}, "The project name must not be empty."),
    ("project_long", flow(decorators=f"@project(name='{'a' * 129}')"), ["run"], {},
     "The project name must be shorter than 129 characters"),
    ("project_production_type", flow(decorators="@project(name='p', production='yes')"), ["run"], {},
     "@project(production=...) must be True or False."),
    ("branch_chars", flow(decorators=P), ["--branch", "Bad", "run"], {},
     "The branch name must only contain lowercase alphanumeric characters"),
    ("branch_path", flow(decorators=P), ["--branch", "../x", "airflow", "create"], {},
     "The branch name must only contain lowercase alphanumeric characters"),
    ("branch_no_project", flow(), ["--branch", "x", "run"], {}, "--branch needs a project: add @project(name='...')"),
    ("production_no_project", flow(), ["--production", "run"], {}, "--production needs a project"),
    ("branch_conflict", flow(decorators="@project(name='p', branch='a')"), ["--branch", "b", "run"], {},
     "You specified branch 'a' in @project and 'b' on the command line"),
    ("production_conflict", flow(decorators="@project(name='p', production=False)"), ["--production", "run"], {},
     "You specified production=False in @project and --production on the command line"),
    ("no_user", flow(decorators=P), ["run"], {"USER": "root"}, "Could not determine the user name"),
    ("dag_id_too_long", flow(decorators=f"@project(name='{'p' * 128}')"), ["--branch", "b" * 128, "run"], {},
     "over Airflow's DAG id limit of 250"),
    # step and flow decorators
    ("timeout_text", flow(start_decorators="@timeout(seconds='x')\n    @step"), ["run"], {},
     "@timeout(seconds='x') needs a number, 0 or more."),
    ("timeout_nothing", flow(start_decorators="@timeout()\n    @step"), ["run"], {},
     "@timeout needs a positive duration"),
    ("timeout_negative", flow(start_decorators="@timeout(minutes=-1)\n    @step"), ["run"], {},
     "@timeout(minutes=-1) needs a number, 0 or more."),
    ("retry_negative", flow(start_decorators="@retry(times=-1)\n    @step"), ["run"], {},
     "@retry(times=-1) needs a whole number of retries"),
    ("retry_text", flow(start_decorators="@retry(times='3')\n    @step"), ["run"], {},
     "@retry(times='3') needs a whole number of retries"),
    ("retry_bool", flow(start_decorators="@retry(times=True)\n    @step"), ["run"], {},
     "@retry(times=True) needs a whole number of retries"),
    ("retry_minutes_text", flow(start_decorators="@retry(minutes_between_retries='2')\n    @step"), ["run"], {},
     "@retry(minutes_between_retries='2') needs a number"),
    ("retry_below_step", flow(start_decorators="@step\n    @retry()"), ["run"], {},
     "@retry goes above @step (on a step method); 'start' is not a step yet."),
    ("schedule_nothing", flow(decorators="@schedule(daily=False)"), ["run"], {},
     "@schedule(daily=False) names no schedule: pass cron='...', hourly=True or weekly=True"),
    ("schedule_cron_number", flow(decorators="@schedule(cron=5)"), ["run"], {},
     "@schedule(cron=5) needs a cron expression as a string"),
    ("schedule_bad_timezone", flow(decorators="@schedule(hourly=True, timezone='Mars/Olympus')"), ["run"], {},
     "@schedule(timezone='Mars/Olympus') is not a time zone name: use an IANA name, e.g. timezone='Europe/Paris'."),
    ("schedule_bad_cron", flow(decorators="@schedule(cron='not a cron')"), ["airflow", "create"], {},
     "Airflow refused the DAG of flow BadFlow"),
    ("schedule_on_step", flow(start_decorators="@schedule(daily=True)\n    @step"), ["run"], {},
     "@schedule decorates flow classes (subclasses of FlowSpec), not 'start'."),
    ("finish_one_dot", flow(decorators="@trigger_on_finish(flow='p.Flow')"), ["run"], {},
     "The flow name 'p.Flow' has exactly one dot"),
    ("finish_nothing", flow(decorators="@trigger_on_finish()"), ["run"], {},
     "@trigger_on_finish takes exactly one of flow='FlowName' or flows=['FlowA', 'FlowB']."),
    ("finish_empty_list", flow(decorators="@trigger_on_finish(flows=[])"), ["run"], {},
     "@trigger_on_finish(flows=...) needs a non-empty list of flow names."),
    ("finish_half_dict", flow(decorators="@trigger_on_finish(flow={'name': 'X', 'project': 'p'})"), ["run"], {},
     "needs both 'project' and 'project_branch' or neither."),
    ("finish_negative_window", flow(decorators="@trigger_on_finish(flows=['A', 'B'], within=-5)"), ["run"], {},
     "@trigger_on_finish(within=-5) needs a positive timedelta or number of seconds."),
    ("finish_bad_branch", flow(decorators="@trigger_on_finish(flow='p.nobranch.Flow')"), ["run"], {},
     "'nobranch' is not a project branch"),
    ("finish_itself", flow(decorators="@trigger_on_finish(flow='BadFlow')"), ["airflow", "create"], {},
     "Flow BadFlow is triggered by its own finish (BadFlow), a loop that would never stop"),
    ("finish_and_schedule", flow(decorators="@schedule(daily=True)\n@trigger_on_finish(flow='A')"),
     ["airflow", "create"], {}, "Flow BadFlow has both @schedule and @trigger_on_finish: keep one of them."),
    ("event_bad_name", flow(decorators="@trigger(event='data updated')"), ["run"], {},
     "The event name 'data updated' has characters other than letters, digits, '_', '-' and '.'"),
    ("event_unknown_parameter", flow(decorators="@trigger(event='e', parameters={'nope': 'x'})"), ["run"], {},
     "@trigger maps event 'e' to parameter 'nope', which flow BadFlow does not have"),
    # graphs
    ("no_end", flow(replace=[("def end(self)", "def finish(self)"), ("self.next(self.end)", "self.next(self.finish)")]),
     ["run"], {}, "Flow BadFlow has no 'end' step"),
    ("unknown_step", flow(replace=[("self.next(self.end)", "self.next(self.middle)")]), ["run"], {},
     "Step 'start' goes to unknown step 'middle' in self.next()"),
    ("unreachable", flow(more_steps="\n    @step\n    def orphan(self):\n        self.next(self.end)\n"), ["run"], {},
     "Step 'orphan' is not reachable from 'start'"),
    ("next_not_last", flow(replace=[("        self.next(self.end)\n",
                                      "        self.next(self.end)\n        self.y = 2\n")]), ["run"], {},
     "Step 'start' calls self.next() before its last statement"),
    ("end_is_a_join", flow(replace=[("def end(self)", "def end(self, inputs)")]), ["run"], {},
     "The 'end' step cannot be a join: define it as 'def end(self)', with a join step before it."),
    ("join_without_split", flow(more_steps="\n    @step\n    def middle(self, inputs):\n        self.next(self.end)\n",
                                replace=[("self.next(self.end)\n\n    @step\n    def end", "self.next(self.middle)\n\n"
                                          "    @step\n    def end")]), ["run"], {},
     "Step 'middle' takes inputs, so it is a join, but no split comes before it"),
    ("foreach_unassigned", FOREACH_UNASSIGNED, ["run"], {},
     "Step 'start' fans out over self.items, but no step before it assigns self.items"),
    ("step_arguments", flow(replace=[("def start(self)", "def start(self, a, b)")]), ["run"], {},
     "Step 'start' must take 'self' (or 'self, inputs' for a join) and nothing else."),
    ("recursive_switch", RECURSIVE_SWITCH, ["airflow", "create"], {},
     "Step 'loop' is a recursive switch (a case goes back to the step itself), which runs locally but not on "
     "Airflow"),
    # parameters
    ("parameter_twice", flow(parameters="    beta = Parameter('alpha')"), ["run"], {},
     "Flow BadFlow has two parameters named 'alpha' (attributes 'alpha' and 'beta'): give each its own name."),
    ("parameter_type", flow(parameters="    n = Parameter('n', type=list)"), ["run"], {},
     "Parameter 'n' has type <class 'list'>: use str, int, float, bool or JSONType."),
    ("parameter_name", flow(parameters="    n = Parameter('bad name')"), ["run"], {},
     "Parameter name 'bad name' is invalid"),
    ("parameter_value", flow(), ["run", "--alpha", "abc"], {}, "Parameter 'alpha' expects a number value, got 'abc'."),
    ("parameter_required", flow(parameters="    must = Parameter('must', required=True)"), ["run"], {},
     "Parameter 'must' is required: pass --must VALUE."),
    ("schedule_required_parameter",
     flow(decorators="@schedule(daily=True)", parameters="    must = Parameter('must', required=True)"),
     ["airflow", "create"], {}, "has @schedule and the required parameter 'must' without a default"),
    ("separator_not_string", flow(parameters="    n = Parameter('n', default=3, separator=',')"), ["run"], {},
     "Parameter 'n' has a separator, which only a string parameter takes (as in Metaflow)"),
    ("include_file_missing", flow(parameters="    table = IncludeFile('table')"), ["run", "--table", "nope.csv"], {},
     "IncludeFile 'table' names the file 'nope.csv', which does not exist"),
    ("include_default_missing", flow(parameters="    table = IncludeFile('table', default='gone.csv')"), ["run"], {},
     "IncludeFile 'table' names the file 'gone.csv', which does not exist"),
    ("include_default_not_deployable", flow(parameters="    table = IncludeFile('table', default='/etc/hostname')"),
     ["airflow", "create", "--dags-folder", "{dags}"], {},
     "The IncludeFile default '/etc/hostname' is not a file in"),
    ("include_encoding", flow(parameters="    table = IncludeFile('table', encoding='klingon')"), ["run"], {},
     "IncludeFile 'table' has encoding='klingon', which Python does not know"),
    ("include_not_text", flow(parameters="    table = IncludeFile('table')"), ["run", "--table", "{binary}"], {},
     "IncludeFile 'table' is not utf-8 text: give is_text=False for a binary file"),
    ("tag_empty", flow(), ["run", "--tag", " "], {}, "The tag ' ' is not a tag: give non-empty text"),
    ("unknown_option", flow(), ["run", "--nope", "1"], {},
     "unrecognized arguments: --nope 1: see `python flow.py --help`."),
    ("max_workers_zero", flow(), ["run", "--max-workers", "0"], {}, "expected a positive whole number, got '0'"),
    ("resume_parameter", flow(), ["resume", "--alpha", "1"], {},
     "--alpha cannot be given to resume: a resumed run keeps the parameters of the run it resumes"),
    # --trigger
    ("trigger_missing_run", flow(), ["--trigger", "GoodFlow/123", "run"], {},
     "Run 'GoodFlow/123' does not exist in the artifact store"),
    ("trigger_no_run_id", flow(), ["--trigger", "GoodFlow", "run"], {},
     "--trigger 'GoodFlow' is not a run: write it as FlowName/RUN_ID"),
    ("trigger_failed_run", flow(), ["--trigger", "FailFlow/{failed_run}", "run"], {},
     "did not succeed (it failed or has not finished): --trigger needs a successful run."),
    ("trigger_one_dot", flow(), ["--trigger", "a.Flow/1", "run"], {}, "The flow name 'a.Flow' has exactly one dot"),
    # every airflow subcommand
    ("create_into_a_file", flow(), ["airflow", "create", "--dags-folder", "{a_file}"], {},
     "is a file, not a folder: pass --dags-folder DIR"),
    ("create_own_build_dag",
     flow(more_steps="\nfrom airflow_flow_triggers import build_dag\ndag = build_dag(BadFlow)\n"),
     ["airflow", "create"], {},
     "already builds its own DAG with build_dag(...)"),
    ("delete_nothing_deployed", flow(), ["airflow", "delete", "--dags-folder", "{dags}"], {},
     "There is no deployment of BadFlow in"),
    ("create_unreachable", flow(), ["airflow", "create"], {}, "Cannot reach Airflow's REST API at http://127.0.0.1:9"),
    ("delete_unreachable", flow(), ["airflow", "delete"], {}, "Cannot reach Airflow's REST API at http://127.0.0.1:9"),
    ("list_unreachable", flow(), ["airflow", "list"], {}, "Cannot reach Airflow's REST API at http://127.0.0.1:9"),
    ("package_too_big", flow(), ["airflow", "create", "--dags-folder", "{dags}"],
     {"AIRFLOW__FLOW_TRIGGERS__MAX_PACKAGE_SIZE": "0.0001"}, "max_package_size): it holds every *.py file under"),
    ("package_size_not_a_number", flow(), ["airflow", "create", "--dags-folder", "{dags}"],
     {"AIRFLOW__FLOW_TRIGGERS__MAX_PACKAGE_SIZE": "big"},
     "[flow_triggers] max_package_size = 'big' must be a number, 0 or more"),
    ("list_a_file", flow(), ["airflow", "list", "--dags-folder", "{a_file}"], {}, "is a file, not a folder"),
    ("trigger_unreachable", flow(), ["airflow", "trigger"], {}, "Cannot reach Airflow's REST API at http://127.0.0.1:9"),
    ("trigger_bad_value", flow(), ["airflow", "trigger", "--alpha", "abc"], {},
     "Parameter 'alpha' expects a number value, got 'abc'."),
    ("trigger_missing_upstream", flow(), ["airflow", "trigger", "--trigger", "GoodFlow/123"], {},
     "Run 'GoodFlow/123' does not exist in the artifact store"),
    ("airflow_no_action", flow(), ["airflow"], {}, "the following arguments are required: ACTION"),
    ("delete_abbreviated_option", flow(), ["airflow", "delete", "--branch-al"], {},
     "unrecognized arguments: --branch-al"),
    ("delete_branch_without_project", flow(), ["airflow", "delete", "--branch-all"], {},
     "--branch-all removes every flow of a project branch, and flow BadFlow has no @project"),
]


def tree(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A dags folder with GoodFlow deployed, and an artifact store with its run and a failed FailFlow run."""
    base = tmp_path_factory.mktemp("baseline")
    home, dags = base / "airflow_home", base / "dags"
    home.mkdir()
    for name, body in (("GoodFlow", "self.x = 1"), ("FailFlow", "self.x = 1 / 0")):
        (base / f"{name}.py").write_text(GOOD.format(name=name, body=body))
        run_flow(base / f"{name}.py", "run", airflow_home=home)
    created = run_flow(base / "GoodFlow.py", "airflow", "create", "--dags-folder", str(dags), airflow_home=home)
    assert created.returncode == 0, created.stderr
    [failed_run] = list((home / "flow_triggers" / "artifacts" / "FailFlow").iterdir())
    return base, failed_run.name


@pytest.mark.parametrize("case, source, args, env, message", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_one_error_line(baseline, tmp_path, case, source, args, env, message):
    base, failed_run = baseline
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    home, dags = tmp_path / "airflow_home", tmp_path / "dags"
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "binary").write_bytes(bytes(range(128, 256)))
    flow_file = tmp_path / "flow.py"
    flow_file.write_text(source)
    before = tree(dags), tree(home)
    args = [a.format(failed_run=failed_run, a_file=tmp_path / "a_file", dags=dags, binary=tmp_path / "binary")
            for a in args]
    environment = {"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__FLOW_TRIGGERS__API_URL": "http://127.0.0.1:9"}
    environment.update(env)
    result = run_flow(flow_file, *args, airflow_home=home, **environment)

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0], lines[0]
    assert (tree(dags), tree(home)) == before


def test_decorator_errors_name_the_line_they_are_written_on(tmp_path, airflow_home):
    """Errors in a decorator's arguments point at the decorator; in a class body, at that line."""
    path = tmp_path / "flow.py"
    for source, line in ((flow(start_decorators="@timeout(seconds='x')\n    @step"), 9),
                         (flow(decorators="@trigger_on_finish(flow='p.Flow')"), 5),
                         (flow(parameters="    beta = Parameter('alpha')"), 8)):
        path.write_text(source)
        result = run_flow(path, "run", airflow_home=airflow_home)
        assert re.match(rf"error: {re.escape(str(path))}:{line}: ", result.stderr), (line, result.stderr)


def test_the_sweep_is_wide():
    assert len(CASES) >= 40
