"""Flow and step decorators: they record their settings on the class or function; nothing runs here."""
from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass

from ..errors import FlowDefinitionError, caller_location, located, located_at, source_location
from ..naming import Deployment, validate_name
from .flowspec import FlowSpec


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    branch: str | None = None
    production: bool | None = None


def step(func):
    """Mark a FlowSpec method as a step."""
    func.is_step = True
    return func


@dataclass(frozen=True)
class StepSettings:
    """What step decorators ask of the task that runs the step."""

    retries: int = 0
    retry_delay: datetime.timedelta | None = None
    timeout: datetime.timedelta | None = None


def step_settings(func) -> StepSettings:
    return getattr(func, "step_settings", StepSettings())


def retry(times: int = 3, minutes_between_retries: float = 2):
    """Retry the step `times` more times after a failure (Airflow task retries)."""
    with located(caller_location()):
        if not _whole(times):
            raise FlowDefinitionError(f"@retry(times={times!r}) needs a whole number of retries, 0 or more.")
        _require_duration("@retry", "minutes_between_retries", minutes_between_retries)

    def decorate(func):
        require_step(func, "@retry")
        func.step_settings = dataclasses.replace(step_settings(func), retries=times,
                                                 retry_delay=datetime.timedelta(minutes=minutes_between_retries))
        return func

    return decorate


def timeout(seconds: float = 0, minutes: float = 0, hours: float = 0):
    """Fail the step (this attempt) when it runs longer than the sum given (Airflow execution_timeout)."""
    with located(caller_location()):
        for name, value in (("seconds", seconds), ("minutes", minutes), ("hours", hours)):
            _require_duration("@timeout", name, value)
        limit = datetime.timedelta(seconds=seconds, minutes=minutes, hours=hours)
        if limit <= datetime.timedelta(0):
            raise FlowDefinitionError("@timeout needs a positive duration: seconds=, minutes= and/or hours=.")

    def decorate(func):
        require_step(func, "@timeout")
        func.step_settings = dataclasses.replace(step_settings(func), timeout=limit)
        return func

    return decorate


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _require_duration(decorator: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 10**9:
        raise FlowDefinitionError(f"{decorator}({name}={value!r}) needs a number, 0 or more.")


def require_step(func, decorator: str):
    if not getattr(func, "is_step", False):
        raise FlowDefinitionError(f"{decorator} goes above @step (on a step method); "
                                  f"'{getattr(func, '__name__', func)}' is not a step yet.",
                                  func.__code__.co_filename if hasattr(func, "__code__") else None,
                                  func.__code__.co_firstlineno if hasattr(func, "__code__") else None)


def schedule(cron: str | None = None, hourly: bool = False, daily: bool = False, weekly: bool = False):
    """Run the deployed flow on a schedule: a cron expression, or hourly/daily/weekly."""
    with located(caller_location()):
        if cron is not None and (not isinstance(cron, str) or not cron.strip()):
            raise FlowDefinitionError(f"@schedule(cron={cron!r}) needs a cron expression as a string, e.g. "
                                      "cron='0 * * * *'.")
        for name, value in (("hourly", hourly), ("daily", daily), ("weekly", weekly)):
            if not isinstance(value, bool):
                raise FlowDefinitionError(f"@schedule({name}={value!r}) must be True or False.")
        chosen = [value for value, on in ((cron, cron is not None), ("@hourly", hourly), ("@daily", daily),
                                          ("@weekly", weekly)) if on]
        if len(chosen) != 1:
            raise FlowDefinitionError("@schedule takes exactly one of cron='...', hourly=True, daily=True or "
                                      "weekly=True.")

    def decorate(flow_cls):
        require_flow_class(flow_cls, "@schedule")
        flow_cls._schedule = chosen[0]
        return flow_cls

    return decorate


def project(name: str, branch: str | None = None, production: bool | None = None):
    """Bind the flow to a project: deployments are named `<name>.<branch>.<FlowName>`."""

    def decorate(flow_cls):
        require_flow_class(flow_cls, "@project")
        with located_at(flow_cls):
            validate_name("project", name)
            if branch is not None:
                validate_name("branch", branch)
            if production is not None and not isinstance(production, bool):
                raise FlowDefinitionError("@project(production=...) must be True or False.")
        flow_cls._project = ProjectSpec(name, branch, production)
        return flow_cls

    return decorate


def require_flow_class(obj, decorator: str):
    if not (isinstance(obj, type) and issubclass(obj, FlowSpec)):
        raise FlowDefinitionError(f"{decorator} decorates flow classes (subclasses of FlowSpec), not "
                                  f"{getattr(obj, '__name__', obj)!r}.", *source_location(obj))


def deployment_of(flow_cls: type, branch: str | None = None, production: bool = False,
                  user: str | None = None):
    """The Deployment of a flow for a branch choice, reconciling @project's settings with the options.

    Metaflow's rule: a branch or production setting fixed in @project may be repeated on the command
    line, but not contradicted.
    """
    spec: ProjectSpec | None = flow_cls._project
    if spec is None:
        if branch is not None or production:
            option = "--branch" if branch is not None else "--production"
            raise FlowDefinitionError(f"{option} needs a project: add @project(name='...') to flow "
                                      f"{flow_cls.__name__}.", *source_location(flow_cls))
        return Deployment(flow_cls.__name__)
    if spec.branch is not None and branch is not None and branch != spec.branch:
        raise FlowDefinitionError(f"You specified branch '{spec.branch}' in @project and '{branch}' on the "
                                  "command line: give the branch in one place only.", *source_location(flow_cls))
    if spec.production is False and production:
        raise FlowDefinitionError("You specified production=False in @project and --production on the "
                                  "command line: give the production setting in one place only.",
                                  *source_location(flow_cls))
    return Deployment.resolve(flow_cls.__name__, spec.name, branch if branch is not None else spec.branch,
                              production or bool(spec.production), user)
