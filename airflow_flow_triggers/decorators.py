"""Flow and step decorators: they record their settings on the class or function; nothing runs here."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

from .errors import FlowDefinitionError, NamingError
from .naming import validate_name


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    branch: str | None = None
    production: bool | None = None


def step(func):
    """Mark a FlowSpec method as a step."""
    func.is_step = True
    return func


def project(name: str, branch: str | None = None, production: bool | None = None):
    """Bind the flow to a project: deployments are named `<name>.<branch>.<FlowName>`."""

    def decorate(flow_cls):
        _require_flow_class(flow_cls, "@project")
        try:
            validate_name("project", name)
            if branch is not None:
                validate_name("branch", branch)
        except NamingError as error:
            raise NamingError(error.message, *_where(flow_cls)) from None
        if production is not None and not isinstance(production, bool):
            raise FlowDefinitionError("@project(production=...) must be True or False.", *_where(flow_cls))
        flow_cls._project = ProjectSpec(name, branch, production)
        return flow_cls

    return decorate


def _require_flow_class(obj, decorator: str):
    from .flowspec import FlowSpec
    if not (isinstance(obj, type) and issubclass(obj, FlowSpec)):
        raise FlowDefinitionError(f"{decorator} decorates flow classes (subclasses of FlowSpec), not "
                                  f"{getattr(obj, '__name__', obj)!r}.")


def _where(obj) -> tuple[str | None, int | None]:
    try:
        return inspect.getsourcefile(obj), inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return None, None


def deployment_of(flow_cls: type, branch: str | None = None, production: bool = False,
                  user: str | None = None):
    """The Deployment of a flow for a branch choice, reconciling @project's settings with the options.

    Metaflow's rule: a branch or production setting fixed in @project may be repeated on the command
    line, but not contradicted.
    """
    from .naming import Deployment
    spec: ProjectSpec | None = flow_cls._project
    if spec is None:
        if branch is not None or production:
            option = "--branch" if branch is not None else "--production"
            raise FlowDefinitionError(f"{option} needs a project: add @project(name='...') to flow "
                                      f"{flow_cls.__name__}.", *_where(flow_cls))
        return Deployment(flow_cls.__name__)
    if spec.branch is not None and branch is not None and branch != spec.branch:
        raise FlowDefinitionError(f"You specified branch '{spec.branch}' in @project and '{branch}' on the "
                                  "command line: give the branch in one place only.", *_where(flow_cls))
    if spec.production is False and production:
        raise FlowDefinitionError("You specified production=False in @project and --production on the "
                                  "command line: give the production setting in one place only.",
                                  *_where(flow_cls))
    return Deployment.resolve(flow_cls.__name__, spec.name, branch if branch is not None else spec.branch,
                              production or bool(spec.production), user)
