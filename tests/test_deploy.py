"""`python flow.py airflow create/delete/list --dags-folder DIR`: the deployment store on this machine, its
code packages, production tokens, what it refuses, and the cluster policy that guards it (no Airflow running)."""
import json
import re
import shutil
import subprocess

import pytest
from conftest import REPO, run_flow

from airflow_flow_triggers.deployments import layout
from airflow_flow_triggers.deployments.packages import checked, collect, digest

SIGNING_KEY = "a-key-shared-by-the-api-server-and-the-dag-processor"


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def flows(tmp_path):
    for name in ("firstproject.py", "secondproject.py", "firstflow.py", "secondflow.py"):
        shutil.copy(REPO / "dags" / name, tmp_path / name)
    return tmp_path


def airflow_cmd(flows, airflow_home, script, *args, user="alice", **env):
    return run_flow(flows / script, *args, "--dags-folder", str(flows / "dags"), airflow_home=airflow_home,
                    user=user, AIRFLOW__FLOW_TRIGGERS__SIGNING_KEY=SIGNING_KEY, **env)


def token_of(result):
    return re.search(r"passes --authorize=(\S+)\)", result.stdout).group(1)


def test_create_list_delete(flows, airflow_home):
    created = airflow_cmd(flows, airflow_home, "firstproject.py", "airflow", "create")
    assert created.returncode == 0, created.stderr
    dags = flows / "dags"
    folder = dags / "variant_demo" / "user.alice"
    assert created.stdout.splitlines()[0] == \
        f"Deployed variant_demo.user.alice.FirstProjectFlow to {folder / 'FirstProjectFlow.py'}"
    assert "Start it with: python firstproject.py airflow trigger" in created.stdout
    # the DAG file is the same few lines for every deployment; the code is in the package its record names
    entry = (folder / "FirstProjectFlow.py").read_text()
    assert entry == layout.entry_source("variant_demo.user.alice.FirstProjectFlow")
    record = json.loads((folder / "FirstProjectFlow.deploy.json").read_text())
    assert {k: record[k] for k in ("dag_id", "flow", "project", "branch", "production", "deployer", "triggered_by")} \
        == {"dag_id": "variant_demo.user.alice.FirstProjectFlow", "flow": "FirstProjectFlow", "project": "variant_demo",
            "branch": "user.alice", "production": False, "deployer": "alice", "triggered_by": []}
    package = dags / "_packages" / record["package"]["sha256"]
    assert sorted(p.name for p in package.iterdir()) == ["firstflow.py", "firstproject.py", "secondflow.py",
                                                        "secondproject.py"]       # the flow's folder, not dags/
    assert (package / "firstproject.py").read_bytes() == (REPO / "dags" / "firstproject.py").read_bytes()
    assert record["package"] == {"sha256": digest(layout_files(package)), "flow_file": "firstproject.py",
                                 "files": 4, "bytes": sum(p.stat().st_size for p in package.iterdir())}
    assert (dags / "_packages" / ".airflowignore").read_text() == layout.IGNORE_ALL

    assert airflow_cmd(flows, airflow_home, "firstflow.py", "airflow", "create").returncode == 0
    assert (dags / "_flows" / "FirstFlow.py").read_text() == layout.entry_source("FirstFlow")
    prod = airflow_cmd(flows, airflow_home, "firstproject.py", "--branch", "b", "--production", "airflow", "create",
                       user="Bob.Smith")
    assert prod.returncode == 0, prod.stderr
    prod_record = json.loads((dags / "variant_demo" / "prod.b" / "FirstProjectFlow.deploy.json").read_text())
    assert (prod_record["deployer"], prod_record["production"]) == ("bob_smith", True)
    assert prod_record["package"]["sha256"] == record["package"]["sha256"]   # same code, same package, kept once

    listed = airflow_cmd(flows, airflow_home, "firstflow.py", "airflow", "list").stdout.splitlines()
    assert listed[0].split() == ["PROJECT", "BRANCH", "FLOW", "OWNER", "PRODUCTION", "VERSION", "COMMIT", "DEPLOYED",
                                 "AT", "FROM"]
    assert [line.split()[:5] for line in listed[1:]] == [
        ["-", "-", "FirstFlow", "alice", "no"],
        ["variant_demo", "prod.b", "FirstProjectFlow", "bob_smith", "yes"],
        ["variant_demo", "user.alice", "FirstProjectFlow", "alice", "no"]]
    deleted = airflow_cmd(flows, airflow_home, "firstproject.py", "airflow", "delete",
                          AIRFLOW__FLOW_TRIGGERS__API_URL="http://127.0.0.1:9")
    # Airflow must hear of a delete (or it goes on queueing finishes for the DAG): unreachable, nothing is removed
    assert deleted.returncode == 1 and deleted.stdout == ""
    assert deleted.stderr.startswith("error: Cannot reach Airflow's REST API at http://127.0.0.1:9")
    assert deleted.stderr.rstrip().endswith("nothing was deleted (Airflow would go on queueing finishes for it).")
    assert (folder / "FirstProjectFlow.py").exists() and (folder / "FirstProjectFlow.deploy.json").exists()


def git(folder, *args):
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True)
    head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    return head.stdout.strip()


def test_promote_diff_and_provenance_in_a_folder(flows, airflow_home):
    """A branch's life on one machine: versions with their git commit, diff, promote byte for byte."""
    (flows / ".gitignore").write_text("dags/\n")
    git(flows, "init", "-q")
    git(flows, "add", ".")
    commit = git(flows, "commit", "-qm", "v1")
    for script in ("firstproject.py", "secondproject.py"):
        assert airflow_cmd(flows, airflow_home, script, "--branch", "new_model", "airflow", "create").returncode == 0
    (flows / "secondproject.py").write_text((flows / "secondproject.py").read_text() + "\n# uncommitted\n")
    assert airflow_cmd(flows, airflow_home, "secondproject.py", "airflow", "create").returncode == 0   # user.alice
    test_records = {r: json.loads((flows / "dags/variant_demo/test.new_model" / f"{r}.deploy.json").read_text())
                    for r in ("FirstProjectFlow", "SecondProjectFlow")}
    assert test_records["FirstProjectFlow"]["git"] == {"commit": commit, "dirty": False}
    user_record = json.loads((flows / "dags/variant_demo/user.alice/SecondProjectFlow.deploy.json").read_text())
    assert user_record["git"] == {"commit": commit, "dirty": True}

    listed = airflow_cmd(flows, airflow_home, "firstproject.py", "airflow", "list").stdout.splitlines()
    version = test_records["FirstProjectFlow"]["package"]["sha256"][:12]
    assert listed[1].split()[:7] == ["variant_demo", "test.new_model", "FirstProjectFlow", "alice", "no", version,
                                     commit[:10]]
    assert listed[3].split()[6] == f"{commit[:10]}+dirty"

    diff = airflow_cmd(flows, airflow_home, "firstproject.py", "--branch", "new_model", "airflow", "diff")
    assert diff.stdout.splitlines() == [
        "variant_demo: test.new_model against prod",
        f"  FirstProjectFlow   only on test.new_model ({version})",
        f"  SecondProjectFlow  only on test.new_model ({test_records['SecondProjectFlow']['package']['sha256'][:12]})",
        "  trigger FirstProjectFlow -> SecondProjectFlow: only on test.new_model"]

    # untested code needs --force, and --force needs no Airflow; promote reads no local file
    unreachable = {"AIRFLOW__FLOW_TRIGGERS__API_URL": "http://127.0.0.1:9"}
    refused = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "promote", "--from",
                          "new_model", "--branch-all", **unreachable)
    assert refused.returncode == 1 and refused.stderr.startswith("error: Cannot reach Airflow's REST API")
    assert not (flows / "dags/variant_demo/prod").exists()
    (flows / "firstproject.py").write_text("this file is not read by promote")
    promoted = airflow_cmd(flows, airflow_home, "secondproject.py", "--production", "airflow", "promote", "--from",
                           "new_model", "--branch-all", "--force", **unreachable)
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.splitlines()[:2] == [
        f"Promoted variant_demo.test.new_model.FirstProjectFlow to variant_demo.prod.FirstProjectFlow (code version "
        f"{version})",
        "Promoted variant_demo.test.new_model.SecondProjectFlow to variant_demo.prod.SecondProjectFlow (code version "
        f"{test_records['SecondProjectFlow']['package']['sha256'][:12]})"]
    prod = json.loads((flows / "dags/variant_demo/prod/SecondProjectFlow.deploy.json").read_text())
    assert prod["package"] == test_records["SecondProjectFlow"]["package"]
    assert prod["triggered_by"] == ["variant_demo.prod.FirstProjectFlow"]
    assert prod["promoted_from"]["branch"] == "test.new_model" and prod["git"]["commit"] == commit
    diff = airflow_cmd(flows, airflow_home, "secondproject.py", "--branch", "new_model", "airflow", "diff")
    assert diff.stdout.splitlines()[1:] == [
        f"  FirstProjectFlow   same code ({version})",
        f"  SecondProjectFlow  same code ({test_records['SecondProjectFlow']['package']['sha256'][:12]})",
        "  trigger edges: the same"]

    for args, error in ((("--from", "nothing"), "Branch test.nothing of project variant_demo has no SecondProjectFlow"),
                        (("--from", "prod"), "Branch prod would be promoted onto itself"),
                        (("--from", "bad-name"), "error: ")):
        before = snapshot(flows / "dags")
        bad = airflow_cmd(flows, airflow_home, "secondproject.py", "--production", "airflow", "promote", *args,
                          "--force")
        assert bad.returncode == 1 and error in bad.stderr and len(bad.stderr.splitlines()) == 1, bad.stderr
        assert snapshot(flows / "dags") == before

    shutil.rmtree(flows / "dags" / "_packages" / test_records["FirstProjectFlow"]["package"]["sha256"])
    before = snapshot(flows / "dags")
    gone = airflow_cmd(flows, airflow_home, "secondproject.py", "--branch", "other", "airflow", "promote", "--from",
                       "new_model", "--force")
    assert gone.returncode == 1 and gone.stderr == (
        f"error: The code version {version} of variant_demo.test.new_model.SecondProjectFlow is no longer in "
        f"file://{flows / 'dags'} (it was pruned or changed): deploy that branch again, then promote it.\n")
    assert snapshot(flows / "dags") == before


def layout_files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_code_package_is_the_python_files_of_the_flow_folder(tmp_path, monkeypatch):
    (tmp_path / "flow.py").write_text("# the flow\n")
    for path, text in {"features.py": "X = 1\n", "lib/__init__.py": "", "lib/util.py": "Y = 2\n",
                       "notes.txt": "not code", ".hidden/secret.py": "", "__pycache__/flow.cpython-311.py": "",
                       "venv/pyvenv.cfg": "home = /usr", "venv/lib/site.py": "", "dags/_packages/x/old.py": "",
                       ".dotfile.py": ""}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    package = collect(tmp_path / "flow.py", leave_out=(tmp_path / "dags",))
    assert sorted(package.files) == ["features.py", "flow.py", "lib/__init__.py", "lib/util.py"]
    assert package.flow_file == "flow.py" and package.size == len("# the flow\nX = 1\nY = 2\n")
    same = collect(tmp_path / "flow.py", leave_out=(tmp_path / "dags",))
    assert same.sha256 == package.sha256                    # named by content
    (tmp_path / "features.py").write_text("X = 2\n")
    assert collect(tmp_path / "flow.py", leave_out=(tmp_path / "dags",)).sha256 != package.sha256

    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__MAX_PACKAGE_SIZE", "0.00001")   # about ten bytes
    with pytest.raises(Exception, match=r"The code package of flow.py is over 0.0 MB \(\[flow_triggers\] "
                                        r"max_package_size\): it holds every \*.py file under"):
        collect(tmp_path / "flow.py")


@pytest.mark.parametrize("path, problem", [
    ("../flow.py", "leaves the package's folder"), ("/etc/flow.py", "leaves the package's folder"),
    ("a//b.py", "leaves the package's folder"), (".git/hook.py", "is in a hidden or skipped folder"),
    ("notes.txt", "is not a Python file"), ("a\\b.py", "is not a relative POSIX path"),
])
def test_the_api_server_checks_a_package_without_running_it(path, problem):
    with pytest.raises(Exception, match=re.escape(f"The code package holds the file {path!r}, which {problem}")):
        checked("flow.py", {"flow.py": b"", path: b""})
    with pytest.raises(Exception, match="does not hold its flow file 'flow.py'"):
        checked("flow.py", {"other.py": b""})


def test_production_tokens(flows, airflow_home):
    first = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create")
    token = token_of(first)
    again = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create")
    assert again.returncode == 0 and "Production token" not in again.stdout  # the owner redeploys freely

    before = snapshot(flows / "dags")
    refused = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create", user="bob")
    assert refused.returncode == 1
    assert refused.stderr == ("error: Branch prod of project variant_demo belongs to alice: pass --authorize=TOKEN "
                              "with its production token to change it.\n")
    wrong = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create",
                        "--authorize", "guess", user="bob")
    assert wrong.returncode == 1 and "is not the production token of branch prod" in wrong.stderr
    no_delete = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "delete", user="bob")
    assert no_delete.returncode == 1 and "belongs to alice" in no_delete.stderr
    assert snapshot(flows / "dags") == before

    accepted = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create",
                           "--authorize", token, user="bob")
    assert accepted.returncode == 0, accepted.stderr
    rotated = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create",
                          "--authorize", token, "--generate-new-token", user="bob")
    new_token = token_of(rotated)
    assert new_token != token
    old = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create",
                      "--authorize", token, user="carol")
    assert old.returncode == 1 and "is not the production token" in old.stderr
    assert airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create",
                       "--authorize", new_token, user="carol").returncode == 0


def test_production_needs_a_key_to_sign_with(flows, airflow_home):
    before = snapshot(flows / "dags") if (flows / "dags").exists() else {}
    result = run_flow(flows / "firstproject.py", "--production", "airflow", "create", "--dags-folder",
                      str(flows / "dags"), airflow_home=airflow_home)
    assert result.returncode == 1
    assert result.stderr == ("error: Production deployments are signed, and this Airflow has no key to sign them: "
                             "set [flow_triggers] signing_key (or [core] fernet_key) to the same value on the "
                             "api-server and the dag-processor.\n")
    assert (snapshot(flows / "dags") if (flows / "dags").exists() else {}) == before


def test_refused_inputs_leave_the_dags_folder_unchanged(flows, airflow_home):
    assert airflow_cmd(flows, airflow_home, "firstflow.py", "airflow", "create").returncode == 0
    assert airflow_cmd(flows, airflow_home, "firstproject.py", "airflow", "create").returncode == 0
    before = snapshot(flows / "dags")
    (flows / "broken.py").write_text((REPO / "dags" / "firstflow.py").read_text().replace(
        "self.next(self.end)", "self.next(self.middle)"))
    (flows / "own_dag.py").write_text((REPO / "dags" / "firstflow.py").read_text()
                                      + "\nfrom airflow_flow_triggers import build_dag\ndag = build_dag(FirstFlow)\n")
    (flows / "commented.py").write_text("# dag = build_dag(FirstFlow) was how we did it\n"
                                        + (REPO / "dags" / "firstflow.py").read_text())
    (flows / "loop.py").write_text((REPO / "dags" / "firstflow.py").read_text().replace(
        "from airflow_flow_triggers import FlowSpec, step",
        "from airflow_flow_triggers import FlowSpec, step, trigger_on_finish\n\n@trigger_on_finish(flow='SecondFlow')"))
    refusals = {
        ("firstproject.py", "--branch", "../x"): "The branch name must only contain lowercase alphanumeric",
        ("firstproject.py", "--branch", "A" * 5): "The branch name must only contain lowercase alphanumeric",
        ("firstflow.py", "--branch", "x"): "--branch needs a project",
        ("broken.py",): "Step 'start' goes to unknown step 'middle'",
        ("own_dag.py",): f"{flows / 'own_dag.py'}:18: The flow file already builds its own DAG with build_dag(...)",
    }
    for (script, *options), message in refusals.items():
        result = airflow_cmd(flows, airflow_home, script, *options, "airflow", "create")
        assert result.returncode == 1 and message in result.stderr, (script, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert snapshot(flows / "dags") == before
    commented = airflow_cmd(flows, airflow_home, "commented.py", "airflow", "create")   # a comment is no call
    assert commented.returncode == 0, commented.stderr
    assert airflow_cmd(flows, airflow_home, "secondflow.py", "airflow", "create").returncode == 0
    before = snapshot(flows / "dags")
    loop = airflow_cmd(flows, airflow_home, "loop.py", "airflow", "create")
    assert loop.returncode == 1
    assert loop.stderr == ("error: Deploying FirstFlow would make flows trigger each other in a loop (FirstFlow <- "
                           "SecondFlow <- FirstFlow, each started by the next): remove one @trigger_on_finish, or "
                           "delete one of the deployments first.\n")
    assert snapshot(flows / "dags") == before


def test_a_corrupt_record_is_one_sentence_naming_it(flows, airflow_home):
    assert airflow_cmd(flows, airflow_home, "firstproject.py", "airflow", "create").returncode == 0
    record = flows / "dags" / "variant_demo" / "user.alice" / "FirstProjectFlow.deploy.json"
    record.write_text("{not json")
    listed = airflow_cmd(flows, airflow_home, "firstproject.py", "airflow", "list")
    assert listed.returncode == 1
    assert listed.stderr.startswith(f"error: The deployment record {record} is corrupt (")
    assert listed.stderr.rstrip().endswith("delete it, and deploy that flow again.")


def test_trigger_needs_a_reachable_airflow(flows, airflow_home):
    result = run_flow(flows / "firstflow.py", "airflow", "trigger", airflow_home=airflow_home,
                      AIRFLOW__FLOW_TRIGGERS__API_URL="http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr.startswith("error: Cannot reach Airflow's REST API at http://127.0.0.1:9 (")
    assert result.stderr.rstrip().endswith("start Airflow's api-server, or set [flow_triggers] api_url "
                                           "(env AIRFLOW__FLOW_TRIGGERS__API_URL).")


def test_tokens_never_start_with_a_dash(monkeypatch):
    """token_urlsafe starts with '-' one time in 64; argparse would read `--authorize -AbC` as an option."""
    from airflow_flow_triggers.deployments import tokens
    drawn = iter(["-starts_with_a_dash", "-again", "fine_token"])
    monkeypatch.setattr(tokens.secrets, "token_urlsafe", lambda n: next(drawn))
    assert tokens.new_token() == "fine_token"


def test_a_token_starting_with_a_dash_is_accepted_as_authorize_equals(flows, airflow_home):
    """Tokens issued before this rule may start with '-': `--authorize=TOKEN` takes them."""
    from airflow_flow_triggers.deployments.guards import TOKEN_FILE
    from airflow_flow_triggers.deployments.tokens import hash_token
    assert airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create").returncode == 0
    token_file = flows / "dags" / "variant_demo" / "prod" / TOKEN_FILE
    token_file.write_text(json.dumps({"owner": "alice", "token_sha256": hash_token("-dashed_token")}))
    refused = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create",
                          "--authorize", "-dashed_token", user="bob")
    assert refused.returncode == 1 and refused.stderr.startswith("error: argument --authorize: expected one argument")
    accepted = airflow_cmd(flows, airflow_home, "firstproject.py", "--production", "airflow", "create",
                           "--authorize=-dashed_token", user="bob")
    assert accepted.returncode == 0, accepted.stderr


CONCURRENT_CREATE = '''
import dataclasses, sys, time
sys.path.insert(0, {flows!r})
from pathlib import Path
from airflow_flow_triggers.deployments import packages, store, tokens
from airflow_flow_triggers.flows.decorators import deployment_of

check = tokens.check_token
def slow_check(*args, **kwargs):  # widen the window between reading the branch's owner and writing it
    result = check(*args, **kwargs)
    time.sleep(1.0)
    return result
store.check_token = slow_check

import firstproject
deployment = dataclasses.replace(deployment_of(firstproject.FirstProjectFlow, None, True), deployer=sys.argv[1])
package = packages.collect(Path({flows!r}) / "firstproject.py", leave_out=(Path({flows!r}) / "dags",))
while time.time() < {start}:
    time.sleep(0.001)
try:
    created = store.DeploymentStore("file://" + {flows!r} + "/dags").create(deployment, package, set(), "race")
    print("OWNER" if created.new_token else "AUTHORIZED")
except Exception as error:
    print("REFUSED", error)
'''


def test_concurrent_deployments_of_one_branch_have_one_owner(flows, airflow_home):
    """Two `airflow create` of a new production branch at the same moment: exactly one becomes its owner."""
    import subprocess
    import sys
    import time

    from conftest import flow_env
    script = flows / "race.py"
    script.write_text(CONCURRENT_CREATE.format(flows=str(flows), start=time.time() + 8))
    env = flow_env(airflow_home, AIRFLOW__FLOW_TRIGGERS__SIGNING_KEY=SIGNING_KEY)
    processes = [subprocess.Popen([sys.executable, str(script), user], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env, cwd=str(flows)) for user in ("alice", "bob")]
    outcomes = {user: p.communicate(timeout=120)[0].strip() for user, p in zip(("alice", "bob"), processes,
                                                                                  strict=True)}
    assert sorted(o.split()[0] for o in outcomes.values()) == ["OWNER", "REFUSED"], outcomes
    owner = next(user for user, outcome in outcomes.items() if outcome == "OWNER")
    other = next(user for user in outcomes if user != owner)
    assert f"belongs to {owner}: pass --authorize=TOKEN" in outcomes[other]
    folder = flows / "dags" / "variant_demo" / "prod"
    assert json.loads((folder / ".production_token.json").read_text())["owner"] == owner
    assert json.loads((folder / "FirstProjectFlow.deploy.json").read_text())["deployer"] == owner


def test_a_deployment_keeps_its_last_versions_and_lets_go_of_older_ones(tmp_path, monkeypatch):
    from airflow_flow_triggers.deployments.packages import CodePackage
    from airflow_flow_triggers.deployments.store import DeploymentStore
    from airflow_flow_triggers.naming import Deployment
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__KEEP_VERSIONS", "2")
    deployment = Deployment("KeepFlow", "keep", "test.x", "alice")
    versions = [CodePackage("flow.py", {"flow.py": f"# v{n}\n".encode()}) for n in (1, 2, 3)]
    store = DeploymentStore(f"file://{tmp_path}")
    for package in versions:
        store.create(deployment, package, set(), "flow.py", authorize=None)
    record = json.loads(layout.record_path(tmp_path, deployment).read_text())
    assert (record["package"]["sha256"], record["previous_versions"]) == (versions[2].sha256, [versions[1].sha256])
    assert store.collect_garbage(in_use={versions[0].sha256}) == []          # a run in progress still uses v1
    assert store.collect_garbage(in_use=set()) == [versions[0].sha256]
    assert sorted(p.name for p in (tmp_path / "_packages").iterdir() if p.name != ".airflowignore") == \
        sorted([versions[1].sha256, versions[2].sha256])

    store.delete(deployment, "alice", None)                                    # a removed deployment's versions go
    assert store.collect_garbage(in_use=set()) == sorted([versions[1].sha256, versions[2].sha256])


def test_stale_branches():
    import datetime

    from airflow_flow_triggers.deployments.prune import parse_age, stale_branches

    now = datetime.datetime(2026, 12, 4, tzinfo=datetime.timezone.utc)
    days_ago = lambda n: (now - datetime.timedelta(days=n)).isoformat()     # noqa: E731
    records = [{"project": "p", "branch": branch, "flow": flow, "dag_id": f"p.{branch}.{flow}", "deployed_at": at}
               for branch, flow, at in (("test.old", "A", days_ago(40)), ("test.old", "B", days_ago(35)),
                                        ("test.ran", "A", days_ago(40)), ("user.bob", "A", days_ago(31)),
                                        ("test.new", "A", days_ago(3)), ("prod", "A", days_ago(400)))]
    records.append({**records[0], "project": "other", "dag_id": "other.test.old.A"})
    last_runs = {"p.test.old.A": days_ago(33), "p.test.ran.A": days_ago(2), "p.user.bob.A": None}
    stale = stale_branches(records, last_runs, "p", parse_age("30d"), now)
    assert [(s["branch"], s["flows"], s["last_run"]) for s in stale] == [
        ("test.old", ["A", "B"], days_ago(33)), ("user.bob", ["A"], None)]
    assert parse_age("2w") == datetime.timedelta(weeks=2) and parse_age("90m") == datetime.timedelta(minutes=90)
    for bad in ("30", "0d", "3 days", "-1d"):
        with pytest.raises(Exception, match="is not an age: write a whole number and a unit"):
            parse_age(bad)
