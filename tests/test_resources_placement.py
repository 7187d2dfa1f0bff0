"""@resources is a request, not a placement (as in Metaflow): on Airflow a step with @resources alone is a task like
any other, its request carried to the executor (Airflow's task `resources`, the KubernetesExecutor's pod_override);
a step goes to a pod only with @kubernetes, `airflow create --with kubernetes` or `[flow_triggers]
steps_on_kubernetes`. Built DAGs are inspected (no Airflow running); pods are validated against Kubernetes' schemas."""
import importlib.util
import json

import kubernetes_validate
import pytest
from conftest import import_file, run_flow
from kubernetes.client import ApiClient

from airflow_flow_triggers import build_dag
from airflow_flow_triggers.errors import CommandLineError, FlowDefinitionError, SettingError
from airflow_flow_triggers.flows.decospecs import attach_decorators, parse_decospec
from airflow_flow_triggers.orchestration.tasks import FAILURE_TASK

KUBERNETES_VERSION = "1.33"
PLAIN = "_PythonDecoratedOperator"
POD = "FlowStepPodOperator"

SIZED = '''
from airflow_flow_triggers import FlowSpec, kubernetes, resources, retry, step


class SizedFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.big, foreach='items')

    @resources(memory=16000, cpu=4, gpu=1, disk=2048, shared_memory=256)
    @step
    def big(self):
        self.twice = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.twice for i in inputs)
        self.next(self.trained)

    @kubernetes(cpu=2, image='own/image:1')
    @resources(memory=8192)
    @step
    def trained(self):
        self.next(self.end)

    @resources
    @step
    def end(self):
        print('total', self.total)


if __name__ == '__main__':
    SizedFlow()
'''

REQUESTS_ONLY = SIZED.replace("    @kubernetes(cpu=2, image='own/image:1')\n", "")

SWITCHING = '''
from airflow_flow_triggers import FlowSpec, step


class SwitchingFlow(FlowSpec):
    @step
    def start(self):
        self.choice = 'a'
        self.next({'a': self.a, 'b': self.b}, condition='choice')

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


@pytest.fixture
def object_storage(monkeypatch, airflow_home):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", "s3://aws_default@flows-bucket/flows")
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__KUBERNETES_IMAGE", "registry.example.com/flows:1.0")


def flow(write_flow, source, name):
    module = import_file(write_flow(source, f"{name}.py"), name)
    return next(v for k, v in vars(module).items() if k.endswith("Flow") and isinstance(v, type))


def operator(task) -> str:
    return getattr(task, "operator_class", type(task)).__name__     # a mapped task names its operator class


def kwargs_of(task) -> dict:
    if hasattr(task, "partial_kwargs"):
        return task.partial_kwargs
    return {"executor_config": task.executor_config, "resources": task.resources}


def step_tasks(dag) -> list:
    """The DAG's step tasks: without the package's announcement of a failed run, which runs on a worker."""
    return [task for task in dag.tasks if task.task_id != FAILURE_TASK]


def validated(pod) -> dict:
    body = {"apiVersion": "v1", "kind": "Pod", **ApiClient().sanitize_for_serialization(pod)}
    kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
    return body


def test_resources_alone_is_a_task_like_any_other_with_its_request_for_the_executor(write_flow, airflow_home):
    """The issue's case: the default file:// artifact root, no Kubernetes: it deploys, and only @kubernetes is a pod."""
    dag = build_dag(flow(write_flow, REQUESTS_ONLY, "sized_plain"))
    assert {t.task_id: operator(t) for t in step_tasks(dag)} == \
        {s: PLAIN for s in ("start", "big", "join", "trained", "end")}
    big = kwargs_of(dag.get_task("big"))
    assert {name: getattr(big["resources"], name).qty for name in ("cpus", "ram", "disk", "gpus")} == \
        {"cpus": 4.0, "ram": 16000, "disk": 2048, "gpus": 1}                           # Airflow's own field
    override = validated(big["executor_config"]["pod_override"])
    assert override["spec"] == {
        "containers": [{"name": "base", "resources": {"requests": {"cpu": "4", "memory": "16000M",
                                                                   "ephemeral-storage": "2048M"},
                                                      "limits": {"nvidia.com/gpu": "1"}},
                        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}]}],
        "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "256M"}}]}
    end = dag.get_task("end")                                     # bare @resources: Metaflow's defaults
    assert validated(end.executor_config["pod_override"])["spec"]["containers"][0]["resources"] == \
        {"requests": {"cpu": "1", "memory": "4096M"}}
    assert end.resources.cpus.qty == 1 and end.resources.ram.qty == 4096
    start = dag.get_task("start")
    assert start.executor_config == {} and start.resources is None


def test_trained_with_kubernetes_still_needs_object_storage(write_flow, airflow_home):
    with pytest.raises(FlowDefinitionError, match=r"Step 'trained' runs in a Kubernetes pod, which cannot see the "
                                                  r"artifact root file://"):
        build_dag(flow(write_flow, SIZED, "sized_k8s_local"))


def test_the_request_survives_airflow_serialization(write_flow, airflow_home):
    """What the scheduler and the KubernetesExecutor read is the serialized DAG: the pod_override and resources
    come back from it."""
    from airflow.serialization.serialized_objects import DagSerialization
    dag = build_dag(flow(write_flow, REQUESTS_ONLY, "sized_serial"))
    loaded = DagSerialization.from_dict(json.loads(json.dumps(DagSerialization.to_dict(dag))))
    end = loaded.get_task("end")
    assert validated(end.executor_config["pod_override"])["spec"]["containers"][0]["resources"] == \
        {"requests": {"cpu": "1", "memory": "4096M"}}
    assert end.resources.ram.qty == 4096


def test_without_the_kubernetes_provider_only_airflows_resources_carry_the_request(write_flow, airflow_home,
                                                                                   monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "airflow.providers.cncf.kubernetes" else find_spec(name, *a))
    dag = build_dag(flow(write_flow, REQUESTS_ONLY, "sized_noprov"))
    end = dag.get_task("end")
    assert end.executor_config == {} and end.resources.cpus.qty == 1


def test_with_kubernetes_puts_every_step_in_a_pod_the_written_one_wins(write_flow, object_storage):
    dag = build_dag(flow(write_flow, SIZED, "sized_with"), decospecs=["kubernetes:memory=6000,namespace=ml"])
    assert {t.task_id: operator(t) for t in step_tasks(dag)} == \
        {s: POD for s in ("start", "big", "join", "trained", "end")}
    start = dag.get_task("start").build_pod_request_obj(dry_run=True)
    assert validated(start)["spec"]["containers"][0]["resources"] == \
        {"requests": {"cpu": "1", "memory": "6000M", "ephemeral-storage": "10240M"}}
    assert start.metadata.namespace == "ml"
    trained = validated(dag.get_task("trained").build_pod_request_obj(dry_run=True))    # its own @kubernetes
    assert trained["metadata"]["namespace"] == "default"
    assert trained["spec"]["containers"][0]["image"] == "own/image:1"
    assert trained["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "2"
    assert trained["spec"]["containers"][0]["resources"]["requests"]["memory"] == "8192M"   # max with @resources
    big = dag.get_task("big")
    assert big.partial_kwargs["container_resources"].requests == \
        {"cpu": "4", "memory": "16000M", "ephemeral-storage": "10240M"}     # Metaflow's rule: the larger of the two
    flow_cls = dag.get_task("start").python_callable.pod_step.flow_cls
    assert [d for d in flow_cls.start.step_decorators if d["name"] == "kubernetes"][0]["statically_defined"] is False
    assert flow_cls._decospecs == ("kubernetes:memory=6000,namespace=ml",)


def test_steps_on_kubernetes_is_with_kubernetes_for_every_flow_of_the_site(write_flow, object_storage, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__STEPS_ON_KUBERNETES", "True")
    dag = build_dag(flow(write_flow, SIZED, "sized_site"))
    assert {operator(t) for t in step_tasks(dag)} == {POD}
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__STEPS_ON_KUBERNETES", "sometimes")
    with pytest.raises(SettingError, match=r"^\[flow_triggers\] steps_on_kubernetes = 'sometimes' must be True or "
                                           r"False \(env AIRFLOW__FLOW_TRIGGERS__STEPS_ON_KUBERNETES; default False\)"):
        build_dag(flow(write_flow, SIZED, "sized_site_bad"))


def test_a_switch_in_a_pod_needs_the_executor_mode(write_flow, object_storage, monkeypatch):
    switching = flow(write_flow, SWITCHING, "switching_with")
    with pytest.raises(FlowDefinitionError, match=r"Switch step 'start' runs on Kubernetes \(--with kubernetes, or "
                                                  r"\[flow_triggers\] steps_on_kubernetes\), which Airflow cannot run "
                                                  r"as a branching task in a pod of its own: .* set \[flow_triggers\] "
                                                  r"kubernetes_mode = executor\."):
        build_dag(switching, decospecs=["kubernetes"])
    monkeypatch.setenv("AIRFLOW__FLOW_TRIGGERS__KUBERNETES_MODE", "executor")
    dag = build_dag(switching, decospecs=["kubernetes"])
    start, end = dag.get_task("start"), dag.get_task("end")
    assert type(start).__name__ == "_BranchPythonDecoratedOperator"
    assert end.trigger_rule == "none_failed_min_one_success"
    for task in (start, end):
        container = validated(task.executor_config["pod_override"])["spec"]["containers"][0]
        assert container["image"] == "registry.example.com/flows:1.0" and container["name"] == "base"


@pytest.mark.parametrize("text, name, attributes", [
    ("kubernetes", "kubernetes", {}),
    ("retry:times=2", "retry", {"times": 2}),
    ("kubernetes:cpu=0.5,memory=2048,image=repo/img:1", "kubernetes", {"cpu": 0.5, "memory": 2048,
                                                                       "image": "repo/img:1"}),
    ('kubernetes:node_selector={"pool": "big"},secrets=["a", "b"]', "kubernetes",
     {"node_selector": {"pool": "big"}, "secrets": ["a", "b"]}),
    ("environment:vars={\\\"A\\\": \\\"1\\\"}", "environment", {"vars": {"A": "1"}}),
])
def test_decospecs_parse_as_metaflows_do(text, name, attributes):
    spec = parse_decospec(text)
    assert (spec.name, spec.attributes) == (name, attributes)


@pytest.mark.parametrize("text, message", [
    ("kubernete", "--with kubernete: there is no step decorator @kubernete; use one of retry, timeout, catch, "
                  "card, environment, resources, kubernetes, secrets, a UserStepDecorator's name or its import path."),
    ("retry:times=two", "--with retry:times=two: @retry(times='two') needs a whole number of retries, 0 or more."),
    ("retry:twice", "--with retry:twice: 'twice' is not name=value; write e.g. --with retry:name=value,other=value."),
    ("retry:attempts=2", "--with retry:attempts=2: @retry takes times, minutes_between_retries."),
    ("batch", "--with batch: @batch is a Metaflow decorator that airflow_flow_triggers does not support"),
])
def test_bad_decospecs_are_one_sentence(text, message):
    with pytest.raises(CommandLineError) as error:
        parse_decospec(text)
    assert error.value.message.startswith(message) and error.value.file is None


def test_attaching_twice_changes_nothing(write_flow):
    flow_cls = flow(write_flow, SWITCHING, "switching_twice")
    attach_decorators(flow_cls, ["retry:times=4"])
    attach_decorators(flow_cls, ["retry:times=4"])
    assert [d["name"] for d in flow_cls.a.step_decorators] == ["retry"]
    assert flow_cls.a.step_settings.retries == 4


def test_airflow_create_with_kubernetes_is_kept_by_the_deployment(write_flow, airflow_home, monkeypatch):
    """`--with` is part of the deployment: its record keeps it, and its DAG file builds every step in a pod."""
    from airflow_flow_triggers.orchestration.deployed import deployed_dag
    path = write_flow(SIZED, "sized_deployed.py")
    dags = path.parent / "dags"
    env = {"AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT": "s3://aws_default@flows-bucket/flows",
           "AIRFLOW__FLOW_TRIGGERS__KUBERNETES_IMAGE": "registry.example.com/flows:1.0"}
    refused = run_flow(path, "airflow", "create", "--dags-folder", str(dags), "--with", "kubernetes:cpu=lots",
                       airflow_home=airflow_home, **env)
    assert refused.returncode == 1 and refused.stderr == \
        "error: --with kubernetes:cpu=lots: @kubernetes(cpu='lots') needs a positive number of cores, e.g. cpu=2.\n"
    created = run_flow(path, "--with", "retry:times=2", "airflow", "create", "--dags-folder", str(dags), "--with",
                       "kubernetes:memory=6000", airflow_home=airflow_home, **env)    # Metaflow's top-level --with too
    assert created.returncode == 0, created.stderr
    record = json.loads((dags / "_flows" / "SizedFlow.deploy.json").read_text())
    assert record["decospecs"] == ["kubernetes:memory=6000", "retry:times=2"]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dag = deployed_dag(str(dags / "_flows" / "SizedFlow.py"))
    assert {operator(t) for t in step_tasks(dag)} == {POD}
    assert dag.get_task("start").container_resources.requests["memory"] == "6000M"
    assert dag.get_task("start").retries == 2


def test_airflow_create_of_a_resources_flow_needs_no_object_storage(write_flow, airflow_home):
    path = write_flow(REQUESTS_ONLY, "sized_local.py")
    created = run_flow(path, "airflow", "create", "--dags-folder", str(path.parent / "dags"), airflow_home=airflow_home)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("Deployed SizedFlow to ")


USER_DECORATED = '''
from airflow_flow_triggers import FlowSpec, UserStepDecorator, step


class stamped(UserStepDecorator):
    def init(self, label="plain"):
        self.label = label

    def pre_step(self, step_name, flow, inputs=None):
        print("stamped", self.label)


class StampedFlow(FlowSpec):
    @stamped(label="own")
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_with_takes_user_decorators_by_name_and_by_import_path(write_flow):
    """As Metaflow's --with: a UserStepDecorator by its name or its path; a step's own one wins."""
    module = import_file(write_flow(USER_DECORATED, "stamped_flow.py"), "stamped_flow")
    for text in ("stamped:label=added", "stamped_flow.stamped:label=added"):
        spec = parse_decospec(text)
        assert (spec.user_class, spec.attributes) == (module.stamped, {"label": "added"})
    attach_decorators(module.StampedFlow, ["stamped_flow.stamped:label=added"])
    [own] = module.StampedFlow.start.wrappers
    [added] = module.StampedFlow.end.wrappers
    assert (own.statically_defined, added.statically_defined) == (True, False)
    with pytest.raises(CommandLineError, match=r"^--with nowhere\.stamped: cannot import nowhere "):
        parse_decospec("nowhere.stamped")
