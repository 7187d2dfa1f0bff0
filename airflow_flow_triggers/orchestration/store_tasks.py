"""Which task of the artifact store an Airflow task instance of a flow's DAG is.

The DAG's id is the deployment's project_flow_name and a DAG run's id is the store's run id (dag_factory.py,
tasks.py); a task instance's task_id is the step's name. A task id starts with the step's number in the flow's
graph (runtime.task.task_id_for; the run's record keeps the graph, in order). A step outside any foreach is one
task, e.g. '3'. A step inside a foreach is mapped (dynamic task mapping), one task instance per branch, and its
map index counts the branches in order: '4-0', '4-1', ... one foreach deep; '5-0-0', '5-0-1', '5-1-0', ... (the
outer branches' inner branches, flattened) deeper. Which task id a map index is follows from the step's upstream
tasks, all finished before it starts: their records say where in the foreaches they are, and how many branches a
foreach opened.

Only JSON records are read: nothing here imports or runs a flow's code.
"""
from __future__ import annotations

from ..runtime.store import RUN_RECORD, TASK_RECORD, ArtifactStore, read_json, task_order
from ..runtime.task import step_number, task_id_for

NOT_MAPPED = -1   # Airflow's map index of a task that is not mapped


def store_task_id(store: ArtifactStore, project_flow_name: str, run_id: str, step: str, map_index: int) -> str | None:
    """The store's task id of task instance `step`[`map_index`] of the run; None when the store cannot say yet
    (the run's record or its upstream tasks' are not there)."""
    if map_index == NOT_MAPPED:
        return unmapped_task_id(run_graph(store, project_flow_name, run_id), step)
    branches = mapped_task_ids(store, project_flow_name, run_id, step)
    return branches[map_index] if 0 <= map_index < len(branches) else None


def mapped_task_ids(store: ArtifactStore, project_flow_name: str, run_id: str, step: str) -> list[str]:
    """The task ids of the mapped step `step` of the run, in map index order ([] while the store cannot say)."""
    run_path = store.run_path(project_flow_name, run_id)
    graph = run_graph(store, project_flow_name, run_id)
    parent = next((name for name, node in graph.items() if step in node.get("next", ())), None)
    if parent is None or step not in graph or not (run_path / parent).exists():
        return []
    records = [read_json(run_path / parent / task_id / TASK_RECORD)
               for task_id in store.task_ids(run_path / parent)]
    return sorted(_branches(records, graph[parent]["type"], step_number(graph, step), foreach_depth(graph, step)),
                  key=task_order)


def unmapped_task_id(graph: dict, step: str) -> str | None:
    """The task id of `step`, outside any foreach, in a run of `graph` (run_graph); None for a step it lacks."""
    return task_id_for(step_number(graph, step)) if step in graph else None


def run_graph(store: ArtifactStore, project_flow_name: str, run_id: str) -> dict:
    """The run's graph as its record keeps it ({} before its first task wrote the record)."""
    return (read_json(store.run_path(project_flow_name, run_id) / RUN_RECORD) or {}).get("graph") or {}


def _branches(records: list[dict | None], parent_type: str, number: int, depth: int) -> set[str]:
    """The task ids of step `number`, from its parent step's task records: a foreach's branches each, else the
    parent's places in the foreaches (a join of a foreach: one place fewer)."""
    found = set()
    for record in filter(None, records):
        stack = list(record.get("foreach_stack", ()))
        if parent_type == "foreach":
            found.update(task_id_for(number, [*stack, {"index": i}]) for i in range(record.get("foreach_count") or 0))
        else:
            found.add(task_id_for(number, stack[:depth]))
    return found


def foreach_depth(graph: dict, step: str) -> int:
    """How many foreaches `step` is inside, from the run's graph ({step: {"type", "next"}}, task.step_links)."""
    return split_stacks(graph).get(step, ()).count("foreach")


def split_stacks(graph: dict) -> dict[str, tuple[str, ...]]:
    """Each step's open splits ("foreach" or "split"), outermost first: a split opens one for the steps after
    it, a join closes the innermost."""
    stacks = {"start": ()}
    pending = ["start"]
    while pending:
        name = pending.pop()
        node = graph.get(name, {})
        opened = stacks[name] + ((node["type"],) if node.get("type") in ("foreach", "split") else ())
        for child in node.get("next", ()):
            if child not in stacks and child in graph:
                stacks[child] = opened[:-1] if graph[child]["type"] == "join" else opened
                pending.append(child)
    return stacks
