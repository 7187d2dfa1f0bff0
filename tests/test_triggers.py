"""@trigger_on_finish and @trigger: names, errors, the DAGs' schedules, and local --trigger runs."""
import datetime
import json
import re
import shutil

import pytest
from conftest import REPO, run_flow

from airflow_flow_triggers.errors import FlowDefinitionError, NamingError
from airflow_flow_triggers.flows.triggers import (
    FinishTrigger,
    event_parameters,
    trigger,
    trigger_on_finish,
    upstream_deployment,
)
from airflow_flow_triggers.naming import Deployment
from airflow_flow_triggers.runtime.client import Trigger

ALICE = Deployment("SecondProjectFlow", "variant_demo", "user.alice", "alice")
NEW_MODEL = Deployment("SecondProjectFlow", "variant_demo", "test.new_model", "bob")


@pytest.mark.parametrize("written, within, expected", [
    ("FirstProjectFlow", ALICE, "variant_demo.user.alice.FirstProjectFlow"),
    ("FirstProjectFlow", NEW_MODEL, "variant_demo.test.new_model.FirstProjectFlow"),
    ("variant_demo.user.alice.FirstProjectFlow", NEW_MODEL, "variant_demo.user.alice.FirstProjectFlow"),
    ("other.prod.new_model.Up", ALICE, "other.prod.new_model.Up"),
    ("FirstFlow", Deployment("SecondFlow"), "FirstFlow"),
    ({"name": "FirstFlow"}, ALICE, "FirstFlow"),
    ({"name": "Up", "project": "p", "project_branch": "prod"}, ALICE, "p.prod.Up"),
])
def test_upstream_names(written, within, expected):
    assert upstream_deployment(written, within).project_flow_name == expected


@pytest.mark.parametrize("written, message", [
    ("variant_demo.FirstProjectFlow", "exactly one dot"),
    ("Variant.user.alice.F", "The project name must only contain"),
    ("p.staging.x.F", "'staging.x' is not a project branch"),
    ("p.user.Al-ice.F", "The branch name must only contain"),
    ({"name": "F", "project": "p"}, "needs both 'project' and 'project_branch' or neither"),
    ({"flow": "F"}, "takes the keys 'name'"),
    (3, "names flows as strings or dicts"),
])
def test_bad_upstream_names(written, message):
    with pytest.raises((NamingError, FlowDefinitionError), match=re.escape(message)):
        upstream_deployment(written, ALICE)


def decorate(decorator):
    from airflow_flow_triggers import FlowSpec

    class SomeFlow(FlowSpec):
        pass
    return decorator(SomeFlow)


def test_decorator_arguments():
    with pytest.raises(FlowDefinitionError, match="exactly one of flow='FlowName' or flows"):
        decorate(trigger_on_finish())
    with pytest.raises(FlowDefinitionError, match="exactly one of flow='FlowName' or flows"):
        decorate(trigger_on_finish(flow="A", flows=["B"]))
    with pytest.raises(FlowDefinitionError, match="needs a non-empty list"):
        decorate(trigger_on_finish(flows=[]))
    assert decorate(trigger_on_finish(flows=["A", "B"], within=60))._trigger_on_finish.within == \
        datetime.timedelta(seconds=60)
    assert FinishTrigger(("A", "B"), None).upstreams(ALICE)[1].project_flow_name == "variant_demo.user.alice.B"


def test_decorator_errors_name_the_flow_file(write_flow, airflow_home):
    flow = write_flow('''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish

@trigger_on_finish(flows=['FirstFlow', 'variant_demo.FirstProjectFlow'])
class BadTriggerFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    BadTriggerFlow()
''')
    result = run_flow(flow, "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == (f"error: {flow}:4: The flow name 'variant_demo.FirstProjectFlow' has exactly one dot: "
                             "use a bare flow name ('FlowName') or a fully qualified one "
                             "('project.branch.FlowName').\n")


@pytest.mark.parametrize("within, message", [(-1, "positive"), ("1h", "positive"), (datetime.timedelta(0), "positive")])
def test_bad_window(within, message):
    with pytest.raises(FlowDefinitionError, match=message):
        decorate(trigger_on_finish(flows=["A", "B"], within=within))


def test_not_triggered_is_a_clear_message():
    empty = Trigger([])
    assert not empty
    with pytest.raises(Exception, match=r"not triggered by another flow: .* --trigger FlowName/RUN_ID run"):
        _ = empty.run


def test_event_parameters():
    from airflow_flow_triggers import Parameter, namespaced_event_name

    def with_alpha(cls):
        cls.alpha = Parameter("alpha", default=0.1)
        cls.alpha.__set_name__(cls, "alpha")
        return cls
    Flow = trigger(event="data_updated", parameters={"alpha": "rate"})(decorate(with_alpha))
    alice = Deployment("F", "proj", "user.alice", "alice")
    events = [{"name": "data_updated", "type": "event", "extra": {"rate": 0.7, "other": 1}}]
    assert event_parameters(Flow, alice, events) == {"alpha": 0.7}
    # a plain event name is global, as in Metaflow: a branch-scoped event of the same logical name is another one
    scoped = [{"name": "mfns.proj.user.alice.data_updated", "type": "event", "extra": {"rate": 0.9}}]
    assert event_parameters(Flow, alice, scoped) == {}
    Scoped = trigger(event=namespaced_event_name("data_updated"), parameters=["alpha"])(decorate(with_alpha))
    assert Scoped._trigger_events.assets(alice) == [("mfns.proj.user.alice.data_updated", {"alpha": "alpha"})]
    assert Scoped._trigger_events.assets(Deployment("F")) == [("mfns.data_updated", {"alpha": "alpha"})]
    assert event_parameters(Scoped, alice, [{**scoped[0], "extra": {"alpha": 0.9}}]) == {"alpha": 0.9}


def test_namespaced_event_name_is_metaflows():
    from metaflow.plugins.namespaced_events import _make_namespaced_event_name

    from airflow_flow_triggers import namespaced_event_name
    event = namespaced_event_name("data_ready")
    assert event() == _make_namespaced_event_name("data_ready") == "mfns.data_ready"   # outside a step
    assert event.name_in("proj", "test.new_model") == _make_namespaced_event_name("data_ready", "proj",
                                                                                    "test.new_model")
    with pytest.raises(NamingError, match="The event name 'a b' has characters other than"):
        namespaced_event_name("a b")


def test_trigger_events_are_metaflow_events():
    import metaflow

    from airflow_flow_triggers import MetaflowEvent
    finish = {"name": "variant_demo.user.alice.FirstProjectFlow", "id": "manual__1", "type": "run",
              "pathspec": "variant_demo.user.alice.FirstProjectFlow/manual__1",
              "end_task": "variant_demo.user.alice.FirstProjectFlow/manual__1/end/0",
              "timestamp": "2026-12-02T10:00:00+00:00"}
    external = {"name": "data_updated", "id": "e-1", "type": "event", "timestamp": "2026-12-02T10:00:05+00:00",
                "extra": {"rate": 0.7}}
    got = Trigger([finish, external])
    assert MetaflowEvent._fields == metaflow.events.MetaflowEvent._fields
    assert got.event == MetaflowEvent("data_updated", "e-1", datetime.datetime(2026, 12, 2, 10, 0, 5,
                                                                                tzinfo=datetime.timezone.utc), "event")
    assert got.events[1].name == "metaflow.variant_demo.user.alice.FirstProjectFlow.end"
    assert got.events[1].id == "variant_demo.user.alice.FirstProjectFlow/manual__1/end/0"
    assert repr(got.events[1]).startswith("MetaflowEvent(name='metaflow.variant_demo.user.alice.FirstProjectFlow"
                                          ".end', id=")
    assert got["data_updated"] is got.event and "data_updated" in got
    assert list(got) == got.events


def test_bad_event_trigger(write_flow, airflow_home):
    flow = write_flow('''
from airflow_flow_triggers import FlowSpec, Parameter, step, trigger

@trigger(event='data_updated', parameters={'beta': 'rate'})
class EventFlow(FlowSpec):
    alpha = Parameter('alpha', default=0.1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    EventFlow()
''')
    result = run_flow(flow, "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == (f"error: {flow}:4: @trigger maps event 'data_updated' to parameter 'beta', which "
                             "flow EventFlow does not have (it has: alpha).\n")


# -- the DAGs: parsed by Airflow's own DagBag, in-process ---------------------------------

def dagbag(folder):
    from airflow.dag_processing.dagbag import DagBag
    return DagBag(dag_folder=str(folder))


FLOW = '''
from airflow_flow_triggers import FlowSpec, Parameter, project, step, trigger, trigger_on_finish, build_dag
from airflow_flow_triggers import namespaced_event_name

{decorators}
class {name}(FlowSpec):
    alpha = Parameter('alpha', default=0.1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

{build}
'''


@pytest.mark.parametrize("arguments, message", [
    ({"flow": "A", "any": True}, "@trigger_on_finish(any=True) starts on the first of several flows: name them with "
                                 "flows=['FlowA', 'FlowB']."),
    ({"flows": ["A"], "any": True}, "@trigger_on_finish(any=True) starts on the first of several flows"),
    ({"flows": ["A", "B"], "any": True, "within": 60}, "@trigger_on_finish(any=True, within=...): within= is how "
                                                       "close together all of the flows must finish"),
    ({"flows": ["A", "B"], "any": "yes"}, "@trigger_on_finish(any='yes') must be True or False."),
    ({"flow": "A", "outcome": "broken"}, "@trigger_on_finish(outcome='broken') is one of 'succeeded' (the default), "
                                         "'failed' or 'any'."),
    ({"flows": ["A", "B"], "outcome": "failed"}, "@trigger_on_finish(flows=[...], outcome='failed') would wait for a "
                                                 "set of runs of every flow"),
    ({"flow": "A", "parameters": ["version"]}, "@trigger_on_finish(parameters=...) maps the flow's parameters to "
                                               "artifacts of the triggering run"),
    ({"flow": "A", "parameters": {"v": "bad..path"}}, "@trigger_on_finish(parameters=...) names 'bad..path', which is "
                                                      "not an artifact"),
    ({"flows": ["A", "B"], "parameters": {"v": "version"}}, "@trigger_on_finish(flows=[...], parameters=...): a run "
                                                            "started by a set of finishes"),
])
def test_bad_any_of_and_outcomes(arguments, message):
    with pytest.raises(FlowDefinitionError, match=re.escape(message)):
        trigger_on_finish(**arguments)


def write(folder, name, decorators, build, branch_folder=""):
    """A DAG file; a project branch's DAG goes into that branch's folder (the cluster policy's rule)."""
    path = folder / branch_folder / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FLOW.format(name=name, decorators=decorators, build=build))


def uris(schedule_asset) -> list[str]:
    objs = getattr(schedule_asset, "objects", [schedule_asset])
    return sorted(o.uri for o in objs)


def test_schedules_from_triggers(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT", str(tmp_path))
    write(tmp_path, "OneFlow", "@trigger_on_finish(flow='Up')\n@project(name='p')",
          "d = build_dag(OneFlow, user='alice')", "p/user.alice")
    write(tmp_path, "AndFlow", "@trigger_on_finish(flows=['A', 'q.prod.B'])", "d = build_dag(AndFlow)")
    write(tmp_path, "WinFlow", "@trigger_on_finish(flows=['A', 'B'], within=3600)", "d = build_dag(WinFlow)")
    write(tmp_path, "AnyFlow", "@trigger_on_finish(flows=['A', 'B'], any=True)", "d = build_dag(AnyFlow)")
    write(tmp_path, "OnFail", "@trigger_on_finish(flow='A', outcome='failed')", "d = build_dag(OnFail)")
    write(tmp_path, "OnEnd", "@trigger_on_finish(flows=['A', 'B'], any=True, outcome='any')", "d = build_dag(OnEnd)")
    write(tmp_path, "EventFlow", "@trigger(event='data_updated', parameters=['alpha'])\n@project(name='p')",
          "d = build_dag(EventFlow, branch='x')", "p/test.x")
    write(tmp_path, "ScopedFlow", "@trigger(events=['a', namespaced_event_name('b')])\n@project(name='p')",
          "d = build_dag(ScopedFlow, branch='x')", "p/test.x")
    bag = dagbag(tmp_path)
    assert not bag.import_errors, bag.import_errors
    dags = bag.dags
    one = dags["p.user.alice.OneFlow"].timetable
    assert type(one).__name__ == "PartitionedAssetTimetable"          # one run per upstream finish
    assert uris(one.asset_condition) == ["x-flow-finished://p.user.alice.Up"]
    for consumer, upstreams in (("AndFlow", ["x-flow-finished://A", "x-flow-finished://q.prod.B"]),
                                ("WinFlow", ["x-flow-finished://A", "x-flow-finished://B"])):
        assert type(dags[consumer].timetable).__name__ == "PartitionedAssetTimetable"
        assert uris(dags[consumer].timetable.asset_condition) == [f"x-flow-all-finished://{consumer}"]
        gate = dags[f"{consumer}.wait_for_all"]
        assert type(gate.timetable).__name__ == "PartitionedAssetTimetable"
        assert type(gate.timetable.asset_condition).__name__ == "AssetAny"
        assert uris(gate.timetable.asset_condition) == upstreams
        assert gate.max_active_runs == 1 and gate.is_paused_upon_creation is False
        assert [o.uri for o in gate.get_task("match_finishes").outlets] == [f"x-flow-all-finished://{consumer}"]
    first = dags["AnyFlow"].timetable                                   # any=True: each finish its own run, no gate
    assert type(first).__name__ == "PartitionedAssetTimetable" and type(first.asset_condition).__name__ == "AssetAny"
    assert uris(first.asset_condition) == ["x-flow-finished://A", "x-flow-finished://B"]
    assert "AnyFlow.wait_for_all" not in dags
    assert uris(dags["OnFail"].timetable.asset_condition) == ["x-flow-failed://A"]
    assert uris(dags["OnEnd"].timetable.asset_condition) == ["x-flow-failed://A", "x-flow-failed://B",
                                                             "x-flow-finished://A", "x-flow-finished://B"]
    assert uris(dags["p.test.x.EventFlow"].timetable.asset_condition) == ["x-flow-event://data_updated"]
    assert uris(dags["p.test.x.ScopedFlow"].timetable.asset_condition) == ["x-flow-event://a",
                                                                         "x-flow-event://mfns.p.test.x.b"]


def test_trigger_errors_at_build(tmp_path):
    write(tmp_path, "SelfFlow", "@trigger_on_finish(flow='SelfFlow')", "d = build_dag(SelfFlow)")
    write(tmp_path, "BothFlow", "@trigger_on_finish(flow='A')\n@trigger(event='e')", "d = build_dag(BothFlow)")
    errors = dagbag(tmp_path).import_errors
    assert "is triggered by its own finish (SelfFlow), a loop that would never stop" in \
        errors[str(tmp_path / "SelfFlow.py")]
    assert "has both @trigger and @trigger_on_finish: keep one of them" in errors[str(tmp_path / "BothFlow.py")]


def test_loop_among_flows_is_reported(tmp_path):
    write(tmp_path, "LoopA", "@trigger_on_finish(flow='LoopB')", "d = build_dag(LoopA)")
    write(tmp_path, "LoopB", "@trigger_on_finish(flow='LoopA')", "d = build_dag(LoopB)")
    bag = dagbag(tmp_path)
    assert not bag.import_errors and {"LoopA", "LoopB"} <= set(bag.dags)
    warned = [str(w) for ws in bag.captured_warnings.values() for w in ws]
    assert any("Flows trigger each other in a loop" in w for w in warned), warned


# -- local --trigger --------------------------------------------------------------------------

def test_local_trigger_resolves_in_the_project_branch(tmp_path, airflow_home):
    for name in ("firstproject.py", "secondproject.py"):
        shutil.copy(REPO / "dags" / name, tmp_path / name)
    first = run_flow(tmp_path / "firstproject.py", "--branch", "new_model", "run", airflow_home=airflow_home)
    run_id = re.search(r"run-id (\d+)", first.stdout).group(1)
    second = run_flow(tmp_path / "secondproject.py", "--branch", "new_model", "--trigger",
                      f"FirstProjectFlow/{run_id}", "run", airflow_home=airflow_home)
    assert second.returncode == 0, second.stderr
    assert "This deployment is called variant_demo.test.new_model.SecondProjectFlow" in second.stdout
    assert (f"This run was triggered by MetaflowEvent(name='metaflow.variant_demo.test.new_model.FirstProjectFlow"
            f".end', id='variant_demo.test.new_model.FirstProjectFlow/{run_id}/end/2'") in second.stdout
    from airflow_flow_triggers import Run
    triggered = Run(re.search(r"Done! Run (\S+) finished", second.stdout).group(1))
    for name in ("FirstProjectFlow", "variant_demo.test.new_model.FirstProjectFlow"):
        assert triggered.trigger[name].qualified_pathspec == f"variant_demo.test.new_model.FirstProjectFlow/{run_id}"
        assert triggered.trigger[name].pathspec == f"FirstProjectFlow/{run_id}"
    with pytest.raises(KeyError, match="No run of 'OtherFlow' and no event named 'OtherFlow' triggered this run"):
        triggered.trigger["OtherFlow"]
    elsewhere = run_flow(tmp_path / "secondproject.py", "--trigger", f"FirstProjectFlow/{run_id}", "run",
                         airflow_home=airflow_home)   # alice's branch has no such run
    assert elsewhere.returncode == 1
    assert elsewhere.stderr.startswith(f"error: Run 'variant_demo.user.alice.FirstProjectFlow/{run_id}' does not "
                                       "exist in the artifact store")
    pinned = run_flow(tmp_path / "secondproject.py", "--trigger",
                      f"variant_demo.test.new_model.FirstProjectFlow/{run_id}", "run", airflow_home=airflow_home)
    assert pinned.returncode == 0, pinned.stderr


def test_local_trigger_needs_a_successful_run(write_flow, airflow_home):
    failing = write_flow('''
from airflow_flow_triggers import FlowSpec, step

class ModelRefreshFlow(FlowSpec):
    @step
    def start(self):
        raise RuntimeError('no model today')
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    ModelRefreshFlow()
''', name="modelrefresh.py")
    failed = run_flow(failing, "run", airflow_home=airflow_home)
    run_id = re.search(r"run-id (\d+)", failed.stdout).group(1)
    result = run_flow(REPO / "dags" / "inferenceflow.py", "--trigger", f"ModelRefreshFlow/{run_id}", "run",
                      airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == (f"error: Run 'ModelRefreshFlow/{run_id}' did not succeed (it failed or has not "
                             "finished): --trigger needs a successful run.\n")
    bad = run_flow(REPO / "dags" / "inferenceflow.py", "--trigger", "ModelRefreshFlow", "run",
                   airflow_home=airflow_home)
    assert bad.returncode == 1 and "is not a run: write it as FlowName/RUN_ID" in bad.stderr


def test_local_trigger_of_a_flow_triggered_on_failure_names_a_failed_run(write_flow, airflow_home):
    """outcome='failed': `--trigger` takes the failed run (current.trigger.run is it, its artifacts and its failed
    task's exception at hand), and refuses a successful one in one sentence."""
    failing = write_flow('''
from airflow_flow_triggers import FlowSpec, Parameter, step

class Nightly(FlowSpec):
    fail = Parameter('fail', default=True)

    @step
    def start(self):
        self.rows = 7
        if self.fail:
            raise RuntimeError('no data tonight')
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    Nightly()
''', name="nightly.py")
    alert = write_flow('''
from airflow_flow_triggers import FlowSpec, current, step, trigger_on_finish

@trigger_on_finish(flow='Nightly', outcome='failed')
class Alert(FlowSpec):
    @step
    def start(self):
        run = current.trigger.run
        failed = next(task for step in run for task in step if not task.successful)
        print(current.trigger.event.name, run.successful, run['start'].task.data.rows, failed.exception.type)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    Alert()
''', name="alert.py")
    failed = re.search(r"run-id (\d+)", run_flow(failing, "run", airflow_home=airflow_home).stdout).group(1)
    ok = re.search(r"run-id (\d+)", run_flow(failing, "run", "--fail", "false", airflow_home=airflow_home).stdout)[1]
    alerted = run_flow(alert, "--trigger", f"Nightly/{failed}", "run", airflow_home=airflow_home)
    assert alerted.returncode == 0, alerted.stderr
    assert "metaflow.Nightly.failed False 7 builtins.RuntimeError" in alerted.stdout
    refused = run_flow(alert, "--trigger", f"Nightly/{ok}", "run", airflow_home=airflow_home)
    assert refused.returncode == 1 and refused.stderr == (
        f"error: Run 'Nightly/{ok}' succeeded: @trigger_on_finish(outcome='failed') makes --trigger name a failed "
        "run.\n")


def test_bad_setting_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__TRIGGER_WINDOW", "an hour")
    write(tmp_path, "WindowDefaultFlow", "@trigger_on_finish(flows=['A', 'B'])", "d = build_dag(WindowDefaultFlow)")
    [error] = dagbag(tmp_path).import_errors.values()
    assert error.strip().splitlines()[-1].endswith(
        "[flow_triggers] trigger_window = 'an hour' must be a number, 0 or more (env "
        "AIRFLOW__FLOW_TRIGGERS__TRIGGER_WINDOW; default empty).")
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__TRIGGER_WINDOW", "600")
    bag = dagbag(tmp_path)
    assert "WindowDefaultFlow.wait_for_all" in bag.dags


OWN_DAG = '''
import pendulum
from airflow.sdk import DAG, Asset, PartitionedAssetTimetable, task

finish = Asset(name="variant_demo.prod.TrainFlow", uri="x-flow-finished://variant_demo.prod.TrainFlow")
with DAG("{dag_id}", schedule={schedule}, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    task(task_id="report")(lambda: None)()
'''


def test_own_dags_on_a_finish_asset_must_be_partitioned(tmp_path):
    """The cluster policy: a plain asset schedule on a (partitioned) finish asset would never run."""
    (tmp_path / "plain.py").write_text(OWN_DAG.format(dag_id="plain_report", schedule="[finish]"))
    (tmp_path / "ref.py").write_text(OWN_DAG.format(
        dag_id="ref_report", schedule="[Asset.ref(uri='x-flow-finished://variant_demo.prod.TrainFlow')]"))
    (tmp_path / "partitioned.py").write_text(OWN_DAG.format(
        dag_id="partitioned_report", schedule="PartitionedAssetTimetable(assets=finish)"))
    bag = dagbag(tmp_path)
    assert set(bag.dags) == {"partitioned_report"}
    for name, dag_id in (("plain.py", "plain_report"), ("ref.py", "ref_report")):
        assert bag.import_errors[str(tmp_path / name)].strip().splitlines()[-1].endswith(
            f"DAG {dag_id} is scheduled on the finish asset "
            + ("variant_demo.prod.TrainFlow" if name == "plain.py" else "x-flow-finished://variant_demo.prod.TrainFlow")
            + ", whose events are partitioned by the run that finished, so a plain asset schedule never starts "
            "it: use schedule=PartitionedAssetTimetable(assets=...) (from airflow.sdk) to run once per finish.")


def test_gate_matches_first_in_first_out_and_replays_on_retry(monkeypatch):
    """The wait-for-all gate's task, fed one finish per run as Airflow does, with its Variable in a dict."""
    import types

    from airflow.sdk import Asset, Variable

    from airflow_flow_triggers.orchestration import gates

    variables = {}
    monkeypatch.setattr(Variable, "get", classmethod(lambda cls, key, default=None, deserialize_json=False:
                                                     json.loads(variables[key]) if key in variables else default))
    monkeypatch.setattr(Variable, "set", classmethod(lambda cls, key, value, description=None, serialize_json=False:
                                                     variables.__setitem__(key, json.dumps(value))))
    from airflow_flow_triggers.orchestration import tasks
    monkeypatch.setattr(tasks, "finish_event", lambda name, timestamp, pathspec, source, store: {   # no store here
        "name": name, "id": pathspec.split("/")[1], "type": "run", "pathspec": pathspec, "timestamp": timestamp,
        "depth": 0, "source_dag_id": source[0], "source_run_id": source[1]})
    a, b, gate = Asset(name="A", uri="x-flow-finished://A"), Asset(name="B", uri="x-flow-finished://B"), \
        Asset(name="C.wait_for_all", uri="x-flow-all-finished://C")
    match = gates.gate_callable("C", [a, b], gate, None)
    pushed = []     # what each gate run records for the plugin (orchestration/causes.py)

    def finish(asset, run_id, minute):
        event = types.SimpleNamespace(asset=asset, timestamp=datetime.datetime(2026, 1, 1, 0, minute,
                                                                               tzinfo=datetime.timezone.utc),
                                      extra={"run_id": run_id, "pathspec": f"{asset.name}/{run_id}"},
                                      source_dag_id=asset.name, source_run_id=run_id)
        outlet = types.SimpleNamespace(extra=None, keys=[])
        outlet.add_partitions = outlet.keys.extend
        try:
            match(triggering_asset_events={asset: [event]}, outlet_events={gate: outlet},
                  ti=types.SimpleNamespace(xcom_push=lambda key, value: pushed.append((key, value))))
        except Exception as skipped:
            assert type(skipped).__name__ == "AirflowSkipException"
        return {key: [e["pathspec"] for e in batch] for key, batch in (outlet.extra or {}).get(
            "flow_triggers_batches", {}).items()}

    assert finish(a, "a1", 1) == {} and finish(a, "a2", 2) == {} and finish(a, "a3", 3) == {}
    assert finish(b, "b1", 4) == {"B/b1": ["A/a1", "B/b1"]}
    assert finish(b, "b1", 4) == {"B/b1": ["A/a1", "B/b1"]}          # the same run retried: the same set
    assert finish(b, "b2", 5) == {"B/b2": ["A/a2", "B/b2"]}
    state = json.loads(variables["flow_triggers.wait_for_all.C"])
    assert [e["pathspec"] for e in state["waiting"]["A"]] == ["A/a3"] and state["waiting"]["B"] == []

    # a window is between the finishes of a set, not against the clock the gate runs at (these are of 2026-01-01)
    match = gates.gate_callable("W", [a, b], gate, datetime.timedelta(minutes=10))
    assert finish(a, "early", 0) == {} and finish(b, "within", 9) == {"B/within": ["A/early", "B/within"]}
    assert finish(a, "old", 10) == {}
    assert finish(b, "new", 21) == {}            # 11 minutes after A's: A's expires, B's waits
    waiting = json.loads(variables["flow_triggers.wait_for_all.W"])["waiting"]
    assert waiting["A"] == [] and [e["pathspec"] for e in waiting["B"]] == ["B/new"]
    key, record = pushed[-1]
    assert key == "flow_triggers_gate" and record["received"] == ["B/new"] and record["waiting"] == ["B/new"]
    assert record["expired"] == [{"pathspec": "A/old", "finished_at": "2026-01-01T00:10:00+00:00", "by": "B/new"}]
    assert pushed[3][1]["matched"] == {"B/b1": ["A/a1", "B/b1"]} and record["window_seconds"] == 600


@pytest.mark.parametrize("value", ["", "ten", "-1", "2.5"])
def test_a_bad_max_trigger_depth_is_one_sentence(monkeypatch, value):
    from airflow_flow_triggers.errors import SettingError
    from airflow_flow_triggers.orchestration.tasks import _runaway_chain
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__MAX_TRIGGER_DEPTH", value)
    with pytest.raises(SettingError, match=rf"^\[flow_triggers\] max_trigger_depth = '{re.escape(value)}' must be a "
                                           r"whole number, 0 or more \(env AIRFLOW__FLOW_TRIGGERS__MAX_TRIGGER_DEPTH; "
                                           r"default 10\)\.$"):
        _runaway_chain(Deployment("F"), [])


def test_the_depth_of_a_chain_comes_from_the_store_not_the_event(tmp_path, airflow_home, as_alice, monkeypatch):
    """A hand-posted replay of a finish saying depth -100 is worth nothing: the depth is the upstream run's own,
    as the artifact store keeps it, so max_trigger_depth still stops the chain."""
    import types

    from airflow.sdk import Asset

    from airflow_flow_triggers import FlowSpec, step
    from airflow_flow_triggers.orchestration.tasks import _runaway_chain, triggering_events
    from airflow_flow_triggers.runtime.store import ArtifactStore
    from airflow_flow_triggers.runtime.task import execute_task

    class Chained(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    store = ArtifactStore(f"file://{tmp_path}/artifacts")
    upstream = {"name": "Chained", "id": "r0", "type": "run", "pathspec": "Chained/r0", "depth": 4}
    ref = execute_task(Chained, Deployment("Chained"), "r1", "start", [], store=store, trigger_events=[upstream])
    execute_task(Chained, Deployment("Chained"), "r1", "end", [ref], store=store)
    posted = types.SimpleNamespace(asset=Asset(name="Chained", uri="x-flow-finished://Chained"), partition_key=None,
                                   timestamp=datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc),
                                   extra={"pathspec": "Chained/r1", "depth": -100}, source_dag_id=None,
                                   source_run_id=None)
    [event], refused = triggering_events({"triggering_asset_events": {posted.asset: [posted]}}, store)
    assert refused == [] and event["depth"] == 5 and event["end_task"] == "Chained/r1/end/2"
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__MAX_TRIGGER_DEPTH", "3")
    assert "at trigger depth 6, over [flow_triggers] max_trigger_depth = 3" in _runaway_chain(Deployment("Chained"),
                                                                                           [event])


def test_parameters_must_be_the_flows():
    from airflow_flow_triggers import FlowSpec, Parameter
    with pytest.raises(FlowDefinitionError, match=re.escape("@trigger_on_finish(parameters=...) sets parameter "
                                                            "'nope', which flow Scored does not have (it has: alpha)")):
        @trigger_on_finish(flow="Train", parameters={"nope": "version"})
        class Scored(FlowSpec):
            alpha = Parameter("alpha", default=1)


def test_local_trigger_sets_parameters_from_the_runs_artifacts(write_flow, airflow_home):
    train = write_flow('''
from airflow_flow_triggers import FlowSpec, step

class Train(FlowSpec):
    @step
    def start(self):
        self.version = 42
        self.metrics = {"accuracy": 0.93, "name": "m"}
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    Train()
''', name="train.py")
    def score(key: str):
        return write_flow(SCORE.replace("KEY", key), name=f"score_{key}.py")

    trained = re.search(r"run-id (\d+)", run_flow(train, "run", airflow_home=airflow_home).stdout).group(1)
    scored = run_flow(score("accuracy"), "--trigger", f"Train/{trained}", "run", airflow_home=airflow_home)
    assert scored.returncode == 0 and "seen 42 0.93" in scored.stdout, scored.stderr
    given = run_flow(score("accuracy"), "--trigger", f"Train/{trained}", "run", "--accuracy", "0.5",
                     airflow_home=airflow_home)
    assert "seen 42 0.5" in given.stdout                             # a value given on the command line wins
    where = (f"error: @trigger_on_finish(parameters=...) sets parameter 'accuracy' from 'metrics.KEY' of run "
             f"Train/{trained}, but ")
    for key, why in (("name", "parameter 'accuracy' expects a number value, got 'm'."),
                     ("recall", "'metrics' has no key 'recall' (it is a dict with keys accuracy, name).")):
        result = run_flow(score(key), "--trigger", f"Train/{trained}", "run", airflow_home=airflow_home)
        assert result.returncode == 1 and result.stderr == where.replace("KEY", key) + why + "\n"


SCORE = '''
from airflow_flow_triggers import FlowSpec, Parameter, step, trigger_on_finish

@trigger_on_finish(flow='Train', parameters={'model_version': 'version', 'accuracy': 'metrics.KEY'})
class Score(FlowSpec):
    model_version = Parameter('model_version', default=0)
    accuracy = Parameter('accuracy', default=0.0)

    @step
    def start(self):
        print("seen", self.model_version, self.accuracy)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    Score()
'''
