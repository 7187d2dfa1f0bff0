"""Read runs and artifacts back, as Metaflow's client does: `Flow('F').latest_run.data.x`, `Run('F/run_id')`,
`Step('F/run_id/step')`, `Task('F/run_id/step/task_id')` (`.stdout`, `.stderr`, `.exception`, `.parent_tasks`,
`task['x'].data`), `Run.add_tag(...)`.

A bare flow name inside a running project flow means the same project branch; outside, it is a
flow without @project. A fully qualified name ('project.branch.Flow') works anywhere.
`current.trigger` and `Run.trigger` are a `Trigger`: the events that started a run, and their runs.
The objects pickle (an artifact may hold one: `self.run_obj = current.run`) as where they are in the store.
"""
from __future__ import annotations

import datetime
import functools
import platform
from collections import namedtuple

from ..errors import RunNotFoundError
from ..naming import split_flow_name
from .client_store import client_store
from .current import current
from .logs import logged_attempts, read_log
from .namespaces import get_namespace
from .store import (
    RUN_RECORD,
    TASK_RECORD,
    ArtifactStore,
    file_digest,
    load_artifact,
    reaching,
    read_json,
    task_order,
)
from .tagging import mutate_user_tags, one_or_many


class NamespaceMismatch(RunNotFoundError):
    """The object exists, in another namespace (Metaflow's MetaflowNamespaceMismatch)."""


class InvalidPathspec(RunNotFoundError):
    """A pathspec of the wrong shape for the object asked (Metaflow's MetaflowInvalidPathspec)."""


class ChildNotFound(RunNotFoundError, KeyError):
    """No step, task or artifact of that name: `run['nope']` is a KeyError, as in Metaflow."""


Metadata = namedtuple("Metadata", ["name", "value", "created_at", "type", "task"])
Metadata.__doc__ = "One metadata entry of a task, as Metaflow's: `created_at` in milliseconds since the epoch."


_FORMS = {2: ("run", "'FlowName/run_id'"), 3: ("step", "'FlowName/run_id/step_name'"),
          4: ("task", "'FlowName/run_id/step_name/task_id'"),
          5: ("artifact", "'FlowName/run_id/step_name/task_id/name'")}


def _split(pathspec, parts: int) -> list[str]:
    ids = pathspec.split("/") if isinstance(pathspec, str) else []
    if len(ids) != parts or not all(ids):
        kind, form = _FORMS[parts]
        raise InvalidPathspec(f"{pathspec!r} is not a {kind} pathspec: write it as {form}.")
    return ids


def _time(text: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(text) if text else None


class _ClientObject:
    """What every object of the client has, as Metaflow's MetaflowObject: its id and pathspec, the tags of
    its run, its parent; children by name (`obj[id]`, `id in obj`) and by iteration. Only runs and flows are
    checked against the namespace: a run's steps, tasks and artifacts carry its tags."""

    _KIND = "object"

    def __repr__(self):
        return f"{type(self).__name__}('{self.pathspec}')"

    __str__ = __repr__

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def parent(self):
        """The object this one is in: a task's step, a step's run, a run's flow (a flow's: None)."""
        return self._parent

    @property
    def origin_pathspec(self) -> str | None:
        """What a resume cloned this from (Metaflow's): a resumed run's origin run, its steps' there, a cloned
        task's origin task (a task that ran again has none); None outside a resumed run."""
        if self._KIND == "run":
            origin = self._record.get("origin_run_id")
            return f"{self.parent.id}/{origin}" if origin else None
        within = self.parent.origin_pathspec if self._KIND in ("step", "task") else None
        if within is None:
            return None
        if self._KIND == "task":
            return f"{within}/{self._get('origin_task_id')}" if self._get("origin_task_id") else None
        return f"{within}/{self.id}"

    @property
    def tags(self) -> frozenset[str]:
        return self.run.tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.run.system_tags

    @property
    def user_tags(self) -> frozenset[str]:
        return self.run.user_tags

    def __contains__(self, id: str) -> bool:
        try:
            self[id]
        except KeyError:
            return False
        return True

    def __reduce__(self):
        """Pickled as where it is; unpickled, it is found there again whatever the namespace (as Metaflow's)."""
        return _stored, (type(self), self._stored_pathspec(), self.store.url)


def _stored(kind: type, where: str, store_url: str):
    """The object of `kind` at `where` (its pathspec with the qualified flow folder), unchecked."""
    store = ArtifactStore(store_url)
    if kind is Flow:
        return Flow._of(where, store)
    folder, run_id, *rest = where.split("/")
    obj = Run.stored(f"{folder}/{run_id}", store)
    for child_kind, name in zip((Step, Task, DataArtifact), rest, strict=False):
        obj = child_kind._at(obj, name)
    return obj


class Metaflow:
    """The flows in the store (Metaflow's `Metaflow()`): those with a run in the current namespace."""

    def __init__(self, store: ArtifactStore | None = None):
        self.store = store or client_store()

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

    def __getitem__(self, name: str) -> Flow:
        return Flow(name, self.store)

    def __repr__(self):
        return "Metaflow()"


class Flow(_ClientObject):
    """A flow by its class name, as Metaflow names it (`Flow('ClientFlow')`): its runs on every project branch,
    those of the current namespace. `Flow('project.branch.ClientFlow')` is one branch's."""

    _KIND = "flow"

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
        self.store = store or client_store()
        project, _, self.id = split_flow_name(name)
        self.name = self.pathspec = self.id
        self._qualified = name if project else None
        self._namespace = namespace
        self._parent = None

    def _stored_pathspec(self) -> str:
        return self._qualified or self.id

    @functools.cached_property
    def _folders(self) -> list[str]:
        """The store's folders of this flow: one branch's, or of every branch and without @project."""
        return [self._qualified] if self._qualified else self.store.flow_folders(self.id)

    @property
    def tags(self) -> frozenset[str]:
        """A flow has no tags (its runs do), as in Metaflow."""
        return frozenset()

    system_tags = user_tags = tags

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


class Run(_ClientObject):
    """`Run('ClientFlow/<run id>')` (or `Run('project.branch.ClientFlow/<run id>')`): one run, in the current
    namespace."""

    _KIND = "run"

    def __new__(cls, pathspec: str, store: ArtifactStore | None = None, _namespace_check: bool = True):
        flow_name, run_id = _split(pathspec, 2)
        return cls._find(Flow._of(flow_name, store), run_id, _namespace_check, pathspec)

    @classmethod
    def stored(cls, pathspec: str, store: ArtifactStore | None = None) -> Run:
        """The run stored under exactly `pathspec` (`<project_flow_name>/<run id>`, as events and records keep
        it): its folder as written, never looked up by class name, whatever the namespace."""
        folder, _, run_id = pathspec.partition("/")
        run = cls._at(Flow._of(folder, store), folder, run_id) if folder and run_id and "/" not in run_id else None
        if run is None or run._record is None:
            raise RunNotFoundError(f"Run '{pathspec}' does not exist in the artifact store at "
                                   f"{(store or client_store()).url}.")
        return run

    @classmethod
    def _find(cls, flow: Flow, run_id: str, namespace_check: bool = True, asked: str | None = None) -> Run:
        asked = asked or f"{flow.name}/{run_id}"
        found = [run for run in (cls._at(flow, folder, run_id) for folder in flow._folders) if run._record]
        if not found:
            raise ChildNotFound(f"Run '{asked}' does not exist in the artifact store at {flow.store.url}: "
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
        run.flow, run.id, run.project_flow_name, run._parent = flow, run_id, folder, flow
        run.store = flow.store
        run.pathspec = f"{flow.name}/{run_id}"
        run.path = flow.store.run_path(folder, run_id)
        run._record = read_json(run.path / RUN_RECORD)
        return run

    def _stored_pathspec(self) -> str:
        return self.qualified_pathspec

    @property
    def run(self) -> Run:
        return self

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

    # -- tags, as Metaflow's Run changes them (runtime/tagging.py) --------------------------------

    def add_tag(self, tag: str) -> None:
        """Add a user tag; a tag that is already a system tag is left as it is, without an error."""
        self.replace_tags([], one_or_many(tag))

    def add_tags(self, tags) -> None:
        self.replace_tags([], tags)

    def remove_tag(self, tag: str) -> None:
        """Remove a user tag (one the run does not have: nothing happens); a system tag cannot be removed."""
        self.replace_tags(one_or_many(tag), [])

    def remove_tags(self, tags) -> None:
        self.replace_tags(tags, [])

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        self.replace_tags(one_or_many(tag_to_remove), one_or_many(tag_to_add))

    def replace_tags(self, tags_to_remove, tags_to_add) -> None:
        """Remove, then add, in one change of the run's record."""
        user_tags = mutate_user_tags(self.path / RUN_RECORD, tags_to_remove, tags_to_add)
        self._record = dict(self._record, user_tags=sorted(user_tags))

    # -- what the run holds -----------------------------------------------------------------------

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
        except KeyError:
            return None

    @property
    def finished(self) -> bool:
        end = self.end_task
        return end is not None and end.finished

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

    @functools.cached_property
    def _graph(self) -> dict:
        """{step: {"type", "next"}} as the run's start task recorded it ({} for a run made before it did)."""
        return self._record.get("graph") or {}

    def steps(self, *tags: str) -> list[Step]:
        """The run's steps that have a task, newest first (as Metaflow orders them)."""
        steps = [Step._at(self, name) for name in self.store.step_names(self.path) if not name.startswith("_")]
        steps = [step for step in steps if step._task_ids]
        return sorted(steps, key=lambda step: step._started, reverse=True) if self.has_tags(tags) else []

    def __iter__(self):
        return iter(self.steps())

    def __getitem__(self, step_name: str) -> Step:
        step = Step._at(self, step_name)
        if not step._task_ids:
            raise ChildNotFound(f"Run '{self.pathspec}' has no step '{step_name}' (none of its tasks has "
                                f"started); it has: {', '.join(sorted(s.id for s in self)) or 'none'}.")
        return step


class Step(_ClientObject):
    """`Step('ClientFlow/<run id>/start')`: a step of a run, and its tasks (one per foreach branch)."""

    _KIND = "step"

    def __new__(cls, pathspec: str, store: ArtifactStore | None = None, _namespace_check: bool = True):
        flow_name, run_id, name = _split(pathspec, 3)
        run = Run._find(Flow._of(flow_name, store), run_id, _namespace_check, f"{flow_name}/{run_id}")
        return run[name]

    @classmethod
    def _at(cls, run: Run, name: str) -> Step:
        step = object.__new__(cls)
        step.run, step.name, step.id, step.store, step._parent = run, name, name, run.store, run
        step.pathspec = f"{run.pathspec}/{name}"
        step.path = run.path / name
        return step

    def _stored_pathspec(self) -> str:
        return f"{self.run.qualified_pathspec}/{self.id}"

    @functools.cached_property
    def _task_ids(self) -> list[str]:
        """Its tasks that started: with a record, or with a log (running, or ended by a crash)."""
        with reaching(self.path, "list"):
            folders = [p for p in self.path.iterdir() if p.is_dir()] if self.path.exists() else []
        started = [p.name for p in folders if (p / TASK_RECORD).exists() or logged_attempts(p)]
        if (current.project_flow_name, current.run_id, current.step_name) == \
                (self.run.project_flow_name, self.run.id, self.id) and current.task_id not in started:
            started.append(current.task_id)       # this very task, running: no trace of it in the store yet
        return sorted(started, key=task_order)

    @property
    def _started(self) -> datetime.datetime:
        """When its first task started (a task still without a record: now)."""
        first = self.task
        return (first and first.created_at) or datetime.datetime.now(datetime.timezone.utc)

    def tasks(self, *tags: str) -> list[Task]:
        """Its tasks, in the order of their ids ('4-0', '4-1', ... '4-10': foreach branches in order)."""
        return [Task._at(self, task_id) for task_id in self._task_ids] if self.run.has_tags(tags) else []

    @property
    def task(self) -> Task | None:
        """Its first task: the only one of a step outside a foreach."""
        return next(iter(self.tasks()), None)

    def __iter__(self):
        return iter(self.tasks())

    def __getitem__(self, task_id: str) -> Task:
        if task_id not in self._task_ids:
            raise ChildNotFound(f"Step '{self.pathspec}' has no task '{task_id}'; it has: "
                                f"{', '.join(self._task_ids) or 'none'}.")
        return Task._at(self, task_id)

    @property
    def created_at(self) -> datetime.datetime:
        return self._started

    @property
    def finished_at(self) -> datetime.datetime | None:
        """When its last task finished (None while one has not)."""
        times = [task.finished_at for task in self]
        return None if not times or None in times else max(times)

    @property
    def parent_steps(self) -> list[Step]:
        graph = self.run._graph
        return [self.run[name] for name, node in graph.items() if self.id in node["next"] and name in self.run]

    @property
    def child_steps(self) -> list[Step]:
        following = self.run._graph.get(self.id, {}).get("next", [])
        return [self.run[name] for name in following if name in self.run]


class Task(_ClientObject):
    """`Task('ClientFlow/<run id>/start/1')`: one task (one foreach branch) of a step; its artifacts
    (`task['x'].data`, `task.data.x`), output (`stdout`, `stderr`), the exception it failed with, its
    neighbours (`parent_tasks`, `child_tasks`). `attempt=` reads the output of an earlier attempt."""

    _KIND = "task"

    def __new__(cls, pathspec: str, attempt: int | None = None, store: ArtifactStore | None = None,
                _namespace_check: bool = True):
        flow_name, run_id, step_name, task_id = _split(pathspec, 4)
        run = Run._find(Flow._of(flow_name, store), run_id, _namespace_check, f"{flow_name}/{run_id}")
        task = run[step_name][task_id]
        task._attempt = attempt
        return task

    @classmethod
    def _at(cls, step: Step, task_id: str) -> Task:
        task = object.__new__(cls)
        task.step, task.id, task.store, task.run, task._parent = step, task_id, step.store, step.run, step
        task.pathspec = f"{step.pathspec}/{task_id}"
        task.path = step.path / task_id
        task._attempt = None
        return task

    def _stored_pathspec(self) -> str:
        return f"{self.step._stored_pathspec()}/{self.id}"

    @functools.cached_property
    def _record(self) -> dict | None:
        """Its record; None while it runs (or when its process died before it could write one)."""
        return read_json(self.path / TASK_RECORD)

    def _get(self, key: str, default=None):
        return (self._record or {}).get(key, default)

    @property
    def created_at(self) -> datetime.datetime | None:
        return _time(self._get("started_at"))

    @property
    def successful(self) -> bool:
        return bool(self._get("successful"))

    @property
    def finished(self) -> bool:
        """Whether it ended well (Metaflow's `_task_ok`): False while it runs, and when it failed."""
        return self.successful

    @property
    def finished_at(self) -> datetime.datetime | None:
        """When it ended, successfully or not (None while it runs)."""
        return _time(self._get("finished_at"))

    @property
    def exception(self):
        """The exception it failed with, as Metaflow keeps it (`.type`, `.exception`, `.stacktrace`), else None."""
        return self["_exception"].data if "_exception" in self._artifacts else None

    @property
    def index(self) -> int | None:
        """Its index in the innermost foreach (None outside any)."""
        stack = self._get("foreach_stack") or []
        return stack[-1]["index"] if stack else None

    @property
    def current_attempt(self) -> int:
        """The attempt its output is read from: `attempt=` if given, else the latest that started."""
        if self._attempt is not None:
            return int(self._attempt)
        return max([self._get("attempt", 0), *logged_attempts(self.path)])

    @property
    def stdout(self) -> str:
        return self.read_log("stdout")

    @property
    def stderr(self) -> str:
        return self.read_log("stderr")

    @property
    def stdout_size(self) -> int:
        return len(self.stdout.encode())

    @property
    def stderr_size(self) -> int:
        return len(self.stderr.encode())

    def read_log(self, stream: str, attempt: int | None = None) -> str:
        """What it wrote to `stream` ('stdout' or 'stderr') in `attempt` (default: current_attempt), as Metaflow
        returns it: every line ended by a newline."""
        text = read_log(self.path, stream, self.current_attempt if attempt is None else attempt)
        return text if not text or text.endswith("\n") else text + "\n"

    @property
    def runtime_name(self) -> str | None:
        return next((tag.split(":", 1)[1] for tag in self.tags if tag.startswith("runtime:")), None)

    # -- artifacts ----------------------------------------------------------------------------

    @property
    def _artifacts(self) -> dict[str, str]:
        return self._get("artifacts") or {}

    @property
    def data(self) -> DataArtifacts:
        return DataArtifacts(self.run.path, self._artifacts, self.pathspec)

    @property
    def artifacts(self):
        """Its DataArtifacts by name (Metaflow's MetaflowArtifacts)."""
        found = list(self)
        return namedtuple("MetaflowArtifacts", [a.id for a in found])._make(found)

    def artifact_names(self, private: bool = False) -> list[str]:
        """The names of its artifacts, sorted; the private ones (`_name`) too if `private`."""
        return sorted(name for name in self._artifacts if private or not name.startswith("_"))

    def __iter__(self):
        """Its artifacts, but the private ones (`_name`), as Metaflow iterates them."""
        return iter([DataArtifact._at(self, name) for name in sorted(self._artifacts) if not name.startswith("_")])

    def __getitem__(self, name: str) -> DataArtifact:
        if name not in self._artifacts:
            raise ChildNotFound(f"Task '{self.pathspec}' has no artifact '{name}'; it has: "
                                f"{', '.join(a.id for a in self) or 'none'}.")
        return DataArtifact._at(self, name)

    # -- its place in the run -------------------------------------------------------------------

    @property
    def parent_task_pathspecs(self) -> list[str]:
        return [f"{self.run.pathspec}/{parent}" for parent in self._get("parents", [])]

    @property
    def parent_tasks(self) -> list[Task]:
        return [self.run[step][task_id] for step, task_id in (p.split("/") for p in self._get("parents", []))]

    @property
    def child_task_pathspecs(self) -> list[str]:
        return [task.pathspec for task in self.child_tasks]

    @property
    def child_tasks(self) -> list[Task]:
        """The tasks that took this one as an input (a recursive switch's next run of this step, too)."""
        mine = f"{self.step.id}/{self.id}"
        return [task for step in self.step.child_steps for task in step if mine in task._get("parents", [])]

    @property
    def metadata(self) -> list[Metadata]:
        """Metaflow's metadata of a task, as far as the store says it: its attempts (one `attempt` entry each,
        or only the one asked for with `attempt=`) and the outcome, the store, the runtime, the user, where in its
        foreaches it ran."""
        stamp = int((self.finished_at or self.created_at or datetime.datetime.now()).timestamp() * 1000)
        url = self.store.url
        tags = {tag.split(":", 1)[0]: tag.split(":", 1)[1] for tag in self.system_tags if ":" in tag}
        values = {"attempt": str(self.current_attempt),
                  "ds-type": "local" if url.startswith("file://") else url.split("://", 1)[0],
                  "ds-root": url.removeprefix("file://"), "runtime": tags.get("runtime"), "user": tags.get("user"),
                  "python_version": tags.get("python_version", platform.python_version()),
                  # a resumed run's (runtime/resume.py): its origin run, and for a cloned task the task cloned
                  "origin-run-id": self.run._record.get("origin_run_id"), "origin-task-id": self._get("origin_task_id")}
        if self._record is not None:
            values.update({"attempt_ok": str(self.successful), "attempt-done": str(self._get("attempt", 0))})
        stack = self._get("foreach_stack") or []
        if stack:
            values["foreach-execution-path"] = ",".join(f"{frame['step']}:{frame['index']}" for frame in stack)
        earlier = [] if self._attempt is not None else \
            sorted({*logged_attempts(self.path), self._get("attempt", 0)} - {self.current_attempt})
        return [*(Metadata("attempt", str(attempt), stamp, "attempt", self) for attempt in earlier),   # as Metaflow:
                *(Metadata(name, value, stamp, name, self)                                     # one per attempt
                  for name, value in values.items() if value is not None)]

    @property
    def metadata_dict(self) -> dict[str, str]:
        return {entry.name: entry.value for entry in self.metadata}


class DataArtifact(_ClientObject):
    """`task['x']` (or `DataArtifact('ClientFlow/<run id>/start/1/x')`): one artifact, `.data` its value."""

    _KIND = "artifact"

    def __new__(cls, pathspec: str, store: ArtifactStore | None = None, _namespace_check: bool = True):
        *task, name = _split(pathspec, 5)
        return Task("/".join(task), store=store, _namespace_check=_namespace_check)[name]

    @classmethod
    def _at(cls, task: Task, name: str) -> DataArtifact:
        artifact = object.__new__(cls)
        artifact.task = artifact._parent = task
        artifact.id, artifact.store, artifact.run = name, task.store, task.run
        artifact.pathspec = f"{task.pathspec}/{name}"
        artifact.path = task.run.path / task._artifacts[name]
        return artifact

    def _stored_pathspec(self) -> str:
        return f"{self.task._stored_pathspec()}/{self.id}"

    @property
    def data(self):
        return load_artifact(self.path, self.id)

    @property
    def sha(self) -> str:
        """The SHA-1 of its pickled value, as Metaflow identifies an artifact."""
        return file_digest(self.path)

    @property
    def size(self) -> int:
        """The size of its pickled value, in bytes."""
        with reaching(self.path, "read"):
            return self.path.stat().st_size

    @property
    def created_at(self) -> datetime.datetime | None:
        return self.task.finished_at

    @property
    def finished_at(self) -> datetime.datetime | None:
        return self.created_at

    @property
    def type(self) -> str | None:
        """str() of its value's type, as the task that stored it recorded it (None if it did not)."""
        step, task_id, _ = self.task._artifacts[self.id].split("/", 2)
        record = read_json(self.run.path / step / task_id / TASK_RECORD) or {}
        return (record.get("types") or {}).get(self.id)


class DataArtifacts:
    """A task's artifacts as attributes (`task.data.x`), each loaded when first read; its private artifacts
    (`_name`) are left out, as in Metaflow's MetaflowData."""

    def __init__(self, run_path, locations: dict[str, str], owner: str):
        self._run_path, self._owner = run_path, owner
        self._locations = {name: where for name, where in locations.items() if not name.startswith("_")}

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


def find_run(flow_name: str, run_id: str, store: ArtifactStore | None = None) -> Run:
    """Run `run_id` of `flow_name` whatever the namespace (a bare name: on whichever branch it is; a qualified one:
    that branch's), as the command line's `logs`, `dump` and `tag list` read it."""
    return Run._find(Flow._of(flow_name, store), run_id, namespace_check=False, asked=f"{flow_name}/{run_id}")


def running_task(store: ArtifactStore, deployment, run_id: str, step: str, task_id: str) -> Task:
    """`current.task`: the running task, found again whatever the namespace."""
    return Task._at(Step._at(running_run(store, deployment, run_id), step), task_id)


def running_run(store: ArtifactStore, deployment, run_id: str) -> Run:
    """`current.run`: the running run, whatever the namespace."""
    return Run.stored(f"{deployment.project_flow_name}/{run_id}", store)


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
    if data.get("type", "run") == "run" and data.get("outcome") == "failed":    # @trigger_on_finish(outcome=...)
        return MetaflowEvent(f"metaflow.{data['name']}.failed", data.get("failed_task") or data.get("pathspec"),
                             stamp, "run")
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
