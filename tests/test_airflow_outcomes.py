"""@trigger_on_finish beyond Metaflow's, on a real Airflow: outcome='failed' | 'any' (a failed run, after its last
retry, starts exactly one run of each flow listening to its failure, a run retried into success starts none, the
consumer reads the failed run, and a failure event posted by hand is refused), and parameters= (the triggering run's
artifacts set the consumer's parameters; one that cannot fails that run alone, saying why); and @exit_hook (the hooks
of the run's outcome, called once it has ended, a failing hook failing nothing)."""
import urllib.parse

import pytest
from conftest import run_flow

from airflow_flow_triggers import Run
from airflow_flow_triggers.orchestration.tasks import EXIT_HOOKS_TASK, FAILURE_TASK

pytestmark = pytest.mark.e2e

FRAGILE = '''
from airflow_flow_triggers import FlowSpec, Parameter, build_dag, current, retry, step


class Fragile(FlowSpec):
    fail_times = Parameter('fail_times', default=9)      # how many attempts of `work` fail before one succeeds

    @step
    def start(self):
        self.rows = 7
        self.next(self.work)

    @retry(times=1, minutes_between_retries=0)
    @step
    def work(self):
        if current.retry_count < self.fail_times:
            raise ValueError(f"attempt {current.retry_count} fails")
        self.next(self.end)

    @step
    def end(self):
        pass


dag = build_dag(Fragile)
'''

LISTENER = '''
from airflow_flow_triggers import FlowSpec, build_dag, current, step, trigger_on_finish


@trigger_on_finish(flow='Fragile', outcome='{outcome}')
class {name}(FlowSpec):
    @step
    def start(self):
        run = current.trigger.run
        self.event = current.trigger.event.name
        self.upstream, self.upstream_successful = run.pathspec, run.successful
        self.rows = run['start'].task.data.rows                   # what the failed run stored before it failed
        failed = [task for step in run for task in step if not task.successful]
        self.error = repr(failed[0].exception) if failed else None
        self.next(self.end)

    @step
    def end(self):
        pass


dag = build_dag({name})
'''


@pytest.fixture(scope="module")
def fragile(airflow):
    airflow.drop("fragile.py", FRAGILE)
    airflow.drop("on_failure.py", LISTENER.format(outcome="failed", name="OnFailure"))
    airflow.drop("on_any.py", LISTENER.format(outcome="any", name="OnAny"))
    for dag_id in ("Fragile", "OnFailure", "OnAny"):
        airflow.wait_for_dag(dag_id)
    return airflow


def data_of(airflow, dag_id: str, run: dict):
    return Run(f"{dag_id}/{run['dag_run_id']}", store=airflow.store()).data


def test_a_run_failing_after_its_retries_starts_one_run_of_each_listener(fragile):
    airflow = fragile
    failed = airflow.post_run("Fragile", {"fail_times": 9})
    assert airflow.wait_for_run("Fragile", failed)["state"] == "failed"
    tries = {ti["task_id"]: ti["try_number"] for ti in airflow.task_instances("Fragile", failed)}
    assert tries["work"] == 2                                    # the failure is announced after the last retry
    [on_failure] = airflow.wait_for_runs("OnFailure", 1)
    [on_any] = airflow.wait_for_runs("OnAny", 1)
    airflow.quiet()
    assert len(airflow.runs("OnFailure")) == 1 and len(airflow.runs("OnAny")) == 1
    assert on_failure["state"] == "success" and on_failure["partition_key"] == f"Fragile/{failed}"
    data = data_of(airflow, "OnFailure", on_failure)
    assert (data.upstream, data.upstream_successful, data.rows) == (f"Fragile/{failed}", False, 7)
    assert data.event == "metaflow.Fragile.failed" and "attempt 1 fails" in data.error
    assert data_of(airflow, "OnAny", on_any).event == "metaflow.Fragile.failed"
    quoted = urllib.parse.quote(on_failure["dag_run_id"], safe="")
    why = airflow.request("GET", f"/flow-triggers/api/dags/OnFailure/runs/{quoted}/why")
    assert why["cause"]["verdict"] == "started" and len(why["cause"]["started_by"]) == 1
    upstream = airflow.request("GET", f"/flow-triggers/api/dags/Fragile/runs/{urllib.parse.quote(failed, safe='')}/why")
    assert upstream["finish"]["outcome"] == "failed"
    assert {(f["consumer"], f["fate"]) for f in upstream["finish"]["fates"]} == {("OnAny", "started"),
                                                                                ("OnFailure", "started")}


def test_a_run_retried_into_success_announces_no_failure(fragile):
    airflow = fragile
    before = len(airflow.runs("OnAny"))
    healed = airflow.post_run("Fragile", {"fail_times": 1})
    assert airflow.wait_for_run("Fragile", healed)["state"] == "success"
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("Fragile", healed, every=True)}
    assert states[FAILURE_TASK] == "skipped"                         # by the scheduler: no failure, no task run
    runs = airflow.wait_for_runs("OnAny", before + 1)
    airflow.quiet()
    assert len(airflow.runs("OnFailure")) == 1                      # still the one of the failed run
    newest = max(runs, key=lambda run: run["dag_run_id"] if run["partition_key"] == f"Fragile/{healed}" else "")
    assert newest["partition_key"] == f"Fragile/{healed}"
    assert data_of(airflow, "OnAny", newest).event == "metaflow.Fragile.end"


def test_a_hand_posted_failure_of_a_successful_run_is_refused(fragile):
    airflow = fragile
    healed = airflow.post_run("Fragile", {"fail_times": 0})
    assert airflow.wait_for_run("Fragile", healed)["state"] == "success"
    airflow.quiet()
    before = len(airflow.runs("OnFailure"))
    [asset] = [a for a in airflow.assets() if a["name"] == "Fragile.failed"]
    airflow.api("POST", "assets/events", {"asset_id": asset["id"], "partition_key": f"Fragile/{healed}",
                                          "extra": {"pathspec": f"Fragile/{healed}", "outcome": "failed"}})
    forged = [run for run in airflow.wait_for_runs("OnFailure", before + 1)
              if run["partition_key"] == f"Fragile/{healed}"][0]
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("OnFailure", forged["dag_run_id"])}
    assert states["start"] == "skipped" and states["end"] == "skipped"
    logged = [e.get("event", "") for e in airflow.task_log("OnFailure", forged["dag_run_id"], "start")]
    [line] = [text for text in logged if text.startswith("Not running OnFailure")]
    assert "the failure event of Fragile at" in line and f"run 'Fragile/{healed}' succeeded" in line


TRAIN = '''
from airflow_flow_triggers import FlowSpec, build_dag, step


class Train(FlowSpec):
    @step
    def start(self):
        self.version = 42
        self.metrics = {"accuracy": 0.93}
        self.next(self.end)

    @step
    def end(self):
        pass


dag = build_dag(Train)
'''

SCORE = '''
from airflow_flow_triggers import FlowSpec, Parameter, build_dag, step, trigger_on_finish


@trigger_on_finish(flow='Train', parameters={{'model_version': 'version', 'accuracy': '{accuracy}'}})
class {name}(FlowSpec):
    model_version = Parameter('model_version', default=0)
    accuracy = Parameter('accuracy', default=0.0)

    @step
    def start(self):
        self.seen = (self.model_version, self.accuracy)
        self.next(self.end)

    @step
    def end(self):
        pass


dag = build_dag({name})
'''


def test_the_triggering_runs_artifacts_set_parameters_and_a_bad_mapping_fails_only_its_run(airflow):
    airflow.drop("train.py", TRAIN)
    airflow.drop("score.py", SCORE.format(name="Score", accuracy="metrics.accuracy"))
    airflow.drop("misread.py", SCORE.format(name="Misread", accuracy="metrics.recall"))
    for dag_id in ("Train", "Score", "Misread"):
        airflow.wait_for_dag(dag_id)
    trained = airflow.post_run("Train")
    assert airflow.wait_for_run("Train", trained)["state"] == "success"
    [score] = airflow.wait_for_runs("Score", 1)
    [misread] = airflow.wait_for_runs("Misread", 1)
    assert (score["state"], misread["state"]) == ("success", "failed")
    assert data_of(airflow, "Score", score).seen == (42, 0.93)
    quoted = urllib.parse.quote(score["dag_run_id"], safe="")
    assert airflow.request("GET", f"/flow-triggers/api/dags/Score/runs/{quoted}/why")["cause"]["parameters"] == \
        {"model_version": 42, "accuracy": 0.93}
    quoted = urllib.parse.quote(misread["dag_run_id"], safe="")
    cause = airflow.request("GET", f"/flow-triggers/api/dags/Misread/runs/{quoted}/why")["cause"]
    assert cause["verdict"] == "rejected" and cause["detail"] == (
        f"@trigger_on_finish(parameters=...) sets parameter 'accuracy' from 'metrics.recall' of run Train/{trained}, "
        "but 'metrics' has no key 'recall' (it is a dict with keys accuracy).")
    fates = airflow.request("GET", f"/flow-triggers/api/dags/Train/runs/{urllib.parse.quote(trained, safe='')}/why")
    assert {(f["consumer"], f["fate"]) for f in fates["finish"]["fates"]} == {("Misread", "rejected"),
                                                                             ("Score", "started")}



HOOKED = '''
from pathlib import Path

from airflow_flow_triggers import FlowSpec, Parameter, build_dag, exit_hook, step

OUT = Path({out!r})


def page():
    raise RuntimeError('the pager is down')


def metadata_database():
    import sqlalchemy
    from airflow import settings
    try:
        settings.Session().execute(sqlalchemy.text('select 1'))
        return 'reached'
    except Exception:
        return 'blocked'


def succeeded(run):
    (OUT / f'{{run.id}}.txt').write_text(f'success {{run.successful}} rows={{run["start"].task.data.rows}} '
                                         f'database {{metadata_database()}}')
    print('hook: succeeded', run.pathspec)


def failed(run):
    (OUT / f'{{run.id}}.txt').write_text(f'error {{run.successful}} rows={{run["start"].task.data.rows}}')
    print('hook: failed', run.pathspec)


@exit_hook(on_success=[page, succeeded], on_error=[page, failed])
class Hooked(FlowSpec):
    fail = Parameter('fail', default=False)

    @step
    def start(self):
        self.rows = 3
        self.next(self.end)

    @step
    def end(self):
        if self.fail:
            raise ValueError('the end step fails on demand')


dag = build_dag(Hooked)
'''


def test_exit_hooks_run_after_the_run_whatever_its_outcome_and_change_nothing(airflow, tmp_path):
    airflow.drop("hooked.py", HOOKED.format(out=str(tmp_path)))
    airflow.wait_for_dag("Hooked")
    good, bad = airflow.post_run("Hooked"), airflow.post_run("Hooked", {"fail": True})
    # the run's state is its steps' (a failing hook fails nothing), and it ends once its hooks have run
    assert airflow.wait_for_run("Hooked", good)["state"] == "success"
    assert airflow.wait_for_run("Hooked", bad)["state"] == "failed"
    # a hook is task code: Airflow's metadata database stays out of its reach
    assert (tmp_path / f"{good}.txt").read_text() == "success True rows=3 database blocked"
    assert (tmp_path / f"{bad}.txt").read_text() == "error False rows=3"
    for run_id, outcome in ((good, "succeeded"), (bad, "failed")):
        states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("Hooked", run_id, every=True)}
        assert states[EXIT_HOOKS_TASK] == "success"
        assert EXIT_HOOKS_TASK not in {ti["task_id"] for ti in airflow.task_instances("Hooked", run_id)}
        logged = [e.get("event", "") for e in airflow.task_log("Hooked", run_id, EXIT_HOOKS_TASK)]
        assert "[exit_hook] Hook 'page' failed with error: RuntimeError: the pager is down" in logged
        assert f"hook: {outcome} Hooked/{run_id}" in logged         # the other hook still ran, its output logged
    assert {ti["task_id"]: ti["state"] for ti in airflow.task_instances("Hooked", bad)} == \
        {"start": "success", "end": "failed"}


PACKAGED = """
from pathlib import Path

from airflow_flow_triggers import FlowSpec, exit_hook, project, step

OUT = Path({out!r})


def written(run):
    (OUT / 'packaged.txt').write_text(f'{{run.pathspec}} {{run.successful}} {{run.data.rows}}')


@project(name='hooks')
@exit_hook(on_success=[written, 'notes.note'])
class PackagedFlow(FlowSpec):
    @step
    def start(self):
        self.rows = 5
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    PackagedFlow()
"""


def test_a_deployed_flows_hooks_run_from_its_code_package(airflow, tmp_path):
    """`airflow create`: the hooks' process loads the flow file of the run's code package on the worker, and an
    import path finds a module of the package (beside the flow file)."""
    (tmp_path / "code").mkdir()
    flow = tmp_path / "code" / "packaged_flow.py"
    flow.write_text(PACKAGED.format(out=str(tmp_path)))
    (tmp_path / "code" / "notes.py").write_text("def note(run):\n    print('hook: note of', run.id)\n")
    deployed = run_flow(flow, "airflow", "create", "--dags-folder", str(airflow.dags), airflow_home=airflow.home,
                        AIRFLOW__FLOW_TRIGGERS__API_URL=airflow.url)
    assert deployed.returncode == 0, deployed.stderr
    dag_id = "hooks.user.alice.PackagedFlow"
    airflow.wait_for_dag(dag_id)
    run_id = airflow.post_run(dag_id)
    assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"
    assert (tmp_path / "packaged.txt").read_text() == f"PackagedFlow/{run_id} True 5"
    logged = [e.get("event", "") for e in airflow.task_log(dag_id, run_id, EXIT_HOOKS_TASK)]
    assert f"hook: note of {run_id}" in logged
