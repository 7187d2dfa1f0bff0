"""@secrets when its step runs: every source read, checked by Metaflow's rules, as the variables to put into the
step's environment (runtime/task.py sets them for the step only), and hidden from its logs while it runs.

Airflow's connections and variables are read through Airflow's own API (`airflow.sdk.Connection.get`,
`Variable.get`): in an Airflow task through the worker's secrets backends and the API server (its
database); elsewhere (a local run, a pod) from `AIRFLOW_CONN_*` / `AIRFLOW_VAR_*` variables and the
configured `[secrets] backend`. Airflow is imported only for such a source.
"""
from __future__ import annotations

import contextlib
import json

from ..errors import SecretError
from ..flows.secrets import CONNECTION, INLINE, Secrets, SecretSource, check_env_vars

CONNECTION_FIELDS = ("conn_type", "host", "port", "login", "password", "schema", "extra")
SHORTEST_HIDDEN = 5          # Airflow's masker leaves shorter values alone (they would hide too much)
_hidden: list[str] = []      # the running step's secrets, longest first, for `redact`


@contextlib.contextmanager
def step_secret_values(spec: Secrets | None, environ, on_airflow: bool = False):
    """The variables `spec`'s sources give (a dict), after Metaflow's checks: no two sources give one variable,
    and none is in `environ` already unless allow_override. While the step runs they are hidden (`***`) from
    what `redact` gets, and in an Airflow task from its log as Airflow masks secrets: a connection's password
    (Airflow masks it, and its sensitive extras, as it reads them), every value of a variable or inline source."""
    values, hidden = _secret_values(spec, environ)
    if on_airflow and hidden:
        from airflow.sdk.log import mask_secret
        for value in hidden:
            mask_secret(value)
    before = list(_hidden)
    _hidden[:] = sorted({*_hidden, *(v for v in hidden if len(v) >= SHORTEST_HIDDEN)}, key=len, reverse=True)
    try:
        yield values
    finally:
        _hidden[:] = before


def redact(text: str) -> str:
    """`text` with the running step's secrets as `***` (what a task's stored log keeps of what it printed)."""
    for value in _hidden:
        text = text.replace(value, "***")
    return text


def _secret_values(spec: Secrets | None, environ) -> tuple[dict[str, str], list[str]]:
    if spec is None or not spec.sources:
        return {}, []
    given: dict[str, SecretSource] = {}
    values: dict[str, str] = {}
    hidden: list[str] = []
    for source in spec.sources:
        variables = _read(source)
        check_env_vars(variables, source, SecretError)
        for name in variables:
            if name in given:
                raise SecretError(f"@secrets source {source} gives the variable {name}, which source {given[name]} "
                                  "gives too: rename one (options env_var_name / env_var_prefix).")
            if name in environ and not spec.allow_override:
                raise SecretError(f"@secrets source {source} gives the variable {name}, which the step's environment "
                                  "has already: rename it, or pass @secrets(allow_override=True).")
            given[name] = source
        values.update(variables)
        hidden += [v for name, v in variables.items() if source.type != CONNECTION or name.endswith("_PASSWORD")]
    return values, hidden


def _read(source: SecretSource) -> dict[str, str]:
    if source.type == INLINE:
        return dict(source.options.get("env_vars", {}))
    try:
        return _connection(source) if source.type == CONNECTION else _variable(source)
    except SecretError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a secrets backend raises is one sentence naming the source
        if _not_found(error):
            what = "connection" if source.type == CONNECTION else "variable"
            raise SecretError(f"@secrets source {source}: Airflow has no {what} '{source.id}' ({_where(source)}): "
                              "add it, or fix the source's id.") from None
        raise SecretError(f"@secrets source {source} could not be read from Airflow ({type(error).__name__}: "
                          f"{error}).") from None


def _connection(source: SecretSource) -> dict[str, str]:
    """A connection as variables: `<PREFIX>_URI` (the form of Airflow's AIRFLOW_CONN_ variables) and one per
    field that is set (`<PREFIX>_HOST`, `_PORT`, `_LOGIN`, `_PASSWORD`, `_SCHEMA`, `_EXTRA`, `_CONN_TYPE`);
    the prefix is the connection id in capitals, or the option env_var_prefix."""
    from airflow.sdk import Connection
    connection = Connection.get(source.id)
    prefix = source.options.get("env_var_prefix") or env_name(source.id).upper()
    variables = {f"{prefix}_URI": connection.get_uri()}
    for name in CONNECTION_FIELDS:
        value = getattr(connection, name, None)
        if value not in (None, ""):
            variables[f"{prefix}_{name.upper()}"] = str(value)
    return variables


def _variable(source: SecretSource) -> dict[str, str]:
    """A variable as one variable named after its key (or the option env_var_name); with the option json=True,
    its JSON object as one variable per key, as Metaflow reads a JSON secret."""
    from airflow.sdk import Variable
    value = Variable.get(source.id)
    if not source.options.get("json", False):
        return {source.options.get("env_var_name") or env_name(source.id): str(value)}
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        raise SecretError(f"@secrets source {source} has the option json=True, but the variable does not hold a "
                          "JSON object: store one ({\"NAME\": \"value\"}) or leave the option out.")
    variables: dict[str, str] = {}
    for key, item in parsed.items():
        name = env_name(key)
        if name in variables:
            raise SecretError(f"@secrets source {source} has two keys that make the variable {name}: rename one.")
        variables[name] = str(item)
    return variables


def env_name(key: str) -> str:
    """Metaflow's rule for a secret's key as a variable name: '-', '.' and '/' become '_'."""
    return key.replace("-", "_").replace(".", "_").replace("/", "_")


def _not_found(error: Exception) -> bool:
    kind = getattr(getattr(error, "error", None), "error", None)
    return type(error).__name__ == "AirflowNotFoundException" or str(kind).endswith("_NOT_FOUND")


def _where(source: SecretSource) -> str:
    env = ("AIRFLOW_CONN_" if source.type == CONNECTION else "AIRFLOW_VAR_") + source.id.upper()
    return f"looked up in {env} and the [secrets] backend, and in an Airflow task in its database too"
