"""`python flow.py resume [STEP]`: a new run that reuses what an earlier run finished, as Metaflow's resume.

Metaflow's rules (its runtime's clone logic): the origin is the run given, else the latest run that `run`
started here (of this user, flow and project branch; a resumed run is not itself the default origin). Every
successful task of the origin is cloned into the new run, but those of STEP and of every step after it;
the walk through the graph then takes a cloned task wherever it reaches one, and runs every other task
(the one that failed, and what follows). Task ids name the foreach branch and a recursive switch's
iteration, so a task and its origin share an id. The run keeps its origin's parameters and trigger.

A clone is the origin task's folder copied inside the store (its artifacts are reused, not recomputed);
its record says where it came from (`origin_run_id`, `origin_task_id`), and the run's record names the
origin run, which every task of the run reads as `current.origin_run_id`.
"""
from __future__ import annotations

import functools

from ..errors import CommandLineError, RunNotFoundError
from ..flows.configs import config_values
from ..flows.graph import flow_graph
from ..naming import Deployment, run_user
from .output import ProgressLog
from .store import (
    RUN_PARAMETERS,
    RUN_RECORD,
    TASK_RECORD,
    ArtifactStore,
    load_artifact,
    reaching,
    read_json,
    write_json,
)
from .task import TaskRef, prepare_task, step_links, step_number, task_id_for, write_run_record


class Resume:
    """What a resumed run reuses of its origin: which run, which steps run again, the tasks cloned."""

    def __init__(self, flow_cls: type, deployment: Deployment, store: ArtifactStore,
                 origin_run_id: str | None = None, step: str | None = None):
        self.flow_cls, self.deployment, self.store = flow_cls, deployment, store
        self.graph = flow_graph(flow_cls)
        self.rerun = steps_to_rerun(self.graph, step)
        self.origin_path = find_origin(store, deployment, origin_run_id)
        self.origin_run_id = self.origin_path.name
        self.record = read_json(self.origin_path / RUN_RECORD)
        self.cloned: dict[tuple[str, str], dict] = {}     # (step, task id) -> the clone's record
        self.cloned_steps: set[str] = set()

    @functools.cached_property
    def parameters(self) -> dict:
        """The origin's parameter values, by attribute name (Metaflow takes no new ones on resume)."""
        values = self.origin_path / f"{RUN_PARAMETERS}.pickle"
        with reaching(values, "read"):
            exists = values.exists()
        return load_artifact(values, "parameters") if exists else dict(self.record.get("parameters") or {})

    @property
    def trigger_events(self) -> list[dict]:
        return list(self.record.get("trigger") or [])

    def clone_into(self, run_id: str, tags: list[str], log: ProgressLog) -> None:
        """Write the new run's record, then clone every task of the origin that does not run again."""
        run_path = self.store.run_path(self.deployment.project_flow_name, run_id)
        write_run_record(run_path, self.deployment, run_id, self.parameters, "local", self.trigger_events, tags,
                         graph=step_links(self.graph), origin_run_id=self.origin_run_id,
                         configs=config_values(self.flow_cls))
        origin = f"{self.deployment.flow_name}/{self.origin_run_id}"
        log.line(f"Cloning {origin}")
        ran = set(self.store.step_names(self.origin_path))
        renamed: dict[str, str] = {}       # 'step/task_id' in the origin -> in this run
        for step in self.graph.order:
            if step in self.rerun or step not in ran:
                continue
            number = step_number(self.graph.order, step)
            for task_id in self.store.task_ids(self.origin_path / step):
                record = read_json(self.origin_path / step / task_id / TASK_RECORD)
                if record and record.get("successful"):
                    # the clone's id is where it is in this run's graph, which a code change may have renumbered
                    clone_id = task_id_for(number, record.get("foreach_stack", ()), record.get("iteration", 0))
                    renamed[f"{step}/{task_id}"] = f"{step}/{clone_id}"
                    log.line(f"Cloning previously run task {self.origin_run_id}/{step}/{task_id}",
                             f"{run_id}/{step}/{clone_id}")
                    self.cloned[(step, clone_id)] = self._clone(record, run_path / step / clone_id, renamed)
                    self.cloned_steps.add(step)
        log.line(f"{origin} cloned!")

    def reused(self, run_id: str, step: str, inputs: list[TaskRef], split_index: int | None) -> TaskRef | None:
        """The ref of the task the new run reaches here, when it is a clone; None when the task must run."""
        if step not in self.cloned_steps:
            return None
        task_id = task_id_for(step_number(self.graph.order, step)) if step == "start" else prepare_task(
            self.flow_cls, self.deployment, run_id, step, inputs, split_index, store=self.store).task_id
        record = self.cloned.get((step, task_id))
        if record is None:
            return None
        return TaskRef(step, task_id, record.get("foreach_count"), record.get("next_step"))

    def _clone(self, record: dict, target, renamed: dict[str, str]) -> dict:
        """Copy the origin task's folder to `target` (its record last, so a record means a whole task)."""
        source = self.origin_path / record["step"] / record["task_id"]
        copy_folder(source, target, skip=TASK_RECORD)
        def moved(location: str) -> str:       # 'step/task_id/name.pickle', under its task's id in this run
            task, _, rest = location.rpartition("/")
            return f"{renamed.get(task, task)}/{rest}" if task else location

        clone = dict(record, task_id=target.name, origin_run_id=self.origin_run_id, origin_task_id=record["task_id"],
                     parents=[renamed.get(parent, parent) for parent in record.get("parents", ())],
                     artifacts={name: moved(location) for name, location in record.get("artifacts", {}).items()},
                     foreach_stack=[dict(frame, location=moved(frame["location"])) if "location" in frame else frame
                                    for frame in record.get("foreach_stack", ())])
        write_json(target / TASK_RECORD, clone)
        return clone


def steps_to_rerun(graph, step: str | None) -> set[str]:
    """STEP and every step after it (Metaflow's rule): none of their tasks is cloned. No STEP: none."""
    if step is None:
        return set()
    if step not in graph.nodes:
        raise CommandLineError(f"Cannot resume from step '{step}': flow {graph.name} has no such step; resume "
                               f"from one of {', '.join(graph.order)}.")
    found, todo = set(), [step]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(graph[name].out_funcs)
    return found


def find_origin(store: ArtifactStore, deployment: Deployment, run_id: str | None):
    """The run to resume: `run_id` of this flow (this project branch's, else the one branch that has it), or the
    latest run that `run` started here for this user and branch."""
    folder = deployment.project_flow_name
    if run_id is None:
        run_id = latest_run_id(store, deployment)
        if run_id is None:
            raise RunNotFoundError(f"There is no earlier local run of {folder} by user {run_user(deployment)} to "
                                   "resume: start one with `run`, or name one with --origin-run-id.")
        return store.run_path(folder, run_id)
    with reaching(store.run_path(folder, run_id), "read"):
        found = [name for name in [folder, *store.flow_folders(deployment.flow_name)]
                 if (store.run_path(name, run_id) / RUN_RECORD).exists()]
    found = list(dict.fromkeys(found))
    if not found:
        raise RunNotFoundError(f"Cannot resume run {run_id}: no run of {deployment.flow_name} has that id in the "
                               f"artifact store at {store.url} (`Flow('{deployment.flow_name}').runs()` lists "
                               "them).")
    if folder not in found and len(found) > 1:
        raise RunNotFoundError(f"Cannot resume run {run_id}: runs of {len(found)} branches have that id "
                               f"({', '.join(found)}): run resume with the options of the branch to resume "
                               "(--branch, --production).")
    return store.run_path(folder if folder in found else found[0], run_id)


def latest_run_id(store: ArtifactStore, deployment: Deployment) -> str | None:
    """The run id of the latest run `python flow.py run` started for this user and branch (as Metaflow's
    latest_run file: neither a resume nor a deployment's run counts)."""
    folder, user = deployment.project_flow_name, f"user:{run_user(deployment)}"
    latest = None
    for run_id in store.run_ids(folder):
        record = read_json(store.run_path(folder, run_id) / RUN_RECORD) or {}
        if record.get("origin") != "local" or record.get("origin_run_id") or \
                user not in record.get("system_tags", ()):
            continue
        if latest is None or record["created_at"] > latest[0]:
            latest = (record["created_at"], run_id)
    return latest[1] if latest else None


def copy_folder(source, target, skip: str | None = None) -> None:
    """Copy the files under `source` to `target`, inside the store (the filesystem copies: an object store
    copies server-side)."""
    with reaching(source, "copy"):
        target.mkdir(parents=True, exist_ok=True)
        for entry in source.iterdir():
            if entry.name == skip:
                continue
            if entry.is_dir():
                copy_folder(entry, target / entry.name)
            else:
                entry.fs.copy(entry.path, (target / entry.name).path)
