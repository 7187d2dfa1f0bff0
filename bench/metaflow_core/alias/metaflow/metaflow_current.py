from airflow_flow_triggers import current  # noqa: F401
