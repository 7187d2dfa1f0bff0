"""The DAG factory's output, built in-process (no Airflow server): ids, tags, params, task settings."""
import datetime
import textwrap

import pytest
from conftest import import_file

from airflow_flow_triggers.errors import FlowDefinitionError, NamingError

FLOW = '''
from airflow_flow_triggers import FlowSpec, Parameter, JSONType, project, retry, schedule, step, timeout

@schedule(daily=True)
@project(name='factory')
class FactoryFlow(FlowSpec):
    """Builds things.

    More words.
    """
    alpha = Parameter('alpha', default=0.01, help='learning rate')
    label = Parameter('name', help='optional name')
    layers = Parameter('layers', default=[1, 2], type=JSONType)
    count = Parameter('count', type=int, default=3)

    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach='items')

    @retry(times=4, minutes_between_retries=0.5)
    @timeout(minutes=2, seconds=30)
    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def load(tmp_path, source, name):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return import_file(path, name), path


@pytest.fixture
def factory_flow(tmp_path):
    module, _ = load(tmp_path, FLOW, "factory_flow_module")
    return module.FactoryFlow


def test_dag_shape(factory_flow):
    from airflow_flow_triggers import build_dag
    dag = build_dag(factory_flow, user="Alice.Smith@corp.com")
    assert dag.dag_id == "factory.user.alice_smith_corp_com.FactoryFlow"
    assert dag.tags == {"FactoryFlow", "project:factory", "project_branch:user.alice_smith_corp_com"}
    assert dag.owner == "alice_smith_corp_com"
    assert dag.catchup is False and dag.is_paused_upon_creation is False
    assert dag.start_date == datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    assert dag.description == "Builds things."
    assert dag.schedule == "@daily"
    assert [t.task_id for t in dag.topological_sort()] == ["start", "each", "join", "end", "flow_triggers_failure"]
    each = dag.get_task("each")
    assert each.retries == 4 and each.retry_delay == datetime.timedelta(seconds=30)
    assert each.execution_timeout == datetime.timedelta(minutes=2, seconds=30)
    assert dag.get_task("start").retries == 0
    [asset] = dag.get_task("end").outlets
    assert (asset.name, asset.uri, asset.group) == (dag.dag_id, f"x-flow-finished://{dag.dag_id}", "factory")
    failure = dag.get_task("flow_triggers_failure")        # announces a failed run, after every other task
    assert failure.is_teardown and failure.trigger_rule == "one_failed" and failure.upstream_task_ids == \
        {"start", "each", "join", "end"}
    [failed] = failure.outlets
    assert (failed.name, failed.uri) == (f"{dag.dag_id}.failed", f"x-flow-failed://{dag.dag_id}")


def test_params(factory_flow):
    from airflow_flow_triggers import build_dag
    params = build_dag(factory_flow, branch="b").params
    alpha = params.get_param("alpha")
    assert (alpha.value, alpha.schema, alpha.description) == (0.01, {"type": "number"}, "learning rate")
    assert params["name"] is None and params.get_param("name").schema["type"] == ["null", "string"]
    assert params["layers"] == [1, 2] and "type" not in params.get_param("layers").schema
    assert params["count"] == 3 and params.get_param("count").schema["type"] == "integer"


REQUIRED = '''
from airflow_flow_triggers import FlowSpec, Parameter, schedule, step

{decorator}
class RequiredParamFlow(FlowSpec):
    needed = Parameter('needed', type=int, required=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_required_parameter(tmp_path):
    from airflow_flow_triggers import build_dag
    module, _ = load(tmp_path, REQUIRED.format(decorator=""), "required_module")
    param = build_dag(module.RequiredParamFlow).params.get_param("needed")
    assert param.schema["type"] == "integer" and not param.has_value


def test_required_parameter_with_schedule(tmp_path):
    from airflow_flow_triggers import build_dag
    module, path = load(tmp_path, REQUIRED.format(decorator="@schedule(hourly=True)"), "required_sched_module")
    with pytest.raises(FlowDefinitionError) as info:
        build_dag(module.RequiredParamFlow)
    assert (info.value.file, info.value.line) == (str(path), 4)
    assert "has @schedule and the required parameter 'needed' without a default" in info.value.message


def test_bad_cron_is_a_clear_error(tmp_path):
    from airflow_flow_triggers import build_dag
    module, path = load(tmp_path, REQUIRED.format(decorator="@schedule(cron='not a cron')").replace(
        "type=int, required=True", "default=1"), "bad_cron_module")
    with pytest.raises(FlowDefinitionError, match="Airflow refused the DAG of flow RequiredParamFlow"):
        build_dag(module.RequiredParamFlow)


def test_branch_choices(factory_flow, monkeypatch):
    from conftest import USER_VARS

    from airflow_flow_triggers import build_dag
    for var in USER_VARS:
        monkeypatch.delenv(var, raising=False)
    assert build_dag(factory_flow, branch="new_model").dag_id == "factory.test.new_model.FactoryFlow"
    assert build_dag(factory_flow, production=True).dag_id == "factory.prod.FactoryFlow"
    assert build_dag(factory_flow, branch="x", production=True).dag_id == "factory.prod.x.FactoryFlow"
    monkeypatch.setenv("METAFLOW_USER", "server_user")   # the Airflow server's user is never the owner
    assert build_dag(factory_flow, branch="x", production=True).owner == "airflow"
    assert build_dag(factory_flow, branch="x", production=True, deployed_by="Carol").owner == "carol"
    assert build_dag(factory_flow, user="dave", deployed_by="carol").owner == "carol"


def test_project_flow_needs_its_deployment(factory_flow, monkeypatch):
    from airflow_flow_triggers import build_dag
    monkeypatch.setenv("USER", "server_user")
    with pytest.raises(NamingError, match=r"build_dag\(FactoryFlow\) needs to know whose deployment this is"):
        build_dag(factory_flow)


def test_bad_branch_and_long_tag(factory_flow):
    from airflow_flow_triggers import build_dag
    with pytest.raises(NamingError, match="The branch name must only contain"):
        build_dag(factory_flow, branch="../x")
    with pytest.raises(NamingError, match="longer than Airflow's limit of 100 characters"):
        build_dag(factory_flow, branch="b" * 90)


def test_plain_flow_without_project(tmp_path):
    from airflow_flow_triggers import build_dag
    module, _ = load(tmp_path, '''
        from airflow_flow_triggers import FlowSpec, step

        class PlainFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    ''', "plain_flow_module")
    dag = build_dag(module.PlainFlow)
    assert dag.dag_id == "PlainFlow" and dag.tags == {"PlainFlow"} and dag.schedule is None


def test_nested_foreach_maps_inner_steps_over_every_branch(tmp_path):
    from airflow_flow_triggers import build_dag
    module, path = load(tmp_path, '''
        from airflow_flow_triggers import FlowSpec, step

        class NestedFlow(FlowSpec):
            @step
            def start(self):
                self.outer = [1, 2]
                self.next(self.middle, foreach='outer')

            @step
            def middle(self):
                self.inner = [1, 2]
                self.next(self.leaf, foreach='inner')

            @step
            def leaf(self):
                self.next(self.join_inner)

            @step
            def join_inner(self, inputs):
                self.next(self.join_outer)

            @step
            def join_outer(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
    ''', "nested_flow_module")
    dag = build_dag(module.NestedFlow)
    upstream = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks if t.task_id != "flow_triggers_failure"}
    assert upstream == {"start": [], "middle": ["start"], "middle-branches": ["middle"], "leaf": ["middle-branches"],
                        "middle-groups": ["leaf"], "join_inner": ["middle-groups"], "join_outer": ["join_inner"],
                        "end": ["join_outer"]}
    mapped = {t.task_id for t in dag.tasks if type(t).__name__ == "DecoratedMappedOperator"}
    assert mapped == {"middle", "leaf", "join_inner"}


def test_script_run_skips_the_dag():
    from airflow_flow_triggers import FlowSpec, build_dag

    class ScriptFlow(FlowSpec):
        pass
    ScriptFlow.__module__ = "__main__"
    assert build_dag(ScriptFlow) is None


@pytest.mark.parametrize("decorator, message", [
    ("@retry(times=-1)", r"@retry\(times=-1\) needs a whole number"),
    ("@timeout()", "@timeout needs a positive duration"),
])
def test_bad_step_decorators(tmp_path, decorator, message):
    source = f'''
        from airflow_flow_triggers import FlowSpec, step, retry, timeout

        class BadDecoratorFlow(FlowSpec):
            {decorator}
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    '''
    with pytest.raises(FlowDefinitionError, match=message):
        load(tmp_path, source, "bad_decorator_module")


def test_schedule_chooses_as_metaflow_does():
    """cron, else weekly, else hourly, else daily (the default: a bare @schedule is daily); a time zone makes
    it a CronTriggerTimetable in that zone."""
    from airflow_flow_triggers import FlowSpec, build_dag, schedule, step
    from airflow_flow_triggers.flows.decorators import Schedule

    def flow(decorate):
        class ScheduledFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        return decorate(ScheduledFlow)._schedule

    assert flow(schedule) == flow(schedule()) == Schedule("@daily")
    assert flow(schedule(daily=True, hourly=True)) == Schedule("@hourly")
    assert flow(schedule(hourly=True, weekly=True)) == Schedule("@weekly")
    assert flow(schedule(cron="5 4 * * *", weekly=True, timezone="Europe/Paris")) == \
        Schedule("5 4 * * *", "Europe/Paris")
    with pytest.raises(FlowDefinitionError, match=r"@schedule\(daily=False\) names no schedule"):
        schedule(daily=False)

    class ZonedFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    zoned = build_dag(schedule(hourly=True, timezone="Asia/Tokyo")(ZonedFlow))
    assert "CronTriggerTimetable(expression='0 * * * *', timezone='Asia/Tokyo'" in repr(zoned.timetable)


TAKEN_NAME = '''
from airflow_flow_triggers import FlowSpec, step


class TakenNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flow_triggers_failure)

    @step
    def flow_triggers_failure(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_a_step_named_as_a_task_of_the_package_is_refused_where_it_is_written(tmp_path):
    from airflow_flow_triggers import build_dag
    module, path = load(tmp_path, TAKEN_NAME, "taken_name_module")
    with pytest.raises(FlowDefinitionError) as info:
        build_dag(module.TakenNameFlow)
    assert (info.value.file, info.value.line, info.value.message) == (
        str(path), 11, "Step 'flow_triggers_failure' of flow TakenNameFlow has the name of a task the package adds to "
                       "a flow's DAG: rename the step.")
