"""Airflow's own DAGs in a project: @project and @trigger_on_finish on a TaskFlow @dag function or a DAG.

    @project(name='variant_demo')
    @trigger_on_finish(flow='FirstProjectFlow')
    @dag(schedule=None)
    def daily_report(): ...

    daily_report()          # or, for a classic DAG: project(name='variant_demo')(dag)

Airflow builds the DAG as it always does; then it joins its project branch as a flow's DAG does
(dag_factory.py): its id becomes `<project>.<branch>.<dag_id>`, with the branch's tags and the deployer as
owner; @trigger_on_finish schedules it on the upstream finishes (one run per finish; several upstreams
through the same wait-for-all gate); and the run is started and finished around the DAG's own tasks:

    start     checks the finishes that started the run (a forged one, or one too deep in a chain of triggers,
              skips the run, so no task of yours runs), records the run's cause, and writes its record to the
              artifact store, from which `current.trigger` reads: before each root task (a pre-execute hook),
              or, when a root is mapped, in a task of the package's before them (flow_triggers_start)
    finish    stores what each task returned (runtime/dag_runs.py) and emits the branch's finish: after the
              one leaf (a post-execute hook) when every task waits for all its upstreams, so that the leaf's
              success is the run's; else in a task of the package's after the leaves (flow_triggers_finish),
              when none failed (Airflow's own rule for a successful run)

The branch never comes from whoever runs Airflow: it is the deployment being loaded (`airflow create`'s
record, see deployed.py), else the deployment store's branch folder the file sits in
(`<root>/<project>/<branch>/`, where flows' DAG files go too); a @project DAG anywhere else is an import
error saying so.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FlowDefinitionError, NamingError, located
from ..flows.decorators import ProjectSpec, project_deployment, set_dag_member
from ..flows.triggers import FinishTrigger, validate_branch
from ..naming import AIRFLOW_DAG_TAG, Deployment, branch_choice, check_dag_id, sanitize_user
from ..runtime import dag_runs
from ..runtime.store import ArtifactStore
from ..runtime.task import now
from .assets import GATE_SUFFIX, failure_asset, finish_asset
from .causes import CAUSE_KEY, START_TASKS, STARTED, cause
from .dag_factory import add_failure_announcement, deployment_tags, finish_timetable
from .expectations import companion_id
from .tasks import FAILURE_TASK, admitted_events, announce_failure, emit_finish, run_tags_of

START_TASK, FINISH_TASK = START_TASKS[1], "flow_triggers_finish"
OWN_TASKS = (START_TASK, FINISH_TASK, FAILURE_TASK)


@dataclass(frozen=True)
class MemberSpec:
    """What the decorators asked of a DAG: its project, and the finishes that start it."""

    project: ProjectSpec | None = None
    finish: FinishTrigger | None = None


@dataclass
class Loading:
    """The deployment whose code is being imported (deployed.py, `airflow create`): the DAGs it enrolls."""

    user: str | None = None
    branch: str | None = None
    production: bool = False
    deployer: str | None = None
    code: dict | None = None
    enrolled: list = field(default_factory=list)
    branch_of_file: dict = field(default_factory=dict)   # DAG file -> (its last project DAG, id, project, branch)


_loading: ContextVar[Loading | None] = ContextVar("flow_triggers_loading", default=None)
_branch_of_file: dict[str, tuple] = {}     # the same, for a file imported outside loading_as (a dags folder's)


@contextlib.contextmanager
def loading_as(**choice):
    """Import a DAG file as the deployment `choice` (Loading's fields): its @project DAGs take that branch."""
    state = Loading(**choice)
    token = _loading.set(state)
    try:
        yield state
    finally:
        _loading.reset(token)


def join(target, where, **spec):
    """@project / @trigger_on_finish applied to an Airflow DAG or @dag function (registered in flows/)."""
    if isinstance(target, MemberFactory):
        return MemberFactory(target.factory, dataclasses.replace(target.spec, **spec), where)
    if callable(target) and not hasattr(target, "task_dict"):
        return MemberFactory(target, MemberSpec(**spec), where)
    member = getattr(target, "_flow_triggers_member", None)
    with located(where):
        return enroll(target, dataclasses.replace(member.spec if member else MemberSpec(), **spec))


class MemberFactory:
    """A @dag function under @project and/or @trigger_on_finish: calling it builds the DAG, which joins."""

    _flow_triggers_member = True

    def __init__(self, factory, spec: MemberSpec, where):
        self.factory, self.spec, self.where = factory, spec, where
        self.__name__ = getattr(factory, "__name__", "dag")
        self.__doc__ = getattr(factory, "__doc__", None)
        self.__wrapped__ = factory

    def __call__(self, *args, **kwargs):
        dag = self.factory(*args, **kwargs)
        dag.fileloc = sys._getframe(1).f_code.co_filename     # @dag takes its caller's file: that is here
        with located(self.where):
            return enroll(dag, self.spec)


def enroll(dag, spec: MemberSpec):
    """Make `dag` its project branch's DAG (again, with the new `spec`, if it already is)."""
    member = getattr(dag, "_flow_triggers_member", None) or Member(dag)
    member.apply(spec)
    keep_registered(lambda _: True)     # one entry for the DAG, whose hash (its id, its tasks) changed meanwhile
    return dag


class Member:
    """One Airflow DAG of a project: what it was as written, and what joining its branch changed."""

    def __init__(self, dag):
        if not (dag.dag_id.isidentifier() and dag.dag_id.isascii()):
            raise NamingError(f"DAG id '{dag.dag_id}' may hold only letters, digits and '_' (not first a digit) to "
                              "join a project, whose DAGs are named <project>.<branch>.<dag_id>: rename the DAG.")
        if any(task_id in dag.task_dict for task_id in OWN_TASKS):
            raise FlowDefinitionError(f"DAG {dag.dag_id} has a task named {', '.join(OWN_TASKS[:-1])} or "
                                      f"{OWN_TASKS[-1]}, which the package adds to a project's DAG: rename that task.")
        self.dag, self.base_id = dag, dag.dag_id
        self.own_tags = set(dag.tags or ())
        self.own_schedule = type(dag.timetable).__name__ != "NullTimetable"
        default_owner = _default_owner()
        self.default_owners = {t.task_id for t in dag.tasks if t.owner == default_owner}
        self.spec, self.deployment, self.code = MemberSpec(), None, None
        self.finish, self.finish_outlets = self._frame()    # the task that emits the finish, and its own outlets
        self.announcement = add_failure_announcement(dag, lambda context: announce_failure(self.deployment, context),
                                                     failure_asset(Deployment(self.base_id)))
        dag._flow_triggers_member = self

    def apply(self, spec: MemberSpec) -> None:
        dag = self.dag
        if spec.finish is not None and self.own_schedule:
            own = dag.timetable
            raise FlowDefinitionError(f"DAG {self.base_id} has a schedule of its own "
                                      f"({getattr(own, '_expression', None) or type(own).__name__}) and "
                                      "@trigger_on_finish, which schedules it on the finishes: write "
                                      "@dag(schedule=None) (or DAG(..., schedule=None)).")
        deployment = member_deployment(self.base_id, spec.project, dag.fileloc)
        check_dag_id(deployment.project_flow_name)
        _check_one_branch(dag, deployment)
        previous = dag.dag_id
        if self.deployment is not None:
            dag_runs.forget_dag(previous)
            _unregister(f"{previous}.{GATE_SUFFIX}")
            _unregister(companion_id(previous))
        dag.dag_id = deployment.project_flow_name
        dag.tags = self.own_tags | set(deployment_tags(deployment)) | {AIRFLOW_DAG_TAG}
        owner = deployment.deployer or _default_owner()
        if "owner" not in dag.default_args:
            dag.default_args["owner"] = owner
        for task in dag.tasks:
            if task.task_id in self.default_owners or task.task_id in OWN_TASKS:
                task.owner = owner
        if spec.finish is not None:
            dag.timetable = finish_timetable(spec.finish, deployment, owner, f"DAG {self.base_id}")
        self.finish.outlets = [*self.finish_outlets, finish_asset(deployment)]
        self.announcement.outlets = [failure_asset(deployment)]
        self.spec, self.deployment = spec, deployment
        dag_runs.enter_dag(dag.dag_id, deployment)
        loading = _loading.get()
        if loading is not None:
            self.code = loading.code
            loading.enrolled.append((self.base_id, dag))

    def _frame(self):
        """Start and finish the run around the DAG's own tasks, at no cost where the DAG's shape allows: the start
        runs before each root task (a hook of its own), and the finish after the one leaf when it has one and
        every task needs all its upstreams to succeed (so that leaf's success is the run's). Otherwise a task of
        the package's does it: before the roots when one is mapped, after the leaves."""
        dag = self.dag
        own = list(dag.tasks)
        roots = [t for t in own if not t.upstream_list]
        leaves = [t for t in own if not t.downstream_list]
        if roots and all(_single(t) for t in roots):
            for root in roots:
                _before(root, self._start_run)
            start = None
        else:
            start = frame_operator()(task_id=START_TASK, run=self._start_run, dag=dag)
            start.set_downstream(roots)
        if len(leaves) == 1 and _single(leaves[0]) and all(_plain(t) for t in own):
            _after(leaves[0], self._finish_run)
            return leaves[0], list(leaves[0].outlets)
        finish = frame_operator()(task_id=FINISH_TASK, run=self._finish_run, dag=dag,
                                  trigger_rule="none_failed_min_one_success")
        finish.set_upstream([start] if start else roots)
        finish.set_upstream(leaves)
        return finish, []

    def _start_run(self, context):
        """Admit the run (or skip it), record its cause, and write its record to the artifact store."""
        deployment, store = self.deployment, ArtifactStore()
        events = admitted_events(deployment, context, store)
        code = self.code
        dag_runs.record_start(store, deployment, context["run_id"], dict(context["params"]), events,
                              run_tags_of(context), code)
        context["ti"].xcom_push(CAUSE_KEY, cause(STARTED, events, code=code))

    def _finish_run(self, context, result=None):
        """Store what every task returned, then emit the finish of the run (from the last task: its own
        `result`, not in XCom yet)."""
        started_at, store, last = now(), ArtifactStore(), context["ti"].task_id
        returned = {}
        for task in context["dag"].tasks:
            if task.task_id not in OWN_TASKS:
                value = result if task.task_id == last else _returned(context["ti"], task)
                if value is not None:
                    returned[task.task_id] = value
        dag_runs.record_finish(store, self.deployment, context["run_id"], returned, started_at)
        emit_finish(self.deployment, context, finish_asset(self.deployment), store)


def _single(task) -> bool:
    """Whether `task` runs as one task instance per run (not mapped, nor in a mapped task group)."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator
    return not isinstance(task, MappedOperator) and task.get_closest_mapped_task_group() is None


def _plain(task) -> bool:
    """Whether `task` runs only once all its upstream tasks succeeded, and skips none downstream of its own: then
    in a DAG of such tasks, the success of its one leaf is the success of the whole run."""
    return getattr(task.trigger_rule, "value", task.trigger_rule) == "all_success" and not task.is_setup and \
        not task.is_teardown and not any(cls.__name__ == "SkipMixin" for cls in type(task).__mro__)


def _before(task, start) -> None:
    """Run `start(context)` before `task` executes, then the task's own pre-execute hook if it has one."""
    theirs = task._pre_execute_hook

    def pre_execute(context):
        start(context)
        if theirs is not None:
            theirs(context)
    task._pre_execute_hook = pre_execute


def _after(task, finish) -> None:
    """Run the task's own post-execute hook, if it has one, then `finish(context, result)` once it succeeded."""
    theirs = task._post_execute_hook

    def post_execute(context, result=None):
        if theirs is not None:
            theirs(context, result)
        finish(context, result)
    task._post_execute_hook = post_execute


@functools.cache
def frame_operator() -> type:
    """The operator of the tasks the package adds where hooks cannot do (flow_triggers_start / _finish): it runs
    one of Member's methods with the task's context. Defined on first use (flow files import this module without
    Airflow); cheaper to build than @task's or PythonOperator, which inspect their callable's signature."""
    from airflow.sdk import BaseOperator

    class ProjectDagOperator(BaseOperator):
        """A task of airflow_flow_triggers in a project's DAG: its start (checks the trigger) or its finish."""

        def __init__(self, *, run, **kwargs):
            super().__init__(**kwargs)
            self.run = run

        def execute(self, context):
            self.run(context)

    return ProjectDagOperator


def _returned(ti, task):
    """What `task` returned in this run (its return_value XCom): a mapped task's values as a list, by map index."""
    from airflow.sdk.definitions.mappedoperator import MappedOperator
    values = [v for v in ti.xcom_pull(task_ids=[task.task_id])]
    if isinstance(task, MappedOperator) or task.get_closest_mapped_task_group() is not None:
        return [v for v in values if v is not None] or None
    return values[0] if values else None


def member_deployment(name: str, spec: ProjectSpec | None, fileloc: str) -> Deployment:
    """The deployment of project DAG `name`: the one being loaded, else the one its file's place names."""
    loading = _loading.get()
    if spec is None:
        return Deployment(check_dag_id(name), deployer=loading.deployer if loading else None)
    if loading is not None:
        deployment = project_deployment(name, spec, loading.branch, loading.production, loading.user)
        return dataclasses.replace(deployment, deployer=loading.deployer or deployment.deployer)
    from ..deployments import bundle  # as policy.py: bundle imports Airflow, and flow files import this module
    placed = _placed_branch(fileloc, bundle.local_root() / spec.name)
    if placed is None:
        raise FlowDefinitionError(
            f"DAG {name} has @project(name='{spec.name}'), so it runs as one DAG per project branch, and this file "
            f"is not in a branch's folder of the deployment store: deploy it with `python -m airflow_flow_triggers "
            f"airflow create {Path(fileloc).name}`, or put it in {bundle.local_root() / spec.name}/<branch>/ "
            "(e.g. user.<you>).")
    choice = branch_choice(placed)
    deployment = project_deployment(name, spec, **choice)
    if deployment.branch != placed:
        raise FlowDefinitionError(f"DAG {name}'s @project settings make its branch {deployment.branch}, but its file "
                                  f"is in the folder of branch {placed}: move the file, or change @project.")
    return dataclasses.replace(deployment, deployer=sanitize_user(choice["user"]) if "user" in choice else None)


def _placed_branch(fileloc: str, project_folder: Path) -> str | None:
    """The branch whose folder of the deployment store holds `fileloc` (<root>/<project>/<branch>/file.py)."""
    folder = os.path.dirname(fileloc)
    if os.path.dirname(folder) != str(project_folder):        # as written, else resolved (links, relative paths)
        try:
            folder = str(Path(fileloc).resolve().parent)
            if os.path.dirname(folder) != str(project_folder.resolve()):
                return None
        except (OSError, ValueError):
            return None
    try:
        return validate_branch(os.path.basename(folder))
    except NamingError:
        return None


def _check_one_branch(dag, deployment: Deployment) -> None:
    """Two project DAGs of one file on different branches: the file could be in one branch's folder only."""
    if deployment.project is None:
        return
    loading = _loading.get()                          # one import of the file: `airflow create` imports it twice
    branch_of_file = _branch_of_file if loading is None else loading.branch_of_file
    seen = branch_of_file.get(dag.fileloc)
    if seen is not None and seen[0] is not dag and (seen[2], seen[3]) != (deployment.project, deployment.branch):
        raise FlowDefinitionError(f"This file defines project DAGs on two branches, {seen[0].dag_id} and "
                                  f"{deployment.project_flow_name}: a DAG file deploys to one branch; give them the "
                                  "same @project settings, or put them in two files.")
    branch_of_file[dag.fileloc] = (dag, deployment.project_flow_name, deployment.project, deployment.branch)


def _unregister(dag_id: str) -> None:
    """Drop a DAG built in this parse that must not be loaded (the gate or the expectation DAG of a DAG's earlier
    name)."""
    keep_registered(lambda dag: dag.dag_id != dag_id)


def keep_registered(keep) -> None:
    """Keep, of the DAGs this parse built with `with DAG(...)` (which Airflow loads), those `keep(dag)` says. The
    set is rebuilt: a DAG's hash holds its id, which joining a branch changed after it was added."""
    from airflow.sdk.definitions._internal.contextmanager import DagContext
    kept = [item for item in DagContext.autoregistered_dags if keep(item[0])]
    DagContext.autoregistered_dags.clear()
    DagContext.autoregistered_dags.update(kept)


def _default_owner() -> str:
    """Airflow's [operators] default_owner, the owner of a task that names none."""
    return _configured_owner(os.environ.get("AIRFLOW__OPERATORS__DEFAULT_OWNER"))


@functools.cache
def _configured_owner(_from_environment: str | None) -> str:
    from airflow.configuration import conf  # read once per process (and per value the environment gives it)
    return conf.get("operators", "default_owner", fallback="airflow")


set_dag_member(join)
