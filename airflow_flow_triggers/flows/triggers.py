"""@trigger_on_finish and @trigger as declared on a flow class: which upstreams start a deployment.

What a running flow sees of its trigger (`current.trigger`) is in `runtime/`; this module holds the
declarations, how their names resolve from a deployment, and loop detection among deployments.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from ..errors import FlowDefinitionError, NamingError, caller_location, located
from ..naming import Deployment, split_flow_name, validate_name
from .configs import deferrable
from .decorators import is_airflow_dag, join_project, require_flow_class
from .expectations import Expectation, expectation
from .parameters import flow_parameters


@dataclass(frozen=True)
class FinishTrigger:
    flows: tuple          # names or {'name', 'project', 'project_branch'} dicts, as written
    within: datetime.timedelta | None
    any: bool = False     # one run per finish of any of the flows, rather than one per set of all of them
    outcome: str = "succeeded"   # which finishes start it: "succeeded", "failed" or "any"
    parameters: tuple = ()       # (flow parameter, "artifact[.key...]" of the triggering run) pairs
    expect: Expectation | None = None   # expect_every= / expect_by=: when each upstream's next finish is due

    def upstreams(self, deployment: Deployment) -> list[Deployment]:
        """The deployments whose finish starts `deployment`."""
        return [upstream_deployment(flow, deployment) for flow in self.flows]


OUTCOMES = ("succeeded", "failed", "any")


@deferrable
def trigger_on_finish(flow=None, flows=None, within=None, any=False, outcome="succeeded", parameters=None,
                      expect_every=None, expect_by=None):
    """Start this flow when `flow` (or every one of `flows`) finishes, in the same project branch.

    A bare name means the same project branch as the deployment that declares the trigger; a fully
    qualified 'project.branch.Flow' (or a dict with 'name', 'project' and 'project_branch') pins one
    deployment. `within` (a timedelta or seconds) requires all of `flows` to finish within that window.
    `any=True` starts one run per finish of any one of `flows`, each run's trigger being that finish.
    `outcome='failed'` starts it when the upstream run fails (after its last retry), `'any'` whatever the outcome.
    `parameters={'model_version': 'version'}` sets the flow's parameter from an artifact of the triggering run
    (`'metrics.accuracy'`: a key of a dict artifact).
    `expect_every='1d'` (a duration) or `expect_by='0 6 * * *'` (a cron time, UTC) expects a finish of each upstream
    that often: when none came in time, this flow is marked overdue and the alert goes through
    `[flow_triggers] deadline_notifier` (it clears when the upstream finishes).
    """
    where = caller_location()
    with located(where):
        items = _flow_list(flow, flows)
        start_on_any = _any_of(any, flows, within)
        waits_for_all = len(items) > 1 and not start_on_any
        spec = FinishTrigger(items, _window(within), start_on_any, _outcome(outcome, waits_for_all),
                             _artifact_parameters(parameters, waits_for_all), expectation(expect_every, expect_by))
        for item in spec.flows:
            upstream_deployment(item, None)

    def decorate(target):
        if is_airflow_dag(target):
            if spec.parameters:
                with located(where):
                    raise FlowDefinitionError("@trigger_on_finish(parameters=...) sets a flow's parameters; an "
                                              "Airflow DAG reads its trigger's data in its tasks (current.trigger.run"
                                              ".data): drop parameters=.")
            return join_project(target, where, finish=spec)
        require_flow_class(target, "@trigger_on_finish", dags_too=True)
        with located(where):
            known = set(flow_parameters(target))
            unknown = [name for name, _ in spec.parameters if name not in known]
            if unknown:
                raise FlowDefinitionError(f"@trigger_on_finish(parameters=...) sets parameter '{unknown[0]}', which "
                                          f"flow {target.__name__} does not have (it has: "
                                          f"{', '.join(sorted(known)) or 'none'}).")
        target._trigger_on_finish = spec
        return target

    return decorate


def _flow_list(flow, flows) -> tuple:
    if (flow is None) == (flows is None):
        raise FlowDefinitionError("@trigger_on_finish takes exactly one of flow='FlowName' or "
                                  "flows=['FlowA', 'FlowB'].")
    items = (flow,) if flow is not None else tuple(flows) if isinstance(flows, (list, tuple)) else None
    if not items:
        raise FlowDefinitionError("@trigger_on_finish(flows=...) needs a non-empty list of flow names.")
    return items


ARTIFACT_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[^.]+)*")


def _artifact_parameters(parameters, waits_for_all: bool) -> tuple:
    if parameters is None:
        return ()
    if not isinstance(parameters, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in parameters.items()):
        raise FlowDefinitionError("@trigger_on_finish(parameters=...) maps the flow's parameters to artifacts of the "
                                  "triggering run: {'model_version': 'version'} (or 'metrics.accuracy', a key of a "
                                  "dict artifact).")
    bad = next((path for path in parameters.values() if not ARTIFACT_PATH.fullmatch(path)), None)
    if bad is not None:
        raise FlowDefinitionError(f"@trigger_on_finish(parameters=...) names '{bad}', which is not an artifact: "
                                  "write the artifact's name, then '.key' for each key into a dict.")
    if waits_for_all:
        raise FlowDefinitionError("@trigger_on_finish(flows=[...], parameters=...): a run started by a set of "
                                  "finishes has several upstream runs to read; add any=True, or read them in "
                                  "start (current.trigger.runs).")
    return tuple(parameters.items())


def trigger_outcome(target) -> str:
    """The outcome of its upstreams' runs that starts `target` (a flow class or a project's DAG)."""
    spec = getattr(target, "_trigger_on_finish", None)
    return spec.outcome if spec is not None else "succeeded"


def _any_of(start_on_any, flows, within) -> bool:
    if not isinstance(start_on_any, bool):
        raise FlowDefinitionError(f"@trigger_on_finish(any={start_on_any!r}) must be True or False.")
    if start_on_any and (not isinstance(flows, (list, tuple)) or len(flows) < 2):
        raise FlowDefinitionError("@trigger_on_finish(any=True) starts on the first of several flows: name them "
                                  "with flows=['FlowA', 'FlowB'].")
    if start_on_any and within is not None:
        raise FlowDefinitionError("@trigger_on_finish(any=True, within=...): within= is how close together all of "
                                  "the flows must finish, and any=True waits for no other finish: drop one of them.")
    return start_on_any


def _outcome(outcome, waits_for_all: bool) -> str:
    if outcome not in OUTCOMES:
        raise FlowDefinitionError(f"@trigger_on_finish(outcome={outcome!r}) is one of 'succeeded' (the default), "
                                  "'failed' or 'any'.")
    if outcome != "succeeded" and waits_for_all:
        raise FlowDefinitionError(f"@trigger_on_finish(flows=[...], outcome={outcome!r}) would wait for a set of "
                                  "runs of every flow, and an outcome other than success is one run's: add "
                                  "any=True (a run per finish of any of them), or trigger on each flow apart.")
    return outcome


def _window(within) -> datetime.timedelta | None:
    if within is None:
        return None
    window = datetime.timedelta(seconds=within) if isinstance(within, (int, float)) and \
        not isinstance(within, bool) else within
    if not isinstance(window, datetime.timedelta) or window <= datetime.timedelta(0):
        raise FlowDefinitionError(f"@trigger_on_finish(within={within!r}) needs a positive timedelta or number "
                                  "of seconds.")
    return window


def upstream_deployment(item, within: Deployment | None) -> Deployment:
    """Resolve one upstream as written (name or dict) from the declaring deployment `within`."""
    if isinstance(item, dict):
        return _from_dict(item)
    if not isinstance(item, str) or not item:
        raise FlowDefinitionError(f"@trigger_on_finish names flows as strings or dicts, not {item!r}.")
    project, branch, flow = split_flow_name(item)
    if not flow.isidentifier():
        raise NamingError(f"'{flow}' in @trigger_on_finish is not a flow class name.")
    if project is not None:
        return Deployment(flow, project, validate_branch(branch))
    if within is None or within.project is None:
        return Deployment(flow)
    return within.sibling(flow)


def _from_dict(item: dict) -> Deployment:
    unknown = set(item) - {"name", "project", "project_branch"}
    if unknown or "name" not in item:
        raise FlowDefinitionError(f"@trigger_on_finish dict {item!r} takes the keys 'name' and, together, "
                                  "'project' and 'project_branch'.")
    if ("project" in item) != ("project_branch" in item):
        raise FlowDefinitionError(f"@trigger_on_finish dict {item!r} needs both 'project' and 'project_branch' "
                                  "or neither.")
    if "project" not in item:
        return upstream_deployment(item["name"], None)
    return Deployment(item["name"], validate_name("project", item["project"]),
                      validate_branch(item["project_branch"]))


def validate_branch(branch: str) -> str:
    """A full project branch as it appears in names: user.<u>, test.<b>, prod or prod.<b>."""
    kind, _, rest = branch.partition(".")
    if branch == "prod" or (kind in ("user", "test", "prod") and rest and validate_name("branch", rest)):
        return branch
    raise NamingError(f"'{branch}' is not a project branch: use user.<name>, test.<branch>, prod or "
                      "prod.<branch>.")


NAMESPACED_EVENTS_PREFIX = "mfns"  # Metaflow 2.19's prefix of branch-scoped event names
EVENT_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class NamespacedEvent:
    """`namespaced_event_name('x')`: the event `x` of one project branch, resolved for a deployment."""
    logical_name: str

    def name_in(self, project: str | None, branch: str | None) -> str:
        """Metaflow's `mfns.<project>.<branch>.<x>`, or `mfns.<x>` outside a project."""
        if project and branch:
            return f"{NAMESPACED_EVENTS_PREFIX}.{project}.{branch}.{self.logical_name}"
        return f"{NAMESPACED_EVENTS_PREFIX}.{self.logical_name}"


@dataclass(frozen=True)
class EventTrigger:
    events: tuple           # (name or NamespacedEvent, {flow parameter: payload field}) pairs

    def assets(self, deployment: Deployment) -> list[tuple[str, dict]]:
        """(event name, parameter mapping) per event: a plain name is global, as in Metaflow."""
        return [(event_name(name, deployment), mapping) for name, mapping in self.events]


def event_name(name, deployment: Deployment | None) -> str:
    """The name an event has for `deployment`: a plain name as it is, a namespaced one in its branch."""
    if isinstance(name, NamespacedEvent):
        return name.name_in(deployment.project if deployment else None, deployment.branch if deployment else None)
    return name


def check_event_name(name) -> None:
    """Event names are asset names (and URIs): letters, digits, '_', '-' and '.'."""
    if isinstance(name, NamespacedEvent):
        name = name.logical_name
    if not isinstance(name, str) or not name:
        raise FlowDefinitionError(f"Event names are strings, not {name!r}.")
    if not EVENT_NAME.fullmatch(name):
        raise NamingError(f"The event name '{name}' has characters other than letters, digits, '_', '-' and '.': "
                          "rename the event.")


@deferrable
def trigger(event=None, events=None, parameters=None):
    """Start this flow when an external event arrives (an Airflow asset event; see `publish_event`).

    `event='data_updated'` (the global event of that name, as in Metaflow) or
    `event=namespaced_event_name('data_updated')` (this project branch's), or `events=[...]` (all of
    them); each may be a dict {'name': ..., 'parameters': {...}}. `parameters` maps flow parameters to
    fields of the event's payload: {'alpha': 'alpha_from_event'}, or ['alpha'] for the same name.
    """
    where = caller_location()
    with located(where):
        spec = EventTrigger(tuple(_event_entry(item, parameters) for item in _event_list(event, events)))

    def decorate(flow_cls):
        require_flow_class(flow_cls, "@trigger")
        with located(where):
            known = set(flow_parameters(flow_cls))
            for name, mapping in spec.events:
                unknown = set(mapping) - known
                if unknown:
                    raise FlowDefinitionError(f"@trigger maps event '{event_name(name, None)}' to parameter "
                                              f"'{sorted(unknown)[0]}', which flow {flow_cls.__name__} does not "
                                              f"have (it has: {', '.join(sorted(known)) or 'none'}).")
        flow_cls._trigger_events = spec
        return flow_cls

    return decorate


def _event_list(event, events) -> tuple:
    if (event is None) == (events is None):
        raise FlowDefinitionError("@trigger takes exactly one of event='name' or events=['a', 'b'].")
    items = (event,) if event is not None else tuple(events) if isinstance(events, (list, tuple)) else None
    if not items:
        raise FlowDefinitionError("@trigger(events=...) needs a non-empty list of event names.")
    return items


def _event_entry(item, parameters) -> tuple:
    if isinstance(item, dict):
        if set(item) - {"name", "parameters"} or "name" not in item:
            raise FlowDefinitionError(f"@trigger event {item!r} takes the keys 'name' and 'parameters'.")
        name, mapping = item["name"], item.get("parameters", parameters)
    else:
        name, mapping = item, parameters
    check_event_name(name)
    if mapping is None:
        mapping = {}
    elif isinstance(mapping, (list, tuple)):
        mapping = {p: p for p in mapping}
    if not isinstance(mapping, dict):
        raise FlowDefinitionError("@trigger(parameters=...) is a dict {flow parameter: event field} or a list "
                                  "of names.")
    return name, dict(mapping)


def event_parameters(flow_cls, deployment: Deployment, events: list[dict]) -> dict:
    """Flow parameter values that external events carry, by @trigger's mapping."""
    spec = getattr(flow_cls, "_trigger_events", None)
    if spec is None:
        return {}
    values = {}
    for event in events:
        for name, mapping in spec.assets(deployment):
            if event.get("type") == "event" and event["name"] == name:
                payload = event.get("extra") or {}
                values.update({param: payload[field] for param, field in mapping.items() if field in payload})
    return values


def trigger_loop(triggered_by: dict[str, set[str]], dag_id: str) -> list[str] | None:
    """The DAG ids of a loop through `dag_id`, each started by the next, if `triggered_by` has one."""
    def path(start: str, seen: set) -> list[str] | None:
        for upstream in sorted(triggered_by.get(start, ())):
            if upstream == dag_id:
                return [upstream]
            if upstream not in seen:
                seen.add(upstream)
                rest = path(upstream, seen)
                if rest:
                    return [upstream, *rest]
        return None

    found = path(dag_id, set())
    return [dag_id, *found] if found else None
