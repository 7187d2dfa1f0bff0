import airflow_flow_triggers as _p


def __getattr__(name):
    return getattr(_p, name)
