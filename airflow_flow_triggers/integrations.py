"""Metaflow's `from metaflow.integrations import ArgoEvent`, with one changed import line: events go
through Airflow (deploy/events.py)."""
from .deploy.events import AirflowEvent

ArgoEvent = AirflowEvent

__all__ = ["ArgoEvent"]
