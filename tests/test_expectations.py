"""Deadlines for an expected upstream, in-process: @trigger_on_finish(expect_every= | expect_by=) checked where it is
written, when an upstream is overdue (at the edges), the companion DAG `<consumer>.expect` as Airflow's DagBag builds
it for a flow and a project's Airflow DAG, its check raising and clearing the alert through a notifier exactly once
(with the Variables in a dict), and how `why` and the plugin show it. On a real Airflow: test_airflow_expectations.py.
"""
import datetime
import json
import re
import types

import pytest
from conftest import run_flow

from airflow_flow_triggers import FlowSpec, trigger_on_finish
from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.flows.expectations import Expectation, human_duration, next_tick
from airflow_flow_triggers.orchestration import expectations

UTC = datetime.timezone.utc


def at(day, hour=0, minute=0, second=0, micro=0):
    return datetime.datetime(2026, 1, day, hour, minute, second, micro, tzinfo=UTC)


def decorate(**arguments):
    class SomeFlow(FlowSpec):
        pass
    return trigger_on_finish(**arguments)(SomeFlow)._trigger_on_finish


# -- the decorator's arguments ---------------------------------------------------------------------------------

@pytest.mark.parametrize("written, seconds", [
    ("30m", 1800), ("6h", 21600), ("1d", 86400), ("2w", 1209600), ("45s", 45), (" 1d ", 86400), (90, 90), (1.5, 1.5),
    (datetime.timedelta(hours=2), 7200), ("PT30M", 1800), ("P1D", 86400), ("P1DT6H", 108000),
])
def test_expect_every_takes_a_duration(written, seconds):
    spec = decorate(flow="Ingest", expect_every=written)
    assert spec.expect == Expectation(every=datetime.timedelta(seconds=seconds))
    assert type(spec.expect.every) is datetime.timedelta


@pytest.mark.parametrize("written", ["0 6 * * *", "*/15  *  * * 1-5", "@daily"])
def test_expect_by_takes_a_cron_time(written):
    assert decorate(flow="Ingest", expect_by=written).expect == Expectation(by=" ".join(written.split()))


@pytest.mark.parametrize("arguments, message", [
    ({"expect_every": "1d", "expect_by": "0 6 * * *"},
     "@trigger_on_finish takes one of expect_every= (a duration since the last finish) or expect_by= (a cron time), "
     "not both."),
    ({"expect_every": "soon"}, "@trigger_on_finish(expect_every='soon') is not a positive duration: write a "
                               "timedelta, a number of seconds, or a whole number and a unit, as '30m', '6h', '1d', "
                               "'2w' (or ISO 8601, 'PT30M')."),
    ({"expect_every": "1x"}, "expect_every='1x') is not a positive duration"),
    ({"expect_every": "0m"}, "expect_every='0m') is not a positive duration"),
    ({"expect_every": -5}, "expect_every=-5) is not a positive duration"),
    ({"expect_every": True}, "expect_every=True) is not a positive duration"),
    ({"expect_every": datetime.timedelta(0)}, "is not a positive duration"),
    ({"expect_every": "Pnonsense"}, "expect_every='Pnonsense') is not a positive duration"),
    ({"expect_every": "P1M"}, "@trigger_on_finish(expect_every='P1M') counts in months or years, whose length "
                              "varies: write days or weeks (or use expect_by= with a cron time)."),
    ({"expect_by": "every day"}, "@trigger_on_finish(expect_by='every day') is not a cron time: write five fields "
                                 "(minute hour day month weekday, in UTC), as '0 6 * * *' for 06:00 every day."),
    ({"expect_by": "0 6 * * * *"}, "expect_by='0 6 * * * *') is not a cron time"),
    ({"expect_by": "61 6 * * *"}, "expect_by='61 6 * * *') is not a cron time"),
    ({"expect_by": ""}, "expect_by='') is not a cron time"),
    ({"expect_by": 6}, "expect_by=6) is not a cron time"),
])
def test_bad_expectations_are_one_sentence(arguments, message):
    with pytest.raises(FlowDefinitionError, match=re.escape(message)):
        trigger_on_finish(flow="Ingest", **arguments)


def test_several_upstreams_each_expected():
    assert decorate(flows=["A", "B"], expect_every="1h").expect.every == datetime.timedelta(hours=1)
    spec = decorate(flows=["A", "B"], any=True, outcome="failed", expect_by="0 6 * * *")
    assert (spec.expect.by, spec.outcome) == ("0 6 * * *", "failed")
    assert decorate(flow="A").expect is None


def test_a_bad_expectation_names_the_flow_file_and_line(write_flow, airflow_home):
    flow = write_flow('''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish

@trigger_on_finish(flow='Ingest', expect_every='daily')
class Late(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    Late()
''')
    result = run_flow(flow, "run", airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == (f"error: {flow}:4: @trigger_on_finish(expect_every='daily') is not a positive duration: "
                             "write a timedelta, a number of seconds, or a whole number and a unit, as '30m', '6h', "
                             "'1d', '2w' (or ISO 8601, 'PT30M').\n")


@pytest.mark.parametrize("seconds, text", [(86400, "1d"), (21600, "6h"), (1800, "30m"), (5, "5s"), (108000, "1d 6h"),
                                           (1209600, "2w"), (691200, "8d"), (90, "1m 30s"), (1.5, "1.5s")])
def test_durations_read_as_written(seconds, text):
    assert human_duration(datetime.timedelta(seconds=seconds)) == text
    assert Expectation(every=datetime.timedelta(seconds=seconds)).describe() == f"every {text}"
    assert Expectation(by="0 6 * * *").describe() == "by 0 6 * * *"


# -- overdue, at the edges ---------------------------------------------------------------------------------------

def test_expect_every_is_overdue_once_more_than_the_duration_passed():
    every = Expectation(every=datetime.timedelta(hours=1))
    last, since = at(1, 10), at(1, 8)
    assert every.due(last, since) == at(1, 11)
    assert not every.overdue(at(1, 11), last, since)                         # exactly the duration: not yet
    assert every.overdue(at(1, 11, micro=1), last, since)
    assert not every.overdue(at(1, 10, 30), last, since)
    # no finish yet: counted from when the expectation was first checked
    assert every.due(None, since) == at(1, 9) and every.overdue(at(1, 9, second=1), None, since)
    # a finish from before the first check counts (the upstream records every finish, watched or not)
    assert every.overdue(at(1, 9), at(1, 7), at(1, 8, 59))


def test_expect_by_wants_a_finish_between_two_ticks():
    by = Expectation(by="0 6 * * *")
    # finished 05:50 on the 2nd: it satisfies the tick of 06:00 on the 2nd; the next is due by 06:00 on the 3rd
    assert by.due(at(2, 5, 50), at(1)) == at(3, 6)
    assert not by.overdue(at(3, 5, 59, 59), at(2, 5, 50), at(1))
    assert by.overdue(at(3, 6), at(2, 5, 50), at(1))                          # from the tick itself
    # a late finish (06:10 on the 2nd, after the tick it missed) clears, and counts for the tick of the 3rd
    assert by.due(at(2, 6, 10), at(1)) == at(4, 6) and not by.overdue(at(3, 6), at(2, 6, 10), at(1))
    # a finish exactly at a tick counts for the next tick
    assert by.due(at(2, 6), at(1)) == at(4, 6)
    # no finish yet: the first whole window after the first check (deployed 05:55 on the 1st: due 06:00 on the 2nd)
    assert by.due(None, at(1, 5, 55)) == at(2, 6)
    assert not by.overdue(at(1, 6, 1), None, at(1, 5, 55))
    assert next_tick("*/15 * * * *", at(1, 10, 15)) == at(1, 10, 30)


# -- the companion DAG, as Airflow's DagBag builds it --------------------------------------------------------------

FLOW = '''
from airflow_flow_triggers import FlowSpec, project, step, trigger_on_finish, build_dag

@trigger_on_finish({trigger})
@project(name='p')
class {name}(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

d = build_dag({name}, user='alice')
'''

REPORT = '''
from airflow.sdk import dag, task
from airflow_flow_triggers import project, trigger_on_finish

@project(name='p')
@trigger_on_finish(flow='Ingest', expect_by='0 6 * * *', outcome='any')
@dag(schedule=None)
def report():
    @task
    def summarize():
        return 1
    summarize()

report()
'''


def dagbag(folder):
    from airflow.dag_processing.dagbag import DagBag
    return DagBag(dag_folder=str(folder))


def test_the_expectation_dag_of_a_flow_and_of_a_project_dag(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__EXPECTATION_CHECK_INTERVAL", "60")
    folder = tmp_path / "p" / "user.alice"
    folder.mkdir(parents=True)
    (folder / "score.py").write_text(FLOW.format(name="Score", trigger="flow='Ingest', expect_every='1d'"))
    (folder / "both.py").write_text(FLOW.format(name="Both", trigger="flows=['Ingest', 'p.prod.Model'], "
                                                                     "expect_every=3600"))
    (folder / "plain.py").write_text(FLOW.format(name="Plain", trigger="flow='Ingest'"))
    (folder / "report.py").write_text(REPORT)
    bag = dagbag(tmp_path)
    assert not bag.import_errors, bag.import_errors
    dags = bag.dags
    watch = dags["p.user.alice.Score.expect"]
    assert type(watch.timetable).__name__ == "DeltaTriggerTimetable"
    assert watch.timetable.delta == datetime.timedelta(seconds=60)
    assert (watch.max_active_runs, watch.catchup, watch.is_paused_upon_creation) == (1, False, False)
    assert set(watch.tags) == {"Score", "project:p", "project_branch:user.alice", "expect"}
    assert watch.owner == "alice" and list(watch.task_dict) == ["check_expectations"]
    assert watch.description == ("Marks p.user.alice.Score overdue when no finish of p.user.alice.Ingest came "
                                 "every 1d (checked every 60 s).")
    assert watch.task_dict["check_expectations"].retries == 0
    assert "p.user.alice.Plain.expect" not in dags
    # several upstreams: each expected (the gate is there as before), branch-resolved like the trigger
    assert {"p.user.alice.Both.wait_for_all", "p.user.alice.Both.expect"} <= set(dags)
    assert dags["p.user.alice.Both.expect"].description.startswith(
        "Marks p.user.alice.Both overdue when no finish of p.user.alice.Ingest, p.prod.Model came every 1h")
    # a project's Airflow DAG gets the same, named after its branch's id
    assert dags["p.user.alice.report.expect"].description == (
        "Marks p.user.alice.report overdue when no finish or failure of p.user.alice.Ingest came by 0 6 * * * "
        "(checked every 60 s).")
    assert "report.expect" not in dags


CLASSIC = '''
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow_flow_triggers import project, trigger_on_finish

with DAG("publish", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    EmptyOperator(task_id="publish_it")
trigger_on_finish(flow="Ingest", expect_every="1h")(dag)      # first a DAG of no project, with its expectation DAG
project(name="p")(dag)                                       # then its branch's: the expectation DAG follows it
'''


def test_a_classic_dag_joining_twice_keeps_one_expectation_dag(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT", str(tmp_path))
    folder = tmp_path / "p" / "user.alice"
    folder.mkdir(parents=True)
    (folder / "publish.py").write_text(CLASSIC)
    bag = dagbag(tmp_path)
    assert not bag.import_errors, bag.import_errors
    assert set(bag.dags) == {"p.user.alice.publish", "p.user.alice.publish.expect"}


def test_a_bad_check_interval_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT", str(tmp_path))
    folder = tmp_path / "p" / "user.alice"
    folder.mkdir(parents=True)
    (folder / "score.py").write_text(FLOW.format(name="Score", trigger="flow='Ingest', expect_every='1d'"))
    for value, message in (("often", "[flow_triggers] expectation_check_interval = 'often' must be a number, 0 or "
                                      "more (env AIRFLOW__FLOW_TRIGGERS__EXPECTATION_CHECK_INTERVAL; default 300)."),
                           ("0", "[flow_triggers] expectation_check_interval = 0 must be a number of seconds over 0 "
                                 "(env AIRFLOW__FLOW_TRIGGERS__EXPECTATION_CHECK_INTERVAL; default 300).")):
        monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__EXPECTATION_CHECK_INTERVAL", value)
        [error] = dagbag(tmp_path).import_errors.values()
        assert error.strip().splitlines()[-1].endswith(message)


def test_the_cluster_policy_places_an_expectation_dag_with_its_consumer():
    from airflow_flow_triggers.orchestration.policy import _claimed_branch
    companion = types.SimpleNamespace(dag_id="p.prod.Score.expect", tags=["Score", "project:p",
                                                                           "project_branch:prod", "expect"])
    assert _claimed_branch(companion) == ("p", "prod", "p.prod.Score")
    named_so = types.SimpleNamespace(dag_id="p.prod.expect", tags=["expect_report", "project:p", "project_branch:prod"])
    assert _claimed_branch(named_so) == ("p", "prod", "p.prod.expect")     # a project DAG called `expect`


# -- the check: raised once, cleared once, through the notifier ---------------------------------------------------

@pytest.fixture
def variables(monkeypatch):
    """Airflow's Variables in a dict, as the task SDK reads and writes them."""
    from airflow.sdk import Variable
    found = {}
    monkeypatch.setattr(Variable, "get", classmethod(lambda cls, key, default=None, deserialize_json=False:
                                                     json.loads(found[key]) if key in found else default))
    monkeypatch.setattr(Variable, "set", classmethod(lambda cls, key, value, description=None, serialize_json=False:
                                                     found.__setitem__(key, json.dumps(value))))
    return found


class Clock:
    def __init__(self, monkeypatch, start):
        self.now = start
        monkeypatch.setattr(expectations, "_now", lambda: self.now)


def checker(consumer="p.user.alice.Score", upstreams=("p.user.alice.Ingest",), every=10, outcome="succeeded"):
    check = expectations.check_callable(consumer, list(upstreams), Expectation(every=datetime.timedelta(seconds=every)),
                                        outcome)
    pushed = []

    def run(**extra):
        ti = types.SimpleNamespace(xcom_push=lambda key, value: pushed.append((key, value)))
        check(ti=ti, dag_run=None, **extra)
        return pushed[-1][1]
    return run


SENT = []


def record_alert(context):
    """A plain callable notifier (the setting names it: test_expectations.record_alert)."""
    SENT.append((context["expectation"]["state"], context["expectation"]["upstream"], context["expectation"]["due"]))


class ClassAlert:
    def __call__(self, context):
        SENT.append("class")


def failing_alert(context):
    raise ConnectionError("the pager is down")


@pytest.fixture
def sent(monkeypatch):
    SENT.clear()
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER", "test_expectations.record_alert")
    return SENT


def test_overdue_is_sent_once_and_cleared_once(variables, sent, monkeypatch):
    clock = Clock(monkeypatch, at(1, 10))
    check = checker()
    record = check()                                       # first check: nothing finished yet, not due yet
    assert record["overdue"] is False and sent == [] and record["first_seen"] == at(1, 10).isoformat()
    [upstream] = record["upstreams"]
    assert upstream["due"] == at(1, 10, 0, 10).isoformat() and upstream["last_finish"] is None
    clock.now = at(1, 10, 0, 11)
    record = check()
    assert record["overdue"] is True and sent == [("overdue", "p.user.alice.Ingest", at(1, 10, 0, 10).isoformat())]
    assert record["upstreams"][0]["message"] == (
        "p.user.alice.Score is overdue: no finish of p.user.alice.Ingest since the expectation was first checked at "
        "2026-01-01T10:00:00+00:00, and one was due by 2026-01-01T10:00:10+00:00 (expect every 10s).")
    clock.now = at(1, 10, 0, 30)
    assert check()["overdue"] is True and len(sent) == 1             # still overdue: not sent again
    # the upstream finishes (its end task records it): cleared at the next check, once
    clock.now = at(1, 10, 0, 35)
    expectations.record_finish("p.user.alice.Ingest", "manual__1")
    clock.now = at(1, 10, 0, 36)
    record = check()
    assert record["overdue"] is False and sent[-1] == ("cleared", "p.user.alice.Ingest", at(1, 10, 0, 45).isoformat())
    assert record["upstreams"][0]["last_run_id"] == "manual__1" and record["upstreams"][0]["notified"] == "cleared"
    assert check()["overdue"] is False and len(sent) == 2
    clock.now = at(1, 10, 0, 46)                                     # and overdue again, 10 s after that finish
    assert check()["upstreams"][0]["message"].startswith(
        "p.user.alice.Score is overdue: the last finish of p.user.alice.Ingest was at 2026-01-01T10:00:35+00:00 "
        "(run manual__1)")
    assert [s[0] for s in sent] == ["overdue", "cleared", "overdue"]
    assert json.loads(variables["flow_triggers.expect.p.user.alice.Score"])["upstreams"]["p.user.alice.Ingest"] == \
        {"overdue": True, "at": at(1, 10, 0, 46).isoformat()}


def test_each_upstream_has_its_own_alert_and_only_its_outcome_counts(variables, sent, monkeypatch):
    clock = Clock(monkeypatch, at(1, 10))
    check = checker(upstreams=("p.user.alice.A", "p.user.alice.B"), outcome="failed")
    check()
    clock.now = at(1, 10, 0, 5)
    expectations.record_finish("p.user.alice.A", "r1", "failed")
    expectations.record_finish("p.user.alice.B", "r2")                # a success: not what the trigger listens to
    clock.now = at(1, 10, 0, 12)
    record = check()
    assert [u["overdue"] for u in record["upstreams"]] == [False, True]
    assert sent == [("overdue", "p.user.alice.B", at(1, 10, 0, 10).isoformat())]
    assert "no failure of p.user.alice.B" in record["upstreams"][1]["message"]


def test_a_failing_notifier_fails_the_check_and_the_next_one_sends_again(variables, monkeypatch):
    clock = Clock(monkeypatch, at(1, 10))
    check = checker()
    check()
    clock.now = at(1, 10, 1)
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER", "test_expectations.failing_alert")
    with pytest.raises(RuntimeError, match=re.escape(
            "overdue: p.user.alice.Ingest: the notifier raised ConnectionError: the pager is down. The next check "
            "tries again.")):
        check()
    assert "p.user.alice.Ingest" not in json.loads(variables["flow_triggers.expect.p.user.alice.Score"])["upstreams"]
    SENT.clear()
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER", "test_expectations:record_alert")
    clock.now = at(1, 10, 2)
    assert check()["overdue"] is True and [s[0] for s in SENT] == ["overdue"]
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER", "no_such_module.alert")
    clock.now = at(1, 10, 3)
    expectations.record_finish("p.user.alice.Ingest", "r")
    with pytest.raises(RuntimeError, match=re.escape(
            "cleared: p.user.alice.Ingest: not sent: [flow_triggers] deadline_notifier = 'no_such_module.alert' names "
            "nothing this worker can import (ModuleNotFoundError: No module named 'no_such_module')")):
        check()


def test_without_a_notifier_the_alert_is_recorded_and_logged(variables, monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER", raising=False)
    clock = Clock(monkeypatch, at(1, 10))
    check = checker()
    check()
    clock.now = at(1, 11)
    with caplog.at_level("WARNING"):
        assert check()["overdue"] is True
    assert "No [flow_triggers] deadline_notifier is set: the alert is recorded, and sent nowhere." in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        check()
    assert "deadline_notifier" not in caplog.text                        # once, not at every check


def test_airflow_notifiers_are_called_as_airflow_calls_them(monkeypatch):
    """A BaseNotifier's templates render from the context, afresh each time; one with only async_notify is awaited."""
    from airflow.sdk import BaseNotifier

    class Lines(BaseNotifier):
        template_fields = ("text",)

        def __init__(self, text):
            super().__init__()
            self.text, self.sent = text, []

        def notify(self, context):
            SENT.append(self.text)

    class AsyncOnly(BaseNotifier):
        async def async_notify(self, context):
            SENT.append(f"async {context['expectation']['state']}")

    SENT.clear()
    lines = Lines("{{ expectation.state }} {{ expectation.upstream }}")
    for state in ("overdue", "cleared"):
        expectations.call_notifier(lines, {"expectation": {"state": state, "upstream": "U"}})
        expectations.call_notifier(AsyncOnly(), {"expectation": {"state": state, "upstream": "U"}})
    assert SENT == ["overdue U", "async overdue", "cleared U", "async cleared"]
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER", "test_expectations.record_alert")
    assert expectations.load_notifier() is record_alert
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER", "test_expectations.ClassAlert")
    assert isinstance(expectations.load_notifier(), ClassAlert)          # a notifier class: instantiated
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER", "json.__doc__")
    with pytest.raises(Exception, match=re.escape("[flow_triggers] deadline_notifier = 'json.__doc__' is a str, not "
                                                  "a notifier or callable.")):
        expectations.load_notifier()


# -- how it shows: the plugin's view, `why` ------------------------------------------------------------------------

def test_the_branch_view_and_why_show_the_expectation():
    from airflow_flow_triggers.deploy.airflow_commands import expectation_lines
    from airflow_flow_triggers.plugin.branches import branch_view, expectation_view, graph_layout
    from airflow_flow_triggers.plugin.metadata import DagRow, Edge
    up = {"consumer": "v.user.a.Down", "upstream": "v.user.a.Up", "expect": "every 10s", "outcome": "succeeded",
          "overdue": True, "last_finish": "2026-01-01T10:00:00+00:00", "last_run_id": "r1",
          "due": "2026-01-01T10:00:10+00:00", "message": "..."}
    record = {"consumer": "v.user.a.Down", "checked_at": "2026-01-01T10:00:12+00:00",
              "first_seen": "2026-01-01T09:00:00+00:00", "overdue": True, "upstreams": [up], "errors": []}
    rows = [DagRow(d, "a", False, frozenset({"project:v", "project_branch:user.a"})) for d in ("v.user.a.Up",
                                                                                               "v.user.a.Down")]
    view = branch_view("v", "user.a", rows, [Edge("v.user.a.Up", "v.user.a.Down")], {}, {},
                       {"v.user.a.Up", "v.user.a.Down"}, expectations={"v.user.a.Down": record})
    down = view["deployments"][1]
    assert view["deployments"][0]["expectation"] is None
    assert down["expectation"] == {"dag_id": "v.user.a.Down.expect", "overdue": True, "state": "overdue",
                                   "checked_at": "2026-01-01T10:00:12+00:00",
                                   "first_seen": "2026-01-01T09:00:00+00:00", "upstreams": [up], "errors": []}
    assert graph_layout(view)["overdue"] == {"v.user.a.Down"}
    assert expectation_lines(down["expectation"]) == [
        "  overdue: expected a finish of v.user.a.Up every 10s; the last at 2026-01-01T10:00:00+00:00 (r1), due by "
        "2026-01-01T10:00:10+00:00 (checked 2026-01-01T10:00:12+00:00)"]
    on_time = expectation_view("v.user.a.Down", {**record, "overdue": False, "upstreams": [
        {**up, "overdue": False, "last_finish": None, "last_run_id": None}]})
    assert on_time["state"] == "on time" and expectation_lines(on_time) == [
        "  on time: expected a finish of v.user.a.Up every 10s; none since it was first checked "
        "(2026-01-01T09:00:00+00:00), the next due by 2026-01-01T10:00:10+00:00 (checked 2026-01-01T10:00:12+00:00)"]
    assert expectation_view("v.user.a.Down", {})["state"] == "not checked yet"
    assert expectation_lines(expectation_view("v.user.a.Down", {})) == [
        "  deadline: not checked yet (by v.user.a.Down.expect)"]
