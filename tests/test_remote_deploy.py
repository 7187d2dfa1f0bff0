"""Deploying from another machine: `airflow create | list | delete` through the plugin's API, on an Airflow
with real users (the simple auth manager: alice and bob may edit DAGs, carol may only look), from client
processes with an AIRFLOW_HOME of their own and no access to the server's dags folder."""
import json
import re
import shutil
import subprocess
import sys
import threading

import pytest
from conftest import REPO, flow_env, run_flow, write_feature_flow

from airflow_flow_triggers import Run
from airflow_flow_triggers.sandbox.harness import AirflowHarness

pytestmark = pytest.mark.e2e
USERS = {"admin": "admin", "alice": "user", "bob": "user", "carol": "viewer"}


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    harness = AirflowHarness(
        tmp_path_factory.mktemp("team_airflow"),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=",".join(f"{u}:{r}" for u, r in USERS.items()))
    try:
        yield harness.start()
    finally:
        harness.stop()


@pytest.fixture(scope="module")
def laptop(tmp_path_factory):
    """A client machine: its own AIRFLOW_HOME and dags folder, the seed flows in a folder of its own."""
    base = tmp_path_factory.mktemp("laptop")
    (base / "home").mkdir()
    (base / "dags").mkdir()
    flows = base / "flows"
    flows.mkdir()
    for name in ("firstproject.py", "secondproject.py"):
        shutil.copy(REPO / "dags" / name, flows / name)
    return base


def password(team, user):
    return json.loads((team.home / "simple_auth_manager_passwords.json.generated").read_text())[user]


def client(team, laptop, flow_file, *args, user="alice", local_user=None):
    """`python <flow_file> args...` on the laptop, logged in to the team's Airflow as `user`."""
    return run_flow(flow_file, *args, airflow_home=laptop / "home", user=local_user or user,
                    AIRFLOW__FLOW_TRIGGERS__API_URL=team.url, AIRFLOW__FLOW_TRIGGERS__API_USERNAME=user,
                    AIRFLOW__FLOW_TRIGGERS__API_PASSWORD=password(team, user),
                    AIRFLOW__CORE__DAGS_FOLDER=str(laptop / "dags"))


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def started_run(stdout):
    return re.search(r"^Started (\S+) run (\S+)$", stdout, re.M).groups()


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_alice_deploys_seed_000_from_her_laptop(team, laptop):
    flows = laptop / "flows"
    for options in ([], ["--branch", "new_model"]):
        for name in ("firstproject.py", "secondproject.py"):
            created = ok(client(team, laptop, flows / name, *options, "airflow", "create"))
            assert created.startswith("Deployed variant_demo.")
    alice, new_model = "variant_demo.user.alice", "variant_demo.test.new_model"
    for branch in (alice, new_model):
        for flow in ("FirstProjectFlow", "SecondProjectFlow"):
            assert team.wait_for_dag(f"{branch}.{flow}", timeout=60)["owners"] == ["alice"]
    assert list((laptop / "dags").iterdir()) == []          # nothing written on the laptop
    record = json.loads((team.dags / "variant_demo" / "user.alice" / "SecondProjectFlow.deploy.json").read_text())
    assert (record["deployer"], record["triggered_by"]) == ("alice", [f"{alice}.FirstProjectFlow"])

    dag_id, run_id = started_run(ok(client(team, laptop, flows / "firstproject.py", "airflow", "trigger")))
    assert dag_id == f"{alice}.FirstProjectFlow"
    assert team.wait_for_run(dag_id, run_id)["state"] == "success"
    [second] = team.wait_for_runs(f"{alice}.SecondProjectFlow", 1)
    assert second["state"] == "success"
    printed = [e.get("event", "") for e in team.task_log(f"{alice}.SecondProjectFlow", second["dag_run_id"], "start")]
    assert f"This deployment is called {alice}.SecondProjectFlow" in printed
    _, other = started_run(ok(client(team, laptop, flows / "firstproject.py", "--branch", "new_model", "airflow",
                                     "trigger")))
    team.wait_for_run(f"{new_model}.FirstProjectFlow", other)
    [theirs] = team.wait_for_runs(f"{new_model}.SecondProjectFlow", 1)
    assert Run(f"{new_model}.SecondProjectFlow/{theirs['dag_run_id']}", store=team.store()).trigger.run \
        .qualified_pathspec == f"{new_model}.FirstProjectFlow/{other}"
    assert len(team.runs(f"{alice}.SecondProjectFlow")) == 1

    listed = ok(client(team, laptop, flows / "firstproject.py", "airflow", "list", user="bob")).splitlines()
    assert [line.split()[:4] for line in listed if line.startswith("variant_demo")] == [
        ["variant_demo", "test.new_model", "FirstProjectFlow", "alice"],
        ["variant_demo", "test.new_model", "SecondProjectFlow", "alice"],
        ["variant_demo", "user.alice", "FirstProjectFlow", "alice"],
        ["variant_demo", "user.alice", "SecondProjectFlow", "alice"]]


def test_the_user_branch_is_the_airflow_user(team, laptop):
    """Bob, logged in as bob, gets user.bob even with USER=alice on his machine; asking for user.alice is refused."""
    created = ok(client(team, laptop, laptop / "flows" / "firstproject.py", "airflow", "create", user="bob",
                        local_user="alice"))
    assert created.startswith("Deployed variant_demo.user.bob.FirstProjectFlow to ")
    assert team.wait_for_dag("variant_demo.user.bob.FirstProjectFlow", timeout=60)["owners"] == ["bob"]
    triggered = ok(client(team, laptop, laptop / "flows" / "firstproject.py", "airflow", "trigger", user="bob",
                          local_user="alice"))
    assert started_run(triggered)[0] == "variant_demo.user.bob.FirstProjectFlow"
    from airflow_flow_triggers.deploy.airflow_api import AirflowAPI
    api = AirflowAPI(team.url)
    api._token = team.login("bob")
    before = snapshot(team.dags)
    with pytest.raises(Exception) as refused:
        api.create({"flow": "FirstProjectFlow", "project": "variant_demo", "branch": "user.alice", "deployer": "alice",
                    "flow_file": "firstproject.py"}, {"firstproject.py": b"print('hi')\n"})
    assert str(refused.value) == ("You are signed in to Airflow as bob, so your user branch is user.bob, not "
                                  "user.alice: deploy to your own branch, or to a shared one with --branch.")
    assert snapshot(team.dags) == before


def test_production_is_guarded_on_the_server(team, laptop):
    first = laptop / "flows" / "firstproject.py"
    created = ok(client(team, laptop, first, "--production", "airflow", "create"))
    token = re.search(r"passes --authorize=(\S+)\)", created).group(1)
    team.wait_for_dag("variant_demo.prod.FirstProjectFlow", timeout=60)
    before = snapshot(team.dags)
    refused = client(team, laptop, first, "--production", "airflow", "create", user="bob")
    assert (refused.returncode, refused.stderr) == (
        1, "error: Branch prod of project variant_demo belongs to alice: pass --authorize=TOKEN with its production "
           "token to change it.\n")
    wrong = client(team, laptop, first, "--production", "airflow", "create", "--authorize", "guess", user="bob")
    assert wrong.returncode == 1 and "is not the production token of branch prod" in wrong.stderr
    not_deleted = client(team, laptop, first, "--production", "airflow", "delete", user="bob")
    assert not_deleted.returncode == 1 and "belongs to alice" in not_deleted.stderr
    viewer = client(team, laptop, first, "--branch", "carols", "airflow", "create", user="carol")
    assert (viewer.returncode, viewer.stderr) == (1, "error: Airflow user carol may not deploy DAG "
                                                     "variant_demo.test.carols.FirstProjectFlow: that needs permission "
                                                     "to edit DAGs, which an Airflow admin gives.\n")
    assert snapshot(team.dags) == before                     # nothing changed on the server
    assert team.api("GET", "dags/variant_demo.prod.FirstProjectFlow")["owners"] == ["alice"]

    ok(client(team, laptop, first, "--production", "airflow", "create", "--authorize", token, user="bob"))
    record = json.loads((team.dags / "variant_demo" / "prod" / "FirstProjectFlow.deploy.json").read_text())
    assert record["deployer"] == "bob" and record["signature"]
    team.wait_until(lambda: team.api("GET", "dags/variant_demo.prod.FirstProjectFlow")["owners"] == ["bob"], 60,
               "the DAG to be parsed again")


HIJACK = '''
import sys
sys.path.insert(0, {flows!r})
import firstproject
from airflow_flow_triggers import build_dag, step

@step
def start(self):
    self.hijacked = True
    self.next(self.end)

firstproject.FirstProjectFlow.start = start
dag = build_dag(firstproject.FirstProjectFlow, production=True, deployed_by='mallory')
'''


def test_a_hand_dropped_file_cannot_take_prod_over(team, laptop):
    dag_id = "variant_demo.prod.FirstProjectFlow"
    if not (team.dags / "variant_demo" / "prod" / "FirstProjectFlow.py").exists():
        ok(client(team, laptop, laptop / "flows" / "firstproject.py", "--production", "airflow", "create"))
    team.wait_for_dag(dag_id, timeout=60)
    team.drop("team_tools/hijack.py", HIJACK.format(flows=str(laptop / "flows")))

    def refused():
        return next((e for e in team.import_errors() if e["filename"] == "team_tools/hijack.py"), None)
    error = team.wait_until(refused, 90, "the hand-dropped file to be parsed")
    assert (f"AirflowClusterPolicyViolation: DAG {dag_id} belongs to branch prod of project variant_demo, so it "
            "must come from that branch's folder of the deployment store") in error["stack_trace"]
    for _ in range(3):
        run_id = team.post_run(dag_id)
        assert team.wait_for_run(dag_id, run_id)["state"] == "success"
        assert "hijacked" not in Run(f"{dag_id}/{run_id}", store=team.store()).data   # the deployed code ran
    assert team.api("GET", f"dags/{dag_id}")["fileloc"].endswith("variant_demo/prod/FirstProjectFlow.py")


def test_each_branch_runs_its_own_code_package(team, laptop):
    """features.py beside the flow travels with it: prod and test.new_model import their own."""
    for version, options in (("prod", ["--production"]), ("new_model", ["--branch", "new_model"])):
        flow = write_feature_flow(laptop / f"features_{version}", "iso_pkg", version)
        ok(client(team, laptop, flow, *options, "airflow", "create"))
    versions = {}
    for dag_id in ("iso_pkg.prod.FeatureFlow", "iso_pkg.test.new_model.FeatureFlow"):
        team.wait_for_dag(dag_id, timeout=60)
        run_id = team.post_run(dag_id)
        assert team.wait_for_run(dag_id, run_id)["state"] == "success"
        versions[dag_id] = Run(f"{dag_id}/{run_id}", store=team.store()).data.version
    assert versions == {"iso_pkg.prod.FeatureFlow": "prod", "iso_pkg.test.new_model.FeatureFlow": "new_model"}
    assert not (team.dags / "lib").exists()                  # no features.py loose in the dags folder


def test_two_clients_deploying_one_branch_at_once_end_with_one_owner(team, laptop):
    from airflow_flow_triggers.deploy.airflow_api import AirflowAPI
    source = (laptop / "flows" / "firstproject.py").read_bytes()
    barrier, outcomes = threading.Barrier(3), {}

    def deploy(user):
        api = AirflowAPI(team.url)
        api._token = team.login(user)
        barrier.wait()
        try:
            answer = api.create({"flow": "FirstProjectFlow", "project": "variant_demo", "branch": "test.race",
                                 "flow_file": "firstproject.py"}, {"firstproject.py": source})
            outcomes[user] = "OWNER" if answer["new_token"] else "AUTHORIZED"
        except Exception as error:
            outcomes[user] = f"REFUSED {error}"

    threads = [threading.Thread(target=deploy, args=(user,)) for user in ("admin", "alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    owners = [user for user, outcome in outcomes.items() if outcome == "OWNER"]
    assert len(owners) == 1, outcomes
    for user, outcome in outcomes.items():
        if user != owners[0]:
            assert outcome.startswith(f"REFUSED Branch test.race of project variant_demo belongs to {owners[0]}: ")
    record = json.loads((team.dags / "variant_demo" / "test.race" / "FirstProjectFlow.deploy.json").read_text())
    assert record["deployer"] == owners[0]


def test_delete_through_the_api(team, laptop):
    flows = laptop / "flows"
    for name in ("firstproject.py", "secondproject.py"):
        ok(client(team, laptop, flows / name, "--branch", "doomed", "airflow", "create", user="bob"))
    for flow in ("FirstProjectFlow", "SecondProjectFlow"):
        team.wait_for_dag(f"variant_demo.test.doomed.{flow}", timeout=60)
    refused = client(team, laptop, flows / "firstproject.py", "--branch", "doomed", "airflow", "delete", user="carol")
    assert refused.returncode == 1 and "Airflow user carol may not delete DAG" in refused.stderr
    deleted = ok(client(team, laptop, flows / "secondproject.py", "--branch", "doomed", "airflow", "delete",
                        user="bob"))
    assert deleted == "Deleted variant_demo.test.doomed.SecondProjectFlow\n"
    assert not (team.dags / "variant_demo" / "test.doomed" / "SecondProjectFlow.py").exists()
    whole = ok(client(team, laptop, flows / "firstproject.py", "--branch", "doomed", "airflow", "delete",
                      "--branch-all", user="bob"))
    assert whole == "Deleted variant_demo.test.doomed.FirstProjectFlow\n"
    for flow in ("FirstProjectFlow", "SecondProjectFlow"):
        assert team.dag_gone(f"variant_demo.test.doomed.{flow}")
    assert not (team.dags / "variant_demo" / "test.doomed").exists()


PINNED_RUN = '''
import os
import time
from lib.features import VERSION
from airflow_flow_triggers import FlowSpec, Parameter, project, step


@project(name='life')
class PinFlow(FlowSpec):
    gate = Parameter('gate', default='')

    @step
    def start(self):
        self.start_version = VERSION
        deadline = time.time() + 120
        while self.gate and not os.path.exists(self.gate) and time.time() < deadline:
            time.sleep(0.2)
        self.next(self.end)

    @step
    def end(self):
        self.end_version = VERSION


if __name__ == '__main__':
    PinFlow()
'''


def write_pin_flow(folder, version):
    (folder / "lib").mkdir(parents=True, exist_ok=True)
    (folder / "lib" / "__init__.py").write_text("")
    (folder / "lib" / "features.py").write_text(f"VERSION = {version!r}\n")
    (folder / "pin_flow.py").write_text(PINNED_RUN)
    return folder / "pin_flow.py"


def versions_of(team, dag_id, run_id):
    data = Run(f"{dag_id}/{run_id}", store=team.store()).data
    return data.start_version, data.end_version


def test_a_run_keeps_the_code_it_started_with(team, laptop, tmp_path):
    """v2 deployed while v1's start step runs: that run's end step still runs v1; the next run is v2."""
    flow = write_pin_flow(laptop / "pin", "v1")
    assert ok(client(team, laptop, flow, "--branch", "pin", "airflow", "create")).startswith("Deployed life.test")
    dag_id = "life.test.pin.PinFlow"
    team.wait_for_dag(dag_id, timeout=60)
    gate = tmp_path / "gate"
    first = team.post_run(dag_id, {"gate": str(gate)})
    team.wait_until(lambda: any(ti["task_id"] == "start" and ti["state"] == "running"
                                for ti in team.task_instances(dag_id, first)), 120, "start running")
    (laptop / "pin" / "lib" / "features.py").write_text("VERSION = 'v2'\n")
    ok(client(team, laptop, flow, "--branch", "pin", "airflow", "create"))
    gate.touch()
    assert team.wait_for_run(dag_id, first)["state"] == "success"
    assert versions_of(team, dag_id, first) == ("v1", "v1")
    second = team.post_run(dag_id, {})
    assert team.wait_for_run(dag_id, second)["state"] == "success"
    assert versions_of(team, dag_id, second) == ("v2", "v2")
    record = json.loads((team.dags / "life" / "test.pin" / "PinFlow.deploy.json").read_text())
    [v1] = record["previous_versions"]                   # kept for runs that started on it
    assert (team.dags / "_packages" / v1).is_dir() and v1 != record["package"]["sha256"]


def test_promote_what_ran_on_a_branch_to_prod(team, laptop):
    flow = write_feature_flow(laptop / "promote", "life", "tested")
    ok(client(team, laptop, flow, "--branch", "new_model", "airflow", "create", user="bob"))
    source = "life.test.new_model.FeatureFlow"
    team.wait_for_dag(source, timeout=60)
    record = json.loads((team.dags / "life" / "test.new_model" / "FeatureFlow.deploy.json").read_text())
    version = record["package"]["sha256"]

    before = snapshot(team.dags)
    untested = client(team, laptop, flow, "--production", "airflow", "promote", "--from", "new_model")
    assert untested.returncode == 1 and untested.stderr == (
        f"error: {source} has no successful run of its code version {version[:12]} (deployed "
        f"{record['deployed_at']}): run it first (`python feature_flow.py --branch new_model airflow trigger`), "
        "or promote it untested with --force.\n")
    assert snapshot(team.dags) == before
    run_id = team.post_run(source)
    assert team.wait_for_run(source, run_id)["state"] == "success"

    (flow.parent / "lib" / "features.py").write_text("VERSION = 'on the laptop, never tested'\n")
    promoted = ok(client(team, laptop, flow, "--production", "airflow", "promote", "--from", "new_model"))
    assert promoted.splitlines()[0] == \
        f"Promoted {source} to life.prod.FeatureFlow (code version {version[:12]})"
    token = re.search(r"--authorize=(\S+)\)", promoted).group(1)
    prod = json.loads((team.dags / "life" / "prod" / "FeatureFlow.deploy.json").read_text())
    assert prod["package"] == record["package"] and prod["deployer"] == "alice"
    assert prod["promoted_from"] == {"branch": "test.new_model", "dag_id": source, "sha256": version,
                                     "deployed_at": record["deployed_at"]}
    team.wait_for_dag("life.prod.FeatureFlow", timeout=60)
    prod_run = team.post_run("life.prod.FeatureFlow")
    assert team.wait_for_run("life.prod.FeatureFlow", prod_run)["state"] == "success"
    assert Run(f"life.prod.FeatureFlow/{prod_run}", store=team.store()).data.version == "tested"

    [shown] = team.request("GET", "/flow-triggers/api/projects/life/branches/prod", token=team.login("alice"))[
        "deployments"]
    assert (shown["code"]["sha256"], shown["code"]["promoted_from"]) == (version, "test.new_model")
    listed = [line.split() for line in ok(client(team, laptop, flow, "airflow", "list")).splitlines()]
    assert ["life", "prod", "FeatureFlow", "alice", "yes", version[:12]] in [row[:6] for row in listed]
    assert next(row for row in listed if row[:2] == ["life", "prod"])[-3:] == ["promoted", "from", "test.new_model"]
    diff = ok(client(team, laptop, flow, "--branch", "new_model", "airflow", "diff"))
    assert diff.splitlines() == ["life: test.new_model against prod", f"  FeatureFlow  same code ({version[:12]})",
                                 "  trigger edges: the same"]

    taken = client(team, laptop, flow, "--production", "airflow", "promote", "--from", "new_model", user="bob")
    assert taken.returncode == 1 and "Branch prod of project life belongs to alice" in taken.stderr
    authorized = client(team, laptop, flow, "--production", "airflow", "promote", "--from", "new_model",
                        f"--authorize={token}", user="bob")
    assert authorized.returncode == 0, authorized.stderr
    viewer = client(team, laptop, flow, "--production", "airflow", "promote", "--from", "new_model", user="carol")
    assert viewer.returncode == 1 and "Airflow user carol may not deploy DAG life.prod.FeatureFlow" in viewer.stderr


def test_prune_stale_branches(team, laptop):
    """A test branch nobody deployed or ran for 40 days (its record backdated) is listed, then removed with its
    DAG, token, record and code version; fresh branches and prod stay."""
    flow = write_feature_flow(laptop / "stale", "life", "an old idea")
    ok(client(team, laptop, flow, "--branch", "old_idea", "airflow", "create"))
    dag_id = "life.test.old_idea.FeatureFlow"
    team.wait_for_dag(dag_id, timeout=60)
    path = team.dags / "life" / "test.old_idea" / "FeatureFlow.deploy.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "deployed_at": "2026-01-01T00:00:00+00:00"}))
    package = team.dags / "_packages" / record["package"]["sha256"]

    before = snapshot(team.dags)
    listed = ok(client(team, laptop, flow, "airflow", "prune", "--older-than", "30d", user="bob"))
    assert listed.splitlines() == [
        "Would remove 1 branch(es) with no deployment and no run for 30d:",
        "  life test.old_idea: FeatureFlow (deployed 2026-01-01T00:00:00+00:00, last run never)",
        "Nothing was removed: run again with --yes to remove them."]
    assert snapshot(team.dags) == before
    refused = client(team, laptop, flow, "airflow", "prune", "--older-than", "30d", "--yes", user="carol")
    assert refused.returncode == 1 and f"Airflow user carol may not delete DAG {dag_id}" in refused.stderr
    bad = client(team, laptop, flow, "airflow", "prune", "--older-than", "a month", user="bob")
    assert bad.returncode == 1 and bad.stderr == ("error: --older-than 'a month' is not an age: write a whole number "
                                                  "and a unit, as 30d, 12h, 2w or 90m.\n")

    removed = ok(client(team, laptop, flow, "airflow", "prune", "--older-than", "30d", "--yes", user="bob"))
    assert removed.splitlines()[0] == "Removed 1 branch(es) with no deployment and no run for 30d:"
    assert removed.splitlines()[-1] == "Removed 1 code version(s) no deployment keeps and no run uses."
    assert team.dag_gone(dag_id)
    assert not (team.dags / "life" / "test.old_idea").exists() and not package.exists()
    assert (team.dags / "life" / "prod" / "FeatureFlow.deploy.json").exists()
    again = ok(client(team, laptop, flow, "airflow", "prune", "--older-than", "30d", user="bob"))
    assert again == "No user.* or test.* branch has gone 30d without a deployment or a run.\n"


def test_a_project_dag_deploys_as_the_airflow_user(team, laptop):
    """A TaskFlow DAG file through the plugin's API with real users: bob (USER=alice on his laptop) gets user.bob,
    the DAG runs there when his flow finishes; carol, a viewer, may not deploy it; nothing lands on the laptop."""
    folder = laptop / "dag_files"
    folder.mkdir()
    for name in ("firstproject.py", "daily_report.py"):
        (folder / name).write_text((REPO / "dags" / name).read_text().replace("variant_demo", "teamdags"))

    def dag_client(*args, user):
        env = flow_env(laptop / "home", "alice", AIRFLOW__FLOW_TRIGGERS__API_URL=team.url,
                       AIRFLOW__FLOW_TRIGGERS__API_USERNAME=user,
                       AIRFLOW__FLOW_TRIGGERS__API_PASSWORD=password(team, user),
                       AIRFLOW__CORE__DAGS_FOLDER=str(laptop / "dags"))
        return subprocess.run([sys.executable, "-m", "airflow_flow_triggers", "airflow", *args], capture_output=True,
                              text=True, timeout=300, env=env, cwd=folder)

    ok(client(team, laptop, folder / "firstproject.py", "airflow", "create", user="bob", local_user="alice"))
    created = ok(dag_client("create", "daily_report.py", user="bob"))
    assert created.startswith("Deployed teamdags.user.bob.daily_report to ")
    assert team.wait_for_dag("teamdags.user.bob.daily_report", timeout=60)["owners"] == ["bob"]
    record = json.loads((team.dags / "teamdags" / "user.bob" / "daily_report.deploy.json").read_text())
    assert (record["deployer"], record["package"]["kind"]) == ("bob", "dag")
    viewer = dag_client("create", "daily_report.py", "--branch", "carols", user="carol")
    assert (viewer.returncode, viewer.stderr) == (1, "error: Airflow user carol may not deploy DAG "
                                                     "teamdags.test.carols.daily_report: that needs permission "
                                                     "to edit DAGs, which an Airflow admin gives.\n")
    assert list((laptop / "dags").iterdir()) == []

    team.wait_for_dag("teamdags.user.bob.FirstProjectFlow", timeout=60)
    first = team.post_run("teamdags.user.bob.FirstProjectFlow")
    assert team.wait_for_run("teamdags.user.bob.FirstProjectFlow", first)["state"] == "success"
    [report] = team.wait_for_runs("teamdags.user.bob.daily_report", 1)
    assert report["state"] == "success"
    why = ok(dag_client("why", "daily_report.py", user="bob"))
    assert why.startswith(f"teamdags.user.bob.daily_report {report['dag_run_id']} (success)")
    assert f"started by the finish of teamdags.user.bob.FirstProjectFlow {first}, branch user.bob" in why


WATCHFUL = '''
from pathlib import Path

from airflow_flow_triggers import FlowSpec, exit_hook, project, step, trigger_on_finish

OUT = Path({out!r})


def done(run):
    (OUT / f'hooked-{{run.id}}').write_text(f'{{run.pathspec}} {{run.successful}}')


@exit_hook(on_success=[done])
@trigger_on_finish(flow='FirstProjectFlow', expect_every='1h')
@project(name='teamhooks')
class WatchfulFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    WatchfulFlow()
'''


def test_exit_hooks_and_deadlines_deploy_through_the_api(team, laptop, tmp_path):
    """A flow with @exit_hook and expect_every= deployed by bob from his laptop (real users, no dags folder): its
    expectation DAG comes with it, `why` reads its deadline through the API, and its hook runs on the server."""
    folder = laptop / "hooked"
    folder.mkdir()
    (folder / "firstproject.py").write_text((REPO / "dags" / "firstproject.py").read_text().replace("variant_demo",
                                                                                                     "teamhooks"))
    (folder / "watchful.py").write_text(WATCHFUL.format(out=str(tmp_path)))
    for name in ("firstproject.py", "watchful.py"):
        ok(client(team, laptop, folder / name, "airflow", "create", user="bob", local_user="alice"))
    dag_id = "teamhooks.user.bob.WatchfulFlow"
    assert team.wait_for_dag(f"{dag_id}.expect", timeout=60)["owners"] == ["bob"]
    why = ok(client(team, laptop, folder / "watchful.py", "airflow", "why", user="bob", local_user="alice"))
    assert why.splitlines()[0] == f"{dag_id}: no run yet"
    run_id = team.post_run(dag_id)
    assert team.wait_for_run(dag_id, run_id)["state"] == "success"
    team.wait_until(lambda: (tmp_path / f"hooked-{run_id}").exists(), 60, "the exit hook to run")
    assert (tmp_path / f"hooked-{run_id}").read_text() == f"WatchfulFlow/{run_id} True"
    assert list((laptop / "dags").iterdir()) == []
