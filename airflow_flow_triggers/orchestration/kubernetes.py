"""Steps on Kubernetes: a step with @kubernetes and/or @resources becomes a task that runs the step
in a pod of its own, through the cncf.kubernetes provider's KubernetesPodOperator.

The task's Airflow worker does what every step task does before and after the step (triggering events,
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
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import config
from ..deployments import packages
from ..deployments.loading import code_version
from ..errors import FlowDefinitionError
from ..flows.compute import Kubernetes
from ..naming import Deployment
from ..runtime import pod as pod_runtime
from ..runtime.store import ArtifactStore
from ..runtime.task import completed_task
from .tasks import record_start, retry_count, run_flow_class, step_callable, task_input, task_output

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
    requests = {"cpu": f"{spec.cpu:g}", "memory": f"{spec.memory}M", "ephemeral-storage": f"{spec.disk}M"}
    limits = dict(requests) if spec.qos == "guaranteed" else {}
    if spec.gpu:
        limits[f"{spec.gpu_vendor}.com/gpu"] = str(spec.gpu)
    mounts = [k8s.V1VolumeMount(name="tmpfs", mount_path=spec.tmpfs_path)] if spec.tmpfs_size else []
    if spec.shared_memory:
        mounts.append(k8s.V1VolumeMount(name="dshm", mount_path="/dev/shm"))
    mounts += [k8s.V1VolumeMount(name=claim, mount_path=path) for claim, path in spec.persistent_volume_claims.items()]
    return k8s.V1Container(
        name="base",
        resources=k8s.V1ResourceRequirements(requests=requests, limits=limits or None),
        env_from=[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=name)) for name in spec.secrets] or None,
        volume_mounts=mounts or None,
        ports=[k8s.V1ContainerPort(container_port=spec.port)] if spec.port else None,
        security_context=k8s.V1SecurityContext(**spec.security_context) if spec.security_context else None)


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


def check_pod_step(step: str, store_url: str) -> None:
    """A step in a pod reads and writes artifacts from another machine: the store must be object storage."""
    mode = config.get("kubernetes_mode")
    if mode not in MODES:
        raise FlowDefinitionError(f"[flow_triggers] kubernetes_mode = {mode!r} must be 'operator' or 'executor'.")
    if "://" not in store_url or store_url.startswith("file://"):
        raise FlowDefinitionError(f"Step '{step}' runs in a Kubernetes pod, which cannot see the artifact root "
                                  f"{store_url} of this machine: set [flow_triggers] artifact_root to object storage "
                                  "every pod and worker reaches, e.g. s3://<connection>@<bucket>/flows.")


def pod_step_task(flow_cls: type, deployment: Deployment, node, spec: Kubernetes, task_kwargs: dict, finish):
    """The task of a step that runs in a pod: the provider's operator (or executor_config) with `spec`."""
    from airflow.sdk import task
    check_pod_step(node.name, config.get("artifact_root"))
    timeout = task_kwargs.get("execution_timeout")
    seconds = int(timeout.total_seconds()) if timeout else None
    if config.get("kubernetes_mode") == "executor":
        return task(**task_kwargs, executor_config={"pod_override": pod_override(spec, node.name, seconds)})(
            step_callable(flow_cls, deployment, node.name, node.type, finish))
    from airflow.providers.common.compat.sdk import task_decorator_factory
    return task_decorator_factory(
        python_callable=_PodStep(flow_cls, deployment, node.name, node.type, finish).callable(),
        decorated_operator_class=_operator_class(), **task_kwargs, **pod_kwargs(spec, node.name, seconds))


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
                "tags": given.tags}

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
