"""@project and @trigger_on_finish on Airflow's own DAGs: names, tags, owner, schedule and the tasks the package adds,
built in this process as the dag-processor builds them; and every bad input as one sentence."""
import subprocess
import sys
import textwrap

import pendulum
import pytest
from conftest import flow_env

from airflow_flow_triggers import FlowTriggersError, project, trigger_on_finish
from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.orchestration.project_dags import FINISH_TASK, START_TASK, loading_as
from airflow_flow_triggers.orchestration.tasks import FAILURE_TASK


def report_dag(dag_id="daily_report", **dag_args):
    """A TaskFlow @dag function with one task of its own and an asset of its own."""
    from airflow.sdk import Asset, dag, task

    @dag(dag_id=dag_id, schedule=dag_args.pop("schedule", None), **dag_args)
    def report():
        @task(outlets=[Asset("s3://reports/daily")])
        def summarize():
            return {"rows": 42}

        @task
        def publish(summary):
            return summary["rows"]
        publish(summarize())
    return report


def classic_dag(dag_id="publish_report", **dag_args):
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG
    with DAG(dag_id, schedule=dag_args.pop("schedule", None), start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
             **dag_args) as dag:
        EmptyOperator(task_id="start") >> EmptyOperator(task_id="end")
    return dag


@pytest.mark.parametrize("choice, dag_id", [
    ({"user": "alice"}, "variant_demo.user.alice.daily_report"),
    ({"branch": "new_model"}, "variant_demo.test.new_model.daily_report"),
    ({"production": True}, "variant_demo.prod.daily_report"),
    ({"branch": "new_model", "production": True}, "variant_demo.prod.new_model.daily_report"),
])
def test_a_taskflow_dag_is_named_for_its_branch(airflow_home, choice, dag_id):
    with loading_as(**choice, deployer="alice"):
        dag = project(name="variant_demo")(report_dag())()
    assert dag.dag_id == dag_id
    branch = dag_id.split(".", 1)[1].rsplit(".", 1)[0]
    assert {"project:variant_demo", f"project_branch:{branch}", "airflow_dag"} <= set(dag.tags)
    assert {t.owner for t in dag.tasks} == {"alice"}
    own_asset = dag.task_dict["summarize"].outlets[0]
    assert own_asset.uri == "s3://reports/daily"                 # the DAG's own assets stay the user's
    [finish] = dag.task_dict["publish"].outlets                  # the one leaf emits the finish
    assert (finish.name, finish.uri, finish.group) == (dag_id, f"x-flow-finished://{dag_id}", "variant_demo")


def test_a_plain_dag_gets_no_task_of_the_package_but_the_failure_teardown(airflow_home):
    """One leaf, every task waiting for all its upstreams: the roots start the run, the leaf finishes it; the one
    task added announces a failed run (a teardown the scheduler skips, running nothing, when no task failed)."""
    with loading_as(user="alice"):
        dag = project(name="variant_demo")(report_dag())()
    assert set(dag.task_dict) == {"summarize", "publish", FAILURE_TASK}
    failure = dag.task_dict[FAILURE_TASK]
    assert failure.is_teardown and failure.trigger_rule == "one_failed"
    assert [a.uri for a in failure.outlets] == ["x-flow-failed://variant_demo.user.alice.daily_report"]
    assert dag.task_dict["summarize"]._pre_execute_hook is not None
    assert dag.task_dict["publish"]._post_execute_hook is not None


def test_a_mapped_root_or_several_leaves_get_the_packages_tasks(airflow_home):
    from airflow.sdk import dag, task
    from airflow.sdk.definitions.taskgroup import TaskGroup

    @dag(schedule=None)
    def fanned():
        @task
        def double(x):
            return 2 * x

        @task
        def show():
            return "shown"

        @task
        def load():
            return "loaded"
        double.expand(x=[1, 2, 3])
        with TaskGroup("group"):
            show() >> load()

    with loading_as(user="alice"):
        built = project(name="variant_demo")(fanned)()
    start, finish = built.task_dict[START_TASK], built.task_dict[FINISH_TASK]
    assert {t.task_id for t in start.downstream_list} == {"double", "group.show", FINISH_TASK, FAILURE_TASK}
    assert {t.task_id for t in finish.upstream_list} == {START_TASK, "double", "group.load"}   # after the leaves
    assert finish.trigger_rule == "none_failed_min_one_success"
    assert [a.name for a in finish.outlets] == ["variant_demo.user.alice.fanned"]


def test_a_classic_dag_joins_by_a_call_in_either_order(airflow_home):
    with loading_as(user="alice"):
        one = project(name="variant_demo")(trigger_on_finish(flow="daily_report")(classic_dag()))
    with loading_as(user="alice"):
        other = trigger_on_finish(flow="daily_report")(project(name="variant_demo")(classic_dag()))
    for dag in (one, other):
        assert dag.dag_id == "variant_demo.user.alice.publish_report"
        assert dag.timetable.asset_condition.name == "variant_demo.user.alice.daily_report"
        assert set(dag.task_dict) == {"start", "end", FAILURE_TASK}         # a task of its own called start is fine
        assert dag.task_dict["end"].outlets[0].name == "variant_demo.user.alice.publish_report"
        assert dag.fileloc == __file__


def test_trigger_names_resolve_as_for_flows(airflow_home):
    with loading_as(branch="new_model"):
        bare = project(name="proj")(trigger_on_finish(flow="Train")(report_dag("bare")))()
        pinned = project(name="proj")(trigger_on_finish(flow="proj.user.alice.Train")(report_dag("pinned")))()
        as_dict = project(name="proj")(trigger_on_finish(
            flow={"name": "Train", "project": "other", "project_branch": "prod"})(report_dag("as_dict")))()
        both = project(name="proj")(trigger_on_finish(flows=["Train", "bare"], within=3600)(report_dag("both")))()
        first = project(name="proj")(trigger_on_finish(flows=["Train", "bare"], any=True)(report_dag("first")))()
    assert bare.timetable.asset_condition.name == "proj.test.new_model.Train"
    assert pinned.timetable.asset_condition.name == "proj.user.alice.Train"
    assert as_dict.timetable.asset_condition.name == "other.prod.Train"
    assert both.timetable.asset_condition.name == "proj.test.new_model.both.wait_for_all"
    assert [a.name for a in first.timetable.asset_condition.objects] == ["proj.test.new_model.Train",
                                                                        "proj.test.new_model.bare"]


def test_a_dag_without_project_keeps_its_id(airflow_home):
    dag = trigger_on_finish(flow="FirstFlow")(report_dag("plain_report"))()
    assert dag.dag_id == "plain_report"
    assert dag.timetable.asset_condition.name == "FirstFlow"
    assert dag.task_dict["publish"].outlets[-1].name == "plain_report"


def one_line(what) -> str:
    with pytest.raises(FlowTriggersError) as raised:
        what()
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_bad_input_is_one_sentence(airflow_home):
    from airflow.sdk import dag as airflow_dag

    def below_dag():
        @airflow_dag(schedule=None)
        @project(name="variant_demo")
        def report():
            pass
    assert "@project decorates flow classes (subclasses of FlowSpec) and Airflow DAGs (a @dag function, with the " \
           "decorator above @dag, or a DAG), not 'report'." in one_line(below_dag)
    assert "not 42" in one_line(lambda: project(name="variant_demo")(42))
    with loading_as(user="alice"):
        assert "DAG id 'daily-report' may hold only letters, digits and '_'" in \
            one_line(lambda: project(name="variant_demo")(report_dag("daily-report"))())
        assert "over Airflow's DAG id limit of 250" in \
            one_line(lambda: project(name="variant_demo")(report_dag("r" * 240))())
        assert "DAG scheduled has a schedule of its own" in one_line(lambda: trigger_on_finish(flow="A")(
            project(name="variant_demo")(report_dag("scheduled", schedule="@daily")))())
        assert "is triggered by its own finish (variant_demo.user.alice.looped)" in one_line(
            lambda: project(name="variant_demo")(trigger_on_finish(flow="looped")(report_dag("looped")))())
        assert "The project name must only contain lowercase alphanumeric characters" in \
            one_line(lambda: project(name="Variant-Demo")(report_dag()))
    with pytest.raises(FlowDefinitionError, match="is not in a branch's folder of the deployment store"):
        project(name="variant_demo")(report_dag())()


def test_two_branches_in_one_file_is_an_error(airflow_home, tmp_path):
    source = textwrap.dedent('''
        from airflow.sdk import dag, task
        from airflow_flow_triggers import project

        @project(name='variant_demo', branch='one')
        @dag(schedule=None)
        def first():
            task(lambda: 1, task_id='t')()

        @project(name='variant_demo', branch='two')
        @dag(schedule=None)
        def second():
            task(lambda: 1, task_id='t')()

        first()
        second()
    ''')
    (tmp_path / "two.py").write_text(source)
    result = dag_file_command(airflow_home, tmp_path, "create", "two.py", "--dags-folder", str(tmp_path / "dags"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "This file defines project DAGs on two branches, variant_demo.test.one.first and " \
           "variant_demo.test.two.second" in result.stderr
    assert not (tmp_path / "dags").exists()


def dag_file_command(airflow_home, folder, *args):
    return subprocess.run([sys.executable, "-m", "airflow_flow_triggers", "airflow", *args], capture_output=True,
                          text=True, timeout=120, cwd=folder, env=flow_env(airflow_home))


@pytest.mark.parametrize("source, message", [
    ("from airflow.sdk import dag\nraise KeyError('config')\n",
     "broken.py fails to import (KeyError: 'config'), so it cannot be deployed"),
    ("from airflow.sdk import dag\n\n@dag(schedule=None)\ndef plain():\n    pass\n\nplain()\n",
     "broken.py defines no Airflow DAG with @project or @trigger_on_finish"),
])
def test_a_dag_file_that_cannot_be_deployed_is_one_error_line(airflow_home, tmp_path, source, message):
    (tmp_path / "broken.py").write_text(source)
    result = dag_file_command(airflow_home, tmp_path, "create", "broken.py", "--dags-folder", str(tmp_path / "dags"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and message in result.stderr, \
        result.stderr
    assert not (tmp_path / "dags").exists()


def test_a_loop_through_a_dag_is_refused_at_deploy(airflow_home, tmp_path):
    (tmp_path / "ping.py").write_text(textwrap.dedent('''
        from airflow_flow_triggers import FlowSpec, project, step, trigger_on_finish

        @project(name='loops')
        @trigger_on_finish(flow='pong')
        class PingFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == '__main__':
            PingFlow()
    '''))
    (tmp_path / "pong.py").write_text(textwrap.dedent('''
        from airflow.sdk import dag, task
        from airflow_flow_triggers import project, trigger_on_finish

        @project(name='loops')
        @trigger_on_finish(flow='PingFlow')
        @dag(schedule=None)
        def pong():
            task(lambda: 1, task_id='t')()

        pong()
    '''))
    dags = tmp_path / "dags"
    created = subprocess.run([sys.executable, "ping.py", "airflow", "create", "--dags-folder", str(dags)],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path, env=flow_env(airflow_home))
    assert created.returncode == 0, created.stderr
    result = dag_file_command(airflow_home, tmp_path, "create", "pong.py", "--dags-folder", str(dags))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "loop" in result.stderr and "loops.user.alice.PingFlow" in result.stderr, result.stderr
    assert not (dags / "loops" / "user.alice" / "pong.py").exists()
