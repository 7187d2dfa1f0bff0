"""The seed scenarios and faults on a production-like topology (airflow_flow_triggers/sandbox/topology.py):
PostgreSQL, Redis, CeleryExecutor with two workers that share no artifact directory, artifacts in S3 (SeaweedFS)."""
import io
import shutil
import urllib.parse
import urllib.request
import zipfile

import pytest
from conftest import REPO, run_flow, write_feature_flow

from airflow_flow_triggers import Run
from airflow_flow_triggers.runtime.store import ArtifactStore
from airflow_flow_triggers.sandbox.topology import ARTIFACT_ROOT, BUCKET, CONNECTION, Topology, tools_missing

pytestmark = [pytest.mark.e2e, pytest.mark.topology]
DAGS = REPO / "dags"


def seed(name: str, *build_lines: str) -> str:
    return (DAGS / name).read_text() + "\nfrom airflow_flow_triggers import build_dag\n" + "\n".join(build_lines) + "\n"


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    missing = tools_missing()
    if missing:
        pytest.fail(f"the topology tests need {', '.join(missing)} (.ci/run installs them)")
    topology = Topology(tmp_path_factory.mktemp("topology"))
    try:
        with topology.start().artifacts_here():
            yield topology
    finally:
        topology.stop()


def s3_store():
    return ArtifactStore(ARTIFACT_ROOT)


def client(topology, tmp_path, flow, *args):
    """`python <flow> args...` from a client with an AIRFLOW_HOME of its own, through the api-server."""
    result = run_flow(flow, *args, airflow_home=tmp_path / "client_home",
                      AIRFLOW__FLOW_TRIGGERS__API_URL=topology.airflow.url)
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    return result


def deploy(topology, tmp_path, name, *options):
    """`airflow create` of a seed (by file name) or of a flow file (a path) through the api-server."""
    flow = tmp_path / name
    if not flow.exists():
        shutil.copy(DAGS / name, flow)
    return client(topology, tmp_path, flow, *options, "airflow", "create").stdout



def test_branches_stay_isolated_on_celery_and_s3(topology, tmp_path):
    airflow = topology.airflow
    for options in ([], ["--branch", "new_model"]):           # seed 000's pair, deployed onto S3 through the API
        for name in ("firstproject.py", "secondproject.py"):
            deploy(topology, tmp_path, name, *options)
    alice, new_model = "variant_demo.user.alice", "variant_demo.test.new_model"
    for branch in (alice, new_model):
        for flow in ("FirstProjectFlow", "SecondProjectFlow"):
            airflow.wait_for_dag(f"{branch}.{flow}")
    first = airflow.post_run(f"{alice}.FirstProjectFlow")
    assert airflow.wait_for_run(f"{alice}.FirstProjectFlow", first)["state"] == "success"
    [second] = airflow.wait_for_runs(f"{alice}.SecondProjectFlow", 1)
    assert second["state"] == "success"
    airflow.quiet()
    assert airflow.runs(f"{new_model}.SecondProjectFlow") == []
    other = airflow.post_run(f"{new_model}.FirstProjectFlow")
    airflow.wait_for_run(f"{new_model}.FirstProjectFlow", other)
    [theirs] = airflow.wait_for_runs(f"{new_model}.SecondProjectFlow", 1)
    airflow.quiet()
    assert len(airflow.runs(f"{alice}.SecondProjectFlow")) == 1 and theirs["state"] == "success"
    run = Run(f"{alice}.SecondProjectFlow/{second['dag_run_id']}", store=s3_store())
    assert run.trigger.run.qualified_pathspec == f"{alice}.FirstProjectFlow/{first}"
    stored = topology.s3.objects("deployments")
    assert f"{BUCKET}/deployments/variant_demo/user.alice/SecondProjectFlow.deploy.json" in stored
    assert not (airflow.dags / "variant_demo").exists()        # not in the dags folder: it all came from S3
    for worker in topology.worker_homes():                     # each worker read the bundle into its own folder
        assert (worker / "dag_bundles" / "flow-deployments" / "store" / "variant_demo" / "user.alice" /
                "FirstProjectFlow.py").exists()


def test_airflow_dags_join_the_chain_on_celery_and_s3(topology, tmp_path):
    """Seed 000's first flow -> a TaskFlow DAG -> a classic DAG -> a flow, deployed through the api-server onto S3
    (project `mixed`), run by Celery workers that share no disk: data passes both ways through the S3 store."""
    import subprocess
    import sys

    from conftest import flow_env
    airflow = topology.airflow
    env = flow_env(tmp_path / "client_home", AIRFLOW__FLOW_TRIGGERS__API_URL=airflow.url)
    for name in ("firstproject.py", "daily_report.py", "publish_report.py", "archiveflow.py"):
        (tmp_path / name).write_text((DAGS / name).read_text().replace("variant_demo", "mixed"))
        args = [name, "airflow", "create"] if name.endswith("flow.py") or name == "firstproject.py" else \
            ["-m", "airflow_flow_triggers", "airflow", "create", name]
        result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, env=env,
                                cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    ids = {name: f"mixed.user.alice.{name}" for name in ("FirstProjectFlow", "daily_report", "publish_report",
                                                          "ArchiveReportFlow")}
    for dag_id in ids.values():
        airflow.wait_for_dag(dag_id)
    first = airflow.post_run(ids["FirstProjectFlow"])
    assert airflow.wait_for_run(ids["FirstProjectFlow"], first)["state"] == "success"
    runs = {}
    for name in ("daily_report", "publish_report", "ArchiveReportFlow"):
        [run] = airflow.wait_for_runs(ids[name], 1, timeout=300)
        assert run["state"] == "success", (name, run)
        runs[name] = run["dag_run_id"]
    store = s3_store()
    assert Run(f"{ids['daily_report']}/{runs['daily_report']}", store=store).data.summarize == {"rows": 42}
    archive = Run(f"{ids['ArchiveReportFlow']}/{runs['ArchiveReportFlow']}", store=store)
    assert archive.data.published == 42
    assert archive.trigger.run.pathspec == f"publish_report/{runs['publish_report']}"
    record = f"{BUCKET}/deployments/mixed/user.alice/daily_report.deploy.json"
    assert record in topology.s3.objects("deployments")
    airflow.quiet()
    assert all(len(airflow.runs(dag_id)) == 1 for dag_id in ids.values())


def test_each_branch_runs_its_own_code_package_on_celery(topology, tmp_path):
    """lib/features.py beside the flow travels with each deployment, through S3, to workers that share no disk."""
    airflow = topology.airflow
    for version, options in (("prod", ["--production"]), ("new_model", ["--branch", "new_model"])):
        deploy(topology, tmp_path, write_feature_flow(tmp_path / version, "packages", version), *options)
    ran = {}
    for dag_id in ("packages.prod.FeatureFlow", "packages.test.new_model.FeatureFlow"):
        airflow.wait_for_dag(dag_id)
        run_id = airflow.post_run(dag_id)
        assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"
        data = Run(f"{dag_id}/{run_id}", store=s3_store()).data
        ran[dag_id] = data.version
        assert data.worker in ("worker1", "worker2")
    assert ran == {"packages.prod.FeatureFlow": "prod", "packages.test.new_model.FeatureFlow": "new_model"}

    flow = tmp_path / "new_model" / "feature_flow.py"                 # list and delete on the S3 store
    listed = client(topology, tmp_path, flow, "airflow", "list").stdout.splitlines()
    assert [line.split()[:3] for line in listed if line.startswith("packages")] == [
        ["packages", "prod", "FeatureFlow"], ["packages", "test.new_model", "FeatureFlow"]]
    assert client(topology, tmp_path, flow, "--branch", "new_model", "airflow", "delete").stdout == \
        "Deleted packages.test.new_model.FeatureFlow\n"
    assert not [o for o in topology.s3.objects("deployments") if "/packages/test.new_model/" in o]
    airflow.wait_until(lambda: airflow.dag_gone("packages.test.new_model.FeatureFlow"), 60, "the deleted DAG to go")


def test_model_handoff_through_s3_and_no_local_artifacts(topology):
    airflow = topology.airflow
    airflow.drop("modelrefreshflow.py", seed("modelrefreshflow.py", "dag = build_dag(ModelRefreshFlow)"))
    airflow.drop("inferenceflow.py", seed("inferenceflow.py", "dag = build_dag(InferenceFlow)"))
    airflow.wait_for_dag("ModelRefreshFlow")
    airflow.wait_for_dag("InferenceFlow")
    refresh = airflow.post_run("ModelRefreshFlow", {"scale": 4.0})
    assert airflow.wait_for_run("ModelRefreshFlow", refresh)["state"] == "success"
    [inference] = airflow.wait_for_runs("InferenceFlow", 1)
    assert inference["state"] == "success"
    printed = [e.get("event", "") for e in airflow.task_log("InferenceFlow", inference["dag_run_id"], "start")]
    assert "Model {'slope': 4.0, 'intercept': 1.0}" in printed        # current.trigger.run.data, read from S3
    assert Run(f"InferenceFlow/{inference['dag_run_id']}", store=s3_store()).data.model == \
        {"slope": 4.0, "intercept": 1.0}
    objects = topology.s3.objects()
    assert f"artifacts/flows/ModelRefreshFlow/{refresh}/_run.json" in objects
    assert any(o.startswith(f"artifacts/flows/ModelRefreshFlow/{refresh}/start/1/") and o.endswith("model.pickle")
               for o in objects)
    for home in topology.worker_homes():                     # each worker's local default root stays empty
        assert not (home / "flow_triggers" / "artifacts").exists()
    assert not (airflow.home / "flow_triggers" / "artifacts").exists()


def test_a_fifty_way_foreach_lands_on_both_workers(topology, tmp_path):
    airflow = topology.airflow
    deploy(topology, tmp_path, "fanout_flow.py")
    dag_id = "example_project.user.alice.FanoutFlow"
    airflow.wait_for_dag(dag_id)
    run_id = airflow.post_run(dag_id, {"n": 50, "alpha": 0.5})
    assert airflow.wait_for_run(dag_id, run_id, timeout=600)["state"] == "success"
    mapped = [ti for ti in airflow.task_instances(dag_id, run_id) if ti["map_index"] >= 0]
    assert len(mapped) == 50
    assert {ti["hostname"] for ti in mapped} == {"worker1", "worker2"}
    assert len(Run(f"{dag_id}/{run_id}", store=s3_store()).data.values) == 50


CARD_FLOW = '''
from airflow_flow_triggers import FlowSpec, build_dag, card, current, step
from airflow_flow_triggers.cards import Table


class CardOnWorkerFlow(FlowSpec):
    @card(type="blank")
    @step
    def start(self):
        current.card.append(Table([["made-on-a-worker", 1]], headers=["where", "n"]))
        self.next(self.end)

    @step
    def end(self):
        pass


dag = build_dag(CardOnWorkerFlow)
'''


def test_a_card_made_on_a_celery_worker_is_read_from_s3_by_the_client_and_the_api_server(topology):
    airflow = topology.airflow
    airflow.drop("card_on_worker_flow.py", CARD_FLOW)
    airflow.wait_for_dag("CardOnWorkerFlow")
    run_id = airflow.post_run("CardOnWorkerFlow")
    assert airflow.wait_for_run("CardOnWorkerFlow", run_id)["state"] == "success"
    assert f"artifacts/flows/CardOnWorkerFlow/{run_id}/start/1/_cards/0.blank.html" in topology.s3.objects()
    from airflow_flow_triggers import Task, get_cards
    [made] = get_cards(Task(f"CardOnWorkerFlow/{run_id}/start/1", store=s3_store(), _namespace_check=False))
    assert "made-on-a-worker" in made.html
    quoted = urllib.parse.quote(run_id, safe="")
    request = urllib.request.Request(f"{airflow.url}/flow-triggers/cards/CardOnWorkerFlow/{quoted}/start/0/raw",
                                     headers={"Authorization": f"Bearer {airflow.token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:          # the api-server reads it from S3
        assert "made-on-a-worker" in response.read().decode()
        assert response.headers["Content-Security-Policy"].startswith("sandbox;")


SLOW_CHAIN = '''
import os, time
from pathlib import Path
from airflow_flow_triggers import FlowSpec, step, retry, trigger_on_finish, current, build_dag

MARKER = Path(os.environ['TOPOLOGY_BASE']) / 'marker_{up}'

class {up}(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @retry(times=2, minutes_between_retries=0)
    @step
    def work(self):
        first = not MARKER.exists()
        MARKER.write_text('started')
        if first:
            time.sleep({sleep})
        self.value = 'work done on ' + os.environ.get('TOPOLOGY_WORKER', '?')
        self.next(self.end)

    @step
    def end(self):
        pass

@trigger_on_finish(flow='{up}')
class {down}(FlowSpec):
    @step
    def start(self):
        self.seen = current.trigger.run.data.value
        self.next(self.end)

    @step
    def end(self):
        pass

up = build_dag({up})
down = build_dag({down})
'''


def deploy_chain(topology, up: str, down: str, sleep: int):
    airflow = topology.airflow
    airflow.drop(f"{up.lower()}.py", SLOW_CHAIN.format(up=up, down=down, sleep=sleep))
    airflow.wait_for_dag(up)
    airflow.wait_for_dag(down)
    run_id = airflow.post_run(up)
    airflow.wait_until(lambda: (topology.base / f"marker_{up}").exists(), 300, f"{up}'s step 'work' to start")
    return run_id


def work_task(airflow, dag_id, run_id):
    return next(ti for ti in airflow.task_instances(dag_id, run_id) if ti["task_id"] == "work")


def test_a_worker_killed_mid_step_is_retried_on_the_other(topology):
    airflow = topology.airflow
    run_id = deploy_chain(topology, "KillUp", "KillDown", sleep=300)
    running = work_task(airflow, "KillUp", run_id)
    assert running["state"] == "running" and running["hostname"] in ("worker1", "worker2")
    airflow.kill_component(running["hostname"])                   # SIGKILL: the worker and its task
    try:
        assert airflow.wait_for_run("KillUp", run_id, timeout=400)["state"] == "success"
        retried = work_task(airflow, "KillUp", run_id)
        assert retried["try_number"] == 2 and retried["hostname"] != running["hostname"]
        [down] = airflow.wait_for_runs("KillDown", 1)
        airflow.quiet()
        assert len(airflow.runs("KillDown")) == 1 and down["state"] == "success"
        seen = Run(f"KillDown/{down['dag_run_id']}", store=s3_store()).data.seen
        assert seen == f"work done on {retried['hostname']}"
    finally:
        topology.start_worker(running["hostname"])


def test_postgres_restarted_mid_chain(topology):
    airflow = topology.airflow
    run_id = deploy_chain(topology, "PgUp", "PgDown", sleep=20)
    with airflow.restarting() as restarted:                      # what exits is started again, as in compose.yaml
        topology.postgres.restart()                               # pg_ctl restart while 'work' runs
        assert airflow.wait_for_run("PgUp", run_id, timeout=400)["state"] == "success"
        [down] = airflow.wait_for_runs("PgDown", 1)
        airflow.quiet()
        airflow.wait_for_run("PgDown", down["dag_run_id"])         # checks once more that all are up
    print("started again after the restart:", restarted or "nothing")
    assert [r["dag_run_id"] for r in airflow.runs("PgUp")] == [run_id]
    assert len(airflow.runs("PgDown")) == 1 and down["state"] == "success"
    assert work_task(airflow, "PgUp", run_id)["try_number"] == 1          # nothing ran twice
    assert Run(f"PgDown/{down['dag_run_id']}", store=s3_store()).data.seen.startswith("work done on worker")


STORE_FLOW = '''
from airflow_flow_triggers import FlowSpec, step, retry, build_dag

class StoreFlow(FlowSpec):
    @retry(times=3, minutes_between_retries=0.25)
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag(StoreFlow)
'''


def test_an_unreachable_store_fails_the_task_with_one_sentence_and_it_retries(topology):
    airflow = topology.airflow
    airflow.drop("store_flow.py", STORE_FLOW)
    airflow.wait_for_dag("StoreFlow")
    topology.s3.stop()
    try:
        run_id = airflow.post_run("StoreFlow")

        def first_try_failed():
            start = next((ti for ti in airflow.task_instances("StoreFlow", run_id) if ti["task_id"] == "start"), None)
            return start is not None and start["state"] in ("up_for_retry", "failed")
        airflow.wait_until(first_try_failed, 300, "StoreFlow's first try to fail")
    finally:
        topology.s3.start()
    errors = [detail for entry in airflow.task_log("StoreFlow", run_id, "start", try_number=1)
              for detail in entry.get("error_detail") or []]
    [error] = [e for e in errors if e["exc_type"] == "ArtifactError"]
    assert error["exc_value"].startswith(f"Could not write s3://{CONNECTION}@artifacts/flows/StoreFlow/{run_id}/")
    assert error["exc_value"].endswith(f"check that the store is up and that [flow_triggers] artifact_root and its "
                                       f"Airflow connection '{CONNECTION}' point at it.")
    assert airflow.wait_for_run("StoreFlow", run_id, timeout=400)["state"] == "success"


PODS = '''
# A stand-in for a Kubernetes cluster, as the provider's own tests do it: the operator's PodManager is
# replaced, so each pod's container runs here as a process with exactly the pod's environment (its env,
# and its envFrom secrets from SECRETS below) and the pod's phase comes from its exit status.
import logging, os, subprocess, sys, tempfile
from kubernetes.client import models as k8s
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

SECRETS = {"s3-artifacts": {"AIRFLOW_CONN_ARTIFACTS_S3": os.environ["AIRFLOW_CONN_ARTIFACTS_S3"]}}
log = logging.getLogger("local_pods")


class LocalPodManager:
    pods = {}

    def create_pod(self, pod):
        [container] = pod.spec.containers
        env = {"PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin", "HOME": tempfile.mkdtemp(),
               "AIRFLOW_HOME": tempfile.mkdtemp()}            # a fresh container: nothing of the worker's
        for source in container.env_from or []:
            env.update(SECRETS[source.secret_ref.name])
        env.update({variable.name: variable.value for variable in container.env or []})
        ended = subprocess.run([*container.command, *(container.args or [])], env=env, cwd=env["HOME"],
                               capture_output=True, text=True)
        pod.status = k8s.V1PodStatus(phase="Succeeded" if ended.returncode == 0 else "Failed")
        self.pods[pod.metadata.name] = (pod, ended.stdout + ended.stderr)
        return pod

    def fetch_requested_container_logs(self, pod, **kwargs):
        for line in self.pods[pod.metadata.name][1].splitlines():
            log.info("[base] %s", line)

    def await_container_completion(self, **kwargs):
        pass

    def await_pod_completion(self, pod, *args, **kwargs):
        return self.pods[pod.metadata.name][0]

    def read_pod(self, pod):
        return self.pods[pod.metadata.name][0]

    def delete_pod(self, pod):
        pass


class NoCluster:                               # the operator's hook, asked only whether it runs in a cluster
    is_in_cluster = False
    core_v1_client = None


KubernetesPodOperator.hook = property(lambda self: NoCluster())
KubernetesPodOperator.pod_manager = property(lambda self: LocalPodManager())
KubernetesPodOperator.find_pod = lambda self, namespace, context, **kwargs: getattr(self, "pod", None)
KubernetesPodOperator.await_pod_start = lambda self, pod: None
'''

POD_FLOWS = PODS + '''
from airflow_flow_triggers import FlowSpec, build_dag, current, kubernetes, resources, step, trigger_on_finish


class PodTrainFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.train)

    @kubernetes(image="local/flows:test", secrets=["s3-artifacts"], cpu=2, memory=2048)
    @step
    def train(self):
        print("trained in a pod on", os.environ.get("TOPOLOGY_WORKER", "no worker"))
        self.model = {"weights": sum(self.items)}
        self.next(self.score, foreach="items")

    @resources(memory=1024)
    @kubernetes(image="local/flows:test", secrets=["s3-artifacts"])
    @step
    def score(self):
        self.score = self.input * self.model["weights"]
        self.next(self.join)

    @step
    def join(self, inputs):
        self.scores = [i.score for i in inputs]
        self.merge_artifacts(inputs, exclude=["score"])
        self.next(self.end)

    @step
    def end(self):
        pass


@trigger_on_finish(flow="PodTrainFlow")
class PodServeFlow(FlowSpec):
    @step
    def start(self):
        self.served = (current.trigger.run.data.model, current.trigger.run.data.scores)
        self.next(self.end)

    @step
    def end(self):
        pass


train = build_dag(PodTrainFlow)
serve = build_dag(PodServeFlow)
'''


def test_kubernetes_steps_run_from_the_published_code(topology):
    airflow = topology.airflow
    airflow.drop("pod_flows.py", POD_FLOWS)
    airflow.wait_for_dag("PodTrainFlow")
    airflow.wait_for_dag("PodServeFlow")
    run_id = airflow.post_run("PodTrainFlow")
    assert airflow.wait_for_run("PodTrainFlow", run_id, timeout=600)["state"] == "success"
    tasks = airflow.task_instances("PodTrainFlow", run_id)
    assert {ti["operator"] for ti in tasks if ti["task_id"] in ("train", "score")} == {"FlowStepPodOperator"}
    assert len([ti for ti in tasks if ti["task_id"] == "score"]) == 3            # mapped pods, one per item
    logged = [e.get("event", "") for e in airflow.task_log("PodTrainFlow", run_id, "train")]
    assert any("[base] trained in a pod on no worker" in line for line in logged)   # the pod's own output
    run = Run(f"PodTrainFlow/{run_id}", store=s3_store())
    assert run.data.scores == [6, 12, 18] and run["train"].task.data.model == {"weights": 6}
    [code] = [o for o in topology.s3.objects("flows/_code") if o.endswith(".zip")]   # the code, by its hash
    with zipfile.ZipFile(io.BytesIO(topology.s3.filesystem().cat(code))) as packed:
        assert packed.namelist() == ["pod_flows.py"] and "class PodTrainFlow" in packed.read("pod_flows.py").decode()
    [serve] = airflow.wait_for_runs("PodServeFlow", 1)
    assert serve["state"] == "success"
    assert Run(f"PodServeFlow/{serve['dag_run_id']}", store=s3_store()).data.served == \
        ({"weights": 6}, [6, 12, 18])
