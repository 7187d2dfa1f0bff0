"""Metaflow-style project branches and trigger-on-finish for Apache Airflow 3."""
from .client import Flow, Run, Step, Task
from .current import current
from .decorators import project, step
from .errors import FlowTriggersError, install_excepthook
from .flowspec import FlowSpec
from .parameters import JSONType, Parameter

__all__ = ["Flow", "FlowSpec", "FlowTriggersError", "JSONType", "Parameter", "Run", "Step", "Task",
           "current", "project", "step"]
__version__ = "0.1.0"

install_excepthook()
