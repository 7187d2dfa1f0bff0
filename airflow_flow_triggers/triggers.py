"""@trigger_on_finish: which upstream runs start a flow, and `current.trigger` inside the run.

A trigger event is a plain dict, the same whether it came from an Airflow asset event or from
`--trigger FLOW/RUN_ID` on a local run: {"name", "id", "timestamp", "type", "pathspec", "depth"}.
It is stored in the run's record, so every step of the run reads the same `current.trigger`.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from .errors import FlowDefinitionError, NamingError, RunNotFoundError, located_at
from .naming import Deployment, split_flow_name, validate_name


@dataclass(frozen=True)
class FinishTrigger:
    flows: tuple          # names or {'name', 'project', 'project_branch'} dicts, as written
    within: datetime.timedelta | None

    def upstreams(self, deployment: Deployment) -> list[Deployment]:
        """The deployments whose finish starts `deployment`."""
        return [upstream_deployment(flow, deployment) for flow in self.flows]


def trigger_on_finish(flow=None, flows=None, within=None):
    """Start this flow when `flow` (or every one of `flows`) finishes, in the same project branch.

    A bare name means the same project branch as the deployment that declares the trigger; a fully
    qualified 'project.branch.Flow' (or a dict with 'name', 'project' and 'project_branch') pins one
    deployment. `within` (a timedelta or seconds) requires all of `flows` to finish within that window.
    """
    from .decorators import _require_flow_class

    def decorate(flow_cls):
        _require_flow_class(flow_cls, "@trigger_on_finish")
        with located_at(flow_cls):
            spec = FinishTrigger(_flow_list(flow, flows), _window(within))
            for item in spec.flows:
                upstream_deployment(item, None)
        flow_cls._trigger_on_finish = spec
        return flow_cls

    return decorate


def _flow_list(flow, flows) -> tuple:
    if (flow is None) == (flows is None):
        raise FlowDefinitionError("@trigger_on_finish takes exactly one of flow='FlowName' or "
                                  "flows=['FlowA', 'FlowB'].")
    items = (flow,) if flow is not None else tuple(flows) if isinstance(flows, (list, tuple)) else None
    if not items:
        raise FlowDefinitionError("@trigger_on_finish(flows=...) needs a non-empty list of flow names.")
    return items


def _window(within) -> datetime.timedelta | None:
    if within is None:
        return None
    if isinstance(within, (int, float)) and not isinstance(within, bool):
        within = datetime.timedelta(seconds=within)
    if not isinstance(within, datetime.timedelta) or within <= datetime.timedelta(0):
        raise FlowDefinitionError(f"@trigger_on_finish(within={within!r}) needs a positive timedelta or number "
                                  "of seconds.")
    return within


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


@dataclass(frozen=True)
class EventTrigger:
    events: tuple           # (name, {flow parameter: extra field}) pairs

    def assets(self, deployment: Deployment) -> list[tuple[str, dict]]:
        """(full event name, parameter mapping) per event: bare names live in the project branch."""
        return [(_qualify_event(name, deployment), mapping) for name, mapping in self.events]


def trigger(event=None, events=None, parameters=None):
    """Start this flow when an external event arrives (an Airflow asset event, e.g. from the REST API).

    `event='data_updated'` or `events=[...]` (all of them); each may be a dict
    {'name': ..., 'parameters': {...}}. `parameters` maps flow parameters to fields of the event's
    `extra`: {'alpha': 'alpha_from_event'}, or ['alpha'] for the same name.
    """
    from .decorators import _require_flow_class

    def decorate(flow_cls):
        _require_flow_class(flow_cls, "@trigger")
        with located_at(flow_cls):
            spec = EventTrigger(tuple(_event_entry(item, parameters) for item in _event_list(event, events)))
            from .parameters import flow_parameters
            known = set(flow_parameters(flow_cls))
            for name, mapping in spec.events:
                _qualify_event(name, None)
                unknown = set(mapping) - known
                if unknown:
                    raise FlowDefinitionError(f"@trigger maps event '{name}' to parameter "
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


def _event_entry(item, parameters) -> tuple[str, dict]:
    if isinstance(item, dict):
        if set(item) - {"name", "parameters"} or "name" not in item:
            raise FlowDefinitionError(f"@trigger event {item!r} takes the keys 'name' and 'parameters'.")
        name, mapping = item["name"], item.get("parameters", parameters)
    else:
        name, mapping = item, parameters
    if not isinstance(name, str) or not name:
        raise FlowDefinitionError(f"@trigger event names are strings, not {name!r}.")
    if mapping is None:
        mapping = {}
    elif isinstance(mapping, (list, tuple)):
        mapping = {p: p for p in mapping}
    if not isinstance(mapping, dict):
        raise FlowDefinitionError("@trigger(parameters=...) is a dict {flow parameter: event field} or a list "
                                  "of names.")
    return name, dict(mapping)


def _qualify_event(name: str, within: Deployment | None) -> str:
    parts = name.split(".")
    if len(parts) == 2:
        raise NamingError(f"The event name '{name}' has exactly one dot: use a bare event name or a fully "
                          "qualified one ('project.branch.event').")
    if len(parts) > 2:
        validate_name("project", parts[0])
        validate_branch(".".join(parts[1:-1]))
        return name
    if within is None or within.project is None:
        return name
    return f"{within.project}.{within.branch}.{name}"


def event_parameters(flow_cls, events: list[dict]) -> dict:
    """Flow parameter values that external events carry, by @trigger's mapping."""
    spec = getattr(flow_cls, "_trigger_events", None)
    if spec is None:
        return {}
    values = {}
    for event in events:
        for name, mapping in spec.events:
            if event["name"] == name or event["name"].endswith("." + name):
                extra = event.get("extra") or {}
                values.update({param: extra[field] for param, field in mapping.items() if field in extra})
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


# -- current.trigger --------------------------------------------------------------------------

NOT_TRIGGERED = ("This run was not triggered by another flow: current.trigger is set in runs started by "
                 "@trigger_on_finish, or locally with `python flow.py --trigger FlowName/RUN_ID run`.")


class TriggerEvent:
    """One event that started the run (Metaflow's MetaflowEvent)."""

    def __init__(self, data: dict):
        self._data = data
        self.name, self.id, self.type = data["name"], data.get("id"), data.get("type", "run")
        self.extra = data.get("extra") or {}
        self.timestamp = datetime.datetime.fromisoformat(data["timestamp"]) if data.get("timestamp") else None
        self.pathspec = data.get("pathspec")

    def __repr__(self):
        return f"TriggerEvent(name={self.name!r}, id={self.id!r}, timestamp={self.timestamp}, type={self.type!r})"


class Trigger:
    """`current.trigger`: the events (and so the runs) that started this run; falsy when none did."""

    def __init__(self, events: list[dict], store=None):
        self._events = [TriggerEvent(e) for e in events]
        self._store = store

    def __bool__(self):
        return bool(self._events)

    @property
    def events(self) -> list[TriggerEvent]:
        return list(self._require())

    @property
    def event(self) -> TriggerEvent:
        return self._require()[0]

    @property
    def runs(self):
        from .client import Run
        return [Run(e.pathspec, store=self._store) for e in self._require() if e.pathspec]

    @property
    def run(self):
        runs = self.runs
        if not runs:
            raise RunNotFoundError("The events that started this run name no flow run (they are external "
                                   "events): read current.trigger.event instead.")
        return runs[0]

    def __getitem__(self, flow_name: str):
        """The triggering run of `flow_name` (bare, or fully qualified)."""
        for run in self.runs:
            full = run.flow.name
            if flow_name in (full, full.rsplit(".", 1)[-1]):
                return run
        raise KeyError(f"No run of '{flow_name}' triggered this run; it was triggered by "
                       f"{', '.join(e.name for e in self._events)}.")

    def _require(self) -> list[TriggerEvent]:
        if not self._events:
            raise RunNotFoundError(NOT_TRIGGERED)
        return self._events

    def __repr__(self):
        return f"Trigger({self._events!r})"


def depth_of(events: list[dict]) -> int:
    """How many runs deep a chain of triggers is: 0 for a run nobody's finish started."""
    return max((e.get("depth", 0) + 1 for e in events if e.get("type", "run") == "run"), default=0)


def event_from_run(run) -> dict:
    """The trigger event a finished run stands for (local --trigger)."""
    return {"name": run.flow.name, "id": run.id, "type": "run", "pathspec": run.pathspec,
            "timestamp": run.finished_at.isoformat() if run.finished_at else None,
            "depth": run.trigger_depth}


def events_for_runs(pathspecs: list[str], deployment: Deployment, store=None) -> list[dict]:
    """Trigger events for `--trigger FLOW/RUN_ID` options: the runs must exist and have succeeded."""
    from .client import Run
    from .naming import qualify
    events = []
    for pathspec in pathspecs:
        flow, _, run_id = pathspec.partition("/")
        if not flow or not run_id or "/" in run_id:
            raise RunNotFoundError(f"--trigger '{pathspec}' is not a run: write it as FlowName/RUN_ID (a bare "
                                   "flow name means this project branch) or project.branch.FlowName/RUN_ID.")
        run = Run(f"{qualify(flow, deployment)}/{run_id}", store=store)
        if not run.successful:
            raise RunNotFoundError(f"Run '{run.pathspec}' did not succeed (it failed or has not finished): "
                                   "--trigger needs a successful run.")
        events.append(event_from_run(run))
    return events


def event_from_extra(asset_name: str, timestamp, extra: dict) -> dict:
    """The trigger event an Airflow asset event stands for: a flow's finish, or an external event."""
    stamp = timestamp.isoformat() if timestamp else None
    if "pathspec" in extra:
        return {"name": asset_name, "id": extra.get("run_id"), "type": "run", "pathspec": extra["pathspec"],
                "timestamp": stamp, "depth": extra.get("depth", 0)}
    return {"name": asset_name, "id": stamp, "type": "event", "pathspec": None, "timestamp": stamp,
            "extra": extra}
