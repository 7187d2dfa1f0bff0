"""Airflow's own DAGs in a project, on a real Airflow: seed 000's two flows, a TaskFlow DAG and a classic DAG in one
chain (flow -> DAG -> DAG -> flow), deployed for alice and for `--branch new_model` with the same commands as flows.

The example files of dags/ are deployed under the project name `dagmix`, so that no other module's deployments of
variant_demo share their DAG ids on the session's Airflow.
"""
import concurrent.futures
import subprocess
import sys

import pytest
from conftest import REPO, USER_VARS

from airflow_flow_triggers import Run

pytestmark = pytest.mark.e2e
DAGS = REPO / "dags"
PROJECT = "dagmix"
CHAIN = ("firstproject.py", "secondproject.py", "daily_report.py", "publish_report.py", "archiveflow.py")
DAG_FILES = {"daily_report.py", "publish_report.py", "current_report.py", "both_report.py", "failing_report.py",
             "pinned_report.py", "loop_a.py"}

CURRENT_REPORT = '''
from airflow.sdk import dag, task
from airflow_flow_triggers import project, trigger_on_finish, current

from airflow.sdk.definitions.taskgroup import TaskGroup

@project(name='dagmix')
@trigger_on_finish(flow='FirstProjectFlow')
@dag(schedule=None, tags=['reports'])
def current_report():
    """A mapped root and two leaves: the package's own start and finish tasks frame it."""
    @task
    def show():
        print('current', {name: str(getattr(current, name)) for name in (
            'project_name', 'branch_name', 'is_production', 'project_flow_name', 'is_running_flow', 'run_id',
            'flow_name', 'step_name', 'tags')})
        print('event', current.trigger.event.name)
        return current.trigger.run.pathspec

    @task
    def double(x):
        return 2 * x

    @task
    def load():
        return 'loaded'
    show()
    double.expand(x=[1, 2, 3])
    with TaskGroup('group'):
        load()

current_report()
'''

BOTH_REPORT = '''
from airflow.sdk import dag, task
from airflow_flow_triggers import project, trigger_on_finish, current

@project(name='dagmix')
@trigger_on_finish(flows=['FirstProjectFlow', 'daily_report'])
@dag(schedule=None)
def both_report():
    @task
    def both():
        return sorted(run.pathspec.split('/')[0] for run in current.trigger.runs)
    both()

both_report()
'''

FAILING_REPORT = '''
from airflow.sdk import dag, task
from airflow_flow_triggers import project

@project(name='dagmix')
@dag(schedule=None)
def failing_report():
    @task
    def fine():
        return 1

    @task
    def breaks(value):
        raise RuntimeError('the report broke')
    breaks(fine())

failing_report()
'''

AFTER_FAILING = '''
from airflow_flow_triggers import FlowSpec, step, trigger_on_finish, project

@trigger_on_finish(flow='failing_report')
@project(name='dagmix')
class AfterFailingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    AfterFailingFlow()
'''

ON_REPORT_FAILURE = '''
from airflow_flow_triggers import FlowSpec, current, step, trigger_on_finish, project

@trigger_on_finish(flow='failing_report', outcome='failed')
@project(name='dagmix')
class OnReportFailureFlow(FlowSpec):
    @step
    def start(self):
        failed = current.trigger.run
        print('failed run', failed.pathspec, failed.successful, [step.id for step in failed])
        self.failed_run = failed.pathspec
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    OnReportFailureFlow()
'''


def ids(branch):
    return {name: f"{PROJECT}.{branch}.{name}" for name in (
        "FirstProjectFlow", "SecondProjectFlow", "daily_report", "publish_report", "ArchiveReportFlow",
        "current_report", "both_report", "failing_report", "AfterFailingFlow", "OnReportFailureFlow")}


ALICE, NEW_MODEL = ids("user.alice"), ids("test.new_model")


def command(airflow, folder, file, action, *options, branch=(), user="alice", check=True):
    """`python -m airflow_flow_triggers airflow ACTION FILE [branch] [options]` for a DAG file, `python FILE [branch]
    airflow ACTION [options]` for a flow, as `user`, pointed at the session's Airflow; returns the CompletedProcess."""
    env = {k: v for k, v in airflow.env.items() if k not in USER_VARS}
    args = ["-m", "airflow_flow_triggers", "airflow", action, file, *branch, *options] if file in DAG_FILES else \
        [file, *branch, "airflow", action, *options]
    result = subprocess.run([sys.executable, *args], env={**env, "USER": user}, capture_output=True, text=True,
                            timeout=180, cwd=folder)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def chain(airflow, tmp_path_factory):
    """The chain deployed for alice (with three more DAGs) and for test.new_model, through `airflow create`."""
    folder = tmp_path_factory.mktemp(PROJECT)
    for name in CHAIN:
        (folder / name).write_text((DAGS / name).read_text().replace("variant_demo", PROJECT))
    for name, source in (("current_report.py", CURRENT_REPORT), ("both_report.py", BOTH_REPORT),
                         ("failing_report.py", FAILING_REPORT), ("after_failing.py", AFTER_FAILING),
                         ("on_report_failure.py", ON_REPORT_FAILURE)):
        (folder / name).write_text(source)
    dags_folder = ("--dags-folder", str(airflow.dags))
    creates = [(name, ()) for name in (*CHAIN, "current_report.py", "both_report.py", "failing_report.py",
                                       "after_failing.py", "on_report_failure.py")] + \
        [(name, ("--branch", "new_model")) for name in CHAIN]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:     # at once: each branch's lock orders its changes
        for done in [pool.submit(command, airflow, folder, name, "create", *dags_folder, branch=branch)
                     for name, branch in creates]:
            done.result()
    for dag_id in (*ALICE.values(), *(NEW_MODEL[n] for n in ("FirstProjectFlow", "daily_report", "publish_report",
                                                             "ArchiveReportFlow"))):
        try:
            airflow.wait_for_dag(dag_id)
        except TimeoutError:
            raise AssertionError(f"{dag_id} was not parsed: {airflow.import_errors()}") from None
    return folder


def printed(airflow, dag_id, run_id, task_id):
    return [e.get("event", "") for e in airflow.task_log(dag_id, run_id, task_id)]


def test_taskflow_and_classic_dags_join_the_chain_both_ways(airflow, chain):
    details = airflow.api("GET", f"dags/{ALICE['daily_report']}/details")
    assert {"project:dagmix", "project_branch:user.alice", "airflow_dag"} <= {t["name"] for t in details["tags"]}
    assert details["owners"] == ["alice"]
    assert "reports" in {t["name"] for t in airflow.api("GET", f"dags/{ALICE['current_report']}")["tags"]}

    first = airflow.post_run(ALICE["FirstProjectFlow"])
    assert airflow.wait_for_run(ALICE["FirstProjectFlow"], first)["state"] == "success"
    runs = {}
    for name in ("SecondProjectFlow", "daily_report", "publish_report", "ArchiveReportFlow", "current_report",
                 "both_report"):
        [run] = airflow.wait_for_runs(ALICE[name], 1)
        assert run["state"] == "success" and run["run_type"] == "asset_triggered", (name, run)
        runs[name] = run["dag_run_id"]
    airflow.quiet()
    for name in runs:
        assert len(airflow.runs(ALICE[name])) == 1, name
    for name in ("daily_report", "publish_report", "ArchiveReportFlow"):
        assert airflow.runs(NEW_MODEL[name]) == [], name          # alice's finish never crosses branches

    # a plain DAG runs its own tasks only; one with a mapped root and two leaves, the package's two around them
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances(ALICE["publish_report"],
                                                                           runs["publish_report"])}
    assert states == {"check": "success", "publish": "success"}
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances(ALICE["current_report"],
                                                                           runs["current_report"])}
    assert states == {"flow_triggers_start": "success", "show": "success", "double": "success",
                      "group.load": "success", "flow_triggers_finish": "success"}
    # flow -> TaskFlow DAG: current.trigger.run is the flow's run
    assert f"branch user.alice triggered by Run('FirstProjectFlow/{first}')" in \
        printed(airflow, ALICE["daily_report"], runs["daily_report"], "summarize")
    # TaskFlow DAG -> classic DAG: what the upstream DAG's tasks returned is its run's data
    assert any(line.startswith(f"publishing 42 rows of Run('daily_report/{runs['daily_report']}') on "
                               f"{ALICE['publish_report']}")
               for line in printed(airflow, ALICE["publish_report"], runs["publish_report"], "publish"))
    # classic DAG -> flow
    store = airflow.store()
    archive = Run(f"{ALICE['ArchiveReportFlow']}/{runs['ArchiveReportFlow']}", store=store)
    assert archive.data.published == 42
    assert archive.trigger.event.name == f"metaflow.{ALICE['publish_report']}.end"
    assert archive.trigger.run.pathspec == f"publish_report/{runs['publish_report']}"
    report = Run(f"{ALICE['daily_report']}/{runs['daily_report']}", store=store)
    assert report.successful and report.kind == "dag" and report.data.summarize == {"rows": 42}
    assert report.trigger.run.pathspec == f"FirstProjectFlow/{first}"
    published = Run(f"{ALICE['publish_report']}/{runs['publish_report']}", store=store).data
    assert (published.check, published.publish) == ("checking the report", {"published": 42})
    shown = Run(f"{ALICE['current_report']}/{runs['current_report']}", store=store).data
    assert (shown.double, getattr(shown, "group.load")) == ([2, 4, 6], "loaded")
    assert shown.show == f"FirstProjectFlow/{first}"
    # current in a DAG's task
    lines = printed(airflow, ALICE["current_report"], runs["current_report"], "show")
    shown = next(line for line in lines if line.startswith("current "))
    assert "'project_name': 'dagmix'" in shown and "'branch_name': 'user.alice'" in shown
    assert "'is_production': 'False'" in shown and "'is_running_flow': 'True'" in shown
    assert f"'project_flow_name': '{ALICE['current_report']}'" in shown and "'step_name': 'show'" in shown
    assert f"'run_id': '{runs['current_report']}'" in shown
    assert f"event metaflow.{ALICE['FirstProjectFlow']}.end" in lines
    # AND of a flow and a DAG, through the same gate
    both = Run(f"{ALICE['both_report']}/{runs['both_report']}", store=store)
    assert both.data.both == ["FirstProjectFlow", "daily_report"]


def test_a_burst_of_finishes_gives_one_dag_run_per_finish(airflow, chain):
    firsts = [airflow.post_run(NEW_MODEL["FirstProjectFlow"]) for _ in range(4)]
    for run_id in firsts:
        assert airflow.wait_for_run(NEW_MODEL["FirstProjectFlow"], run_id)["state"] == "success"
    reports = airflow.wait_for_runs(NEW_MODEL["daily_report"], 4)
    archives = airflow.wait_for_runs(NEW_MODEL["ArchiveReportFlow"], 4, timeout=360)
    airflow.quiet()
    assert len(airflow.runs(NEW_MODEL["daily_report"])) == 4 and len(airflow.runs(NEW_MODEL["publish_report"])) == 4
    assert len(airflow.runs(NEW_MODEL["ArchiveReportFlow"])) == 4
    assert all(r["state"] == "success" for r in reports + archives)
    store = airflow.store()
    started_by = sorted(Run(f"{NEW_MODEL['daily_report']}/{r['dag_run_id']}", store=store).trigger.run.id
                        for r in reports)
    assert started_by == sorted(firsts)
    assert len(airflow.runs(ALICE["daily_report"])) == 1        # the other branch untouched


def test_a_posted_finish_for_a_dag_is_refused(airflow, chain):
    asset = next(a for a in airflow.assets() if a["name"] == ALICE["daily_report"])
    before = {r["dag_run_id"] for r in airflow.runs(ALICE["publish_report"])}
    airflow.api("POST", "assets/events", {"asset_id": asset["id"], "partition_key": "forged",
                                         "extra": {"pathspec": f"{ALICE['daily_report']}/no_such_run"}})
    run = airflow.wait_until(lambda: next((r for r in airflow.runs(ALICE["publish_report"])
                                           if r["dag_run_id"] not in before and r["state"] in ("success", "failed")),
                                          None), 180, "the forged finish's run of publish_report")
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances(ALICE["publish_report"], run["dag_run_id"])}
    assert states == {"check": "skipped", "publish": "skipped"}
    why = command(airflow, chain, "publish_report.py", "why", run["dag_run_id"]).stdout
    assert "refused:" in why and "does not exist in the artifact store" in why and "by hand" not in why, why


def test_a_failed_dag_run_emits_no_finish_but_starts_what_listens_to_its_failure(airflow, chain):
    run_id = airflow.post_run(ALICE["failing_report"])
    assert airflow.wait_for_run(ALICE["failing_report"], run_id)["state"] == "failed"
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances(ALICE["failing_report"], run_id)}
    assert states == {"fine": "success", "breaks": "failed"}
    [listener] = airflow.wait_for_runs(ALICE["OnReportFailureFlow"], 1)
    airflow.quiet()
    assert airflow.asset_events(ALICE["failing_report"]) == []
    assert airflow.runs(ALICE["AfterFailingFlow"]) == []
    assert listener["state"] == "success" and len(airflow.runs(ALICE["OnReportFailureFlow"])) == 1
    assert f"failed run failing_report/{run_id} False" in " ".join(
        printed(airflow, ALICE["OnReportFailureFlow"], listener["dag_run_id"], "start"))


def test_promote_a_dag_from_a_test_branch_to_prod(airflow, chain):
    before = len(airflow.runs(NEW_MODEL["daily_report"]))       # a successful run of its code version
    airflow.post_run(NEW_MODEL["FirstProjectFlow"])
    assert all(r["state"] == "success" for r in airflow.wait_for_runs(NEW_MODEL["daily_report"], before + 1))
    out = command(airflow, chain, "daily_report.py", "promote", "--from", "new_model", "--dags-folder",
                  str(airflow.dags), branch=("--production",)).stdout
    assert f"Promoted {NEW_MODEL['daily_report']} to {PROJECT}.prod.daily_report" in out
    details = airflow.wait_for_dag(f"{PROJECT}.prod.daily_report")
    assert "project_branch:prod" in {t["name"] for t in details["tags"]}
    diff = command(airflow, chain, "daily_report.py", "diff", "--dags-folder", str(airflow.dags),
                   branch=("--branch", "new_model")).stdout
    assert "daily_report" in diff
    deleted = command(airflow, chain, "daily_report.py", "delete", "--dags-folder", str(airflow.dags),
                      branch=("--production",)).stdout
    assert deleted.startswith(f"Deleted {PROJECT}.prod.daily_report")
    airflow.wait_until(lambda: airflow.dag_gone(f"{PROJECT}.prod.daily_report"), 60, "the deleted DAG to go")


def test_hand_dropped_project_dags_are_refused(airflow, chain):
    source = (DAGS / "daily_report.py").read_text().replace("variant_demo", PROJECT).replace(
        "def daily_report", "def stray_report").replace("daily_report()", "stray_report()")
    airflow.drop(f"{PROJECT}/prod/stray_report.py", source)       # claims a production DAG id
    airflow.drop("stray_report.py", source)                        # in no branch's folder
    errors = airflow.wait_until(lambda: [e for e in airflow.import_errors() if "stray_report" in e["filename"]]
                                if len([e for e in airflow.import_errors() if "stray_report" in e["filename"]]) == 2
                                else None, 120, "both stray files to be refused")
    by_file = {e["filename"].split("/dags/", 1)[-1]: e["stack_trace"] for e in errors}
    assert "is a production DAG, and production DAGs come only from a deployment" in by_file[
        f"{PROJECT}/prod/stray_report.py"]
    assert "is not in a branch's folder of the deployment store" in by_file["stray_report.py"]
    assert airflow.dag_gone(f"{PROJECT}.prod.stray_report")


def test_the_branch_page_lists_dags_beside_flows(airflow, chain):
    branch = airflow.request("GET", f"/flow-triggers/api/projects/{PROJECT}/branches/user.alice")
    kinds = {d["flow"]: d["kind"] for d in branch["deployments"]}
    assert kinds["daily_report"] == "dag" and kinds["publish_report"] == "dag"
    assert kinds["FirstProjectFlow"] == "flow" and kinds["ArchiveReportFlow"] == "flow"
    edges = {(e["upstream"], e["consumer"]) for e in branch["edges"]}
    assert (ALICE["FirstProjectFlow"], ALICE["daily_report"]) in edges
    assert (ALICE["publish_report"], ALICE["ArchiveReportFlow"]) in edges
    assets = {a["name"]: a for a in airflow.assets()}
    assert assets[ALICE["daily_report"]]["group"] == PROJECT


PINNED_REPORT = '''
import os
import time

from airflow.sdk import dag, task
from airflow_flow_triggers import project
from version import VERSION

@project(name='dagmix')
@dag(schedule=None, params={'gate': ''})
def pinned_report():
    @task
    def first(**context):
        deadline = time.time() + 120
        while context['params']['gate'] and not os.path.exists(context['params']['gate']) and time.time() < deadline:
            time.sleep(0.2)
        return VERSION

    @task
    def second(seen):
        return VERSION
    second(first())

pinned_report()
'''


def test_a_dag_run_keeps_the_code_it_started_with(airflow, chain, tmp_path):
    """v2 deployed while v1's first task runs: that run's next task still runs v1; the next run is v2."""
    folder = tmp_path / "pinned"
    folder.mkdir()
    (folder / "pinned_report.py").write_text(PINNED_REPORT)
    (folder / "version.py").write_text("VERSION = 'v1'\n")
    command(airflow, folder, "pinned_report.py", "create", "--dags-folder", str(airflow.dags))
    dag_id = ALICE["daily_report"].replace("daily_report", "pinned_report")
    airflow.wait_for_dag(dag_id)
    gate = tmp_path / "gate"
    first = airflow.post_run(dag_id, {"gate": str(gate)})
    airflow.wait_until(lambda: any(ti["task_id"] == "first" and ti["state"] == "running"
                                   for ti in airflow.task_instances(dag_id, first)), 120, "first running")
    (folder / "version.py").write_text("VERSION = 'v2'\n")
    command(airflow, folder, "pinned_report.py", "create", "--dags-folder", str(airflow.dags))
    gate.touch()
    assert airflow.wait_for_run(dag_id, first)["state"] == "success"
    data = Run(f"{dag_id}/{first}", store=airflow.store()).data
    assert (data.first, data.second) == ("v1", "v1")
    second = airflow.post_run(dag_id, {})
    assert airflow.wait_for_run(dag_id, second)["state"] == "success"
    data = Run(f"{dag_id}/{second}", store=airflow.store()).data
    assert (data.first, data.second) == ("v2", "v2")


LOOPING = '''
from airflow.sdk import dag, task
from airflow_flow_triggers import project, trigger_on_finish

@project(name='dagmix')
@trigger_on_finish(flow='{other}')
@dag(schedule=None)
def {name}():
    task(lambda: 1, task_id='step')()

{name}()
'''


def test_dags_triggering_each_other_stop_at_the_depth_limit(airflow, chain):
    """Dropped into alice's branch folder (`airflow create` refuses the loop): loop_a -> loop_b -> loop_a ... stops
    at the harness's max_trigger_depth of 3, its last run skipped before any task of its own, and why says so."""
    for name, other in (("loop_a", "loop_b"), ("loop_b", "loop_a")):
        airflow.drop(f"{PROJECT}/user.alice/{name}.py", LOOPING.format(name=name, other=other))
        (chain / f"{name}.py").write_text(LOOPING.format(name=name, other=other))      # for `airflow why`
    a, b = ALICE["daily_report"].replace("daily_report", "loop_a"), ALICE["daily_report"].replace("daily_report",
                                                                                                   "loop_b")
    airflow.wait_for_dag(a)
    airflow.wait_for_dag(b)
    airflow.post_run(a)                       # depth 0; b 1, a 2, b 3, then a at depth 4 is stopped
    runs = airflow.wait_for_runs(a, 3, timeout=300)
    airflow.quiet()
    assert len(airflow.runs(a)) == 3 and len(airflow.runs(b)) == 2
    last = max(runs, key=lambda r: r["queued_at"])
    assert [ti["state"] for ti in airflow.task_instances(a, last["dag_run_id"])] == ["skipped"]
    why = command(airflow, chain, "loop_a.py", "why", last["dag_run_id"]).stdout
    assert "stopped: Not running dagmix.user.alice.loop_a: it was triggered by" in why, why
