"""@trigger_on_finish on a real Airflow: each test asserts on the exact set of DAG runs that happened."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

import pytest
from conftest import REPO, run_flow

from airflow_flow_triggers import Run

pytestmark = pytest.mark.e2e
DAGS = REPO / "dags"


def seed(name: str, *build_lines: str) -> str:
    """A seed flow file from dags/ with the DAG line(s) appended."""
    return (DAGS / name).read_text() + "\nfrom airflow_flow_triggers import build_dag\n" + "\n".join(build_lines) + "\n"



def run_ids(airflow, dag_id):
    return [r["dag_run_id"] for r in airflow.runs(dag_id)]


def test_first_flow_triggers_second_flow(airflow):
    airflow.drop("firstflow.py", seed("firstflow.py", "dag = build_dag(FirstFlow)"))
    airflow.drop("secondflow.py", seed("secondflow.py", "dag = build_dag(SecondFlow)"))
    airflow.wait_for_dag("FirstFlow")
    airflow.wait_for_dag("SecondFlow")
    expression = json.dumps(airflow.api("GET", "dags/SecondFlow/details")["asset_expression"])
    assert '"uri": "x-flow-finished://FirstFlow"' in expression and expression.count('"uri"') == 1

    first_run = airflow.trigger("FirstFlow")
    assert airflow.wait_for_run("FirstFlow", first_run)["state"] == "success"
    [run] = airflow.wait_for_runs("SecondFlow", 1)
    assert run["state"] == "success" and run["run_type"] == "asset_triggered"
    airflow.quiet()
    assert run_ids(airflow, "FirstFlow") == [first_run] and len(airflow.runs("SecondFlow")) == 1
    triggered = Run(f"SecondFlow/{run['dag_run_id']}", store=airflow.store())
    assert triggered.trigger.event.name == "metaflow.FirstFlow.end"
    assert triggered.trigger.event.id == f"FirstFlow/{first_run}/end/2"
    assert triggered.trigger.run.pathspec == f"FirstFlow/{first_run}"
    assert triggered.trigger_depth == 1


def test_project_variants_and_the_trigger_event(airflow):
    airflow.drop("variant_demo/user.alice/firstproject.py",
                 seed("firstproject.py", "dag = build_dag(FirstProjectFlow, user='alice')"))
    airflow.drop("variant_demo/user.alice/secondproject.py",
                 seed("secondproject.py", "dag = build_dag(SecondProjectFlow, user='alice')"))
    first, second = "variant_demo.user.alice.FirstProjectFlow", "variant_demo.user.alice.SecondProjectFlow"
    airflow.wait_for_dag(first)
    airflow.wait_for_dag(second)
    first_run = airflow.post_run(first)
    airflow.wait_for_run(first, first_run)
    [run] = airflow.wait_for_runs(second, 1)
    assert run["state"] == "success"
    printed = [e.get("event", "") for e in airflow.task_log(second, run["dag_run_id"], "start")]
    assert f"This deployment is called {second}" in printed
    triggered_by = next(line for line in printed if line.startswith("This run was triggered by"))
    # as seed 000 prints it
    assert triggered_by.startswith(f"This run was triggered by MetaflowEvent(name='metaflow.{first}.end', "
                                   f"id='{first}/{first_run}/end/2', timestamp=datetime.datetime(")


ISOLATION_BRANCHES = {"user.alice": ("alice", []), "user.bob": ("bob", []),
                      "test.new_model": ("alice", ["--branch", "new_model"]), "prod": ("alice", ["--production"])}

UPSTREAM = '''
from airflow_flow_triggers import FlowSpec, project, step, build_dag

@project(name='{project}')
class {name}(FlowSpec):
    @step
    def start(self):
        self.version = 1
        self.next(self.end)

    @step
    def end(self):
        pass
'''

DOWNSTREAM = '''
from airflow_flow_triggers import FlowSpec, project, step, trigger_on_finish, current, build_dag

@trigger_on_finish(flow='{upstream}')
@project(name='{project}')
class {name}(FlowSpec):
    @step
    def start(self):
        self.triggered_by = [e.name for e in current.trigger.events]
        self.next(self.end)

    @step
    def end(self):
        pass
'''


MAIN = """
if __name__ == '__main__':
    {name}()
"""


def test_branches_are_isolated(airflow, tmp_path):
    up, down = tmp_path / "iso_up.py", tmp_path / "iso_down.py"
    up.write_text(UPSTREAM.format(project="iso", name="IsoUpFlow") + MAIN.format(name="IsoUpFlow"))
    down.write_text(DOWNSTREAM.format(project="iso", name="IsoDownFlow", upstream="IsoUpFlow")
                    + MAIN.format(name="IsoDownFlow"))
    for user, options in ISOLATION_BRANCHES.values():       # deployed as users do, prod with its token
        airflow.deploy(up, *options, user=user)
        airflow.deploy(down, *options, user=user)
    for branch in ISOLATION_BRANCHES:
        airflow.wait_for_dag(f"iso.{branch}.IsoUpFlow")
        airflow.wait_for_dag(f"iso.{branch}.IsoDownFlow")

    for fired in ("user.alice", "test.new_model"):
        up_run = airflow.post_run(f"iso.{fired}.IsoUpFlow")
        airflow.wait_for_run(f"iso.{fired}.IsoUpFlow", up_run)
        [down] = airflow.wait_for_runs(f"iso.{fired}.IsoDownFlow", 1)
        assert Run(f"iso.{fired}.IsoDownFlow/{down['dag_run_id']}", store=airflow.store()).data.triggered_by == \
            [f"metaflow.iso.{fired}.IsoUpFlow.end"]
    airflow.quiet()
    started = {branch: (len(airflow.runs(f"iso.{branch}.IsoUpFlow")), len(airflow.runs(f"iso.{branch}.IsoDownFlow")))
               for branch in ISOLATION_BRANCHES}
    assert started == {"user.alice": (1, 1), "user.bob": (0, 0), "test.new_model": (1, 1), "prod": (0, 0)}


def test_fully_qualified_upstream_pins_alices_deployment(airflow):
    airflow.drop("pin/user.alice/pin_up.py", UPSTREAM.format(project="pin", name="PinUpFlow")
                 + "alice = build_dag(PinUpFlow, user='alice')\n")
    airflow.drop("pin/test.new_model/pin_up.py", UPSTREAM.format(project="pin", name="PinUpFlow")
                 + "new_model = build_dag(PinUpFlow, branch='new_model')\n")
    airflow.drop("pin/test.new_model/pin_down.py", DOWNSTREAM.format(project="pin", name="PinDownFlow",
                                                                     upstream="pin.user.alice.PinUpFlow")
                 + "dag = build_dag(PinDownFlow, branch='new_model')\n")
    for dag_id in ("pin.user.alice.PinUpFlow", "pin.test.new_model.PinUpFlow", "pin.test.new_model.PinDownFlow"):
        airflow.wait_for_dag(dag_id)
    own_branch = airflow.post_run("pin.test.new_model.PinUpFlow")
    airflow.wait_for_run("pin.test.new_model.PinUpFlow", own_branch)
    airflow.quiet()
    assert airflow.runs("pin.test.new_model.PinDownFlow") == []
    alices = airflow.post_run("pin.user.alice.PinUpFlow")
    airflow.wait_for_run("pin.user.alice.PinUpFlow", alices)
    [down] = airflow.wait_for_runs("pin.test.new_model.PinDownFlow", 1)
    pinned = Run(f"pin.test.new_model.PinDownFlow/{down['dag_run_id']}", store=airflow.store()).trigger.run
    assert (pinned.pathspec, pinned.qualified_pathspec) == (f"PinUpFlow/{alices}", f"pin.user.alice.PinUpFlow/{alices}")


AND_DOWN = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, current, build_dag

@trigger_on_finish(flows=['{a}', '{b}']{within})
class {name}(FlowSpec):
    @step
    def start(self):
        self.upstream_runs = sorted(r.pathspec for r in current.trigger.runs)
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag({name})
'''

PLAIN = '''
from airflow_flow_triggers import FlowSpec, step, build_dag

class {name}(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag({name})
'''


def finish(airflow, dag_id):
    run_id = airflow.post_run(dag_id)
    assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"
    return run_id


def test_and_of_two_flows_without_window(airflow):
    for name in ("AndA", "AndB"):
        airflow.drop(f"{name}.py", PLAIN.format(name=name))
    airflow.drop("and_c.py", AND_DOWN.format(a="AndA", b="AndB", within="", name="AndC"))
    for dag_id in ("AndA", "AndB", "AndC"):
        airflow.wait_for_dag(dag_id)
    a = finish(airflow, "AndA")
    airflow.quiet()
    assert airflow.runs("AndC") == []
    b = finish(airflow, "AndB")
    [c] = airflow.wait_for_runs("AndC", 1)
    assert Run(f"AndC/{c['dag_run_id']}", store=airflow.store()).data.upstream_runs == [f"AndA/{a}", f"AndB/{b}"]
    airflow.quiet()
    assert len(airflow.runs("AndC")) == 1


def test_and_of_two_flows_within_a_window(airflow):
    """A's finish expires before B's arrives; B's waits, and matches the next A within the window. The window
    is wide (45 s) so that B's finish is still fresh when the next A's run and the gate's are done, however
    slow the machine (they take seconds); A's expiry is waited for (the window is its meaning)."""
    window = 45
    for name in ("WinA", "WinB"):
        airflow.drop(f"{name}.py", PLAIN.format(name=name))
    airflow.drop("win_c.py", AND_DOWN.format(a="WinA", b="WinB", within=f", within={window}", name="WinC"))
    for dag_id in ("WinA", "WinB", "WinC", "WinC.wait_for_all"):
        airflow.wait_for_dag(dag_id)

    stale_a = finish(airflow, "WinA")
    finished_a = time.time()
    time.sleep(max(0, finished_a + window + 5 - time.time()))
    b = finish(airflow, "WinB")               # A's finish is stale by now: no run of WinC
    gate_runs = airflow.wait_for_runs("WinC.wait_for_all", 2)
    airflow.quiet()
    assert airflow.runs("WinC") == []
    logged = " ".join(e.get("event", "") for e in airflow.task_log("WinC.wait_for_all", gate_runs[-1]["dag_run_id"],
                                                                     "match_finishes"))
    assert f"expired: WinA/{stale_a} finished at" in logged and f"more than 0:00:{window} before WinB/{b}" in logged
    assert f"waiting: WinB/{b}" in logged

    fresh_a = finish(airflow, "WinA")          # B's finish is still fresh: it was not lost
    [c] = airflow.wait_for_runs("WinC", 1)
    data = Run(f"WinC/{c['dag_run_id']}", store=airflow.store()).data
    assert data.upstream_runs == [f"WinA/{fresh_a}", f"WinB/{b}"] and stale_a != fresh_a
    airflow.quiet()
    assert len(airflow.runs("WinC")) == 1


BURST_UP = '''
from airflow_flow_triggers import FlowSpec, Parameter, step, build_dag

class BurstUp(FlowSpec):
    batch = Parameter('batch', default=0)

    @step
    def start(self):
        self.rows = self.batch * 10
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(BurstUp)
'''

BURST_DOWN = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, current, build_dag

@trigger_on_finish(flow='BurstUp')
class BurstDown(FlowSpec):
    @step
    def start(self):
        self.upstream = current.trigger.run.pathspec
        self.event_id = current.trigger.event.id
        self.rows = current.trigger.run.data.rows
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(BurstDown)
'''


def test_a_burst_of_finishes_starts_one_run_each(airflow):
    """Metaflow's semantics: N finishes of the upstream start exactly N downstream runs, one each."""
    airflow.drop("burst_up.py", BURST_UP)
    airflow.drop("burst_down.py", BURST_DOWN)
    airflow.wait_for_dag("BurstUp")
    airflow.wait_for_dag("BurstDown")
    ups = [airflow.post_run("BurstUp", {"batch": batch}) for batch in (1, 2, 3, 4)]
    assert all(run["state"] == "success" for run in airflow.wait_for_runs("BurstUp", 4))
    downs = airflow.wait_for_runs("BurstDown", 4)
    airflow.quiet()
    assert len(airflow.runs("BurstDown")) == 4 and all(run["state"] == "success" for run in downs)
    seen = [Run(f"BurstDown/{run['dag_run_id']}", store=airflow.store()).data for run in downs]
    assert sorted(data.upstream for data in seen) == sorted(f"BurstUp/{up}" for up in ups)
    assert sorted(data.event_id for data in seen) == sorted(f"BurstUp/{up}/end/2" for up in ups)
    assert sorted(data.rows for data in seen) == [10, 20, 30, 40]
    assert sorted(run["partition_key"] for run in downs) == sorted(f"BurstUp/{up}" for up in ups)


ANY_DOWN = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, current, build_dag

@trigger_on_finish(flows=['AnyA', 'AnyB'], any=True)
class AnyC(FlowSpec):
    @step
    def start(self):
        self.upstreams = [r.pathspec for r in current.trigger.runs]
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(AnyC)
'''


def test_any_of_two_flows_starts_one_run_per_finish_of_either(airflow):
    """@trigger_on_finish(flows=[...], any=True): a burst of finishes of both upstreams starts one run each,
    whose trigger is that one finish; `why` names it, and each finish's fate is the run it started (no gate)."""
    for name in ("AnyA", "AnyB"):
        airflow.drop(f"{name}.py", PLAIN.format(name=name))
    airflow.drop("any_c.py", ANY_DOWN)
    for dag_id in ("AnyA", "AnyB", "AnyC"):
        airflow.wait_for_dag(dag_id)
    ups = [(name, airflow.post_run(name)) for name in ("AnyA", "AnyB", "AnyA", "AnyB")]
    assert all(run["state"] == "success" for name in ("AnyA", "AnyB") for run in airflow.wait_for_runs(name, 2))
    downs = airflow.wait_for_runs("AnyC", 4)
    airflow.quiet()
    assert len(airflow.runs("AnyC")) == 4 and all(run["state"] == "success" for run in downs)
    started_by = sorted(Run(f"AnyC/{run['dag_run_id']}", store=airflow.store()).data.upstreams[0] for run in downs)
    assert started_by == sorted(f"{name}/{run_id}" for name, run_id in ups)
    assert all(len(Run(f"AnyC/{run['dag_run_id']}", store=airflow.store()).data.upstreams) == 1 for run in downs)
    quoted = urllib.parse.quote(downs[0]["dag_run_id"], safe="")
    why = airflow.request("GET", f"/flow-triggers/api/dags/AnyC/runs/{quoted}/why")
    assert len(why["cause"]["started_by"]) == 1 and why["cause"]["verdict"] == "started"
    name, run_id = ups[0]
    fates = airflow.request("GET", f"/flow-triggers/api/dags/{name}/runs/{urllib.parse.quote(run_id, safe='')}/why")
    [fate] = fates["finish"]["fates"]
    assert (fate["consumer"], fate["via_gate"], fate["fate"]) == ("AnyC", False, "started")


def test_finishes_while_the_consumer_is_paused_start_no_run(airflow):
    """Airflow's rule for every asset-scheduled DAG: a paused DAG queues no asset event, so a finish while
    the consumer is paused starts no run, not even after unpausing (docs/triggers.md; --trigger replays it)."""
    airflow.drop("burst_up.py", BURST_UP)
    airflow.drop("burst_down.py", BURST_DOWN)
    airflow.wait_for_dag("BurstUp")
    airflow.wait_for_dag("BurstDown")
    before = len(airflow.runs("BurstDown"))
    airflow.api("PATCH", "dags/BurstDown", {"is_paused": True})
    try:
        missed = airflow.post_run("BurstUp", {"batch": 5})
        assert airflow.wait_for_run("BurstUp", missed)["state"] == "success"
    finally:
        airflow.api("PATCH", "dags/BurstDown", {"is_paused": False})
    airflow.quiet()
    assert len(airflow.runs("BurstDown")) == before
    seen = airflow.post_run("BurstUp", {"batch": 6})
    downs = airflow.wait_for_runs("BurstDown", before + 1)
    airflow.quiet()
    assert len(airflow.runs("BurstDown")) == before + 1
    assert max(downs, key=lambda run: run["queued_at"])["partition_key"] == f"BurstUp/{seen}"


def test_and_burst_matches_finishes_first_in_first_out(airflow):
    """Three finishes of A and one of B start one run (A1 + B1); A2 and A3 wait for B's next two."""
    for name in ("FifoA", "FifoB"):
        airflow.drop(f"{name}.py", PLAIN.format(name=name))
    airflow.drop("fifo_c.py", AND_DOWN.format(a="FifoA", b="FifoB", within="", name="FifoC"))
    for dag_id in ("FifoA", "FifoB", "FifoC", "FifoC.wait_for_all"):
        airflow.wait_for_dag(dag_id)
    triggered_a = [airflow.post_run("FifoA") for _ in range(3)]
    airflow.wait_for_runs("FifoA", 3)
    finish(airflow, "FifoB")
    [first] = airflow.wait_for_runs("FifoC", 1)
    airflow.wait_for_runs("FifoC.wait_for_all", 4)
    airflow.quiet()
    assert len(airflow.runs("FifoC")) == 1
    a = finish_order(airflow, "FifoC.wait_for_all", "FifoA")   # first in = first finished, not first triggered
    assert sorted(a) == sorted(triggered_a) and len(a) == 3
    logs = " ".join(e.get("event", "") for run in airflow.runs("FifoC.wait_for_all")
                    for e in airflow.task_log("FifoC.wait_for_all", run["dag_run_id"], "match_finishes"))
    assert f"waiting: FifoA/{a[1]}" in logs and f"waiting: FifoA/{a[2]}" in logs

    for _ in range(2):
        airflow.post_run("FifoB")
    runs = airflow.wait_for_runs("FifoC", 3)
    airflow.quiet()
    assert len(airflow.runs("FifoC")) == 3
    b = finish_order(airflow, "FifoC.wait_for_all", "FifoB")
    sets = sorted(Run(f"FifoC/{run['dag_run_id']}", store=airflow.store()).data.upstream_runs for run in runs)
    assert sets == sorted([f"FifoA/{x}", f"FifoB/{y}"] for x, y in zip(a, b, strict=True))
    assert first["dag_run_id"] in [run["dag_run_id"] for run in runs]


def finish_order(airflow, gate: str, upstream: str) -> list[str]:
    """The run ids of `upstream` in the order the wait-for-all `gate` took their finishes: one gate run per
    finish, its task `match_finishes` one at a time, in the order Airflow registered them. For finishes some
    seconds apart that is the order they finished in; for finishes registered at the same moment, the order
    their transactions committed in."""
    started = {run["partition_key"]: ti["start_date"] for run in airflow.runs(gate)
               for ti in airflow.task_instances(gate, run["dag_run_id"]) if ti["task_id"] == "match_finishes"}
    return [key.split("/", 1)[1] for key in sorted(started, key=started.get) if key.startswith(f"{upstream}/")]


def test_a_hand_posted_finish_event_runs_no_step_code(airflow):
    """POST /api/v2/assets/events naming a run that never happened: the run is skipped, with one line."""
    airflow.drop("forge_up.py", PLAIN.format(name="ForgeUp"))
    airflow.drop("forge_down.py", LOOP.format(name="ForgeDown", other="ForgeUp"))
    airflow.wait_for_dag("ForgeUp")
    airflow.wait_for_dag("ForgeDown")
    [asset] = [a for a in airflow.assets() if a["name"] == "ForgeUp"]
    bogus = {"run_id": "made_up", "pathspec": "ForgeUp/made_up", "flow": "ForgeUp"}
    airflow.api("POST", "assets/events", {"asset_id": asset["id"], "extra": bogus})   # no key: no consumer at all
    airflow.api("POST", "assets/events", {"asset_id": asset["id"], "extra": bogus, "partition_key": "ForgeUp/made_up"})
    [forged] = airflow.wait_for_runs("ForgeDown", 1)
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("ForgeDown", forged["dag_run_id"])}
    assert states == {"start": "skipped", "end": "skipped"}
    assert airflow.store().run_ids("ForgeDown") == []            # no step code ran: no run record
    logged = [e.get("event", "") for e in airflow.task_log("ForgeDown", forged["dag_run_id"], "start")]
    [line] = [text for text in logged if text.startswith("Not running ForgeDown")]
    assert "the finish event of ForgeUp at" in line and "run 'ForgeUp/made_up' does not exist in the artifact store" \
        in line and "start ForgeDown with `airflow dags trigger`, or let a real run of its upstream finish." in line

    real = finish(airflow, "ForgeUp")
    runs = airflow.wait_for_runs("ForgeDown", 2)
    airflow.quiet()
    assert len(airflow.runs("ForgeDown")) == 2 and runs[-1]["state"] == "success"
    assert airflow.store().run_ids("ForgeDown") == [runs[-1]["dag_run_id"]]
    assert Run(f"ForgeDown/{runs[-1]['dag_run_id']}", store=airflow.store()).trigger.run.pathspec == f"ForgeUp/{real}"


def test_inference_flow_reads_the_model(airflow, tmp_path):
    airflow.drop("modelrefreshflow.py", seed("modelrefreshflow.py", "dag = build_dag(ModelRefreshFlow)"))
    airflow.drop("inferenceflow.py", seed("inferenceflow.py", "dag = build_dag(InferenceFlow)"))
    airflow.wait_for_dag("ModelRefreshFlow")
    airflow.wait_for_dag("InferenceFlow")
    refresh = airflow.post_run("ModelRefreshFlow", {"scale": 3.0})
    airflow.wait_for_run("ModelRefreshFlow", refresh)
    [inference] = airflow.wait_for_runs("InferenceFlow", 1)
    assert inference["state"] == "success"
    run = Run(f"InferenceFlow/{inference['dag_run_id']}", store=airflow.store())
    assert run.data.model == {"slope": 3.0, "intercept": 1.0}

    # The same flow locally, triggered by that Airflow run of ModelRefreshFlow (shared store).
    local = run_flow(DAGS / "inferenceflow.py", "--trigger", f"ModelRefreshFlow/{refresh}", "run",
                     airflow_home=airflow.home)
    assert local.returncode == 0, local.stderr
    assert "Model {'slope': 3.0, 'intercept': 1.0}" in local.stdout


LOOP = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, build_dag

@trigger_on_finish(flow='{other}')
class {name}(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag({name})
'''


def test_two_flow_loop_stops_at_max_trigger_depth(airflow):
    airflow.drop("loop_a.py", LOOP.format(name="LoopA", other="LoopB"))
    airflow.drop("loop_b.py", LOOP.format(name="LoopB", other="LoopA"))
    airflow.wait_for_dag("LoopA")
    airflow.wait_for_dag("LoopB")
    airflow.post_run("LoopA")
    # max_trigger_depth = 3 in the harness: A(0) -> B(1) -> A(2) -> B(3) -> A(4) stops.
    runs_a = airflow.wait_for_runs("LoopA", 3, timeout=400)
    airflow.quiet()
    runs_a, runs_b = airflow.runs("LoopA"), airflow.runs("LoopB")
    assert (len(runs_a), len(runs_b)) == (3, 2)
    last = runs_a[-1]
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("LoopA", last["dag_run_id"])}
    assert states == {"start": "skipped", "end": "skipped"}
    logged = " ".join(e.get("event", "") for e in airflow.task_log("LoopA", last["dag_run_id"], "start"))
    assert re.search(r"Not running LoopA: it was triggered by LoopB at trigger depth 4, over "
                     r"\[flow_triggers\] max_trigger_depth = 3", logged)
    assert len(airflow.asset_events("LoopA")) == 2


EVENT_FLOWS = {
    # listens to the global event data_updated, as in Metaflow
    "EventFlow": '''
from airflow_flow_triggers import FlowSpec, Parameter, project, step, trigger, current, build_dag

@trigger(event='data_updated', parameters={'alpha': 'rate'})
@project(name='ev')
class EventFlow(FlowSpec):
    alpha = Parameter('alpha', default=0.1)

    @step
    def start(self):
        self.seen = (self.alpha, current.trigger.event.name, current.trigger.event.type)
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(EventFlow, user='alice')
''',
    # publishes its branch's model_ready from a step, as Metaflow's ArgoEvent(...).publish() does
    "PublishFlow": '''
from airflow_flow_triggers import FlowSpec, step, project, namespaced_event_name, build_dag
from airflow_flow_triggers.integrations import ArgoEvent

@project(name='ev')
class PublishFlow(FlowSpec):
    @step
    def start(self):
        self.event_id = ArgoEvent(namespaced_event_name('model_ready')).publish({'version': 3}, ignore_errors=False)
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(PublishFlow, user='alice')
''',
    # listens to model_ready of its own branch only
    "ScopedFlow": '''
from airflow_flow_triggers import FlowSpec, Parameter, project, step, trigger, current, namespaced_event_name
from airflow_flow_triggers import build_dag

@trigger(event=namespaced_event_name('model_ready'), parameters=['version'])
@project(name='ev')
class ScopedFlow(FlowSpec):
    version = Parameter('version', default=0)

    @step
    def start(self):
        self.seen = (self.version, current.trigger.event.name, current.trigger.event.id)
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(ScopedFlow, user='alice')
''',
}


def test_external_events_published_from_a_script_and_from_a_step(airflow, tmp_path):
    for name, source in EVENT_FLOWS.items():
        airflow.drop(f"ev/user.alice/{name}.py", source)
    for name in EVENT_FLOWS:
        airflow.wait_for_dag(f"ev.user.alice.{name}")
    [asset] = [a for a in airflow.assets() if a["name"] == "data_updated"]
    assert asset["uri"] == "x-flow-event://data_updated"

    # the one-line command, from any machine that reaches the api-server
    published = subprocess.run([sys.executable, "-m", "airflow_flow_triggers", "publish", "data_updated",
                                "--payload", '{"rate": 0.7}'], capture_output=True, text=True, cwd=tmp_path,
                               env={**os.environ, "AIRFLOW__FLOW_TRIGGERS__API_URL": airflow.url})
    assert published.returncode == 0, published.stderr
    assert published.stderr.strip() == "Event (data_updated) published."
    [run] = airflow.wait_for_runs("ev.user.alice.EventFlow", 1)
    assert run["state"] == "success"
    assert Run(f"ev.user.alice.EventFlow/{run['dag_run_id']}", store=airflow.store()).data.seen == \
        (0.7, "data_updated", "event")

    # a step on Airflow publishes its branch's event; the flow listening to it starts with the payload
    publisher = airflow.post_run("ev.user.alice.PublishFlow")
    assert airflow.wait_for_run("ev.user.alice.PublishFlow", publisher)["state"] == "success"
    event_id = Run(f"ev.user.alice.PublishFlow/{publisher}", store=airflow.store()).data.event_id
    [scoped] = airflow.wait_for_runs("ev.user.alice.ScopedFlow", 1)
    assert scoped["state"] == "success"
    assert Run(f"ev.user.alice.ScopedFlow/{scoped['dag_run_id']}", store=airflow.store()).data.seen == \
        (3, "mfns.ev.user.alice.model_ready", event_id)

    # an event no deployed flow listens to is one sentence, and exit status 1
    nobody = subprocess.run([sys.executable, "-m", "airflow_flow_triggers", "publish", "nobody_listens"],
                            capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "AIRFLOW__FLOW_TRIGGERS__API_URL": airflow.url})
    assert nobody.returncode == 1
    assert nobody.stderr.startswith("error: Unable to publish event (nobody_listens): No flow on Airflow at ")
    assert len(nobody.stderr.strip().splitlines()) == 1
    airflow.quiet()
    assert len(airflow.runs("ev.user.alice.EventFlow")) == 1 and len(airflow.runs("ev.user.alice.ScopedFlow")) == 1
