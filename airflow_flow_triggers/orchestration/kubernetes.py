"""Steps on Kubernetes. A step with @kubernetes (written, or on every step by `--with kubernetes` or
`[flow_triggers] steps_on_kubernetes`) becomes a task that runs the step in a pod of its own, through the
cncf.kubernetes provider's KubernetesPodOperator; @resources alone leaves the step a task like any other
and only asks the executor for what it needs (`executor_settings`).

The pod task's Airflow worker does what every step task does before and after the step (triggering events,
parameters, XCom refs, the finish event: tasks.py), publishes the flow's code (its deployment's
code package) to the artifact store (runtime/pod.py), and in between starts the pod, whose command
(POD_COMMAND) calls runtime/pod.py's `main()`: the same step runtime, against the same artifact
store. With `[flow_triggers] kubernetes_mode = executor` (sites on the KubernetesExecutor) the step
stays a plain task whose pod gets the same spec through `executor_config={"pod_override": ...}`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import config
from ..deployments import packages
from ..deployments.loading import code_version
from ..errors import FlowDefinitionError
from ..flows.compute import Kubernetes, Resources
from ..naming import Deployment
from ..runtime import pod as pod_runtime
from ..runtime.store import ArtifactStore
from ..runtime.task import completed_task
from .tasks import record_start, retry_count, run_flow_class, task_input, task_output

MODES = ("operator", "executor")
POD_COMMAND = ["python", "-c", f"from {pod_runtime.__name__} import main; raise SystemExit(main())"]


def pod_kwargs(spec: Kubernetes, step: str, timeout_seconds: int | None) -> dict:
    """KubernetesPodOperator arguments for `spec`: Metaflow's mapping of @kubernetes / @resources."""
    from kubernetes.client import models as k8s
    container = pod_container(spec)
    volumes = [k8s.V1Volume(name="tmpfs", empty_dir=k8s.V1EmptyDirVolumeSource(
                   medium="Memory", size_limit=f"{spec.tmpfs_size}M"))] if spec.tmpfs_size else []
    if spec.shared_memory:
        volumes.append(k8s.V1Volume(name="dshm", empty_dir=k8s.V1EmptyDirVolumeSource(
            medium="Memory", size_limit=f"{spec.shared_memory}M")))
    volumes += [k8s.V1Volume(name=claim, persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
                    claim_name=claim)) for claim in spec.persistent_volume_claims]
    return {
        "image": pod_image(spec, step),
        "namespace": spec.namespace or config.get("kubernetes_namespace"),
        "name": f"flow-step-{step.replace('_', '-')}"[:50],
        "container_resources": container.resources,
        "env_from": container.env_from,
        "volumes": volumes,
        "volume_mounts": container.volume_mounts,
        "ports": container.ports,
        "container_security_context": container.security_context,
        "node_selector": dict(spec.node_selector) or None,
        "tolerations": _tolerations(spec),
        "labels": dict(spec.labels),
        "annotations": dict(spec.annotations),
        "service_account_name": spec.service_account,
        "image_pull_policy": spec.image_pull_policy,
        "image_pull_secrets": [k8s.V1LocalObjectReference(name=name) for name in spec.image_pull_secrets] or None,
        "active_deadline_seconds": timeout_seconds,
    }


def pod_container(spec: Kubernetes):
    """The step's container: requests (limits too for qos='guaranteed'), GPUs, secrets, mounts, port."""
    from kubernetes.client import models as k8s
    mounts = [k8s.V1VolumeMount(name="tmpfs", mount_path=spec.tmpfs_path)] if spec.tmpfs_size else []
    if spec.shared_memory:
        mounts.append(k8s.V1VolumeMount(name="dshm", mount_path="/dev/shm"))
    mounts += [k8s.V1VolumeMount(name=claim, mount_path=path) for claim, path in spec.persistent_volume_claims.items()]
    return k8s.V1Container(
        name="base",
        resources=_requirements(spec.cpu, spec.memory, spec.disk, spec.gpu, spec.gpu_vendor, spec.qos == "guaranteed"),
        env_from=[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=name)) for name in spec.secrets] or None,
        volume_mounts=mounts or None,
        ports=[k8s.V1ContainerPort(container_port=spec.port)] if spec.port else None,
        security_context=k8s.V1SecurityContext(**spec.security_context) if spec.security_context else None)


def _requirements(cpu: float, memory: int, disk: int | None, gpu: int | None, vendor: str, guaranteed: bool):
    """A container's requests (cpu cores, memory and ephemeral storage in MB), limits equal to them when
    `guaranteed`, and a limit of `gpu` GPUs of `vendor`."""
    from kubernetes.client import models as k8s
    requests = {"cpu": f"{cpu:g}", "memory": f"{memory}M"}
    if disk:
        requests["ephemeral-storage"] = f"{disk}M"
    limits = dict(requests) if guaranteed else {}
    if gpu:
        limits[f"{vendor}.com/gpu"] = str(gpu)
    return k8s.V1ResourceRequirements(requests=requests, limits=limits or None)


def _tolerations(spec: Kubernetes):
    from kubernetes.client import models as k8s
    return [k8s.V1Toleration(**{"toleration_seconds" if k == "tolerationSeconds" else k: v for k, v in item.items()})
            for item in spec.tolerations] or None


def pod_image(spec: Kubernetes, step: str) -> str:
    image = spec.image or config.get("kubernetes_image")
    if not image:
        raise FlowDefinitionError(f"Step '{step}' runs on Kubernetes but names no image: pass "
                                  "@kubernetes(image=...) or set [flow_triggers] kubernetes_image (env "
                                  "AIRFLOW__FLOW_TRIGGERS__KUBERNETES_IMAGE) to an image with airflow_flow_triggers "
                                  "installed, e.g. docker/Dockerfile's.")
    return image


def pod_mode() -> str:
    """How a step with @kubernetes runs: 'operator' (a pod started by its task) or 'executor' (its task's pod)."""
    mode = config.get("kubernetes_mode")
    if mode not in MODES:
        raise FlowDefinitionError(f"[flow_triggers] kubernetes_mode = {mode!r} must be 'operator' or 'executor'.")
    return mode


def check_pod_step(step: str, store_url: str) -> None:
    """A step in a pod reads and writes artifacts from another machine: the store must be object storage."""
    if "://" not in store_url or store_url.startswith("file://"):
        raise FlowDefinitionError(f"Step '{step}' runs in a Kubernetes pod, which cannot see the artifact root "
                                  f"{store_url} of this machine: set [flow_triggers] artifact_root to object storage "
                                  "every pod and worker reaches, e.g. s3://<connection>@<bucket>/flows.")


def pod_step_task(flow_cls: type, deployment: Deployment, node, spec: Kubernetes, task_kwargs: dict, finish):
    """The task of a step that runs in a pod started by it (kubernetes_mode operator): the provider's operator."""
    from airflow.providers.common.compat.sdk import task_decorator_factory
    check_pod_step(node.name, config.get("artifact_root"))
    return task_decorator_factory(
        python_callable=_PodStep(flow_cls, deployment, node.name, node.type, finish).callable(),
        decorated_operator_class=_operator_class(), **task_kwargs,
        **pod_kwargs(spec, node.name, _seconds(task_kwargs.get("execution_timeout"))))


def executor_settings(step: str, spec: Kubernetes | None, needs: Resources | None, timeout) -> dict:
    """The arguments that size the task of a step that runs in the worker its executor gives it:

    - @kubernetes in kubernetes_mode executor: the pod of the step, as `executor_config={"pod_override": ...}`;
    - @resources alone: Airflow's own `resources` of the task (cpus, ram, disk, gpus: shown with the task,
      used by no executor of Airflow's), and for the KubernetesExecutor a pod_override of its container's
      requests, which any other executor ignores (only where the cncf.kubernetes provider is installed).
    """
    if spec is not None:
        check_pod_step(step, config.get("artifact_root"))
        return {"executor_config": {"pod_override": pod_override(spec, step, _seconds(timeout))}}
    if needs is None:
        return {}
    settings = {"resources": {name: value for name, value in (("cpus", needs.cpu), ("ram", needs.memory),
                                                              ("disk", needs.disk), ("gpus", needs.gpu))
                              if value is not None}}
    if importlib.util.find_spec("airflow.providers.cncf.kubernetes") is not None:
        settings["executor_config"] = {"pod_override": request_override(needs)}
    return settings


def _seconds(timeout) -> int | None:
    return int(timeout.total_seconds()) if timeout else None


def pod_override(spec: Kubernetes, step: str, timeout_seconds: int | None):
    """The KubernetesExecutor's pod for the step's task, with the same spec as the operator's pod."""
    from kubernetes.client import models as k8s
    kwargs = pod_kwargs(spec, step, timeout_seconds)
    container = pod_container(spec)
    container.image = kwargs["image"]
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(labels=kwargs["labels"] or None, annotations=kwargs["annotations"] or None),
        spec=k8s.V1PodSpec(containers=[container], volumes=kwargs["volumes"] or None,
                           node_selector=kwargs["node_selector"], tolerations=kwargs["tolerations"],
                           service_account_name=kwargs["service_account_name"],
                           image_pull_secrets=kwargs["image_pull_secrets"],
                           active_deadline_seconds=timeout_seconds))


def request_override(needs: Resources):
    """The KubernetesExecutor's pod for a step's @resources: only its container's requests (GPUs as a limit) and
    shared memory; the executor merges it into the pod it starts for the task (its container is 'base')."""
    from kubernetes.client import models as k8s
    shm = needs.shared_memory
    container = k8s.V1Container(
        name="base", resources=_requirements(needs.cpu, needs.memory, needs.disk, needs.gpu, "nvidia", False),
        volume_mounts=[k8s.V1VolumeMount(name="dshm", mount_path="/dev/shm")] if shm else None)
    volumes = [k8s.V1Volume(name="dshm", empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory", size_limit=f"{shm}M"))]
    return k8s.V1Pod(spec=k8s.V1PodSpec(containers=[container], volumes=volumes if shm else None))


class _PodStep:
    """What the worker does around the pod: the step's inputs in, its ref and finish event out."""

    def __init__(self, flow_cls, deployment: Deployment, step: str, step_type: str, finish):
        self.flow_cls, self.deployment, self.step, self.step_type, self.finish = \
            flow_cls, deployment, step, step_type, finish

    def callable(self):
        """The task's python_callable, for the decorator machinery: the pod runs the step, not it."""
        def run_in_pod(inputs=None, **context):
            raise RuntimeError(f"step '{self.step}' runs in a pod, not in the worker")
        run_in_pod.__name__ = self.step
        run_in_pod.pod_step = self
        return run_in_pod

    def task(self, inputs, context, store: ArtifactStore) -> dict:
        """The pod's task: references only (code hash, inputs' refs, parameters, events)."""
        given = task_input(self.flow_cls, self.deployment, self.step, inputs, context, store)
        flow_cls = run_flow_class(self.flow_cls, self.deployment, self.step, context, store)
        record_start(self.step, given, context, code_version(flow_cls))
        files, flow_file = code_of(flow_cls)
        return {"artifact_root": store.url, "code_sha256": pod_runtime.publish_code(files, store),
                "flow_file": flow_file, "module": flow_cls.__module__, "flow": flow_cls.__name__,
                "deployment": dataclasses.asdict(self.deployment), "run_id": context["run_id"], "step": self.step,
                "inputs": [ref.to_dict() for ref in given.refs], "split_index": given.split_index,
                "parameters": given.parameters, "events": given.events, "retry_count": retry_count(context),
                "tags": given.tags, "decospecs": list(getattr(self.flow_cls, "_decospecs", ()))}

    def output(self, task: dict, context, store: ArtifactStore):
        from ..runtime.task import TaskRef
        ref = completed_task(self.flow_cls, self.deployment, task["run_id"], self.step,
                             [TaskRef.from_dict(r) for r in task["inputs"]], task["split_index"], store)
        return task_output(self.deployment, self.step_type, ref, context, self.finish, store)


def code_of(flow_cls) -> tuple[dict[str, bytes], str]:
    """The flow's code for its pods: its deployment's code package, or the one DAG file it is defined in."""
    package = getattr(flow_cls, "_code_package", None)
    if package is not None:
        folder, flow_file = package
        return packages.read_folder(folder), flow_file
    path = Path(sys.modules[flow_cls.__module__].__file__)
    return {path.name: path.read_bytes()}, path.name


@functools.cache
def _operator_class():
    """The provider's KubernetesPodOperator as a decorated operator (so `.expand()` maps it for foreach)."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.providers.common.compat.sdk import DecoratedOperator
    from kubernetes.client import models as k8s

    class FlowStepPodOperator(DecoratedOperator, KubernetesPodOperator):
        custom_operator_name = "@flow_step.kubernetes"
        template_fields: Sequence[str] = tuple(
            {"op_args", "op_kwargs", *KubernetesPodOperator.template_fields} - {"cmds", "arguments", "env_vars"})
        shallow_copy_attrs: Sequence[str] = ("python_callable",)

        def __init__(self, **kwargs):
            super().__init__(cmds=POD_COMMAND, random_name_suffix=True, do_xcom_push=True, **kwargs)

        def execute(self, context):
            store = ArtifactStore()
            step: _PodStep = self.python_callable.pod_step
            task = step.task(self.op_kwargs.get("inputs"), context, store)
            self.env_vars = [*self.env_vars, k8s.V1EnvVar(name=pod_runtime.TASK_ENV, value=json.dumps(task)),
                             k8s.V1EnvVar(name="AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", value=store.url)]
            with self._no_xcom_sidecar():
                KubernetesPodOperator.execute(self, context)
            return step.output(task, context, store)

        def build_pod_request_obj(self, context=None, *, dry_run: bool = False):
            with self._no_xcom_sidecar():
                return super().build_pod_request_obj(context, dry_run=dry_run)

        @contextlib.contextmanager
        def _no_xcom_sidecar(self):
            """The task's XCom (refs) comes from the store: the provider must not add its XCom sidecar to
            the pod, while Airflow still pushes what execute() returns."""
            pushing, self.do_xcom_push = self.do_xcom_push, False
            try:
                yield
            finally:
                self.do_xcom_push = pushing

    return FlowStepPodOperator
