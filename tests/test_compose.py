"""docker/compose.yaml runs the topology the tests run (airflow_flow_triggers/sandbox/topology.py), so the two
cannot drift."""
import json
from urllib.parse import urlsplit

import yaml
from conftest import REPO

from airflow_flow_triggers.sandbox.topology import CONNECTION, SETTINGS, WORKERS, Topology

COMPOSE = REPO / "docker" / "compose.yaml"
SERVICES_BESIDE_AIRFLOW = {"postgres", "redis", "s3", "airflow-init", "examples"}
ONE_SHOT = {"airflow-init", "examples"}


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def shape(url: str) -> tuple:
    """What must agree between the two: scheme and driver, database or path; not hosts, ports, passwords."""
    parts = urlsplit(url)
    return parts.scheme, parts.path


def test_the_same_services():
    services = compose()["services"]
    airflow_components = {*Topology.AIRFLOW_COMPONENTS, *WORKERS}
    assert set(services) == SERVICES_BESIDE_AIRFLOW | airflow_components
    for component in Topology.AIRFLOW_COMPONENTS:
        assert services[component]["command"] == component
    for worker in WORKERS:
        assert services[worker]["command"].split()[:2] == ["celery", "worker"]
        assert services[worker]["hostname"] == worker           # tasks say which worker ran them
    for name in services.keys() - ONE_SHOT:                      # supervised, as the tests' harness does
        assert services[name]["restart"] == "unless-stopped", name


def test_the_same_airflow_settings():
    services = compose()["services"]
    for name in {*Topology.AIRFLOW_COMPONENTS, *WORKERS, *ONE_SHOT}:
        environment = services[name]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == SETTINGS["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        for key in ("AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT", "AIRFLOW__FLOW_TRIGGERS__DEPLOYMENTS_ROOT"):
            assert environment[key] == SETTINGS[key], key
        assert json.loads(environment["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"]) == \
            json.loads(SETTINGS["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
        assert environment["AIRFLOW__FLOW_TRIGGERS__SIGNING_KEY"]            # one key for every component
        for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
                    "AIRFLOW__CELERY__RESULT_BACKEND"):
            assert shape(environment[key]) == shape(SETTINGS[key]), key
        connection = json.loads(environment[f"AIRFLOW_CONN_{CONNECTION.upper()}"])
        assert connection["conn_type"] == "aws" and urlsplit(connection["extra"]["endpoint_url"]).hostname == "s3"
        assert services[name]["image"] == "airflow-flow-triggers:latest"
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
