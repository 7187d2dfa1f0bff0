"""The DAG factory: a flow class and a branch choice in, one Airflow DAG out.

    from airflow_flow_triggers import build_dag
    dag = build_dag(ProjectFlow, user='alice')          # example_project.user.alice.ProjectFlow

One task per step (task id = step name); foreach fans out with dynamic task mapping; the end task
has the deployment's finish Asset as outlet. The branch comes from the arguments (the deployment),
never from whoever runs the Airflow server.
"""
from __future__ import annotations

import dataclasses
import datetime
import functools

from .. import config
from ..errors import FlowDefinitionError, FlowTriggersError, NamingError, located
from ..flows.compute import pod_settings, resource_request
from ..flows.configure import ensure_configured
from ..flows.decorators import deployment_of, step_settings
from ..flows.decospecs import attach_decorators
from ..flows.graph import FlowGraph, flow_graph
from ..flows.parameters import JSONType, deploy_time_defaults, flow_parameters
from ..flows.triggers import trigger_loop
from ..naming import Deployment, branch_tags, check_dag_id, sanitize_user
from ..runtime import pod as pod_runtime
from ..runtime.current import outside_steps
from .assets import GATE_SUFFIX, event_asset, failure_asset, finish_asset, gate_asset, outcome_assets
from .expectations import expectation_dag
from .gates import gate_callable
from .kubernetes import executor_settings, pod_mode, pod_step_task
from .tasks import (
    EXIT_HOOKS_TASK,
    FAILURE_TASK,
    PACKAGE_TASKS,
    SWITCH_REF,
    announce_failure,
    exit_hooks_callable,
    flatten_branches,
    group_branches,
    step_callable,
)

START_DATE = (2024, 1, 1)  # fixed, in UTC: a deployment never backfills
_TAG_MAX_LEN = 100  # Airflow's TAG_MAX_LEN
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def build_dag(flow_cls: type, *, user: str | None = None, branch: str | None = None,
              production: bool = False, deployed_by: str | None = None, decospecs=()):
    """The Airflow DAG of `flow_cls` deployed on a project branch.

    For a flow with @project, say whose deployment it is: `user='alice'` (branch user.alice),
    `branch='new_model'` (test.new_model), `production=True` (prod), or both of the last two
    (prod.new_model). The DAG's owner is `deployed_by` (default: the user of a user branch, else
    'airflow'); it is never read from the environment of the Airflow server. `decospecs` adds decorators
    to every step, as `--with` does (`["kubernetes:cpu=2"]`). Returns None when the
    flow file itself is being run as a script (`python flow.py run`), so that line costs a local
    run nothing.
    """
    if flow_cls.__module__ == "__main__" or pod_runtime.STEP_ONLY:   # a local run, or one step in a pod
        return None
    try:
        ensure_configured(flow_cls)         # its configs, as deployed (or the defaults): @project may read them
        return _build(flow_cls, _deployment(flow_cls, user, branch, production, deployed_by), decospecs)
    except FlowTriggersError as error:
        raise type(error)(error.message, error.file, error.line) from None


def validate_deployment(flow_cls: type, deployment: Deployment, decospecs=()) -> set[str]:
    """Build the DAG of `deployment` to check it (as Airflow will); returns the DAG ids that trigger it."""
    _build(flow_cls, deployment, decospecs)
    spec = flow_cls._trigger_on_finish
    return {u.project_flow_name for u in spec.upstreams(deployment)} if spec else set()


def _build(flow_cls, deployment: Deployment, decospecs=()):
    ensure_configured(flow_cls)
    attach_decorators(flow_cls, [*decospecs, *(["kubernetes"] if config.get_flag("steps_on_kubernetes") else [])])
    graph = flow_graph(flow_cls)
    _check_airflow_support(graph, flow_cls)
    import pendulum
    from airflow.exceptions import AirflowException
    from airflow.sdk import DAG

    owner = deployment.deployer or "airflow"
    _check_schedule_and_params(flow_cls, graph)
    schedule = _schedule(flow_cls, graph, deployment, owner)
    try:
        dag = DAG(
            dag_id=deployment.project_flow_name,
            description=(flow_cls.__doc__ or "").strip().splitlines()[0] if flow_cls.__doc__ else None,
            schedule=schedule,
            start_date=pendulum.datetime(*START_DATE, tz="UTC"),
            catchup=False,
            is_paused_upon_creation=False,
            tags=deployment_tags(deployment),
            default_args={"owner": owner},
            params=_params(flow_cls, deployment),
            **_dag_settings(flow_cls),
            doc_md=f"Flow `{flow_cls.__name__}` deployed as `{deployment.project_flow_name}` by {owner}.",
        )
        dag.timetable.validate()
    except (ValueError, TypeError, AirflowException) as error:
        raise FlowDefinitionError(f"Airflow refused the DAG of flow {flow_cls.__name__}: {error}", graph.file,
                                  graph.line) from None
    taken = [name for name in graph.order if name in PACKAGE_TASKS]
    if taken:
        node = graph[taken[0]]
        raise FlowDefinitionError(f"Step '{taken[0]}' of flow {flow_cls.__name__} has the name of a task the package "
                                  "adds to a flow's DAG: rename the step.", node.file, node.line)
    with dag:
        outputs = {}
        for node in graph:
            outputs[node.name] = _wire(_step_task(flow_cls, deployment, graph, node), node, graph, outputs)
        add_failure_announcement(dag, functools.partial(announce_failure, deployment), failure_asset(deployment))
        if flow_cls._exit_hooks:
            add_exit_hooks(dag, exit_hooks_callable(flow_cls, deployment))
    return dag


def add_failure_announcement(dag, announce, asset):
    """The DAG's last task, a teardown after every other: when one of them has failed for good (after its last
    retry), `announce(context)` announces the run's failure on `asset`, for @trigger_on_finish(outcome='failed' |
    'any'). On a run without failure Airflow's scheduler skips it without running it (trigger rule one_failed); a
    teardown, it never changes the run's state. Returns the task."""
    from airflow.sdk import TriggerRule, task
    others = list(dag.tasks)
    announcement = task(task_id=FAILURE_TASK, outlets=[asset], retries=2, retry_delay=datetime.timedelta(seconds=5),
                        dag=dag)(lambda **context: announce(context))().operator
    announcement.as_teardown()
    announcement.trigger_rule = TriggerRule.ONE_FAILED
    announcement.set_upstream(others)
    return announcement


def add_exit_hooks(dag, call_hooks):
    """A flow's @exit_hook functions: the DAG's last task, a teardown after every other (the failure announcement
    too) with trigger rule all_done, so it runs whatever the outcome once the run has ended, and calls the hooks of
    that outcome (`call_hooks(**context)`, tasks.exit_hooks_callable). A teardown, it never changes the run's state:
    the run is failed or successful as its steps made it, whatever a hook does. No retries: a hook runs once.
    Returns the task."""
    from airflow.sdk import TriggerRule, task
    others = list(dag.tasks)
    hooks = task(task_id=EXIT_HOOKS_TASK, retries=0, dag=dag)(call_hooks)().operator
    hooks.as_teardown()
    hooks.trigger_rule = TriggerRule.ALL_DONE
    hooks.set_upstream(others)
    return hooks


def _dag_settings(flow_cls) -> dict:
    """@airflow_dag's settings that are set, as DAG arguments."""
    settings = flow_cls._dag_settings
    if settings is None:
        return {}
    return {name: value for name, value in dataclasses.asdict(settings).items() if value is not None}


def _deployment(flow_cls, user, branch, production, deployed_by) -> Deployment:
    spec = flow_cls._project
    if spec is not None and user is None and branch is None and spec.branch is None \
            and not production and not spec.production:
        raise NamingError(f"build_dag({flow_cls.__name__}) needs to know whose deployment this is: pass "
                          "user='<name>', branch='<branch>' or production=True (the Airflow server's own "
                          "user is never used).")
    if user is not None:
        user = sanitize_user(user)
    deployment = deployment_of(flow_cls, branch, production, user)
    deployer = sanitize_user(deployed_by) if deployed_by else user
    return dataclasses.replace(deployment, deployer=deployer)


def _schedule(flow_cls, graph: FlowGraph, deployment: Deployment, owner: str):
    """@schedule's cron, the external events of @trigger, or the finish partitions of @trigger_on_finish."""
    spec, events = flow_cls._trigger_on_finish, flow_cls._trigger_events
    chosen = [name for name, on in (("@schedule", flow_cls._schedule is not None), ("@trigger", events is not None),
                                    ("@trigger_on_finish", spec is not None)) if on]
    if len(chosen) > 1:
        raise FlowDefinitionError(f"Flow {flow_cls.__name__} has both {chosen[0]} and {chosen[1]}: keep one of "
                                  "them.", graph.file, graph.line)
    if events is not None:
        from airflow.sdk import AssetAll
        assets = [event_asset(name) for name, _ in events.assets(deployment)]
        return assets[0] if len(assets) == 1 else AssetAll(*assets)
    if spec is None:
        return _timetable(flow_cls._schedule)
    with located((graph.file, graph.line)):
        return finish_timetable(spec, deployment, owner, f"Flow {flow_cls.__name__}")


def finish_timetable(spec, deployment: Deployment, owner: str, what: str):
    """The schedule of @trigger_on_finish `spec` for `deployment` (`what`: 'Flow X' or 'DAG x', for errors).

    One upstream, or several with any=True: partitioned on their finish assets, one run per finish. Several:
    partitioned on the asset of a wait-for-all gate DAG, one run per complete set of finishes (gates.py).
    """
    upstreams = spec.upstreams(deployment)
    if any(u.project_flow_name == deployment.project_flow_name for u in upstreams):
        raise FlowDefinitionError(f"{what} is triggered by its own finish ({deployment.project_flow_name}), a loop "
                                  "that would never stop: trigger it on another flow.")
    _report_trigger_loop(deployment, upstreams)
    if spec.expect is not None:       # expect_every= / expect_by=: the DAG that raises and clears its deadline alerts
        expectation_dag(spec, deployment, upstreams, owner, deployment_tags(deployment))
    from airflow.sdk import AssetAny, PartitionedAssetTimetable
    if spec.any or len(upstreams) == 1:    # each finish its own partition: one run each
        assets = [asset for u in upstreams for asset in outcome_assets(u, spec.outcome)]
        return PartitionedAssetTimetable(assets=assets[0] if len(assets) == 1 else AssetAny(*assets))
    assets = [finish_asset(u) for u in upstreams]
    return PartitionedAssetTimetable(assets=_gate(deployment, assets, spec.within or _default_window(), owner))


def _timetable(schedule):
    """@schedule as Airflow's schedule: the cron expression, in its time zone when it names one."""
    if schedule is None or schedule.timezone is None:
        return None if schedule is None else schedule.cron
    from airflow.sdk import CronTriggerTimetable
    return CronTriggerTimetable(schedule.cron, timezone=schedule.timezone)


_TRIGGERED_BY: dict[str, set[str]] = {}  # consumer -> upstreams, for every DAG built in this process


def _report_trigger_loop(deployment: Deployment, upstreams: list[Deployment]) -> None:
    """Warn (Airflow shows parse warnings) when flows built in this process trigger each other in a loop.

    The dag-processor parses files one by one, so only loops among DAGs built in one process are seen
    here; `airflow create` refuses loops among deployments, and at run time `max_trigger_depth` stops any.
    """
    import warnings
    consumer = deployment.project_flow_name
    _TRIGGERED_BY[consumer] = {u.project_flow_name for u in upstreams}
    loop = trigger_loop(_TRIGGERED_BY, consumer)
    if loop:
        warnings.warn(f"Flows trigger each other in a loop ({' <- '.join(loop)}, each started by the next): "
                      "each chain of runs stops after [flow_triggers] max_trigger_depth runs; remove one "
                      "@trigger_on_finish to break it.", UserWarning, stacklevel=2)


def _default_window():
    seconds = config.get_number("trigger_window")
    return None if seconds is None else datetime.timedelta(seconds=seconds)


def _gate(deployment: Deployment, upstreams: list, window, owner: str):
    """The gate DAG that starts `deployment` once per set of upstream finishes; returns its asset."""
    import pendulum
    from airflow.sdk import DAG, AssetAny, PartitionedAssetTimetable, task
    gate = gate_asset(deployment)
    within = f" within {window}" if window else ""
    with DAG(dag_id=check_dag_id(f"{deployment.project_flow_name}.{GATE_SUFFIX}"),
             schedule=PartitionedAssetTimetable(assets=AssetAny(*upstreams)),
             start_date=pendulum.datetime(*START_DATE, tz="UTC"), catchup=False, is_paused_upon_creation=False,
             max_active_runs=1, tags=deployment_tags(deployment) + [GATE_SUFFIX], default_args={"owner": owner},
             description=f"Starts {deployment.project_flow_name} once per set of finishes of "
                         f"{', '.join(a.name for a in upstreams)}{within}."):
        # One task at a time, whatever the runs: with two schedulers, max_active_runs=1 let two gate runs start
        # together in a burst (PostgreSQL, test_ha.py), and two tasks reading and writing the queue lose a finish.
        # The task limit is checked in the schedulers' critical section, which one scheduler holds at a time.
        task(task_id="match_finishes", outlets=[gate], retries=3, retry_delay=datetime.timedelta(seconds=10),
             max_active_tis_per_dag=1)(gate_callable(deployment.project_flow_name, upstreams, gate, window))()
    return gate


def _check_schedule_and_params(flow_cls, graph: FlowGraph) -> None:
    if flow_cls._schedule is None:
        return
    for name, parameter in flow_parameters(flow_cls).items():
        if parameter.required and parameter.default is None:
            raise FlowDefinitionError(f"Flow {flow_cls.__name__} has @schedule and the required parameter "
                                      f"'{name}' without a default, which scheduled runs cannot supply: give "
                                      "it a default or remove @schedule.", graph.file, graph.line)


def _check_airflow_support(graph: FlowGraph, flow_cls) -> None:
    for node in graph:
        if node.type == "switch":
            _check_switch_support(graph, node, flow_cls)
        elif _after_switch(graph, node) and _started_pod(flow_cls, node):
            raise FlowDefinitionError(f"Step '{node.name}' is where a switch's cases meet and "
                                      f"{_on_kubernetes(flow_cls, node)}, which Airflow cannot run in a pod of its "
                                      "own yet (its inputs are known only at run time): add a step without "
                                      "@kubernetes before it, or set [flow_triggers] kubernetes_mode = executor.",
                                      node.file, node.line)


def _check_switch_support(graph: FlowGraph, node, flow_cls) -> None:
    if node.name in node.out_funcs:
        raise FlowDefinitionError(f"Step '{node.name}' is a recursive switch (a case goes back to the step "
                                  "itself), which runs locally but not on Airflow, whose DAGs cannot loop: "
                                  "run the loop inside the step's code.", node.file, node.next_line)
    if _in_foreach(graph, node):
        raise FlowDefinitionError(f"Step '{node.name}' is a switch inside a foreach, which runs locally but not "
                                  "yet on Airflow (a branching task skips its cases for every mapped branch): "
                                  "move the switch out of the foreach or pick the case in the step's code.",
                                  node.file, node.next_line)
    if _started_pod(flow_cls, node):
        raise FlowDefinitionError(f"Switch step '{node.name}' {_on_kubernetes(flow_cls, node)}, which Airflow cannot "
                                  "run as a branching task in a pod of its own: move the work into a @kubernetes step "
                                  "before the switch, or set [flow_triggers] kubernetes_mode = executor.",
                                  node.file, node.line)


def _started_pod(flow_cls, node) -> bool:
    """Whether the step runs in a pod its task starts (@kubernetes in kubernetes_mode operator)."""
    return pod_settings(getattr(flow_cls, node.name)) is not None and pod_mode() == "operator"


def _on_kubernetes(flow_cls, node) -> str:
    """Why the step runs on Kubernetes: its own @kubernetes, or --with kubernetes / steps_on_kubernetes."""
    written = any(d["name"] == "kubernetes" and d["statically_defined"]
                  for d in getattr(getattr(flow_cls, node.name), "step_decorators", []))
    return "has @kubernetes" if written else "runs on Kubernetes (--with kubernetes, or [flow_triggers] " \
                                             "steps_on_kubernetes)"


def _after_switch(graph: FlowGraph, node) -> bool:
    """Whether some of the step's upstream tasks may be skipped: it takes several and a switch comes before.
    Not inside a foreach: a switch before it skips its mapped tasks all together (and none is inside one)."""
    return len([p for p in node.in_funcs if p != node.name]) > 1 and not _in_foreach(graph, node) and \
        any(graph[a].type == "switch" for a in graph.ancestors(node.name))


def _in_foreach(graph: FlowGraph, node) -> bool:
    return any(graph[parent].type == "foreach" for parent in node.split_parents)


def deployment_tags(deployment: Deployment) -> list[str]:
    tags = [deployment.flow_name]
    if deployment.project is not None:
        tags += branch_tags(deployment.project, deployment.branch)
    for tag in tags:
        if len(tag) > _TAG_MAX_LEN:
            raise NamingError(f"The DAG tag '{tag[:40]}...' is longer than Airflow's limit of {_TAG_MAX_LEN} "
                              "characters: use a shorter branch or project name.")
    return tags


def _params(flow_cls, deployment: Deployment) -> dict:
    from airflow.sdk import Param
    with outside_steps(deployment):     # default functions: called once, as deployed (Metaflow's deploy time)
        computed = deploy_time_defaults(flow_cls)
    params = {}
    for name, parameter in flow_parameters(flow_cls).items():
        json_type = _JSON_TYPES.get(parameter.type)
        kwargs = {"description": parameter.help} if parameter.help else {}
        if parameter.separator is not None:     # a list, or the string Metaflow splits into one
            json_type = ["string", "array"]
        if parameter.type is not JSONType:
            types = json_type if isinstance(json_type, list) else [json_type]
            kwargs["type"] = json_type if parameter.default is not None or parameter.required \
                else ["null", *types]
        if parameter.default is None and parameter.required:
            params[name] = Param(**kwargs)
        else:
            params[name] = Param(computed[name] if name in computed else parameter.default, **kwargs)
    return params


def _step_task(flow_cls, deployment, graph, node):
    from airflow.sdk import task

    from .card_link import with_card_link
    func = getattr(flow_cls, node.name)
    settings = step_settings(func)
    linked = with_card_link if settings.cards else (lambda decorated: decorated)   # a step with @card: its link
    finish = finish_asset(deployment) if node.type == "end" else None
    kwargs = {"task_id": node.name, "retries": settings.retries, "outlets": [finish] if finish else []}
    if settings.retry_delay is not None:
        kwargs["retry_delay"] = settings.retry_delay
    if settings.timeout is not None:
        kwargs["execution_timeout"] = settings.timeout
    pod = pod_settings(func)
    with located((node.file, node.line)):
        if pod is not None and pod_mode() == "operator":
            return linked(pod_step_task(flow_cls, deployment, node, pod, kwargs, finish))
        kwargs.update(executor_settings(node.name, pod, resource_request(func), settings.timeout))
    pull = None
    if _after_switch(graph, node):   # runs after whichever cases ran, the others skipped
        kwargs["trigger_rule"] = "none_failed_min_one_success"
        pull = [(p, SWITCH_REF if graph[p].type == "switch" else "return_value") for p in node.in_funcs]
    if node.type == "switch":        # Airflow's branching: the cases not taken show as skipped
        return linked(task.branch(**kwargs)(step_callable(flow_cls, deployment, node.name, node.type, finish)))
    return linked(task(**kwargs)(step_callable(flow_cls, deployment, node.name, node.type, finish, pull)))


def _switch_ref(called, node):
    """What the steps after a switch read: its ref, pushed under its own key (it returns the case's task id)."""
    if node.type != "switch":
        return called
    from airflow.sdk.definitions.xcom_arg import XComArg
    return XComArg(called.operator, key=SWITCH_REF)


def _wire(step_task, node, graph: FlowGraph, outputs: dict):
    """Call the task with its upstream XCom: mapped inside a foreach, zipped for joins inside one."""
    if node.name == "start":
        return _switch_ref(step_task(), node)
    upstream = [outputs[name] for name in node.in_funcs]
    if _after_switch(graph, node):   # its task pulls the refs of the upstreams that ran
        called = step_task()
        called.operator.set_upstream([u.operator for u in upstream])
        return called
    if node.type == "switch":
        return _switch_ref(step_task(inputs=upstream[0]), node)
    mapped = _in_foreach(graph, node)
    if node.type == "join":
        split = graph.split_of(node.name)
        if split.type == "foreach" and mapped:   # an inner foreach's join: one task per outer branch
            return step_task.expand(inputs=_helper(group_branches, f"{split.name}-groups")(upstream[0]))
        if split.type == "foreach":
            return step_task(inputs=upstream[0])
        if mapped:
            return step_task.expand(inputs=upstream[0].zip(*upstream[1:]))
        return step_task(inputs=upstream)
    if mapped and node.type == "foreach":        # a foreach inside a foreach: map its steps over all branches
        return _helper(flatten_branches, f"{node.name}-branches")(step_task.expand(inputs=upstream[0]))
    if mapped:
        return step_task.expand(inputs=upstream[0])
    return step_task(inputs=upstream[0])


def _helper(func, task_id: str):
    """A small task of the DAG's own (no step code): task ids with '-' cannot be a step's name."""
    from airflow.sdk import task
    return task(task_id=task_id)(func)
