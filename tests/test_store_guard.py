"""The deployment store as Airflow reads it, in a DagBag (no Airflow running): each deployment builds its DAG
from its own code package, and the cluster policy refuses flow DAGs that do not come from their place."""
import json
import shutil

import pytest
from conftest import REPO, run_flow, write_feature_flow
from test_deploy import SIGNING_KEY


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty deployments root this process's DagBags read, and the key both sign and check with."""
    root = tmp_path / "store"
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT", str(root))
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__SIGNING_KEY", SIGNING_KEY)
    return root


def deploy(flow_file, store, *options, user="alice"):
    result = run_flow(flow_file, *options, "airflow", "create", "--dags-folder", str(store),
                      airflow_home=store.parent / "home", user=user, AIRFLOW__FLOW_TRIGGERS__SIGNING_KEY=SIGNING_KEY)
    assert result.returncode == 0, result.stderr
    return result


def dagbag(root):
    from airflow.dag_processing.dagbag import DagBag
    return DagBag(dag_folder=str(root), bundle_path=root, bundle_name="dags-folder")


def flow_class(dag):
    """The flow class a DAG's start task runs (from the task callable's closure)."""
    from airflow_flow_triggers import FlowSpec
    cells = dag.get_task("start").python_callable.__closure__
    return next(c.cell_contents for c in cells if isinstance(c.cell_contents, type)
                and issubclass(c.cell_contents, FlowSpec))


def test_each_deployment_imports_its_own_modules(tmp_path, store):
    for version in ("one", "two"):
        deploy(write_feature_flow(tmp_path / version, "iso", version), store, "--branch", version)
    bag = dagbag(store)
    assert bag.import_errors == {}
    versions = {dag_id: flow_class(bag.dags[dag_id]).start.__globals__["features"].VERSION
                for dag_id in ("iso.test.one.FeatureFlow", "iso.test.two.FeatureFlow")}
    assert versions == {"iso.test.one.FeatureFlow": "one", "iso.test.two.FeatureFlow": "two"}
    assert bag.dags["iso.test.one.FeatureFlow"].fileloc == str(store / "iso" / "test.one" / "FeatureFlow.py")


HIJACK = '''
import sys
sys.path.insert(0, {flows!r})
from firstproject import FirstProjectFlow
from airflow_flow_triggers import build_dag
dag = build_dag(FirstProjectFlow, production=True, deployed_by='mallory')
'''

PLAIN_DAG = '''
import pendulum
from airflow.sdk import DAG, task
with DAG("variant_demo.prod.FirstProjectFlow", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    task(task_id="start")(lambda: print("not the deployed code"))()
'''


@pytest.fixture
def prod(tmp_path, store):
    """FirstProjectFlow deployed to prod by alice, and its flow folder."""
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(REPO / "dags" / "firstproject.py", flows / "firstproject.py")
    deploy(flows / "firstproject.py", store, "--production")
    return flows


def refusals(bag) -> dict:
    return {path: error.strip().splitlines()[-1] for path, error in bag.import_errors.items()}


def test_a_hand_dropped_file_cannot_take_a_production_dag_over(store, prod):
    (store / "hijack.py").write_text(HIJACK.format(flows=str(prod)))
    (store / "plain.py").write_text(PLAIN_DAG)
    bag = dagbag(store)
    dag = bag.dags["variant_demo.prod.FirstProjectFlow"]
    assert dag.fileloc == str(store / "variant_demo" / "prod" / "FirstProjectFlow.py")     # the deployed one
    assert dag.owner == "alice"
    folder = store / "variant_demo" / "prod"
    for name in ("hijack.py", "plain.py"):
        assert refusals(bag)[name] == (
            "AirflowClusterPolicyViolation: DAG variant_demo.prod.FirstProjectFlow belongs to branch prod of project "
            f"variant_demo, so it must come from that branch's folder of the deployment store, {folder}, where "
            f"`python flow.py airflow create` puts it; it comes from {store / name}: deploy the flow with `airflow "
            "create`, or move the file there.")


def test_in_its_folder_a_production_dag_still_needs_a_signed_deployment(store, prod):
    folder = store / "variant_demo" / "prod"
    (folder / "mine.py").write_text(HIJACK.format(flows=str(prod)))
    bag = dagbag(store)
    assert refusals(bag) == {"variant_demo/prod/mine.py": (
        "AirflowClusterPolicyViolation: DAG variant_demo.prod.FirstProjectFlow is a production DAG, and production "
        "DAGs come only from a deployment that `python flow.py --production airflow create` made after checking the "
        f"branch's production token: {folder} has no deployment record of variant_demo.prod.FirstProjectFlow.")}

    (folder / "mine.py").unlink()
    record_file = folder / "FirstProjectFlow.deploy.json"
    record = json.loads(record_file.read_text())
    record_file.write_text(json.dumps({**record, "deployer": "mallory"}))        # the signature no longer fits
    assert refusals(dagbag(store))["variant_demo/prod/FirstProjectFlow.py"].endswith(
        f"production token: its record {record_file} does not carry this Airflow's signature.")

    record_file.write_text(json.dumps(record))
    entry = folder / "FirstProjectFlow.py"
    entry.write_text(entry.read_text() + "\nprint('and something else')\n")
    assert refusals(dagbag(store))["variant_demo/prod/FirstProjectFlow.py"].endswith(
        f"production token: {entry} is not the DAG file `airflow create` wrote.")


def test_a_changed_code_package_is_not_loaded(store, prod):
    record = json.loads((store / "variant_demo" / "prod" / "FirstProjectFlow.deploy.json").read_text())
    package = store / "_packages" / record["package"]["sha256"]
    (package / "firstproject.py").write_text((package / "firstproject.py").read_text() + "\nEVIL = 1\n")
    [error] = refusals(dagbag(store)).values()
    assert error == ("airflow_flow_triggers.errors.FlowDefinitionError: "
                     f"The code package {package} does not hold the code deployed (its content "
                     f"does not have the SHA-256 {record['package']['sha256']}): it was changed or removed after "
                     "`airflow create`; deploy the flow again.")


@pytest.mark.parametrize("syntax", ["glob", "regexp"])
def test_airflow_never_parses_the_code_packages(store, prod, syntax):
    from airflow._shared.module_loading.file_discovery import find_path_from_directory
    found = sorted(str(p.relative_to(store)) for p in map(type(store), find_path_from_directory(
        store, ".airflowignore", syntax)) if p.suffix == ".py")
    assert found == ["variant_demo/prod/FirstProjectFlow.py"]


def test_a_branch_dag_may_be_written_by_hand_in_its_folder(store, prod):
    folder = store / "variant_demo" / "user.alice"
    folder.mkdir(parents=True)
    (folder / "mine.py").write_text(HIJACK.format(flows=str(prod)).replace("production=True, deployed_by='mallory'",
                                                                           "user='alice'"))
    bag = dagbag(store)
    assert bag.import_errors == {}
    assert bag.dags["variant_demo.user.alice.FirstProjectFlow"].fileloc == str(folder / "mine.py")
