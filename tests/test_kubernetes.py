"""@kubernetes and @resources: Metaflow's arguments, the pods they make (validated against Kubernetes'
schemas), the errors, and local runs ignoring them. No cluster needed: pods are built with
`build_pod_request_obj(dry_run=True)`."""
import json
import re

import kubernetes_validate
import pytest
from conftest import import_file, run_flow
from kubernetes.client import ApiClient

from airflow_flow_triggers import build_dag
from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.flows.compute import Kubernetes, Resources, kubernetes, resources

KUBERNETES_VERSION = "1.33"

TRAIN = '''
from airflow_flow_triggers import FlowSpec, kubernetes, resources, step, timeout


class TrainFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.train)

    @kubernetes(cpu=2, memory=8192, gpu=1, secrets=['db-creds'],
                tolerations=[{'key': 'nvidia.com/gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}])
    @timeout(minutes=30)
    @step
    def train(self):
        print("training")
        self.model = sum(self.items)
        self.next(self.score, foreach='items')

    @resources(memory=16000)
    @step
    def score(self):
        self.score = self.input * self.model
        self.next(self.join)

    @step
    def join(self, inputs):
        self.scores = [i.score for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print("scores", self.scores)


if __name__ == '__main__':
    TrainFlow()
'''


@pytest.fixture
def pod_settings(monkeypatch):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", "s3://aws_default@flows-bucket/flows")
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__KUBERNETES_IMAGE", "registry.example.com/flows:1.0")


def pod_of(task, inputs=None) -> dict:
    """The pod a task would start, as the Kubernetes API would receive it, checked against the schema."""
    if hasattr(task, "unmap"):                                    # a mapped task: one map index
        task = task.unmap({"op_kwargs": {"inputs": inputs}})
    pod = ApiClient().sanitize_for_serialization(task.build_pod_request_obj(dry_run=True))
    pod.setdefault("apiVersion", "v1")
    pod.setdefault("kind", "Pod")
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)
    return pod


def test_the_flow_deploys_with_pods_of_the_requested_size(write_flow, pod_settings):
    flow = import_file(write_flow(TRAIN, "train_flow.py"), "train_flow").TrainFlow
    dag = build_dag(flow)
    assert type(dag.get_task("start")).__name__ == "_PythonDecoratedOperator"     # no decorator: a plain task
    train = pod_of(dag.get_task("train"))
    [container] = train["spec"]["containers"]
    assert container["image"] == "registry.example.com/flows:1.0"
    assert container["command"] == ["python", "-c", "from airflow_flow_triggers.runtime.pod import main; "
                                                    "raise SystemExit(main())"]
    assert container["resources"] == {"requests": {"cpu": "2", "memory": "8192M", "ephemeral-storage": "10240M"},
                                      "limits": {"nvidia.com/gpu": "1"}}
    assert container["envFrom"] == [{"secretRef": {"name": "db-creds"}}]
    assert train["spec"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert train["spec"]["activeDeadlineSeconds"] == 30 * 60                 # @timeout
    assert train["metadata"]["namespace"] == "default"
    score = dag.get_task("score")          # @resources alone: a request to the executor, not a pod of its own
    assert score.operator_class.__name__ == "_PythonDecoratedOperator"          # mapped over the foreach
    override = ApiClient().sanitize_for_serialization(score.partial_kwargs["executor_config"]["pod_override"])
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", **override}, KUBERNETES_VERSION, strict=True)
    assert override["spec"]["containers"] == [{"name": "base", "resources": {"requests": {"cpu": "1",
                                                                                         "memory": "16000M"}}}]


@pytest.mark.parametrize("decorators, expected", [
    ({"kubernetes": {}, "resources": None},
     {"cpu": 1, "memory": 4096, "disk": 10240, "gpu": None, "shared_memory": None}),
    ({"kubernetes": {"cpu": 2, "memory": 8192}, "resources": {"cpu": 4, "memory": 1024, "disk": 20000}},
     {"cpu": 4, "memory": 8192, "disk": 20000, "gpu": None, "shared_memory": None}),
    ({"kubernetes": {"gpu": 1, "shared_memory": 64}, "resources": {"gpu": 2, "shared_memory": 128}},
     {"cpu": 1, "memory": 4096, "disk": 10240, "gpu": 2, "shared_memory": 128}),
    ({"kubernetes": {"cpu": "0.5", "memory": "2048", "disk": "512"}, "resources": None},
     {"cpu": 0.5, "memory": 2048, "disk": 512, "gpu": None, "shared_memory": None}),
])
def test_resources_combine_as_metaflow_does(decorators, expected):
    spec = Kubernetes(**{k: v for k, v in kubernetes(**decorators["kubernetes"])(_step()).kubernetes.__dict__.items()})
    needs = resources(**decorators["resources"])(_step()).resources if decorators["resources"] is not None else None
    combined = spec.with_resources(needs)
    assert {name: getattr(combined, name) for name in expected} == expected


def _step():
    def a_step(self):
        pass
    a_step.is_step = True
    return a_step


@pytest.mark.parametrize("arguments, container, spec", [
    ({"qos": "Guaranteed", "cpu": 2, "memory": 1000},
     {"resources": {"requests": {"cpu": "2", "memory": "1000M", "ephemeral-storage": "10240M"},
                    "limits": {"cpu": "2", "memory": "1000M", "ephemeral-storage": "10240M"}}}, {}),
    ({"gpu": 2, "gpu_vendor": "AMD"},
     {"resources": {"requests": {"cpu": "1", "memory": "4096M", "ephemeral-storage": "10240M"},
                    "limits": {"amd.com/gpu": "2"}}}, {}),
    ({"use_tmpfs": True, "memory": 2000},
     {"volumeMounts": [{"name": "tmpfs", "mountPath": "/metaflow_temp"}]},
     {"volumes": [{"name": "tmpfs", "emptyDir": {"medium": "Memory", "sizeLimit": "1000M"}}]}),
    ({"shared_memory": 512},
     {"volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}]},
     {"volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "512M"}}]}),
    ({"persistent_volume_claims": {"data-claim": "/data"}},
     {"volumeMounts": [{"name": "data-claim", "mountPath": "/data"}]},
     {"volumes": [{"name": "data-claim", "persistentVolumeClaim": {"claimName": "data-claim"}}]}),
    ({"secrets": "one-secret", "port": 8080, "security_context": {"run_as_user": 1000, "privileged": False}},
     {"envFrom": [{"secretRef": {"name": "one-secret"}}], "ports": [{"containerPort": 8080}],
      "securityContext": {"runAsUser": 1000, "privileged": False}}, {}),
    ({"node_selector": "pool=big,zone=a", "service_account": "runner", "image_pull_secrets": ["regcred"],
      "image_pull_policy": "Always", "namespace": "ml-jobs", "image": "my/image:2",
      "labels": {"team": "ml"}, "annotations": {"owner": "alice@example.com"}},
     {"image": "my/image:2", "imagePullPolicy": "Always"},
     {"nodeSelector": {"pool": "big", "zone": "a"}, "serviceAccountName": "runner",
      "imagePullSecrets": [{"name": "regcred"}]}),
])
def test_argument_mapping(write_flow, pod_settings, arguments, container, spec):
    source = TRAIN.replace("@kubernetes(cpu=2, memory=8192, gpu=1, secrets=['db-creds'],\n"
                           "                tolerations=[{'key': 'nvidia.com/gpu', 'operator': 'Exists', "
                           "'effect': 'NoSchedule'}])", f"@kubernetes(**{arguments!r})")
    flow = import_file(write_flow(source, "mapped_flow.py"), "mapped_flow").TrainFlow
    pod = pod_of(build_dag(flow).get_task("train"))
    [actual] = pod["spec"]["containers"]
    assert {key: actual.get(key) for key in container} == container
    assert {key: pod["spec"].get(key) for key in spec} == spec
    if "namespace" in arguments:
        assert pod["metadata"]["namespace"] == "ml-jobs"
        assert pod["metadata"]["labels"]["team"] == "ml"
        assert pod["metadata"]["annotations"]["owner"] == "alice@example.com"


def test_executor_mode_puts_the_spec_in_pod_override(write_flow, pod_settings, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__KUBERNETES_MODE", "executor")
    flow = import_file(write_flow(TRAIN, "executor_flow.py"), "executor_flow").TrainFlow
    task = build_dag(flow).get_task("train")
    assert type(task).__name__ == "_PythonDecoratedOperator"
    pod = ApiClient().sanitize_for_serialization(task.executor_config["pod_override"])
    pod.update(apiVersion="v1", kind="Pod")
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)
    [container] = pod["spec"]["containers"]
    assert container["name"] == "base" and container["image"] == "registry.example.com/flows:1.0"
    assert container["resources"]["requests"] == {"cpu": "2", "memory": "8192M", "ephemeral-storage": "10240M"}


@pytest.mark.parametrize("arguments, message", [
    ("cpu='lots'", "@kubernetes(cpu='lots') needs a positive number of cores, e.g. cpu=2."),
    ("memory=-1", "@kubernetes(memory=-1) needs a positive number of MB, a whole number, e.g. memory=8192."),
    ("memory=1.5", "@kubernetes(memory=1.5) needs a positive number of MB, a whole number"),
    ("gpu='two'", "@kubernetes(gpu='two') needs a whole number, 0 or more."),
    ("gpu_vendor='intel'", "@kubernetes(gpu_vendor='intel') must be one of 'nvidia', 'amd'."),
    ("qos='Premium'", "@kubernetes(qos='premium') must be one of 'guaranteed', 'burstable', 'besteffort'."),
    ("tolerations=[{'key': 'a', 'operater': 'Exists'}]", "has the unknown key 'operater'"),
    ("tolerations=[{'key': 'a', 'effect': 'Sometimes'}]", "has effect 'Sometimes'"),
    ("tolerations={'key': 'a'}", "@kubernetes(tolerations={'key': 'a'}) takes a list of dicts"),
    ("secrets=['Bad_Name']", "@kubernetes(secrets='Bad_Name') must be a Kubernetes name"),
    ("node_selector='pool'", "@kubernetes(node_selector='pool') takes 'key=value,key2=value2' or a dict."),
    ("persistent_volume_claims={'data': 'relative/path'}", "needs an absolute path in the pod"),
    ("port=70000", "@kubernetes(port=70000) needs a port number, 1 to 65535."),
    ("security_context={'run_as_user': 'root'}", "needs run_as_user as a int, not 'root'"),
    ("labels={'team': 'a b'}", "which is not a Kubernetes label value"),
    ("use_tmpfs='yes'", "@kubernetes(use_tmpfs='yes') must be True or False."),
    ("image_pull_policy='Sometimes'", "must be one of 'Always', 'IfNotPresent', 'Never'."),
])
def test_bad_arguments_are_one_error_with_file_and_line(write_flow, arguments, message):
    source = TRAIN.replace("@kubernetes(cpu=2, memory=8192, gpu=1, secrets=['db-creds'],\n"
                           "                tolerations=[{'key': 'nvidia.com/gpu', 'operator': 'Exists', "
                           "'effect': 'NoSchedule'}])", f"@kubernetes({arguments})")
    path = write_flow(source, "bad_k8s.py")
    with pytest.raises(FlowDefinitionError) as error:
        import_file(path, "bad_k8s")
    assert message in error.value.message
    line = source.splitlines().index(f"    @kubernetes({arguments})") + 1
    assert (error.value.file, error.value.line) == (str(path), line)


def test_resources_errors():
    with pytest.raises(FlowDefinitionError, match=r"@resources\(memory='a lot'\) needs a positive number of MB"):
        resources(memory="a lot")
    assert Resources() == Resources(cpu=1, memory=4096, gpu=None, disk=None, shared_memory=None)


def test_deploying_needs_an_image_and_object_storage(write_flow, monkeypatch, airflow_home):
    flow = import_file(write_flow(TRAIN, "deploy_checks.py"), "deploy_checks").TrainFlow
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", "s3://aws_default@flows-bucket/flows")
    with pytest.raises(FlowDefinitionError, match=r"Step 'train' runs on Kubernetes but names no image: pass "
                                                  r"@kubernetes\(image=...\) or set \[flow_triggers\] "
                                                  r"kubernetes_image"):
        build_dag(flow)
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__KUBERNETES_IMAGE", "registry.example.com/flows:1.0")
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", f"file://{airflow_home}/artifacts")
    with pytest.raises(FlowDefinitionError, match=r"Step 'train' runs in a Kubernetes pod, which cannot see the "
                                                  r"artifact root file://.* of this machine: set \[flow_triggers\] "
                                                  r"artifact_root to object storage"):
        build_dag(flow)


def test_local_runs_ignore_them(write_flow, airflow_home):
    result = run_flow(write_flow(TRAIN, "local_k8s.py"), "run", airflow_home=airflow_home)
    assert result.returncode == 0, result.stderr
    assert re.search(r"\] scores \[6, 12, 18\]", result.stdout)
    lines = [line.split("] ", 1)[1] for line in result.stdout.splitlines() if "] " in line]
    assert set(lines) <= {"Task is starting.", "Task finished successfully.", "training", "scores [6, 12, 18]",
                          "Foreach yields 3 child steps."}
    assert json.dumps(lines).count("training") == 1


POD_PACKAGE_FLOW = '''
from helpers.scaling import factor
from airflow_flow_triggers import FlowSpec, kubernetes, step


class PackagedPodFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @kubernetes(image='flows:1')
    @step
    def train(self):
        self.model = {'weights': factor()}
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_a_pod_imports_its_deployments_code_package(tmp_path, airflow_home, monkeypatch):
    """What the worker publishes for a pod is the whole code package; the pod checks it, unpacks it and imports
    the flow with the package's other modules beside it (here the pod's process is this one)."""
    import sys

    from airflow_flow_triggers.deployments.loading import load_flow
    from airflow_flow_triggers.orchestration.kubernetes import code_of
    from airflow_flow_triggers.runtime import pod
    from airflow_flow_triggers.runtime.store import ArtifactStore
    package = tmp_path / "package"
    (package / "helpers").mkdir(parents=True)
    (package / "pod_flow.py").write_text(POD_PACKAGE_FLOW)
    (package / "helpers" / "__init__.py").write_text("")
    (package / "helpers" / "scaling.py").write_text("def factor():\n    return 6\n")
    from airflow_flow_triggers.deployments.packages import digest, read_folder
    flow_cls = load_flow(package, digest(read_folder(package)), "pod_flow.py", "PackagedPodFlow")
    files, flow_file = code_of(flow_cls)
    assert (sorted(files), flow_file) == (["helpers/__init__.py", "helpers/scaling.py", "pod_flow.py"], "pod_flow.py")
    store = ArtifactStore(f"file://{tmp_path}/artifacts")
    sha256 = pod.publish_code(files, store)
    assert pod.publish_code(files, store) == sha256                    # the same code is the same archive
    for name in [n for n in sys.modules if n == "helpers" or n.startswith("helpers.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", list(sys.path))
    in_pod = pod.load_flow(store, sha256, flow_file, "pod_package_flow", "PackagedPodFlow")
    assert in_pod.__module__ == "pod_package_flow" and sys.modules["helpers.scaling"].factor() == 6
    pod.code_path(store, sha256).write_bytes(b"changed")
    with pytest.raises(Exception, match="does not have the SHA-256 .* its task was started with"):
        pod.load_flow(store, sha256, flow_file, "pod_package_flow", "PackagedPodFlow")
