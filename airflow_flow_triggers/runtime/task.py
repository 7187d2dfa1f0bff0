"""Run one step as one task: load its inputs from the store, run the user's code, persist artifacts.

Local runs (`python flow.py run`) and Airflow tasks both call `execute_task`; between tasks only
a small `TaskRef` travels (in memory locally, as XCom on Airflow).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import functools
import itertools
import os
import traceback
from dataclasses import asdict, dataclass

from ..errors import (
    ArtifactError,
    FailureHandledByCatch,
    FlowDefinitionError,
    FlowTriggersError,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
    type_name,
)
from ..flows.configs import config_artifacts, config_values, configured, flow_configs, plain
from ..flows.configure import ensure_configured
from ..flows.decorators import step_settings
from ..flows.graph import flow_graph
from ..flows.graph_info import flow_constants
from ..flows.mutators import parameter_names
from ..flows.parameters import flow_parameters, resolve_parameter_values
from ..flows.secrets import step_secrets
from ..flows.user_decorators import run_step_code
from ..naming import Deployment, namespace_of, system_tags
from .cards import TaskFacts, shows_contents, step_cards, store_final_cards
from .client import Trigger, running_run, running_task
from .current import TaskContext, enter_task, leave_task
from .events import depth_of
from .output import failure_report, kept_output, user_traceback
from .secrets import step_secret_values
from .store import (
    RUN_PARAMETERS,
    RUN_RECORD,
    TASK_RECORD,
    ArtifactStore,
    file_digest,
    load_artifact,
    read_json,
    save_artifact,
    value_digest,
    write_json,
)
from .timeout import step_timeout

_IMMUTABLE = (int, float, complex, bool, str, bytes, type(None), range, datetime.date, datetime.time,
              datetime.timedelta)


@dataclass(frozen=True)
class TaskRef:
    """What one task hands the next: where it is, how many branches a foreach opens, which case a switch took."""

    step: str
    task_id: str
    foreach_count: int | None = None
    next_step: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TaskRef:
        return cls(**data)


def foreach_item(items, index: int):
    """The item of a foreach branch, as Metaflow finds it: by index, or by iterating (a set, a generator)."""
    try:
        return items[index]
    except TypeError:
        return next(itertools.islice(items, index, index + 1))


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def task_id_for(number: int, foreach_stack: list[dict] = (), iteration: int = 0) -> str:
    """A task's id, unique in its run as Metaflow's: its step's number in the flow's graph ('1' for start), then
    its foreach branch ('4-0', '4-1'; '5-1-2' two foreaches deep), then a recursive switch's n-th run of the step
    ('3.2'). Every worker finds it alone, from where the task is: there is no run-wide counter to ask."""
    return "-".join([str(number), *(str(frame["index"]) for frame in foreach_stack)]) + \
        (f".{iteration}" if iteration else "")


def step_number(steps, step: str) -> int:
    """Where `step` is among `steps` (a flow graph's order, or a run's record of its graph), from 1."""
    return list(steps).index(step) + 1


def execute_task(flow_cls: type, deployment: Deployment, run_id: str, step_name: str,
                 inputs: list[TaskRef], split_index: int | None = None, parameters: dict | None = None,
                 store: ArtifactStore | None = None, origin: str = "local",
                 trigger_events: list[dict] | None = None, retry_count: int = 0,
                 tags: list[str] | None = None) -> TaskRef:
    """Run `step_name` of `flow_cls` in run `run_id` (attempt `retry_count`, 0 the first); raises whatever the
    step raises, unless @catch takes it."""
    return prepare_task(flow_cls, deployment, run_id, step_name, inputs, split_index, parameters, store,
                        origin, trigger_events, retry_count, tags).execute()


def prepare_task(flow_cls: type, deployment: Deployment, run_id: str, step_name: str,
                 inputs: list[TaskRef], split_index: int | None = None, parameters: dict | None = None,
                 store: ArtifactStore | None = None, origin: str = "local",
                 trigger_events: list[dict] | None = None, retry_count: int = 0,
                 tags: list[str] | None = None, code: dict | None = None,
                 origin_run_id: str | None = None) -> TaskState:
    """Load what the task needs (its inputs' records, its foreach branch) without running it.

    The start task also writes the run's record: parameters, the events that triggered it, its tags, and
    the code version it runs (`code`: its deployment's package; the run's later tasks run that version).
    A resumed run's start (`origin_run_id`: the run it resumes) takes `parameters` as its origin's values.
    """
    store = store or ArtifactStore()
    run_path = store.run_path(deployment.project_flow_name, run_id)
    if not configured(flow_cls):    # a process that imported the flow anew: the configs the run started with
        ensure_configured(flow_cls, None if step_name == "start" else run_configs(run_path))
    graph = flow_graph(flow_cls)
    if step_name != "start":
        task = _task_from_inputs(store, graph, flow_cls, deployment, run_path, step_name, inputs, split_index)
    else:
        values = dict(parameters or {}) if origin_run_id else resolve_parameter_values(flow_cls, parameters or {})
        write_run_record(run_path, deployment, run_id, values, origin, trigger_events or [], tags or [], code,
                         graph=step_links(graph), origin_run_id=origin_run_id, configs=config_values(flow_cls))
        task = TaskState(store, deployment, run_path, step_name, {}, [], flow_cls)
        # `name`: the flow's name, an artifact of every task as in Metaflow (run.data.name, `dump`)
        task.parameters_to_save = {"name": flow_cls.__name__, **flow_constants(flow_cls), **values,
                                   **config_artifacts(flow_cls)}
    task.retry_count, task.origin = retry_count, origin
    task.parents = [f"{ref.step}/{ref.task_id}" for ref in inputs]
    return task


def write_run_record(run_path, deployment: Deployment, run_id: str, values: dict, origin: str,
                     trigger_events: list[dict], tags: list[str], code: dict | None = None, kind: str = "flow",
                     graph: dict | None = None, origin_run_id: str | None = None, configs: dict | None = None) -> None:
    """A run's record (`_run.json`), by its first task: a flow's, or an Airflow DAG's of a project (`kind`), with
    how its steps connect (`graph`, step_links: the client's Step.child_steps) and the run it resumes, if any.
    The parameter values are pickled beside it too, exactly, for a resume of the run."""
    deployed = origin != "local"
    if values:
        save_artifact(run_path, "start", RUN_PARAMETERS, values)
    write_json(run_path / RUN_RECORD, {"kind": kind,
        "flow_name": deployment.flow_name, "project_flow_name": deployment.project_flow_name,
        "project": deployment.project, "branch": deployment.branch, "deployer": deployment.deployer,
        "run_id": run_id, "created_at": now(), "parameters": values, "origin": origin,
        "trigger": trigger_events, "trigger_depth": depth_of(trigger_events),
        "namespace": namespace_of(deployment, deployed), "system_tags": system_tags(deployment, deployed),
        "user_tags": sorted(set(tags)), "code": code, "graph": graph, "origin_run_id": origin_run_id,
        "configs": plain(configs or {}),
    })


def step_links(graph) -> dict:
    """{step: {"type", "next"}}: what a run keeps of its flow's graph."""
    return {node.name: {"type": node.type, "next": list(node.out_funcs)} for node in graph}


def _task_from_inputs(store, graph, flow_cls, deployment, run_path, step_name, inputs, split_index):
    node = graph[step_name]
    parents = [read_task_record(run_path, ref.step, ref.task_id) for ref in inputs]
    if node.type == "join":
        split = graph.split_of(step_name)
        stack = list(parents[0]["foreach_stack"])
        if split.type == "foreach":
            stack.pop()
        params = {p.attr_name for p in flow_parameters(flow_cls).values()} | set(flow_configs(flow_cls)) | \
            set(flow_constants(flow_cls)) | {"name"}      # a join passes them down, as Metaflow's
        artifacts = {k: v for k, v in parents[0]["artifacts"].items() if k in params}
        return TaskState(store, deployment, run_path, step_name, artifacts, stack, flow_cls,
                         join_inputs=[InputView(run_path, p, flow_cls) for p in parents])
    parent = parents[0]
    stack = list(parent["foreach_stack"])
    if parent["step"] == step_name:   # a recursive switch running again: the next task of the same step
        return TaskState(store, deployment, run_path, step_name, dict(parent["artifacts"]), stack, flow_cls,
                         iteration=parent.get("iteration", 0) + 1)
    if graph[parent["step"]].type == "foreach":
        var = graph[parent["step"]].foreach_var
        stack.append({"step": parent["step"], "var": var, "location": parent["artifacts"][var],
                      "index": split_index, "count": parent["foreach_count"]})
    return TaskState(store, deployment, run_path, step_name, dict(parent["artifacts"]), stack, flow_cls)


def completed_task(flow_cls: type, deployment: Deployment, run_id: str, step_name: str, inputs: list[TaskRef],
                   split_index: int | None, store: ArtifactStore) -> TaskRef:
    """The ref of a task that another process ran (a pod), read back from its record in the store."""
    run_path = store.run_path(deployment.project_flow_name, run_id)
    graph = flow_graph(flow_cls)
    task_id = task_id_for(step_number(graph.order, "start")) if step_name == "start" else _task_from_inputs(
        store, graph, flow_cls, deployment, run_path, step_name, inputs, split_index).task_id
    record = read_task_record(run_path, step_name, task_id)
    if not record["successful"]:
        raise ArtifactError(f"Task {step_name}/{task_id} under {run_path} did not succeed, though its process ended "
                            "without an error: look at its log.")
    return TaskRef(step_name, task_id, record.get("foreach_count"), record.get("next_step"))


def run_trigger(run_path, store: ArtifactStore) -> Trigger:
    """`current.trigger` of the run at `run_path`: the events its record says started it."""
    record = read_json(run_path / RUN_RECORD) or {}
    return Trigger(record.get("trigger", []), store)


def run_code(run_path) -> dict | None:
    """The code version ({"sha256", "flow_file"}) the run at `run_path` started with, as its first task recorded."""
    return (read_json(run_path / RUN_RECORD) or {}).get("code")


def run_origin(run_path) -> str | None:
    """`current.origin_run_id`: the run this one resumes (None for a run that resumes none)."""
    return (read_json(run_path / RUN_RECORD) or {}).get("origin_run_id")


def run_configs(run_path) -> dict | None:
    """The values of the flow's configs the run started with (its first task recorded them; None if it did not)."""
    return (read_json(run_path / RUN_RECORD) or {}).get("configs")


def run_tags(run_path) -> frozenset[str]:
    """`current.tags`: the run's own tags (`--tag`), as Metaflow's."""
    return frozenset((read_json(run_path / RUN_RECORD) or {}).get("user_tags", ()))


def write_task_record(path, step: str, task_id: str, successful: bool, started_at: str, artifacts: dict,
                      foreach_stack: list = (), foreach_count: int | None = None, next_step: str | None = None,
                      iteration: int = 0, attempt: int = 0, parents: list = (), types: dict | None = None) -> None:
    """A task's record (`_task.json`): whether it succeeded, where every artifact it sees is, its attempt (the
    retry count), its inputs (`parents`, 'step/task_id') and the types of the artifacts it stored itself."""
    write_json(path / TASK_RECORD, {
        "step": step, "task_id": task_id, "successful": successful, "started_at": started_at, "finished_at": now(),
        "artifacts": artifacts, "foreach_stack": list(foreach_stack), "foreach_count": foreach_count,
        "next_step": next_step, "iteration": iteration, "attempt": attempt, "parents": list(parents),
        "types": types or {},
    })


def read_task_record(run_path, step: str, task_id: str) -> dict:
    record = read_json(run_path / step / task_id / TASK_RECORD)
    if record is None:
        raise ArtifactError(f"Task {step}/{task_id} has no record under {run_path}: the step before "
                            "this one did not finish, or the artifact store root differs between tasks.")
    return record


class TaskState:
    """One executing task: what the FlowSpec instance reads from and writes to."""

    def __init__(self, store, deployment, run_path, step, artifacts, foreach_stack, flow_cls,
                 join_inputs=None, iteration: int = 0):
        self.store, self.deployment, self.run_path, self.step = store, deployment, run_path, step
        self.artifacts: dict[str, str] = artifacts   # name -> file, relative to the run
        self.foreach_stack = foreach_stack
        self.iteration = iteration                   # a recursive switch's n-th run of the step: task id '3.n'
        self.task_id = task_id_for(step_number(flow_graph(flow_cls).order, step), foreach_stack, iteration)
        self.flow_cls = flow_cls
        self.join_inputs = join_inputs
        self.constants = flow_constants(flow_cls)     # read-only in the step (FlowSpec.__setattr__)
        self.assigned: set[str] = set()
        self.loaded_mutable: set[str] = set()  # may have been changed in place
        self.transition = None
        self.next_step: str | None = None            # the case a switch took
        self.parameters_to_save: dict | None = None
        self.retry_count = 0
        self.origin = "local"                        # or "airflow", "kubernetes": where the task runs
        self.parents: list[str] = []                 # its inputs, 'step/task_id'
        self.types: dict[str, str] = {}              # the type of each artifact it stores, for `dump`

    @property
    def path(self):
        return self.run_path / self.step / self.task_id

    def execute(self) -> TaskRef:
        node = flow_graph(self.flow_cls)[self.step]
        flow = self.flow_cls(use_cli=False)
        object.__setattr__(flow, "_task", self)
        object.__setattr__(flow, "_current_step", self.step)
        for name, value in self.constants.items():    # each task its own copy, as Metaflow's own process has
            object.__setattr__(flow, name, _own_copy(value))
        started_at = now()
        where = (self.store, self.deployment, self.run_path.name)
        task_object = functools.partial(running_task, *where, self.step, self.task_id)
        card_specs = step_settings(getattr(self.flow_cls, self.step)).cards
        facts = TaskFacts(f"{self.deployment.flow_name}/{self.run_path.name}/{self.step}/{self.task_id}", self.step,
                          flow_graph(self.flow_cls).info(), started_at, task=task_object) if card_specs else None
        cards = step_cards(card_specs, self.path, facts)
        token = enter_task(TaskContext(self.deployment, self.run_path.name, self.step, self.task_id,
                                       functools.cache(functools.partial(run_trigger, self.run_path, self.store)),
                                       self.retry_count,
                                       self.origin != "local", self.flow_cls,
                                       functools.partial(run_tags, self.run_path),
                                       task_object=task_object,
                                       run_object=functools.partial(running_run, *where),
                                       origin_run_id=functools.cache(functools.partial(run_origin, self.run_path)),
                                       card=cards))
        try:
            with kept_output(self.path, self.retry_count) as output:
                try:
                    self._run_step(flow, node)
                    foreach_count = self._check_transition(flow, node)
                    self._persist(flow)
                except BaseException as error:
                    output.write("stderr", failure_report(error) + "\n\nTask failed.\n")   # Metaflow's last line
                    self._keep_on_failure(flow, error)
                    self._write_record(started_at, successful=False)
                    raise
                self._write_record(started_at, successful=True, foreach_count=foreach_count)
                if cards is not None:      # as Metaflow's, once the task succeeded: a card type reads the task
                    store_final_cards(cards, self.path, self._card_facts(flow, facts, cards))
        finally:
            leave_task(token)
        return TaskRef(self.step, self.task_id, foreach_count, self.next_step)

    def _run_step(self, flow, node) -> None:
        """The user's step code, in its @environment and with its @secrets; an exception that @catch takes (on the
        last attempt) is printed and kept, and the flow goes on to the step's successors."""
        func = getattr(self.flow_cls, self.step)
        settings = step_settings(func)
        try:
            if settings.catch is not None and self.retry_count > settings.retries:   # @catch's fallback attempt
                raise FailureHandledByCatch(f"Task execution kept failing over {self.retry_count} attempts. Your "
                                            "code did not raise an exception. Something in the execution "
                                            "environment caused the failure.")
            with step_environment(settings.environment), \
                    step_secret_values(step_secrets(func), os.environ, self.origin != "local") as secrets, \
                    step_environment(secrets), \
                    step_timeout(self.step, func, enforced=self.origin == "local"):
                method = getattr(flow, self.step)
                inputs = Inputs(self.join_inputs) if node.type == "join" else None
                run_step_code(getattr(func, "wrappers", []), self.step, flow, inputs,
                              lambda: method() if inputs is None else method(inputs),
                              functools.partial(self._go_on, flow, node))
        except Exception as error:
            if settings.catch is None or self.retry_count < settings.retries:
                raise
            if settings.catch.print_exception:
                print(f"@catch caught an exception from {flow}")
                for line in user_traceback(error).splitlines():
                    print(f">  {line}")
            self.transition = (list(node.out_funcs), None)
            if settings.catch.var:
                setattr(flow, settings.catch.var, CaughtException(error))
            return
        if settings.catch is not None and settings.catch.var:
            setattr(flow, settings.catch.var, None)

    def _go_on(self, flow, node, arguments: dict | None) -> None:
        """A user step decorator skipped the step, replaced it or swallowed its exception: the step goes on as
        its self.next() would (or with the self.next() `arguments` it gave)."""
        self.transition, self.next_step = None, None
        if node.out_funcs:
            default = {"foreach": node.foreach_var} if node.foreach_var else {}
            flow.next(*[getattr(flow, name) for name in node.out_funcs], **(arguments or default))

    # -- what FlowSpec calls --------------------------------------------------------------

    def load(self, name: str, changeable: bool = True):
        """An artifact's value; one that can be changed in place is checked for changes after the step
        (a parameter cannot be: it is read-only)."""
        location = self.artifacts.get(name)
        if location is None:
            where = "the join's inputs (use inputs.<step>.<name> or self.merge_artifacts(inputs))" \
                if self.join_inputs is not None else "the steps before it"
            raise AttributeError(f"Step '{self.step}' reads self.{name}, but no artifact '{name}' was set "
                                 f"by {where}.")
        value = load_artifact(self.run_path / location, name)
        if changeable and not isinstance(value, _IMMUTABLE):
            self.loaded_mutable.add(name)
        return value

    def parameter(self, attr_name: str):
        if self.parameters_to_save is not None:
            return self.parameters_to_save[attr_name]
        return self.load(attr_name, changeable=False)

    def record_transition(self, steps, foreach):
        if self.transition is not None:
            raise FlowDefinitionError(f"Step '{self.step}' called self.next() twice: call it once, last.")
        self.transition = ([getattr(s, "__name__", repr(s)) for s in steps], foreach)

    def record_switch(self, cases: dict, condition: str, value) -> None:
        """A switch's self.next(): the case that self.<condition>'s value names is the one step to run."""
        if self.transition is not None:
            raise FlowDefinitionError(f"Step '{self.step}' called self.next() twice: call it once, last.")
        node = flow_graph(self.flow_cls)[self.step]
        try:
            chosen = cases.get(value)
        except TypeError:          # an unhashable value is no key either
            chosen = None
        if chosen is None:
            keys = ", ".join(repr(k) for k in cases)
            raise FlowDefinitionError(f"Step '{self.step}' set self.{condition} to {value!r}, which is not one of "
                                      f"its switch's cases ({keys}): set it to one of them.", node.file,
                                      node.next_line)
        self.transition = ([getattr(s, "__name__", repr(s)) for s in cases.values()], None, condition)
        self.next_step = getattr(chosen, "__name__", repr(chosen))

    def foreach_input(self):
        frame = self._foreach_frame("self.input")
        return foreach_item(load_artifact(self.run_path / frame["location"], frame["var"]), frame["index"])

    def foreach_frames(self, flow) -> list[tuple]:
        """FlowSpec.foreach_stack(): (index, count, item) per level, each item read from the flow as the step
        sees its list (as Metaflow reads it: None where the step cannot)."""
        frames = []
        for frame in self.foreach_stack:
            try:
                items = getattr(flow, frame["var"])
            except AttributeError:
                frames.append((frame["index"], frame["count"], None))
                continue
            frames.append((frame["index"], frame["count"], foreach_item(items, frame["index"])))
        return frames

    def foreach_index(self) -> int:
        return self._foreach_frame("self.index")["index"]

    def merge(self, inputs, exclude, include):
        """Metaflow's merge_artifacts: each artifact of the inputs that this join has not set (and that `include`
        names, or `exclude` does not), when all inputs that have it agree on its value. A conflict, or an
        `include` name no input has, sets nothing and raises."""
        if self.join_inputs is None:
            raise FlowDefinitionError(f"Step '{self.step}' calls self.merge_artifacts(), which only works "
                                      "in a join step (def step(self, inputs)).")
        exclude, include = list(exclude or ()), list(include or ())
        if exclude and include:
            raise FlowDefinitionError(f"self.merge_artifacts() in step '{self.step}' is given both exclude= and "
                                      "include=, which exclude each other: give one of them.")
        present = self.assigned | set(self.artifacts)
        locations: dict[str, set[str]] = {}       # an artifact a branch did not change is at one location
        for view in inputs:
            for name, location in sorted(view._record["artifacts"].items()):
                if not (name.startswith("_") or name in present or name in exclude or include and name not in include):
                    locations.setdefault(name, set()).add(location)
        unresolved = [name for name, found in locations.items()
                      if len(found) > 1 and len({file_digest(self.run_path / where) for where in found}) > 1]
        if unresolved:
            raise UnhandledInMergeArtifactsException(_conflict(self.step, unresolved), unresolved)
        missing = [name for name in include if name not in locations and name not in present]
        if missing:
            raise MissingInMergeArtifactsException(
                f"self.merge_artifacts(include=...) in step '{self.step}' names {_quoted(missing)}, which no "
                "input has.", missing)
        self.artifacts.update({name: min(found) for name, found in locations.items()})

    # -- internals ------------------------------------------------------------------------

    def _foreach_frame(self, what: str) -> dict:
        if not self.foreach_stack:
            raise FlowDefinitionError(f"{what} is only available in steps inside a foreach (step "
                                      f"'{self.step}' is not).")
        return self.foreach_stack[-1]

    def _check_transition(self, flow, node) -> int | None:
        if node.type == "end":
            return None
        if self.transition is None:
            raise FlowDefinitionError(f"Step '{self.step}' finished without calling self.next(...).",
                                      node.file, node.line)
        steps, foreach = self.transition[:2]
        if node.type == "switch" and self.next_step is None:
            raise FlowDefinitionError(f"Step '{self.step}' is a switch in its source, so its self.next() needs "
                                      f"condition='{node.condition}'.", node.file, node.next_line)
        if list(dict.fromkeys(steps)) != node.out_funcs or foreach != node.foreach_var:
            raise FlowDefinitionError(f"Step '{self.step}' called self.next() differently from its source "
                                      f"({steps} instead of {node.out_funcs}).", node.file, node.next_line)
        if foreach is None:
            return None
        items = getattr(flow, foreach)
        try:
            count = sum(1 for _ in items)
        except TypeError:
            raise FlowDefinitionError(f"Step '{self.step}' fans out over self.{foreach}, which is a "
                                      f"{type(items).__name__}, not iterable: make it a list or tuple.", node.file,
                                      node.next_line) from None
        if count == 0:
            raise FlowDefinitionError(f"Step '{self.step}' fans out over self.{foreach}, which is empty: a "
                                      "foreach needs at least one item.", node.file, node.next_line)
        return count

    def _persist(self, flow) -> None:
        values = dict(self.parameters_to_save or {})
        values.update({name: flow.__dict__[name] for name in self.assigned})
        for name in self.loaded_mutable - set(values):
            if value_digest(flow.__dict__[name]) != file_digest(self.run_path / self.artifacts[name]):
                values[name] = flow.__dict__[name]  # changed in place
        for name, value in values.items():
            self._save(name, value)

    def _card_facts(self, flow, facts: TaskFacts, cards) -> TaskFacts:
        """`facts` completed with the task's end and, when a default card shows them, its artifacts and the run's
        parameters (loaded from the store when the step did not set them: only then)."""
        if not shows_contents(cards):
            return dataclasses.replace(facts, finished_at=now())
        names = parameter_names(self.flow_cls)
        values = {name: flow.__dict__[name] if name in self.assigned else self.load(name, changeable=False)
                  for name in sorted(self.artifacts) if not name.startswith("_") and name not in names}
        parameters = {name: self.parameter(name) for name in names if name in self.artifacts or
                      name in (self.parameters_to_save or {})}
        return dataclasses.replace(facts, finished_at=now(), parameters=parameters, artifacts=values)

    def _save(self, name: str, value) -> None:
        file_name = save_artifact(self.path, self.step, name, value)
        self.artifacts[name] = f"{self.step}/{self.task_id}/{file_name}"
        self.types[name] = str(type(value))

    def _keep_on_failure(self, flow, error: BaseException) -> None:
        """What a failed task keeps, as Metaflow's does: the artifacts it set that can be stored, and the
        exception it ended with (`_exception`, the client's Task.exception). The store failing now too must
        not hide the step's own error, which is raised next."""
        for name in sorted(self.assigned):
            with contextlib.suppress(FlowTriggersError):
                self._save(name, flow.__dict__[name])
        with contextlib.suppress(FlowTriggersError):
            self._save("_exception", CaughtException(error))

    def _write_record(self, started_at: str, successful: bool, foreach_count: int | None = None):
        write_task_record(self.path, self.step, self.task_id, successful, started_at,
                          self.artifacts, self.foreach_stack, foreach_count, self.next_step,
                          self.iteration, self.retry_count, self.parents, self.types)


def _conflict(step: str, names: list[str]) -> str:
    if len(names) == 1:
        return (f"Step '{step}' cannot merge artifact '{names[0]}': its value differs between the join's inputs; "
                f"set self.{names[0]} in the join before merging, or pass exclude=['{names[0]}'].")
    return (f"Step '{step}' cannot merge artifacts {_quoted(names)}: their values differ between the join's inputs; "
            f"set {' and '.join(f'self.{name}' for name in names)} in the join before merging, or pass "
            f"exclude={names!r}.")


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _own_copy(value):
    if isinstance(value, _IMMUTABLE):
        return value
    try:
        return copy.deepcopy(value)
    except Exception:                  # a value that cannot be copied is shared, as the class shares it
        return value


class CaughtException(Exception):
    """What @catch keeps of an exception, as Metaflow's MetaflowExceptionWrapper: `type` ('module.Class'),
    `exception` (its message) and `stacktrace`; picklable whatever the exception was."""

    def __init__(self, error: BaseException | None = None):
        super().__init__()
        if error is not None:
            self.exception = str(error)
            self.type = type_name(error)
            self.stacktrace = "".join(traceback.format_exception(type(error), error, error.__traceback__))

    def __reduce__(self):
        return CaughtException, (None,), self.__dict__

    def __setstate__(self, state):
        self.__dict__ = state

    def __str__(self):
        return self.stacktrace or f"[no stacktrace]\n{self.type}: {self.exception}"

    __repr__ = __str__


@contextlib.contextmanager
def step_environment(variables: dict):
    """@environment: the variables set while the step runs, then as they were."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class InputView:
    """One input of a join: its artifacts as attributes (`inputs.a.x`, `for i in inputs: i.x`)."""

    def __init__(self, run_path, record: dict, flow_cls: type | None = None):
        self._run_path, self._record = run_path, record
        if flow_cls is not None:        # its configs read as in a step: ConfigValues (stored as plain dicts)
            self.__dict__.update({attr: getattr(flow_cls, attr) for attr in flow_configs(flow_cls)})

    @property
    def step_name(self) -> str:
        return self._record["step"]

    @property
    def index(self):
        stack = self._record["foreach_stack"]
        return stack[-1]["index"] if stack else None

    @property
    def input(self):
        stack = self._record["foreach_stack"]
        if not stack:
            return None
        frame = stack[-1]
        return foreach_item(load_artifact(self._run_path / frame["location"], frame["var"]), frame["index"])

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        location = self._record["artifacts"].get(name)
        if location is None:
            raise AttributeError(f"Input from step '{self.step_name}' has no artifact '{name}'.")
        value = load_artifact(self._run_path / location, name)
        self.__dict__[name] = value
        return value

    def __repr__(self):
        return f"<input from {self.step_name}/{self._record['task_id']}>"


class Inputs(list):
    """The inputs of a join: iterate over them, or pick one by step name (`inputs.a`)."""

    def __getattr__(self, name):
        for view in self:
            if view.step_name == name:
                return view
        raise AttributeError(f"This join has no input from step '{name}'; its inputs come from "
                             f"{sorted({v.step_name for v in self})}.")
