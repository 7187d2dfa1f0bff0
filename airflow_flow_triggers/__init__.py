"""Metaflow-style project branches and trigger-on-finish for Apache Airflow 3."""
from .client import Flow, Run, Step, Task
from .current import current
from .dag_factory import build_dag
from .decorators import project, retry, schedule, step, timeout
from .errors import FlowTriggersError, install_excepthook
from .flowspec import FlowSpec
from .parameters import JSONType, Parameter
from .triggers import trigger, trigger_on_finish

__all__ = ["Flow", "FlowSpec", "FlowTriggersError", "JSONType", "Parameter", "Run", "Step", "Task",
           "build_dag", "current", "project", "retry", "schedule", "step", "timeout", "trigger", "trigger_on_finish"]
__version__ = "0.1.0"

install_excepthook()
