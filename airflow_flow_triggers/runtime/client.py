"""Read runs and artifacts back: Flow('F').latest_run.data.x, Run('F/run_id').successful, ...

A bare flow name inside a running project flow means the same project branch; outside, it is a
flow without @project. A fully qualified name ('project.branch.Flow') works anywhere.
`current.trigger` and `Run.trigger` are a `Trigger`: the events that started a run, and their runs.
"""
from __future__ import annotations

import datetime
from collections import namedtuple

from ..errors import RunNotFoundError
from ..naming import qualify
from .current import current
from .store import RUN_RECORD, TASK_RECORD, ArtifactStore, load_artifact, read_json


class Flow:
    def __init__(self, name: str, store: ArtifactStore | None = None):
        self.store = store or ArtifactStore()
        self.name = qualify(name, current.deployment)
        self.pathspec = self.name

    def runs(self) -> list[Run]:
        """All runs, newest first."""
        runs = [Run._at(self, run_id) for run_id in self.store.run_ids(self.name)]
        return sorted(runs, key=lambda run: run.created_at, reverse=True)

    def __iter__(self):
        return iter(self.runs())

    @property
    def latest_run(self) -> Run | None:
        runs = self.runs()
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> Run | None:
        return next((run for run in self.runs() if run.successful), None)

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.name}/{run_id}", store=self.store)

    def __repr__(self):
        return f"Flow('{self.name}')"


class Run:
    def __init__(self, pathspec: str, store: ArtifactStore | None = None):
        flow_name, _, run_id = pathspec.partition("/")
        if not run_id or "/" in run_id:
            raise RunNotFoundError(f"'{pathspec}' is not a run pathspec: write it as 'FlowName/run_id'.")
        flow = Flow(flow_name, store)
        self._init(flow, run_id)
        if self._record is None:
            raise RunNotFoundError(f"Run '{self.pathspec}' does not exist in the artifact store at "
                                   f"{flow.store.url}: check the flow name and run id "
                                   f"(`Flow('{flow.name}').runs()` lists them).")

    @classmethod
    def _at(cls, flow: Flow, run_id: str) -> Run:
        run = cls.__new__(cls)
        run._init(flow, run_id)
        return run

    def _init(self, flow: Flow, run_id: str):
        self.flow, self.id = flow, run_id
        self.pathspec = f"{flow.name}/{run_id}"
        self.path = flow.store.run_path(flow.name, run_id)
        self._record = read_json(self.path / RUN_RECORD)

    @property
    def created_at(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self._record["created_at"])

    @property
    def parameters(self) -> dict:
        return dict(self._record["parameters"])

    @property
    def trigger(self):
        """The events that started this run (falsy when none did)."""
        return Trigger(self._record.get("trigger", []), self.flow.store)

    @property
    def trigger_depth(self) -> int:
        """How many triggered runs deep this run is in a chain: 0 when nobody's finish started it."""
        return self._record.get("trigger_depth", 0)

    @property
    def end_task(self) -> Task | None:
        try:
            return self["end"].task
        except RunNotFoundError:
            return None

    @property
    def finished(self) -> bool:
        return self.end_task is not None

    @property
    def successful(self) -> bool:
        end = self.end_task
        return end is not None and end.successful

    @property
    def finished_at(self) -> datetime.datetime | None:
        end = self.end_task
        return end.finished_at if end is not None else None

    @property
    def data(self) -> DataArtifacts:
        end = self.end_task
        if end is None:
            raise RunNotFoundError(f"Run '{self.pathspec}' has not finished: its data is read from the "
                                   "'end' step, which has not run.")
        return end.data

    def steps(self) -> list[Step]:
        return [Step(self, name) for name in self.flow.store.step_names(self.path)]

    def __getitem__(self, step_name: str) -> Step:
        return Step(self, step_name)

    def __repr__(self):
        return f"Run('{self.pathspec}')"


class Step:
    def __init__(self, run: Run, name: str):
        self.run, self.name = run, name
        self.pathspec = f"{run.pathspec}/{name}"
        self.path = run.path / name

    def tasks(self) -> list[Task]:
        if not self.path.exists():
            return []
        return [Task(self, task_id) for task_id in self.run.flow.store.task_ids(self.path)]

    @property
    def task(self) -> Task:
        tasks = self.tasks()
        if not tasks:
            raise RunNotFoundError(f"Step '{self.pathspec}' has no task.")
        return tasks[0]

    def __iter__(self):
        return iter(self.tasks())

    def __repr__(self):
        return f"Step('{self.pathspec}')"


class Task:
    def __init__(self, step: Step, task_id: str):
        self.step, self.id = step, task_id
        self.pathspec = f"{step.pathspec}/{task_id}"
        self._record = read_json(step.path / task_id / TASK_RECORD)
        if self._record is None:
            raise RunNotFoundError(f"Task '{self.pathspec}' does not exist.")

    @property
    def successful(self) -> bool:
        return bool(self._record["successful"])

    @property
    def finished_at(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self._record["finished_at"])

    @property
    def data(self) -> DataArtifacts:
        return DataArtifacts(self.step.run.path, self._record["artifacts"], self.pathspec)

    def __repr__(self):
        return f"Task('{self.pathspec}')"


class DataArtifacts:
    """A task's artifacts as attributes, each loaded when first read."""

    def __init__(self, run_path, locations: dict[str, str], owner: str):
        self._run_path, self._locations, self._owner = run_path, locations, owner

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        location = self._locations.get(name)
        if location is None:
            raise AttributeError(f"'{self._owner}' has no artifact '{name}'; it has: "
                                 f"{', '.join(sorted(self._locations)) or 'none'}.")
        value = load_artifact(self._run_path / location, name)
        self.__dict__[name] = value
        return value

    def __contains__(self, name: str) -> bool:
        return name in self._locations

    def __iter__(self):
        return iter(sorted(self._locations))

    def __repr__(self):
        return f"<data of {self._owner}: {', '.join(sorted(self._locations))}>"


# -- current.trigger --------------------------------------------------------------------------

NOT_TRIGGERED = ("This run was not triggered by another flow: current.trigger is set in runs started by "
                 "@trigger_on_finish, or locally with `python flow.py --trigger FlowName/RUN_ID run`.")


MetaflowEvent = namedtuple("MetaflowEvent", ["name", "id", "timestamp", "type"])
MetaflowEvent.__doc__ = """One event that started the run, as Metaflow has it: a flow's finish is named
`metaflow.<project_flow_name>.end` with the end task's pathspec as id (type 'run'); an external
event keeps its own name (type 'event'). `timestamp` is a datetime."""


def metaflow_event(data: dict) -> MetaflowEvent:
    """The MetaflowEvent a stored trigger event (runtime/events.py) stands for."""
    stamp = datetime.datetime.fromisoformat(data["timestamp"]) if data.get("timestamp") else None
    if data.get("type", "run") == "run":
        return MetaflowEvent(f"metaflow.{data['name']}.end", data.get("end_task") or data.get("pathspec"),
                             stamp, "run")
    return MetaflowEvent(data["name"], data.get("id"), stamp, "event")


class Trigger:
    """`current.trigger`: the events (and so the runs) that started this run; falsy when none did."""

    def __init__(self, events: list[dict], store=None):
        # newest first, as Metaflow orders them: .event and .run are the latest
        self._data = sorted(events, key=lambda e: e.get("timestamp") or "", reverse=True)
        self._events = [metaflow_event(e) for e in self._data]
        self._store = store

    def __bool__(self):
        return bool(self._events)

    @property
    def events(self) -> list[MetaflowEvent]:
        return list(self._require())

    @property
    def event(self) -> MetaflowEvent:
        return self._require()[0]

    @property
    def runs(self):
        self._require()
        return self._runs()

    @property
    def run(self):
        runs = self.runs
        if not runs:
            raise RunNotFoundError("The events that started this run name no flow run (they are external "
                                   "events): read current.trigger.event instead.")
        return runs[0]

    def __getitem__(self, key: str):
        """The external event named `key`, else the triggering run of flow `key` (bare, or fully qualified)."""
        for event in self._events:
            if event.type == "event" and event.name == key:
                return event
        for run in self._runs():
            full = run.flow.name
            if key in (full, full.rsplit(".", 1)[-1]):
                return run
        raise KeyError(f"No run of '{key}' and no event named '{key}' triggered this run; it was triggered by "
                       f"{', '.join(e.name for e in self._events)}.")

    def __contains__(self, key: str) -> bool:
        try:
            return bool(self[key])
        except KeyError:
            return False

    def __iter__(self):
        return iter(self._events)

    def _runs(self) -> list[Run]:
        return [Run(e["pathspec"], store=self._store) for e in self._data if e.get("type", "run") == "run"]

    def _require(self) -> list[MetaflowEvent]:
        if not self._events:
            raise RunNotFoundError(NOT_TRIGGERED)
        return self._events

    def __repr__(self):
        return f"Trigger({self._events!r})"
