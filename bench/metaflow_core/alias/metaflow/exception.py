import airflow_flow_triggers as _p
from airflow_flow_triggers import errors as _e

MetaflowException = _p.FlowTriggersError


def __getattr__(name):
    for where in (_e, _p):
        if hasattr(where, name):
            return getattr(where, name)
    if name == "MetaflowNamespaceMismatch":
        from airflow_flow_triggers.runtime.client import NamespaceMismatch
        return NamespaceMismatch
    raise AttributeError(name)
