"""Deadlines for an expected upstream on a real Airflow (an Airflow of this module's own, for its settings): a flow and
a project's TaskFlow DAG with `@trigger_on_finish(flow='Ingest', expect_every='30s')`, deployed for alice, go overdue
when alice's Ingest does not finish in time; the alert goes once through the notifier the `[flow_triggers]
deadline_notifier` setting names (an Airflow BaseNotifier writing a line to a file, with a template), `why`, the
branch API and page say overdue; a finish of another branch's Ingest changes nothing; alice's Ingest finishing clears
both, once.
"""
import concurrent.futures
import json
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import USER_VARS

pytestmark = pytest.mark.e2e

PROJECT = "deadline"
ALICE = f"{PROJECT}.user.alice"
EVERY = 30       # expect_every, seconds
CHECK = 5        # [flow_triggers] expectation_check_interval, seconds

NOTIFIER = '''
from airflow.sdk import BaseNotifier


class FileNotifier(BaseNotifier):
    """One line per alert in a file: what a Slack or e-mail notifier of Airflow's providers would send."""

    template_fields = ("line",)

    def __init__(self, path, line):
        super().__init__()
        self.path, self.line = path, line

    def notify(self, context):
        with open(self.path, "a") as out:
            out.write(self.line + "\\n")


notifier = FileNotifier({path!r},
                        "{{{{ expectation.state }}}} {{{{ expectation.consumer }}}}: {{{{ expectation.message }}}}")
'''

INGEST = '''
from airflow_flow_triggers import FlowSpec, project, step


@project(name='deadline')
class Ingest(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    Ingest()
'''

SCORE = '''
from airflow_flow_triggers import FlowSpec, current, project, step, trigger_on_finish


@trigger_on_finish(flow='Ingest', expect_every='30s')
@project(name='deadline')
class Score(FlowSpec):
    @step
    def start(self):
        print('scoring', current.trigger.run.pathspec)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    Score()
'''

LATE_REPORT = '''
from airflow.sdk import dag, task
from airflow_flow_triggers import current, project, trigger_on_finish


@project(name='deadline')
@trigger_on_finish(flow='Ingest', expect_every='30s')
@dag(schedule=None)
def late_report():
    @task
    def report():
        return current.trigger.run.pathspec
    report()


late_report()
'''


@pytest.fixture(scope="module")
def deadline(tmp_path_factory):
    """This module's Airflow, checking expectations every 5 s through the file notifier, with alice's Ingest, Score
    and late_report deployed, and test.other's Ingest."""
    from airflow_flow_triggers.sandbox.harness import AirflowHarness
    base = tmp_path_factory.mktemp("deadline")
    (base / "notifiers").mkdir()
    alerts = base / "alerts.txt"
    (base / "notifiers" / "expect_alerts.py").write_text(NOTIFIER.format(path=str(alerts)))
    airflow = AirflowHarness(base / "airflow", PYTHONPATH=str(base / "notifiers"),
                             AIRFLOW__FLOW_TRIGGERS__DEADLINE_NOTIFIER="expect_alerts.notifier",
                             AIRFLOW__FLOW_TRIGGERS__EXPECTATION_CHECK_INTERVAL=str(CHECK))
    try:
        airflow.start()
        folder = base / "project"
        folder.mkdir()
        for name, source in (("ingest.py", INGEST), ("score.py", SCORE), ("late_report.py", LATE_REPORT)):
            (folder / name).write_text(source)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for done in [pool.submit(command, airflow, folder, *args) for args in (
                    ("ingest.py", "create"), ("score.py", "create"), ("late_report.py", "create"),
                    ("ingest.py", "create", "--branch", "other"))]:
                done.result()
        for dag_id in (f"{ALICE}.Ingest", f"{ALICE}.Score", f"{ALICE}.Score.expect", f"{ALICE}.late_report",
                       f"{ALICE}.late_report.expect", f"{PROJECT}.test.other.Ingest"):
            try:
                airflow.wait_for_dag(dag_id)
            except TimeoutError:
                raise AssertionError(f"{dag_id} was not parsed: {airflow.import_errors()}") from None
        airflow.folder, airflow.alerts = folder, alerts
        yield airflow
    finally:
        airflow.stop()


def command(airflow, folder, file, action, *options):
    """`python FILE [--branch B] airflow ACTION` for a flow, `python -m airflow_flow_triggers airflow ACTION FILE` for a
    DAG file, as alice, on this module's Airflow; returns what it printed."""
    branch = tuple(options[:2]) if options[:1] == ("--branch",) else ()
    rest = options[len(branch):] + (("--dags-folder", str(airflow.dags)) if action == "create" else ())
    args = ["-m", "airflow_flow_triggers", "airflow", action, file, *branch, *rest] if file == "late_report.py" else \
        [file, *branch, "airflow", action, *rest]
    env = {k: v for k, v in airflow.env.items() if k not in USER_VARS}
    result = subprocess.run([sys.executable, *args], env={**env, "USER": "alice"}, capture_output=True, text=True,
                            timeout=180, cwd=folder)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def alerts(airflow) -> list[str]:
    return airflow.alerts.read_text().splitlines() if airflow.alerts.exists() else []


def states(lines: list[str]) -> list[tuple[str, str]]:
    """(state, consumer) of each alert line, in order."""
    return [(line.split(" ", 1)[0], line.split(" ", 2)[1].rstrip(":")) for line in lines]


def page_of(airflow, path: str) -> str:
    request = urllib.request.Request(f"{airflow.url}{path}", headers={"Authorization": f"Bearer {airflow.token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def branch_expectations(airflow) -> dict[str, dict | None]:
    view = airflow.request("GET", f"/flow-triggers/api/projects/{PROJECT}/branches/user.alice")
    return {d["dag_id"]: d["expectation"] for d in view["deployments"]}


def shown(airflow, consumers) -> set[str]:
    """The states the branch API shows for `consumers` (of each one's newest check that has ended)."""
    expected = branch_expectations(airflow)
    return {(expected[consumer] or {}).get("state") for consumer in consumers}


def test_overdue_once_through_the_notifier_then_cleared_by_the_upstreams_finish(deadline):
    airflow = deadline
    consumers = (f"{ALICE}.Score", f"{ALICE}.late_report")
    # nothing of alice's Ingest finishes: both consumers go overdue, each alerted once
    airflow.wait_until(lambda: {c for s, c in states(alerts(airflow)) if s == "overdue"} == set(consumers),
                       EVERY + 60, "both consumers to be alerted overdue")
    # the API shows a check once it has ended: the one that alerted may still be running, its notifier called
    airflow.wait_until(lambda: shown(airflow, consumers) == {"overdue"}, 2 * CHECK + 30,
                       "the branch API to show both consumers overdue")
    expected = branch_expectations(airflow)
    assert expected[f"{ALICE}.Ingest"] is None
    for consumer in consumers:
        assert expected[consumer]["state"] == "overdue" and expected[consumer]["dag_id"] == f"{consumer}.expect"
        [upstream] = expected[consumer]["upstreams"]
        assert (upstream["upstream"], upstream["expect"], upstream["overdue"], upstream["last_finish"]) == \
            (f"{ALICE}.Ingest", "every 30s", True, None)
    print("\n".join(alerts(airflow)))
    print(json.dumps(expected[f"{ALICE}.Score"], indent=1))
    printed = command(airflow, airflow.folder, "score.py", "why")
    print(printed)
    assert printed.startswith(f"{ALICE}.Score: no run yet\n  overdue: expected a finish of {ALICE}.Ingest every 30s; "
                              "none since it was first checked (")
    printed = command(airflow, airflow.folder, "late_report.py", "why")
    assert printed.startswith(f"{ALICE}.late_report: no run yet\n  overdue: expected a finish of {ALICE}.Ingest")
    page = page_of(airflow, f"/flow-triggers/projects/{PROJECT}/branches/user.alice")
    assert page.count('class="overdue"') == 2 and page.count("state state-failed overdue") == 2

    # another branch's Ingest finishing is not alice's: still overdue, and not alerted again at each check
    other = airflow.post_run(f"{PROJECT}.test.other.Ingest")
    assert airflow.wait_for_run(f"{PROJECT}.test.other.Ingest", other)["state"] == "success"
    time.sleep(3 * CHECK)
    assert sorted(states(alerts(airflow))) == [("overdue", c) for c in consumers]
    assert all(e["state"] == "overdue" for d, e in branch_expectations(airflow).items() if d in consumers)
    for consumer in consumers:         # checked all along: at least the checks of that wait
        assert airflow.api("GET", f"dags/{consumer}.expect/dagRuns?limit=1")["total_entries"] >= 3

    # alice's Ingest finishes: each consumer starts as usual, and its alert clears, once
    ingest = airflow.post_run(f"{ALICE}.Ingest")
    assert airflow.wait_for_run(f"{ALICE}.Ingest", ingest)["state"] == "success"
    airflow.wait_until(lambda: {c for s, c in states(alerts(airflow)) if s == "cleared"} == set(consumers),
                       4 * CHECK + 30, "both alerts to clear")
    airflow.wait_until(lambda: shown(airflow, consumers) == {"on time"}, 2 * CHECK + 30,
                       "the branch API to show both consumers on time")
    expected = branch_expectations(airflow)
    for consumer in consumers:
        [upstream] = expected[consumer]["upstreams"]
        assert (expected[consumer]["state"], upstream["overdue"], upstream["last_run_id"]) == \
            ("on time", False, ingest), expected[consumer]
    lines = alerts(airflow)
    print("\n".join(lines))
    print(json.dumps(expected[f"{ALICE}.Score"], indent=1))
    assert sorted(states(lines)) == sorted([("overdue", c) for c in consumers] + [("cleared", c) for c in consumers])
    cleared = next(line for line in lines if line.startswith(f"cleared {ALICE}.Score:"))
    assert cleared.startswith(f"cleared {ALICE}.Score: {ALICE}.Score is no longer overdue: a finish of {ALICE}.Ingest "
                              "came at ")
    assert f"(run {ingest}); the next is due by " in cleared and cleared.endswith("(expect every 30s).")
    [score] = airflow.wait_for_runs(f"{ALICE}.Score", 1)
    assert score["state"] == "success"
    printed = command(airflow, airflow.folder, "score.py", "why")
    print(printed)
    assert f"  on time: expected a finish of {ALICE}.Ingest every 30s; the last at " in printed
    assert f"({ingest}), the next due by " in printed
