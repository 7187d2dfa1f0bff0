"""Flow and step decorators: they record their settings on the class or function; nothing runs here.

Each takes Metaflow's arguments and defaults, and works bare (`@retry`) or called (`@retry(times=2)`).
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import inspect
import os
import re
from dataclasses import dataclass, field

from ..errors import FlowDefinitionError, caller_location, located, located_at, source_location
from ..naming import Deployment, validate_name
from .card_types import defined_names, is_card_type
from .configs import DECORATORS, deferrable
from .flowspec import FlowSpec


@dataclass(frozen=True)
class ProjectSpec:
    name: str
    branch: str | None = None
    production: bool | None = None


def step(func):
    """Mark a FlowSpec method as a step (named `func.name`, as Metaflow's, which iterating a flow yields)."""
    func.is_step = True
    func.name = func.__name__
    return func


@dataclass(frozen=True)
class Catch:
    """@catch: keep the step's exception as artifact `var` (if named) and go on with the flow."""

    var: str | None = None
    print_exception: bool = True


@dataclass(frozen=True)
class StepSettings:
    """What step decorators ask of the task that runs the step."""

    retries: int = 0
    retry_delay: datetime.timedelta | None = None
    timeout: datetime.timedelta | None = None
    catch: Catch | None = None
    environment: dict = field(default_factory=dict)     # @environment(vars=...): set for this step only
    cards: tuple = ()                                   # its @card decorators' CardSpecs, top first


@dataclass(frozen=True)
class CardSpec:
    """One @card of a step, with Metaflow's arguments."""

    type: str = "default"
    id: str | None = None
    options: dict = field(default_factory=dict)
    timeout: float = 45                 # seconds rendering may take
    save_errors: bool = True            # a card that fails to render shows the error instead of vanishing
    customize: bool = False             # this card is the one current.card.append edits
    refresh_interval: float = 5         # at most one refresh() render per this many seconds


def step_settings(func) -> StepSettings:
    return getattr(func, "step_settings", StepSettings())


def bare_or_called(factory):
    """Let a decorator be written bare (`@retry`: Metaflow's defaults) as well as called (`@retry(times=2)`),
    with config values among its arguments too (configs.py's deferrable)."""
    called = deferrable(factory)

    @functools.wraps(factory)
    def decorator(*args, **kwargs):
        if len(args) == 1 and not kwargs and (inspect.isfunction(args[0]) or inspect.isclass(args[0])):
            return factory()(args[0])
        return called(*args, **kwargs)

    DECORATORS[factory.__name__] = decorator
    return decorator


def _with_settings(func, decorator: str, **changes):
    require_step(func, decorator)
    func.step_settings = dataclasses.replace(step_settings(func), **changes)
    return func


def record_decorator(func, name: str, attributes: dict) -> None:
    """Note a step decorator as Metaflow's `current.graph` lists it, in the order they apply (innermost first);
    before the first, what the step was without any (what a mutator's remove_decorator goes back to)."""
    if "_undecorated" not in vars(func):
        func._undecorated = {key: value for key, value in vars(func).items() if key != "step_decorators"}
    func.step_decorators = [*getattr(func, "step_decorators", []), {
        "name": name, "attributes": attributes, "statically_defined": True, "inserted_by": None}]


MAX_RETRIES = 4         # Metaflow's: 6 attempts at most, one of them @catch's fallback


@bare_or_called
def retry(times: int = 3, minutes_between_retries: float = 2):
    """Retry the step `times` more times after a failure (Airflow task retries)."""
    with located(caller_location()):
        if not _whole(times):
            raise FlowDefinitionError(f"@retry(times={times!r}) needs a whole number of retries, 0 or more.")
        if times > MAX_RETRIES:
            raise FlowDefinitionError(f"@retry(times={times}) asks for more than the maximum of {MAX_RETRIES} "
                                      f"retries (Metaflow's): use @retry(times={MAX_RETRIES}) or fewer.")
        _require_duration("@retry", "minutes_between_retries", minutes_between_retries)

    def decorate(func):
        record_decorator(func, "retry", {"times": times, "minutes_between_retries": minutes_between_retries})
        return _with_settings(func, "@retry", retries=times,
                              retry_delay=datetime.timedelta(minutes=minutes_between_retries))

    return decorate


@bare_or_called
def timeout(seconds: float = 0, minutes: float = 0, hours: float = 0):
    """Fail the step (this attempt) when it runs longer than the sum given (Airflow execution_timeout)."""
    with located(caller_location()):
        for name, value in (("seconds", seconds), ("minutes", minutes), ("hours", hours)):
            _require_duration("@timeout", name, value)
        limit = datetime.timedelta(seconds=seconds, minutes=minutes, hours=hours)
        if limit <= datetime.timedelta(0):
            raise FlowDefinitionError("@timeout needs a positive duration: seconds=, minutes= and/or hours=.")

    def decorate(func):
        record_decorator(func, "timeout", {"seconds": seconds, "minutes": minutes, "hours": hours})
        return _with_settings(func, "@timeout", timeout=limit)

    return decorate


@bare_or_called
def catch(var: str | None = None, print_exception: bool = True):
    """Keep the step's exception (after its last retry) as artifact `var`, print it, and go on with the flow:
    the task succeeds. Without an exception `var` is None."""
    with located(caller_location()):
        if var is not None and (not isinstance(var, str) or not var.isidentifier() or var.startswith("_")):
            raise FlowDefinitionError(f"@catch(var={var!r}) needs the name of an artifact, e.g. var='error'.")
        if not isinstance(print_exception, bool):
            raise FlowDefinitionError(f"@catch(print_exception={print_exception!r}) must be True or False.")
    def decorate(func):
        record_decorator(func, "catch", {"var": var, "print_exception": print_exception})
        return _with_settings(func, "@catch", catch=Catch(var, print_exception))

    return decorate


@bare_or_called
def environment(vars: dict | None = None):
    """Set these environment variables for this step only, wherever it runs (locally, on workers, in pods)."""
    with located(caller_location()):
        if vars is None:
            vars = {}
        if not isinstance(vars, dict) or not all(isinstance(name, str) and name for name in vars):
            raise FlowDefinitionError(f"@environment(vars={vars!r}) needs a dict of variable names to values.")
        values = {name: str(value) for name, value in vars.items()}
    def decorate(func):
        record_decorator(func, "environment", {"vars": dict(vars)})
        return _with_settings(func, "@environment", environment={**step_settings(func).environment, **values})

    return decorate


@bare_or_called
def card(type: str = "default", id: str | None = None, options: dict | None = None, timeout: float = 45,
         save_errors: bool = True, customize: bool = False, refresh_interval: float = 5, scope: str = "task",
         rank: str | None = None):
    """A report of the step's results: one self-contained HTML card per @card, kept with the task (Metaflow's
    @card). 'default' shows the task's artifacts, parameters and the flow's graph; 'blank' only what the step
    adds through current.card."""
    with located(caller_location()):
        if not is_card_type(type):
            yours = "".join(f", '{name}'" for name in defined_names())
            raise FlowDefinitionError(f"@card(type={type!r}) names no card type: use 'default', 'blank'{yours}, or "
                                      f"define a MetaflowCard subclass with type = {type!r} (airflow_flow_triggers."
                                      "cards) before the flow.")
        if id is not None and not (isinstance(id, str) and re.fullmatch(r"[A-Za-z0-9_]+", id)):
            raise FlowDefinitionError(f"@card(id={id!r}) needs letters, digits and underscores only, as Metaflow's.")
        if options is not None and not isinstance(options, dict):
            raise FlowDefinitionError(f"@card(options={options!r}) needs a dict, e.g. options={{'title': 'Loss'}}.")
        _require_duration("@card", "timeout", timeout)
        _require_duration("@card", "refresh_interval", refresh_interval)
        if timeout <= 0:
            raise FlowDefinitionError(f"@card(timeout={timeout!r}) needs a positive number of seconds.")
    spec = CardSpec(type, id, dict(options or {}), timeout, bool(save_errors), bool(customize), refresh_interval)

    def decorate(func):
        record_decorator(func, "card", {"type": type, "id": id, "options": dict(options or {}), "timeout": timeout,
                                        "save_errors": save_errors, "customize": customize,
                                        "refresh_interval": refresh_interval, "scope": scope, "rank": rank})
        # decorators apply bottom up; the cards list top first, as they are written
        return _with_settings(func, "@card", cards=(spec, *step_settings(func).cards))

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


@dataclass(frozen=True)
class Schedule:
    cron: str                     # a cron expression or Airflow's @hourly / @daily / @weekly
    timezone: str | None = None   # an IANA zone name; None: UTC


@bare_or_called
def schedule(cron: str | None = None, weekly: bool = False, daily: bool = True, hourly: bool = False,
             timezone: str | None = None):
    """Run the deployed flow on a schedule. Metaflow's rule: `cron` if given, else weekly, else hourly,
    else daily (the default, so a bare @schedule is daily); `timezone` for the cron expression."""
    with located(caller_location()):
        if cron is not None and (not isinstance(cron, str) or not cron.strip()):
            raise FlowDefinitionError(f"@schedule(cron={cron!r}) needs a cron expression as a string, e.g. "
                                      "cron='0 * * * *'.")
        for name, value in (("weekly", weekly), ("daily", daily), ("hourly", hourly)):
            if not isinstance(value, bool):
                raise FlowDefinitionError(f"@schedule({name}={value!r}) must be True or False.")
        if timezone is not None and not _is_time_zone(timezone):
            raise FlowDefinitionError(f"@schedule(timezone={timezone!r}) is not a time zone name: use an IANA name, "
                                      "e.g. timezone='Europe/Paris'.")
        chosen = next((value for value, on in ((cron, cron is not None), ("@weekly", weekly), ("@hourly", hourly),
                                               ("@daily", daily)) if on), None)
        if chosen is None:
            raise FlowDefinitionError("@schedule(daily=False) names no schedule: pass cron='...', hourly=True or "
                                      "weekly=True, or remove @schedule.")

    def decorate(flow_cls):
        require_flow_class(flow_cls, "@schedule")
        flow_cls._schedule = Schedule(chosen, timezone)
        return flow_cls

    return decorate


def _is_time_zone(name) -> bool:
    import zoneinfo
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class ExitHook:
    """One @exit_hook: the names of the functions to call once a run has ended, by how it ended (Metaflow's)."""

    on_success: tuple[str, ...] = ()
    on_error: tuple[str, ...] = ()


def exit_hook(on_success=None, on_error=None, options=None):
    """Call functions once a run has ended (Metaflow's @exit_hook): those of `on_success` when its end step
    finished, those of `on_error` when it failed. Each is a function of the flow file, its name, or the import path
    of one ('pkg.mod.fn'); it runs in a process of its own, given the run (`run=Run(...)`) when it takes `run` or
    **kwargs. A hook that fails changes nothing else. Several @exit_hook add up, the one nearest the class first.
    `options` is Metaflow's, unused there too."""
    bare = inspect.isclass(on_success) and on_error is None
    with located(caller_location()):
        if bare or (not on_success and not on_error):
            raise FlowDefinitionError("@exit_hook needs a hook to call: choose at least one of the options "
                                      "on_success/on_error, e.g. @exit_hook(on_error=[notify]).")
        hooks = ExitHook(_hook_names("on_success", on_success), _hook_names("on_error", on_error))

    def decorate(flow_cls):
        require_flow_class(flow_cls, "@exit_hook")
        flow_cls._exit_hooks = (*flow_cls._exit_hooks, hooks)
        return flow_cls

    return decorate


def _hook_names(option: str, hooks) -> tuple[str, ...]:
    """The names a hook's process finds the functions of `hooks` by (Metaflow's: the function's __name__)."""
    if hooks is None:
        return ()
    if not isinstance(hooks, (list, tuple)):
        written = hooks.__name__ if callable(hooks) and hasattr(hooks, "__name__") else repr(hooks)
        raise FlowDefinitionError(f"@exit_hook({option}={written}) needs a list of functions or their names: write "
                                  f"{option}=[{written}].")
    names = []
    for hook in hooks:
        name = hook if isinstance(hook, str) else getattr(hook, "__name__", None) if callable(hook) else None
        if name is None:
            raise FlowDefinitionError(f"Exit hooks inside '{option}' must be a function or a string referring to "
                                      f"the function, and {hook!r} (of type {type(hook).__name__}) is neither.")
        if not all(part.isidentifier() for part in name.split(".")):
            what = "a lambda, which a hook's process cannot find by name: define it with def" \
                if name == "<lambda>" else "neither a function's name nor an import path such as 'pkg.mod.fn'"
            raise FlowDefinitionError(f"Exit hook {name!r} inside '{option}' is {what}.")
        names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class DagSettings:
    max_active_runs: int | None = None     # None: Airflow's [core] max_active_runs_per_dag
    max_active_tasks: int | None = None    # None: Airflow's [core] max_active_tasks_per_dag


@deferrable
def airflow_dag(max_active_runs: int | None = None, max_active_tasks: int | None = None):
    """Airflow's own settings for this flow's DAG (not Metaflow's; ignored by local runs): at most
    `max_active_runs` runs at once (the others wait, queued: with @trigger_on_finish, still one run per
    finish, one after another) and `max_active_tasks` tasks at once within a run."""
    with located(caller_location()):
        for name, value in (("max_active_runs", max_active_runs), ("max_active_tasks", max_active_tasks)):
            if value is not None and (not _whole(value) or value < 1):
                raise FlowDefinitionError(f"@airflow_dag({name}={value!r}) needs a whole number, 1 or more.")

    def decorate(flow_cls):
        require_flow_class(flow_cls, "@airflow_dag")
        flow_cls._dag_settings = DagSettings(max_active_runs, max_active_tasks)
        return flow_cls

    return decorate


@deferrable
def project(name: str, branch: str | None = None, production: bool | None = None):
    """Bind the flow (or Airflow DAG) to a project: deployments are named `<name>.<branch>.<FlowName>`."""
    where = caller_location()
    if not isinstance(name, str):
        with located(where):
            raise FlowDefinitionError("@project needs the project's name: write @project(name='...').")

    def decorate(target):
        member = is_airflow_dag(target)
        if not member:
            require_flow_class(target, "@project", dags_too=True)
        with located(where) if member else located_at(target):
            validate_name("project", name)
            if branch is not None:
                validate_name("branch", branch)
            if production is not None and not isinstance(production, bool):
                raise FlowDefinitionError("@project(production=...) must be True or False.")
        if member:
            return join_project(target, where, project=ProjectSpec(name, branch, production))
        target._project = ProjectSpec(name, branch, production)
        return target

    return decorate


# What @project and @trigger_on_finish do to an Airflow DAG: registered by the package at import
# (orchestration/project_dags.py), since defining a flow never imports Airflow.
_dag_member = None


def set_dag_member(handler) -> None:
    """Register `handler(target, where, **spec)`, which makes an Airflow DAG (or @dag function) a project's."""
    global _dag_member
    _dag_member = handler


def is_airflow_dag(obj) -> bool:
    """Whether `obj` is an Airflow DAG, a function made by Airflow's @dag, or one of those already decorated
    here; told by its type's and code's home, without importing Airflow."""
    if getattr(obj, "_flow_triggers_member", False):
        return True
    if any(cls.__name__ == "DAG" and cls.__module__.startswith("airflow.") for cls in type(obj).__mro__):
        return True
    code = getattr(obj, "__code__", None)
    return inspect.isfunction(obj) and hasattr(obj, "__wrapped__") and code is not None and \
        code.co_name == "factory" and f"airflow{os.sep}sdk{os.sep}" in code.co_filename


def join_project(target, where, **spec):
    if _dag_member is None:
        raise FlowDefinitionError("Airflow DAGs join a project when the package is imported as "
                                  "`from airflow_flow_triggers import project`.", *where)
    return _dag_member(target, where, **spec)


def require_flow_class(obj, decorator: str, dags_too: bool = False):
    if not (isinstance(obj, type) and issubclass(obj, FlowSpec)):
        what = " and Airflow DAGs (a @dag function, with the decorator above @dag, or a DAG)" if dags_too else ""
        raise FlowDefinitionError(f"{decorator} decorates flow classes (subclasses of FlowSpec){what}, not "
                                  f"{getattr(obj, '__name__', obj)!r}.", *source_location(obj))


def deployment_of(flow_cls: type, branch: str | None = None, production: bool = False,
                  user: str | None = None):
    """The Deployment of a flow for a branch choice, reconciling @project's settings with the options.

    Metaflow's rule: a branch or production setting fixed in @project may be repeated on the command
    line, but not contradicted.
    """
    try:
        return project_deployment(flow_cls.__name__, flow_cls._project, branch, production, user)
    except FlowDefinitionError as error:
        raise FlowDefinitionError(error.message, *source_location(flow_cls)) from None


def project_deployment(name: str, spec: ProjectSpec | None, branch: str | None = None, production: bool = False,
                       user: str | None = None) -> Deployment:
    """The Deployment of flow (or DAG) `name` under @project `spec` for a branch choice (Metaflow's rule)."""
    if spec is None:
        if branch is not None or production:
            option = "--branch" if branch is not None else "--production"
            raise FlowDefinitionError(f"{option} needs a project: add @project(name='...') to flow {name}.")
        return Deployment(name)
    if spec.branch is not None and branch is not None and branch != spec.branch:
        raise FlowDefinitionError(f"You specified branch '{spec.branch}' in @project and '{branch}' on the "
                                  "command line: give the branch in one place only.")
    if spec.production is False and production:
        raise FlowDefinitionError("You specified production=False in @project and --production on the "
                                  "command line: give the production setting in one place only.")
    return Deployment.resolve(name, spec.name, branch if branch is not None else spec.branch,
                              production or bool(spec.production), user)
