"""Metaflow-style project branches and trigger-on-finish for Apache Airflow 3."""
from .deploy.cli import main as _command_line
from .deploy.events import AirflowEvent
from .errors import FlowTriggersError, install_excepthook
from .flows.compute import kubernetes, resources
from .flows.decorators import airflow_dag, catch, environment, project, retry, schedule, step, timeout
from .flows.flowspec import FlowSpec, set_command_line
from .flows.parameters import IncludeFile, JSONType, Parameter
from .flows.triggers import trigger, trigger_on_finish
from .flows.unsupported import (
    batch,
    card,
    conda,
    conda_base,
    exit_hook,
    parallel,
    pypi,
    pypi_base,
    pytorch_parallel,
    secrets,
)
from .orchestration import project_dags as _project_dags  # noqa: F401  (@project on Airflow DAGs)
from .orchestration.dag_factory import build_dag
from .runtime.client import Flow, Metaflow, MetaflowEvent, Run, Step, Task
from .runtime.current import current
from .runtime.events import namespaced_event_name
from .runtime.namespaces import default_namespace, get_namespace, namespace

__all__ = ["AirflowEvent", "Flow", "FlowSpec", "FlowTriggersError", "IncludeFile", "JSONType", "Metaflow",
           "MetaflowEvent", "Parameter", "Run", "Step", "Task", "airflow_dag", "build_dag", "catch", "current",
           "default_namespace", "environment", "get_namespace", "kubernetes", "namespace", "namespaced_event_name",
           "project", "resources", "retry", "schedule", "step", "timeout", "trigger", "trigger_on_finish",
           # Metaflow's, not supported: using one is an error saying what to use instead
           "batch", "card", "conda", "conda_base", "exit_hook", "parallel", "pypi", "pypi_base", "pytorch_parallel",
           "secrets"]
__version__ = "0.1.0"

set_command_line(_command_line)
install_excepthook()
