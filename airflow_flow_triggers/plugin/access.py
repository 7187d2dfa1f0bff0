"""Which DAGs the user may read: the auth manager's answer, as every endpoint of the plugin asks it."""
from __future__ import annotations

from airflow.api_fastapi.app import get_auth_manager
from fastapi import HTTPException


def readable(user, session) -> set[str]:
    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)


def require_readable(user, session, dag_id: str) -> None:
    """404 (never 403: a DAG one may not read is one that is not there) unless the user may read `dag_id`."""
    if dag_id not in readable(user, session):
        raise HTTPException(404, f"There is no DAG {dag_id!r} you can read: check its id (`airflow dags list`).")
