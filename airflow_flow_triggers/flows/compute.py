"""What a step needs and where it runs: @resources and @kubernetes, with Metaflow's arguments and defaults.

They record their settings on the step; local runs ignore them (as Metaflow's do). On Airflow, as in
Metaflow, @resources is a request, not a placement: the step stays a task like any other, its request
carried to the executor (orchestration/kubernetes.py), and only @kubernetes (written, or added to every
step by `--with kubernetes` or `[flow_triggers] steps_on_kubernetes`) runs it in a pod of its own, sized by
both. Every argument is checked here, where it is written: one error with the file and line.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from ..errors import FlowDefinitionError, caller_location, located
from .decorators import bare_or_called, record_decorator, require_step

QOS_CLASSES = ("guaranteed", "burstable", "besteffort")
GPU_VENDORS = ("nvidia", "amd")
TOLERATION_KEYS = ("key", "operator", "value", "effect", "toleration_seconds", "tolerationSeconds")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")            # a Kubernetes object name (DNS subdomain)
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


@dataclass(frozen=True)
class Resources:
    """@resources: what a step needs, wherever it runs (Metaflow's defaults)."""

    cpu: float = 1
    memory: int = 4096          # MB
    gpu: int | None = None
    disk: int | None = None     # MB
    shared_memory: int | None = None


@dataclass(frozen=True)
class Kubernetes:
    """@kubernetes: run the step in a pod of its own, with Metaflow's arguments and defaults."""

    cpu: float = 1
    memory: int = 4096          # MB
    disk: int = 10240           # MB, ephemeral storage
    image: str | None = None
    image_pull_policy: str | None = None
    image_pull_secrets: tuple = ()
    service_account: str | None = None
    secrets: tuple = ()
    node_selector: dict = field(default_factory=dict)
    namespace: str | None = None
    gpu: int | None = None
    gpu_vendor: str = "nvidia"
    tolerations: tuple = ()
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    use_tmpfs: bool = False
    tmpfs_size: int | None = None   # MB; default half the memory
    tmpfs_path: str = "/metaflow_temp"
    persistent_volume_claims: dict = field(default_factory=dict)
    shared_memory: int | None = None  # MB
    port: int | None = None
    security_context: dict = field(default_factory=dict)
    qos: str = "burstable"

    def with_resources(self, resources: Resources | None) -> Kubernetes:
        """Metaflow's rule: cpu, memory and disk are the larger of the two; gpu and shared memory from
        @resources when it gives them."""
        if resources is None:
            return self
        changes = {name: max(getattr(self, name), getattr(resources, name) or 0) for name in ("cpu", "memory")}
        changes["disk"] = max(self.disk, resources.disk or 0)
        if resources.gpu is not None:
            changes["gpu"] = resources.gpu
        if resources.shared_memory is not None:
            changes["shared_memory"] = resources.shared_memory
        return dataclasses.replace(self, **changes)


@bare_or_called
def resources(cpu=1, memory=4096, gpu=None, disk=None, shared_memory=None):
    """What the step needs: `cpu` cores, `memory` MB, `gpu` count, `disk` MB, `shared_memory` MB."""
    with located(caller_location()):
        spec = Resources(cpu=_quantity("@resources", "cpu", cpu, float),
                         memory=_quantity("@resources", "memory", memory, int),
                         gpu=_count("@resources", "gpu", gpu), disk=_optional("@resources", "disk", disk),
                         shared_memory=_optional("@resources", "shared_memory", shared_memory))

    def decorate(func):
        require_step(func, "@resources")
        record_decorator(func, "resources", dataclasses.asdict(spec))
        func.resources = spec
        return func

    return decorate


@bare_or_called
def kubernetes(cpu=1, memory=4096, disk=10240, image=None, image_pull_policy=None, image_pull_secrets=None,
               service_account=None, secrets=None, node_selector=None, namespace=None, gpu=None,
               gpu_vendor="nvidia", tolerations=None, labels=None, annotations=None, use_tmpfs=False,
               tmpfs_size=None, tmpfs_path="/metaflow_temp", persistent_volume_claims=None, shared_memory=None,
               port=None, security_context=None, qos="burstable"):
    """Run this step in a Kubernetes pod of its own when the flow runs on Airflow (not in local runs)."""
    name = "@kubernetes"
    with located(caller_location()):
        memory_mb = _quantity(name, "memory", memory, int)
        spec = Kubernetes(
            cpu=_quantity(name, "cpu", cpu, float), memory=memory_mb, disk=_quantity(name, "disk", disk, int),
            image=_text(name, "image", image), image_pull_policy=_choice(name, "image_pull_policy",
                                                                         image_pull_policy,
                                                                         ("Always", "IfNotPresent", "Never")),
            image_pull_secrets=_names(name, "image_pull_secrets", image_pull_secrets),
            service_account=_k8s_name(name, "service_account", service_account),
            secrets=_names(name, "secrets", secrets), node_selector=_node_selector(node_selector),
            namespace=_k8s_name(name, "namespace", namespace), gpu=_count(name, "gpu", gpu),
            gpu_vendor=_choice(name, "gpu_vendor", gpu_vendor.lower() if isinstance(gpu_vendor, str) else gpu_vendor,
                               GPU_VENDORS),
            tolerations=_tolerations(tolerations), labels=_string_map(name, "labels", labels, values=_LABEL_VALUE),
            annotations=_string_map(name, "annotations", annotations),
            use_tmpfs=_flag(name, "use_tmpfs", use_tmpfs),
            tmpfs_size=_optional(name, "tmpfs_size", tmpfs_size) or (memory_mb // 2 if use_tmpfs or tmpfs_size
                                                                     else None),
            tmpfs_path=_path(name, "tmpfs_path", tmpfs_path),
            persistent_volume_claims=_volume_claims(persistent_volume_claims),
            shared_memory=_optional(name, "shared_memory", shared_memory), port=_port(port),
            security_context=_security_context(security_context),
            qos=_choice(name, "qos", qos.lower() if isinstance(qos, str) else qos, QOS_CLASSES))

    def decorate(func):
        require_step(func, "@kubernetes")
        record_decorator(func, "kubernetes", dataclasses.asdict(spec))
        func.kubernetes = spec
        return func

    return decorate


def pod_settings(func) -> Kubernetes | None:
    """The pod a step with @kubernetes runs in on Airflow, @resources folded in; None for a task like any other."""
    spec = getattr(func, "kubernetes", None)
    return None if spec is None else spec.with_resources(getattr(func, "resources", None))


def resource_request(func) -> Resources | None:
    """The @resources of a step that runs as a task like any other (no @kubernetes): a request to its executor."""
    return None if getattr(func, "kubernetes", None) is not None else getattr(func, "resources", None)


# -- checks ----------------------------------------------------------------------------------------

def _quantity(decorator: str, name: str, value, kind: type):
    """A positive number of cores or megabytes, as a number or a numeric string ('4096')."""
    try:
        number = kind(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number <= 0 or (kind is int and float(value) != number):
        unit = "cores" if name == "cpu" else "MB, a whole number"
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) needs a positive number of {unit}, e.g. "
                                  f"{name}={'2' if name == 'cpu' else '8192'}.")
    return number


def _optional(decorator: str, name: str, value):
    return None if value is None else _quantity(decorator, name, value, int)


def _count(decorator: str, name: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) needs a whole number, 0 or more.")
    return int(value)


def _text(decorator: str, name: str, value):
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) needs a non-empty string.")
    return value


def _flag(decorator: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) must be True or False.")
    return value


def _choice(decorator: str, name: str, value, choices):
    if value is not None and value not in choices:
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) must be one of {', '.join(map(repr, choices))}.")
    return value


def _k8s_name(decorator: str, name: str, value):
    if value is not None and (not isinstance(value, str) or not _NAME.fullmatch(value) or len(value) > 253):
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) must be a Kubernetes name: lowercase letters, "
                                  "digits, '-' and '.'.")
    return value


def _names(decorator: str, name: str, value) -> tuple:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) takes a name or a list of names.")
    return tuple(_k8s_name(decorator, name, item) for item in items)


def _string_map(decorator: str, name: str, value, values=None) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) takes a dict of strings, e.g. {{'team': 'ml'}}.")
    if values is not None:
        bad = next((v for v in value.values() if len(v) > 63 or not values.fullmatch(v)), None)
        if bad is not None:
            raise FlowDefinitionError(f"{decorator}({name}=...) has the value {bad!r}, which is not a Kubernetes "
                                      "label value (63 characters: letters, digits, '-', '_', '.').")
    return dict(value)


def _node_selector(value) -> dict:
    if isinstance(value, str):
        pairs = [item.strip() for item in value.split(",") if item.strip()]
        if not all(item.count("=") == 1 and all(item.split("=")) for item in pairs):
            raise FlowDefinitionError(f"@kubernetes(node_selector={value!r}) takes 'key=value,key2=value2' or a dict.")
        value = dict(item.split("=") for item in pairs)
    return _string_map("@kubernetes", "node_selector", value)


def _tolerations(value) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, dict) for item in value):
        raise FlowDefinitionError(f"@kubernetes(tolerations={value!r}) takes a list of dicts, e.g. "
                                  "[{'key': 'gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}].")
    for item in value:
        unknown = sorted(set(item) - set(TOLERATION_KEYS))
        if unknown:
            raise FlowDefinitionError(f"@kubernetes(tolerations=...) has the unknown key {unknown[0]!r} in {item!r}: "
                                      "use key, operator, value, effect and toleration_seconds.")
        if item.get("operator", "Equal") not in ("Equal", "Exists"):
            raise FlowDefinitionError(f"@kubernetes(tolerations=...) has operator {item['operator']!r}: use "
                                      "'Equal' or 'Exists'.")
        if item.get("effect") not in (None, "NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise FlowDefinitionError(f"@kubernetes(tolerations=...) has effect {item['effect']!r}: use "
                                      "'NoSchedule', 'PreferNoSchedule' or 'NoExecute'.")
    return tuple(dict(item) for item in value)


def _path(decorator: str, name: str, value) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) needs an absolute path in the pod.")
    return value


def _volume_claims(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FlowDefinitionError(f"@kubernetes(persistent_volume_claims={value!r}) takes a dict "
                                  "{'claim-name': '/mount/path'}.")
    return {_k8s_name("@kubernetes", "persistent_volume_claims", claim): _path("@kubernetes",
                                                                            "persistent_volume_claims", path)
            for claim, path in value.items()}


def _port(value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536):
        raise FlowDefinitionError(f"@kubernetes(port={value!r}) needs a port number, 1 to 65535.")
    return value


_SECURITY_KEYS = {"privileged": bool, "allow_privilege_escalation": bool, "run_as_user": int, "run_as_group": int,
                  "run_as_non_root": bool, "read_only_root_filesystem": bool}


def _security_context(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FlowDefinitionError(f"@kubernetes(security_context={value!r}) takes a dict, e.g. "
                                  "{'run_as_user': 1000}.")
    for key, item in value.items():
        kind = _SECURITY_KEYS.get(key)
        if kind is None:
            raise FlowDefinitionError(f"@kubernetes(security_context=...) has the unknown key {key!r}: use "
                                      f"{', '.join(_SECURITY_KEYS)}.")
        if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
            raise FlowDefinitionError(f"@kubernetes(security_context=...) needs {key} as a {kind.__name__}, "
                                      f"not {item!r}.")
    return dict(value)
