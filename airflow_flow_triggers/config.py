"""Settings from Airflow's `[flow_triggers]` config section (env `AIRFLOW__FLOW_TRIGGERS__*`).

Importing Airflow costs about two seconds, more than a whole local run of a small flow, so when
nothing configures the section we use the defaults without importing it; a plain environment
variable is read directly (it wins over the config file in Airflow too). Anything else (the
section in airflow.cfg, `_CMD` or `_SECRET` variants) goes through Airflow's own config parser.
"""
from __future__ import annotations

import os

SECTION = "flow_triggers"
_ENV_PREFIX = f"AIRFLOW__{SECTION.upper()}__"


def airflow_home() -> str:
    return os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))


def defaults() -> dict[str, str]:
    return {
        "artifact_root": f"file://{airflow_home()}/flow_triggers/artifacts",
        "max_trigger_depth": "10",
        "trigger_window": "",
        "api_url": "http://localhost:8080",
        "api_username": "",
        "api_password": "",
        "api_token": "",
        "deployments_root": "",
        "max_package_size": "20",
        "keep_versions": "5",
        "signing_key": "",
        "kubernetes_image": "",
        "kubernetes_namespace": "default",
        "kubernetes_mode": "operator",
        "steps_on_kubernetes": "False",
        "deadline_notifier": "",
        "expectation_check_interval": "300",
    }


def get(key: str) -> str:
    default = defaults()[key]
    value = os.environ.get(_ENV_PREFIX + key.upper())
    if value is not None:
        return value
    if not _configured_beyond_plain_env():
        return default
    from airflow.configuration import conf
    return conf.get(SECTION, key, fallback=default)


def get_number(key: str, kind: type = float, required: bool = False):
    """A numeric option (int or float), 0 or more; None when it is empty, unless `required`."""
    text = get(key).strip()
    if not text and not required:
        return None
    try:
        value = kind(text)
        if value < 0:
            raise ValueError(text)
        return value
    except ValueError:
        from .errors import SettingError
        what = "a whole number" if kind is int else "a number"
        raise SettingError(f"[{SECTION}] {key} = {text!r} must be {what}, 0 or more (env "
                           f"AIRFLOW__{SECTION.upper()}__{key.upper()}; default {defaults()[key] or 'empty'}).") \
            from None


def get_flag(key: str) -> bool:
    """A True/False option, written as Airflow's config takes one (true, false, 1, 0, t, f; any case)."""
    text = get(key).strip().lower()
    if text in ("true", "t", "1"):
        return True
    if text in ("false", "f", "0", ""):
        return False
    from .errors import SettingError
    raise SettingError(f"[{SECTION}] {key} = {get(key)!r} must be True or False (env "
                       f"AIRFLOW__{SECTION.upper()}__{key.upper()}; default {defaults()[key]}).")


def _configured_beyond_plain_env() -> bool:
    if any(name.startswith(_ENV_PREFIX) for name in os.environ):
        return True
    config_file = os.environ.get("AIRFLOW_CONFIG") or os.path.join(airflow_home(), "airflow.cfg")
    try:
        with open(config_file, encoding="utf-8") as handle:
            return any(line.strip() == f"[{SECTION}]" for line in handle)
    except OSError:
        return False
