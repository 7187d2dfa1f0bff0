"""Why a run started, why another did not: every fate of a finish produced for real on the test Airflow, read
back through the plugin's API (`/flow-triggers/api/dags/{dag_id}/runs/{run_id}/why`) and through
`python flow.py airflow why`, and the missed finishes of a paused consumer replayed with `airflow trigger
--missed`."""
import re
import time

import pytest
from conftest import run_flow

from airflow_flow_triggers.sandbox.harness import task_errors

pytestmark = pytest.mark.e2e

UP = '''
from airflow_flow_triggers import FlowSpec, Parameter, step


class {name}(FlowSpec):
    fail = Parameter('fail', default=False)

    @step
    def start(self):
        if self.fail:
            raise RuntimeError('asked to fail')
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    {name}()
'''

DOWN = '''
from airflow_flow_triggers import FlowSpec, IncludeFile, step, trigger_on_finish


@trigger_on_finish({upstreams})
class {name}(FlowSpec):
{parameters}
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    {name}()
'''


def as_dag_file(name: str, source: str) -> str:
    """The flow file as a hand-written DAG file (its own build_dag) for the dags folder."""
    flow = source.split("\n\nif __name__")[0]
    return f"{flow}\nfrom airflow_flow_triggers import build_dag\ndag = build_dag({name})\n"


def write(tmp_path, name: str, source: str):
    path = tmp_path / f"{name.lower()}.py"
    path.write_text(source)
    return path


def cli(airflow, flow_file, *args):
    folder = ("--dags-folder", str(airflow.dags)) if args[-1] in ("create", "delete") else ()
    result = run_flow(flow_file, *args, *folder, airflow_home=airflow.home, AIRFLOW__FLOW_TRIGGERS__API_URL=airflow.url)
    assert result.returncode == 0, result.stderr
    return result.stdout


def finish(airflow, up_file, dag_id: str, *params: str, state: str = "success") -> str:
    run_id = re.search(r"^Started \S+ run (\S+)", cli(airflow, up_file, "airflow", "trigger", *params), re.M).group(1)
    assert airflow.wait_for_run(dag_id, run_id)["state"] == state
    return run_id


def why(airflow, dag_id: str, run_id: str) -> dict:
    return airflow.request("GET", f"/flow-triggers/api/dags/{dag_id}/runs/{run_id}/why")


def fates(answer: dict) -> dict[str, dict]:
    return {fate["consumer"]: fate for fate in answer["finish"]["fates"]}


def test_started_missed_replayed_and_not_deployed(airflow, tmp_path):
    up = write(tmp_path, "WhyUp", UP.format(name="WhyUp"))
    down = write(tmp_path, "WhyDown", DOWN.format(name="WhyDown", upstreams="flow='WhyUp'", parameters=""))
    cli(airflow, up, "airflow", "create")
    airflow.wait_for_dag("WhyUp")
    first = finish(airflow, up, "WhyUp")                       # before WhyDown is deployed: no one's
    cli(airflow, down, "airflow", "create")
    airflow.wait_for_dag("WhyDown")

    started = finish(airflow, up, "WhyUp")
    [down_run] = airflow.wait_for_runs("WhyDown", 1)
    airflow.quiet()
    answer = why(airflow, "WhyUp", started)
    assert answer["cause"]["by_hand"] is True and answer["cause"]["verdict"] == "started"
    assert fates(answer)["WhyDown"] | {"fate": "started", "run_id": down_run["dag_run_id"]} == fates(answer)["WhyDown"]
    cause = why(airflow, "WhyDown", down_run["dag_run_id"])["cause"]
    assert [(u["dag_id"], u["run_id"]) for u in cause["started_by"]] == [("WhyUp", started)]
    late = fates(why(airflow, "WhyUp", first))["WhyDown"]
    assert (late["fate"], late["reason"]) == ("missed", "not deployed")

    airflow.api("PATCH", "dags/WhyDown", {"is_paused": True})
    missed = finish(airflow, up, "WhyUp")
    airflow.api("PATCH", "dags/WhyDown", {"is_paused": False})
    airflow.quiet()
    fate = fates(why(airflow, "WhyUp", missed))["WhyDown"]
    assert (fate["fate"], fate["reason"]) == ("missed", "paused") and "was paused when it came" in fate["why"]
    assert [m["run_id"] for m in airflow.request("GET", "/flow-triggers/api/dags/WhyDown/missed")["missed"]] == \
        [missed]

    printed = cli(airflow, down, "airflow", "why")           # the newest run, as the CLI shows it
    assert printed.splitlines()[1] == f"  started by the finish of WhyUp {started} (finished " + \
        cause["started_by"][0]["at"] + ")"
    replayed = cli(airflow, down, "airflow", "trigger", "--missed")
    [replay_run] = re.findall(rf"^Started WhyDown run (\S+) for the missed finish of WhyUp/{re.escape(missed)}$",
                              replayed, re.M)
    assert airflow.wait_for_run("WhyDown", replay_run)["state"] == "success"
    fate = fates(why(airflow, "WhyUp", missed))["WhyDown"]
    assert (fate["fate"], fate["run_id"], fate["replayed"]) == ("started", replay_run, True)
    assert airflow.request("GET", "/flow-triggers/api/dags/WhyDown/missed")["missed"] == []
    assert "No finish was missed by WhyDown: nothing to replay." in cli(airflow, down, "airflow", "trigger", "--missed")
    printed = cli(airflow, up, "airflow", "why", missed)
    assert f"    -> WhyDown {replay_run} (success): started (replayed)" in printed.splitlines()


def test_a_failure_missed_while_paused_is_replayed_as_a_failure(airflow, tmp_path):
    up = write(tmp_path, "MissUp", UP.format(name="MissUp"))
    down = write(tmp_path, "MissOnFailure", DOWN.format(name="MissOnFailure", parameters="",
                                                        upstreams="flow='MissUp', outcome='failed'"))
    for flow in (up, down):
        cli(airflow, flow, "airflow", "create")
    airflow.wait_for_dag("MissOnFailure")
    airflow.api("PATCH", "dags/MissOnFailure", {"is_paused": True})
    failed = finish(airflow, up, "MissUp", "--fail", "true", state="failed")
    airflow.wait_until(lambda: airflow.asset_events("MissUp.failed"), 60, "the failure to be announced")
    airflow.api("PATCH", "dags/MissOnFailure", {"is_paused": False})
    airflow.quiet()
    assert airflow.runs("MissOnFailure") == []
    [missed] = airflow.request("GET", "/flow-triggers/api/dags/MissOnFailure/missed")["missed"]
    assert (missed["run_id"], missed["outcome"]) == (failed, "failed")
    replayed = cli(airflow, down, "airflow", "trigger", "--missed")
    started = rf"^Started MissOnFailure run (\S+) for the missed failure of MissUp/{re.escape(failed)}$"
    [replay_run] = re.findall(started, replayed, re.M)
    assert airflow.wait_for_run("MissOnFailure", replay_run)["state"] == "success"
    fate = fates(why(airflow, "MissUp", failed))["MissOnFailure"]
    assert (fate["fate"], fate["run_id"], fate["replayed"]) == ("started", replay_run, True)
    assert airflow.request("GET", "/flow-triggers/api/dags/MissOnFailure/missed")["missed"] == []


def test_waiting_expired_refused_and_failed_before_any_step_code(airflow, tmp_path):
    a = write(tmp_path, "FateA", UP.format(name="FateA"))
    b = write(tmp_path, "FateB", UP.format(name="FateB"))
    both = write(tmp_path, "FateAnd", DOWN.format(name="FateAnd", upstreams="flows=['FateA', 'FateB'], within=20",
                                                  parameters=""))
    broken = write(tmp_path, "FateBroken", DOWN.format(
        name="FateBroken", upstreams="flow='FateA'", parameters="    table = IncludeFile('table', default='gone.csv')"))
    for flow in (a, b, both):
        cli(airflow, flow, "airflow", "create")
    airflow.drop("fate_broken.py", as_dag_file("FateBroken", broken.read_text()))   # without gone.csv beside it
    for dag_id in ("FateA", "FateB", "FateAnd", "FateAnd.wait_for_all", "FateBroken"):
        airflow.wait_for_dag(dag_id)

    old_a = finish(airflow, a, "FateA")
    airflow.quiet()
    assert fates(why(airflow, "FateA", old_a))["FateAnd"]["fate"] == "waiting"
    broken_run = fates(why(airflow, "FateA", old_a))["FateBroken"]
    assert (broken_run["fate"], broken_run["run_state"]) == ("failed", "failed")    # gone.csv: before step code
    cause = why(airflow, "FateBroken", broken_run["run_id"])["cause"]
    assert cause["verdict"] == "failed" and cause["detail"] == "the start task failed before any step code"

    time.sleep(21)                      # the window (20 s) between the finishes of a set: this A is too old for B
    b_run = finish(airflow, b, "FateB")
    airflow.quiet()
    expired = fates(why(airflow, "FateA", old_a))["FateAnd"]
    assert expired["fate"] == "expired" and expired["by"] == f"FateB/{b_run}"
    waiting = fates(why(airflow, "FateB", b_run))["FateAnd"]
    assert waiting["fate"] == "waiting" and waiting["via_gate"] is True

    failed = finish(airflow, a, "FateA", "--fail", "True", state="failed")
    [asset] = [x for x in airflow.assets() if x["name"] == "FateA"]
    airflow.api("POST", "assets/events", {"asset_id": asset["id"], "extra": {"pathspec": f"FateA/{failed}"},
                                          "partition_key": f"FateA/{failed}"})
    airflow.quiet()
    answer = why(airflow, "FateA", failed)
    assert answer["finish"]["outcome"] == "failed" and answer["finish"]["fates"] == []    # its failure: no listener
    [posted] = answer["finish"]["posted"]
    refused = {fate["consumer"]: fate for fate in posted["fates"]}
    assert refused["FateAnd"]["fate"] == "refused" and f"run 'FateA/{failed}' did not succeed" in \
        refused["FateAnd"]["why"]
    assert refused["FateBroken"]["fate"] == "refused"
    refused_run = why(airflow, "FateBroken", refused["FateBroken"]["run_id"])["cause"]
    assert refused_run["verdict"] == "refused" and refused_run["state"] == "success"   # skipped, not failed
    errors = task_errors(airflow.task_log("FateBroken", broken_run["run_id"], "start"))
    assert errors and "gone.csv" in errors[-1]["exc_value"]


def test_stopped_at_max_trigger_depth(airflow, tmp_path):
    """max_trigger_depth is 3 in the harness: A(0) -> B(1) -> A(2) -> B(3) -> A(4) is stopped."""
    for name, other in (("WhyLoopA", "WhyLoopB"), ("WhyLoopB", "WhyLoopA")):
        airflow.drop(f"{name.lower()}.py", as_dag_file(name, DOWN.format(name=name, upstreams=f"flow='{other}'",
                                                                         parameters="")))
    airflow.wait_for_dag("WhyLoopA")
    airflow.wait_for_dag("WhyLoopB")
    airflow.post_run("WhyLoopA")
    airflow.wait_for_runs("WhyLoopA", 3, timeout=400)
    airflow.quiet(timeout=400)
    runs_a = sorted(airflow.runs("WhyLoopA"), key=lambda r: r["queued_at"])
    stopped = why(airflow, "WhyLoopA", runs_a[-1]["dag_run_id"])["cause"]
    assert stopped["verdict"] == "stopped" and "over [flow_triggers] max_trigger_depth = 3" in stopped["detail"]
    last_b = sorted(airflow.runs("WhyLoopB"), key=lambda r: r["queued_at"])[-1]
    fate = fates(why(airflow, "WhyLoopB", last_b["dag_run_id"]))["WhyLoopA"]
    assert fate["fate"] == "stopped" and fate["run_id"] == runs_a[-1]["dag_run_id"]
