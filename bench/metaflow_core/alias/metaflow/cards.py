import airflow_flow_triggers.cards as _c
from airflow_flow_triggers.cards import *  # noqa


def __getattr__(name):
    return getattr(_c, name)
