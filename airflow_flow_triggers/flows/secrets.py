"""@secrets: Metaflow's decorator, its sources read from Airflow's connections and variables (or given inline).

The sources are checked here, where they are written; their values are read only when the step runs
(runtime/secrets.py), into the step's environment, and never reach its artifacts or its logs. A string
source is Metaflow's `"<type>.<id>"` (a bare id has the default type); a dict is Metaflow's
`{"type", "id", "options", "role"}`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..errors import FlowDefinitionError, caller_location, located
from .decorators import bare_or_called, record_decorator, require_step

INLINE, CONNECTION, VARIABLE = "inline", "airflow-connection", "airflow-variable"
SOURCE_TYPES = (CONNECTION, VARIABLE, INLINE)
DEFAULT_TYPE_ENV = "METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE"   # Metaflow's setting, read as Metaflow reads it
OPTIONS = {INLINE: {"env_vars": dict}, CONNECTION: {"env_var_prefix": str},
           VARIABLE: {"env_var_name": str, "json": bool}}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_METAFLOW_TYPES = ("aws-secrets-manager", "gcp-secret-manager", "az-key-vault")


@dataclass(frozen=True)
class SecretSource:
    """One source of @secrets: where its values come from."""

    type: str
    id: str
    options: dict = field(default_factory=dict)
    role: str | None = None

    def __str__(self) -> str:            # as Metaflow names a source in its messages
        return f"{self.id} ({self.type})"


@dataclass(frozen=True)
class Secrets:
    sources: tuple[SecretSource, ...] = ()
    allow_override: bool = False        # whether a secret may replace a variable already in the environment


@bare_or_called
def secrets(sources=(), role=None, allow_override=False):
    """Put the secrets of `sources` into the step's environment while it runs: Airflow connections
    ('airflow-connection.<conn_id>'), Airflow variables ('airflow-variable.<key>') or inline values."""
    with located(caller_location()):
        if not isinstance(sources, (list, tuple)):
            raise FlowDefinitionError(f"@secrets(sources={sources!r}) takes a list of sources, e.g. "
                                      "sources=['airflow-connection.warehouse'].")
        if role is not None and not isinstance(role, str):
            raise FlowDefinitionError(f"@secrets(role={role!r}) must be a string or None.")
        if not isinstance(allow_override, bool):
            raise FlowDefinitionError(f"@secrets(allow_override={allow_override!r}) must be True or False.")
        spec = Secrets(tuple(secret_source(source, role) for source in sources), allow_override)

    def decorate(func):
        require_step(func, "@secrets")
        record_decorator(func, "secrets", {"sources": list(sources), "role": role, "allow_override": allow_override})
        func.secrets = spec
        return func

    return decorate


def step_secrets(func) -> Secrets | None:
    return getattr(func, "secrets", None)


def secret_source(source, role: str | None = None) -> SecretSource:
    """A source as written (Metaflow's string or dict), checked."""
    if isinstance(source, str):
        kind, _, secret_id = source.partition(".") if "." in source else (default_type(source), "", source)
        return _checked(SecretSource(kind, secret_id, {}, role), repr(source), from_string=True)
    if not isinstance(source, dict):
        raise FlowDefinitionError(f"@secrets source {source!r} must be a string ('<type>.<id>') or a dict "
                                  "({'type': ..., 'id': ..., 'options': {...}}).")
    unknown = sorted(set(source) - {"type", "id", "options", "role"})
    if unknown:
        raise FlowDefinitionError(f"@secrets source {source!r} has the unknown key {unknown[0]!r}: use type, id, "
                                  "options and role.")
    for key, kinds in (("type", str), ("id", str), ("options", dict), ("role", (str, type(None)))):
        if key in source and not isinstance(source[key], kinds):
            what = {"options": "a dict", "role": "a string or None"}.get(key, "a string")
            raise FlowDefinitionError(f"@secrets source {source!r} needs '{key}' as {what}.")
    if "id" not in source:
        raise FlowDefinitionError(f"@secrets source {source!r} has no 'id': name the secret, e.g. 'id': 'warehouse'.")
    kind = source["type"] if "type" in source else default_type(source["id"])
    return _checked(SecretSource(kind, source["id"], dict(source.get("options", {})), source.get("role", role)),
                    repr(source))


def default_type(secret_id: str) -> str:
    """The type of a source that names none: Metaflow's METAFLOW_DEFAULT_SECRETS_BACKEND_TYPE, else an Airflow
    connection (on Airflow, secrets are connections)."""
    return os.environ.get(DEFAULT_TYPE_ENV) or CONNECTION


def _checked(source: SecretSource, written: str, from_string: bool = False) -> SecretSource:
    if source.type not in SOURCE_TYPES:
        raise FlowDefinitionError(_unknown_type(source, written, from_string))
    if not source.id:
        raise FlowDefinitionError(f"@secrets source {written} names no secret: write '{source.type}.<id>'.")
    allowed = OPTIONS[source.type]
    for name, value in source.options.items():
        if name not in allowed:
            raise FlowDefinitionError(f"@secrets source {written} has the option {name!r}, which a {source.type} "
                                      f"source does not take: use {', '.join(allowed)}.")
        if not isinstance(value, allowed[name]):
            raise FlowDefinitionError(f"@secrets source {written} needs option {name!r} as a "
                                      f"{allowed[name].__name__}, not {value!r}.")
    if source.type == INLINE:
        check_env_vars(source.options.get("env_vars", {}), source, FlowDefinitionError)
    for name in ("env_var_prefix", "env_var_name"):
        value = source.options.get(name)
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise FlowDefinitionError(f"@secrets source {written} has {name}={value!r}, which is no environment "
                                      "variable name (letters, digits and '_', not first a digit).")
    return source


def _unknown_type(source: SecretSource, written: str, from_string: bool) -> str:
    known = ", ".join(SOURCE_TYPES)
    if source.type in _METAFLOW_TYPES:
        return (f"@secrets source {written} is of type '{source.type}', which this package does not read itself: "
                "configure Airflow's secrets backend to read it ([secrets] backend, e.g. the amazon provider's "
                "SecretsManagerBackend) and name the secret as an airflow-connection or airflow-variable source.")
    dotted = f" (an id with '.' goes in a dict: {{'type': '{CONNECTION}', 'id': '{source.type}.{source.id}'}})" \
        if from_string else ""
    return f"@secrets source {written} has the unknown type '{source.type}': use one of {known}{dotted}."


def check_env_vars(variables: dict, source: SecretSource, error: type) -> None:
    """Metaflow's rules for what a source puts into the environment: names of letters, digits and '_' (not
    METAFLOW_...), string values; else an `error`, which never shows a value."""
    if not isinstance(variables, dict):
        raise error(f"@secrets source {source} gives {type(variables).__name__}, not a dict of "
                                  "environment variables.")
    for name, value in variables.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise error(f"@secrets source {source} gives the variable {name!r}, which is no environment "
                                      "variable name (letters, digits and '_', not first a digit).")
        if name.startswith("METAFLOW_"):
            raise error(f"@secrets source {source} gives the variable {name}, and names starting with "
                                      "METAFLOW_ are Metaflow's own: rename it.")
        if not isinstance(value, str):
            raise error(f"@secrets source {source} gives {name} as a {type(value).__name__}: a "
                                      "secret's value must be a string.")
