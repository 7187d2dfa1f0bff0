"""Metaflow-style project branches and trigger-on-finish for Apache Airflow 3."""
from . import config as _config
from .deploy.cli import main as _command_line
from .deploy.events import AirflowEvent
from .errors import (
    ExternalCommandFailed,
    FailureHandledByCatch,
    FlowTriggersError,
    MissingInMergeArtifactsException,
    TimeoutException,
    UnhandledInMergeArtifactsException,
    install_excepthook,
)
from .flows.compute import kubernetes, resources
from .flows.configs import Config, ConfigValue, config_expr
from .flows.decorators import airflow_dag, card, catch, environment, exit_hook, project, retry, schedule, step, timeout
from .flows.flowspec import FlowSpec, set_command_line
from .flows.mutators import FlowMutator, MutableFlow, MutableStep
from .flows.parameters import IncludeFile, JSONType, Parameter, ParameterContext, set_artifact_root_reader
from .flows.secrets import secrets
from .flows.triggers import trigger, trigger_on_finish
from .flows.unsupported import (
    batch,
    conda,
    conda_base,
    parallel,
    pypi,
    pypi_base,
    pytorch_parallel,
)
from .flows.user_decorators import USER_SKIP_STEP, StepMutator, UserStepDecorator, user_step_decorator
from .orchestration import project_dags as _project_dags  # noqa: F401  (@project on Airflow DAGs)
from .orchestration.dag_factory import build_dag
from .runtime.card_client import get_cards
from .runtime.client import DataArtifact, Flow, Metaflow, MetaflowEvent, Run, Step, Task
from .runtime.client_store import default_metadata, get_metadata, metadata
from .runtime.current import current
from .runtime.events import namespaced_event_name
from .runtime.namespaces import default_namespace, get_namespace, namespace

__all__ = ["AirflowEvent", "Flow", "FlowSpec", "FlowTriggersError", "IncludeFile", "JSONType", "Metaflow",
           "MetaflowEvent", "Parameter", "Run", "Step", "Task", "airflow_dag", "build_dag", "card", "catch", "current",
           "default_namespace", "environment", "exit_hook", "get_namespace", "kubernetes", "namespace",
           "namespaced_event_name",
           "project", "resources", "retry", "schedule", "secrets", "step", "timeout", "trigger", "trigger_on_finish",
           # the client's whole surface, as Metaflow's
           "DataArtifact", "default_metadata", "get_metadata", "metadata", "get_cards",
           # configs and custom decorators (Metaflow 2.13+, 2.16+)
           "Config", "ConfigValue", "config_expr", "FlowMutator", "MutableFlow", "MutableStep", "ParameterContext",
           "StepMutator", "USER_SKIP_STEP", "UserStepDecorator", "user_step_decorator",
           # Metaflow's exceptions a step may meet (each also a FlowTriggersError)
           "ExternalCommandFailed", "FailureHandledByCatch", "MissingInMergeArtifactsException", "TimeoutException",
           "UnhandledInMergeArtifactsException",
           # Metaflow's, not supported: using one is an error saying what to use instead
           "batch", "conda", "conda_base", "parallel", "pypi", "pypi_base", "pytorch_parallel"]
__version__ = "0.1.0"

set_command_line(_command_line)
set_artifact_root_reader(lambda: _config.get("artifact_root"))
install_excepthook()
