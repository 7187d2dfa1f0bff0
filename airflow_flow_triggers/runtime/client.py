"""Read runs and artifacts back: Flow('F').latest_run.data.x, Run('F/run_id').successful, ...

A bare flow name inside a running project flow means the same project branch; outside, it is a
flow without @project. A fully qualified name ('project.branch.Flow') works anywhere.
`current.trigger` and `Run.trigger` are a `Trigger`: the events that started a run, and their runs.
"""
from __future__ import annotations

import datetime
import functools
from collections import namedtuple

from ..errors import RunNotFoundError
from ..naming import split_flow_name
from .namespaces import get_namespace
from .store import RUN_RECORD, TASK_RECORD, ArtifactStore, load_artifact, read_json


class Metaflow:
    """The flows in the store (Metaflow's `Metaflow()`): those with a run in the current namespace."""

    def __init__(self, store: ArtifactStore | None = None):
        self.store = store or ArtifactStore()

    @property
    def flows(self) -> list[Flow]:
        return list(self)

    def __iter__(self):
        names = sorted({split_flow_name(folder)[2] for folder in self.store.flow_folders()})
        for name in names:
            flow = Flow._of(name, self.store)
            flow._namespace = get_namespace()
            if any(True for _ in flow):
                yield flow

    def __repr__(self):
        return "Metaflow()"


class Flow:
    """A flow by its class name, as Metaflow names it (`Flow('ClientFlow')`): its runs on every project branch,
    those of the current namespace. `Flow('project.branch.ClientFlow')` is one branch's."""

    def __init__(self, name: str, store: ArtifactStore | None = None, _namespace_check: bool = True):
        self._init(name, store, get_namespace() if _namespace_check else None)
        if not self._folders:
            raise RunNotFoundError(f"Flow('{name}') does not exist in the artifact store at {self.store.url}: check "
                                   f"the flow's name (Metaflow().flows lists those with runs in namespace "
                                   f"{self._namespace!r}).")
        if self._namespace is not None and not any(True for _ in self):
            raise NamespaceMismatch(f"Flow('{name}') has no run in namespace '{self._namespace}': switch with "
                                    "namespace('user:<name>'), or namespace(None) to see every run.")

    @classmethod
    def _of(cls, name: str, store: ArtifactStore | None) -> Flow:
        """The flow `name`, unchecked: its folders may hold no run."""
        flow = object.__new__(cls)
        flow._init(name, store, None)
        return flow

    def _init(self, name: str, store: ArtifactStore | None, namespace: str | None) -> None:
        self.store = store or ArtifactStore()
        project, _, self.id = split_flow_name(name)
        self.name = self.pathspec = self.id
        self._qualified = name if project else None
        self._namespace = namespace

    @functools.cached_property
    def _folders(self) -> list[str]:
        """The store's folders of this flow: one branch's, or of every branch and without @project."""
        return [self._qualified] if self._qualified else self.store.flow_folders(self.id)

    def runs(self, *tags: str) -> list[Run]:
        """The runs of the current namespace that have all `tags`, newest first."""
        return [run for run in self._all_runs() if run._in_namespace(self._namespace) and run.has_tags(tags)]

    def _all_runs(self) -> list[Run]:
        runs = [Run._at(self, folder, run_id) for folder in self._folders for run_id in self.store.run_ids(folder)]
        return sorted((run for run in runs if run._record is not None), key=lambda run: run.created_at,
                      reverse=True)

    def __iter__(self):
        return iter(self.runs())

    @property
    def latest_run(self) -> Run | None:
        return next(iter(self), None)

    @property
    def latest_successful_run(self) -> Run | None:
        return next((run for run in self if run.successful), None)

    def __getitem__(self, run_id: str) -> Run:
        return Run._find(self, run_id, self._namespace is not None)

    def __repr__(self):
        return f"Flow('{self.pathspec}')"


class Run:
    """`Run('ClientFlow/<run id>')` (or `Run('project.branch.ClientFlow/<run id>')`): one run, in the current
    namespace."""

    def __new__(cls, pathspec: str, store: ArtifactStore | None = None, _namespace_check: bool = True):
        flow_name, _, run_id = pathspec.partition("/")
        if not flow_name or not run_id or "/" in run_id:
            raise RunNotFoundError(f"'{pathspec}' is not a run pathspec: write it as 'FlowName/run_id'.")
        return cls._find(Flow._of(flow_name, store), run_id, _namespace_check, pathspec)

    @classmethod
    def stored(cls, pathspec: str, store: ArtifactStore | None = None) -> Run:
        """The run stored under exactly `pathspec` (`<project_flow_name>/<run id>`, as events and records keep
        it): its folder as written, never looked up by class name, whatever the namespace."""
        folder, _, run_id = pathspec.partition("/")
        run = cls._at(Flow._of(folder, store), folder, run_id) if folder and run_id and "/" not in run_id else None
        if run is None or run._record is None:
            raise RunNotFoundError(f"Run '{pathspec}' does not exist in the artifact store at "
                                   f"{(store or ArtifactStore()).url}.")
        return run

    @classmethod
    def _find(cls, flow: Flow, run_id: str, namespace_check: bool = True, asked: str | None = None) -> Run:
        asked = asked or f"{flow.name}/{run_id}"
        found = [run for run in (cls._at(flow, folder, run_id) for folder in flow._folders) if run._record]
        if not found:
            raise RunNotFoundError(f"Run '{asked}' does not exist in the artifact store at {flow.store.url}: "
                                   f"check the flow name and run id (`Flow('{flow.name}').runs()` lists them).")
        namespace = get_namespace() if namespace_check else None
        mine = [run for run in found if run._in_namespace(namespace)]
        if not mine:
            raise NamespaceMismatch(f"Run('{asked}') is not in namespace '{namespace}' (it is in "
                                    f"{found[0].namespace!r}): switch with namespace('{found[0].namespace}'), or "
                                    "namespace(None) to see every run.")
        if len(mine) > 1:
            raise RunNotFoundError(f"'{asked}' names {len(mine)} runs, one per project branch "
                                   f"({', '.join(run.project_flow_name for run in mine)}): write the branch's "
                                   f"qualified name, e.g. Run('{mine[0].project_flow_name}/{run_id}').")
        return mine[0]

    @classmethod
    def _at(cls, flow: Flow, folder: str, run_id: str) -> Run:
        run = object.__new__(cls)
        run.flow, run.id, run.project_flow_name = flow, run_id, folder
        run.pathspec = f"{flow.name}/{run_id}"
        run.path = flow.store.run_path(folder, run_id)
        run._record = read_json(run.path / RUN_RECORD)
        return run

    @property
    def qualified_pathspec(self) -> str:
        """`<project>.<branch>.<Flow>/<run id>`: the one run, whatever the namespace."""
        return f"{self.project_flow_name}/{self.id}"

    @property
    def created_at(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self._record["created_at"])

    @property
    def system_tags(self) -> frozenset[str]:
        return frozenset(self._record.get("system_tags", ()))

    @property
    def user_tags(self) -> frozenset[str]:
        return frozenset(self._record.get("user_tags", ()))

    @property
    def tags(self) -> frozenset[str]:
        return self.system_tags | self.user_tags

    @property
    def namespace(self) -> str | None:
        """The namespace the run was made in (`user:<name>`, or a deployment's `production:<...>`)."""
        return self._record.get("namespace")

    def has_tags(self, tags) -> bool:
        return set(tags) <= self.tags

    def _in_namespace(self, namespace: str | None) -> bool:
        return namespace is None or namespace in self.tags

    @property
    def parameters(self) -> dict:
        return dict(self._record["parameters"])

    @property
    def trigger(self):
        """The events that started this run (falsy when none did)."""
        return Trigger(self._record.get("trigger", []), self.flow.store)

    @property
    def kind(self) -> str:
        """'flow', or 'dag' for the run of an Airflow DAG of a project (runtime/dag_runs.py)."""
        return self._record.get("kind", "flow")

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
    def data(self) -> DataArtifacts | None:
        """The artifacts of the end step (None while the run has not finished, as in Metaflow)."""
        end = self.end_task
        return end.data if end is not None else None

    def steps(self) -> list[Step]:
        return [Step(self, name) for name in self.flow.store.step_names(self.path)]

    def __iter__(self):
        return iter(self.steps())

    def __getitem__(self, step_name: str) -> Step:
        return Step(self, step_name)

    def __repr__(self):
        return f"Run('{self.pathspec}')"


class NamespaceMismatch(RunNotFoundError):
    """The object exists, in another namespace (Metaflow's MetaflowNamespaceMismatch)."""


class Step:
    def __init__(self, run: Run, name: str):
        self.run, self.name, self.id = run, name, name
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
            if key in (run.project_flow_name, run.flow.name):
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
        return [Run.stored(e["pathspec"], self._store) for e in self._data if e.get("type", "run") == "run"]

    def _require(self) -> list[MetaflowEvent]:
        if not self._events:
            raise RunNotFoundError(NOT_TRIGGERED)
        return self._events

    def __repr__(self):
        return f"Trigger({self._events!r})"
