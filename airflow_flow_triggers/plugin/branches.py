"""Projects, branches and their trigger graphs, assembled from metadata rows (no database here).

A deployed flow is a DAG with a finish asset; its project and branch are its `project:` and
`project_branch:` tags; a project's own Airflow DAG (not a flow) also has the tag `airflow_dag` ("kind": "dag").
Its trigger graph is the finish -> trigger edges among the branch's DAGs,
plus edges to DAGs of other branches (a pinned upstream, or a branch pinning this one), marked.
"""
from __future__ import annotations

from ..deployments.provenance import describe
from ..naming import AIRFLOW_DAG_TAG, BRANCH_TAG, PROJECT_TAG, branch_kind, tag_value
from ..orchestration.expectations import companion_id
from .metadata import DagRow, Edge


def projects_view(rows: list[DagRow]) -> dict:
    """{"projects": [{"name", "branches": [...]}], "flows": [DAG ids of flows without @project]}."""
    projects: dict[str, set[str]] = {}
    flows = []
    for row in rows:
        project, branch = tag_value(row.tags, PROJECT_TAG), tag_value(row.tags, BRANCH_TAG)
        if project is None or branch is None:
            flows.append(row.dag_id)
        else:
            projects.setdefault(project, set()).add(branch)
    return {"projects": [{"name": name, "branches": sorted(branches)} for name, branches in sorted(projects.items())],
            "flows": sorted(flows)}


def branch_view(project: str, branch: str, rows: list[DagRow], edges: list[Edge], runs: dict[str, dict],
                finishes: dict[str, dict], readable: set[str], causes: dict[str, str] | None = None,
                edge_fates: dict[tuple[str, str], dict] | None = None, records: list[dict] = (),
                expectations: dict[str, dict] | None = None) -> dict:
    """One project branch: its deployments, each with its place in the trigger graph, its last run (and
    what started it), its code version (from its deployment record) and its expectation of its upstreams
    (`expectations`: metadata.expectation_records), and its trigger edges with the finishes waiting on them or
    missed."""
    versions = {record["dag_id"]: code_version(record) for record in records}
    members = {row.dag_id for row in rows}
    triggered_by: dict[str, list[str]] = {}
    triggers: dict[str, list[str]] = {}
    for edge in edges:
        if edge.upstream in readable and edge.consumer in readable:
            triggered_by.setdefault(edge.consumer, []).append(edge.upstream)
            triggers.setdefault(edge.upstream, []).append(edge.consumer)
    deployments = []
    for row in rows:
        ups, downs = triggered_by.get(row.dag_id, []), triggers.get(row.dag_id, [])
        finish = finishes.get(row.dag_id, {})
        deployments.append({
            "dag_id": row.dag_id,
            "flow": row.dag_id.rsplit(".", 1)[-1],
            "kind": "dag" if AIRFLOW_DAG_TAG in row.tags else "flow",
            "owner": row.owners,
            "is_paused": row.is_paused,
            "triggered_by": ups,
            "triggers": downs,
            "cross_branch": sorted({dag_id for dag_id in ups + downs if dag_id not in members}),
            "finish_asset_id": finish.get("asset_id"),
            "last_run": None if row.dag_id not in runs else {
                **runs[row.dag_id], "started_by": (causes or {}).get(row.dag_id)},
            "last_finish": finish.get("last_finish"),
            "code": versions.get(row.dag_id),
            "expectation": expectation_view(row.dag_id, (expectations or {}).get(row.dag_id)),
        })
    kind = branch_kind(branch)
    visible = [edge for edge in edges if edge.upstream in readable and edge.consumer in readable]
    return {"project": project, "branch": branch, "kind": kind, "production": kind == "prod",
            "owners": sorted({row.owners for row in rows if row.owners}), "deployments": deployments,
            "edges": [{"upstream": edge.upstream, "consumer": edge.consumer,
                       **(edge_fates or {}).get((edge.upstream, edge.consumer), {"waiting": 0, "missed": 0})}
                      for edge in visible]}


def graph_layout(view: dict, column: int = 260, row: int = 84) -> dict:
    """Positions for the branch page's SVG: columns by trigger depth, other branches' DAGs included."""
    deployments = {d["dag_id"]: d for d in view["deployments"]}
    nodes = list(deployments) + sorted({x for d in deployments.values() for x in d["cross_branch"]})
    upstreams = {n: [u for u in deployments[n]["triggered_by"]] if n in deployments else [] for n in nodes}
    for d in deployments.values():                       # edges into other branches' DAGs
        for down in d["triggers"]:
            if down not in deployments:
                upstreams[down].append(d["dag_id"])
    depth: dict[str, int] = {}

    def depth_of(node: str, seen: frozenset) -> int:
        if node not in depth:
            ups = [u for u in upstreams.get(node, []) if u in upstreams and u not in seen]  # loops: cut
            depth[node] = 1 + max((depth_of(u, seen | {node}) for u in ups), default=-1)
        return depth[node]

    for node in nodes:
        depth_of(node, frozenset())
    placed: dict[str, tuple[int, int]] = {}
    per_column: dict[int, int] = {}
    for node in sorted(nodes, key=lambda n: (depth[n], n)):
        index = per_column.get(depth[node], 0)
        per_column[depth[node]] = index + 1
        placed[node] = (20 + depth[node] * column, 20 + index * row)
    edges = [(u, n) for n in nodes for u in upstreams[n] if u in placed]
    overdue = {n for n, d in deployments.items() if (d.get("expectation") or {}).get("overdue")}
    return {"nodes": placed, "edges": edges, "labels": {n: _label(n, view, deployments) for n in nodes},
            "overdue": overdue,
            "width": 40 + (max(depth.values(), default=0) + 1) * column,
            "height": 40 + max(per_column.values(), default=1) * row}


def _label(dag_id: str, view: dict, deployments: dict) -> tuple[str, str, str]:
    """(flow name, second line, state) of a graph node; another branch's DAG says which branch."""
    flow = dag_id.rsplit(".", 1)[-1]
    if dag_id in deployments:
        run = deployments[dag_id]["last_run"]
        state = run["state"] if run else "none"
        kind = "DAG · " if deployments[dag_id].get("kind") == "dag" else ""
        return flow, kind + (state if run else "never ran"), state
    where = dag_id.rsplit(".", 1)[0]
    project = f"{view['project']}."
    return flow, "branch " + (where[len(project):] if where.startswith(project) else where), "other-branch"


def expectation_view(dag_id: str, record: dict | None) -> dict | None:
    """A deployment's expectation of its upstreams (@trigger_on_finish(expect_every= | expect_by=)) as its newest
    check found it: `state` overdue, on time or not checked yet; None for a deployment without one."""
    if record is None:
        return None
    checked = bool(record)
    overdue = record.get("overdue") if checked else None
    return {"dag_id": companion_id(dag_id), "overdue": overdue,
            "state": "not checked yet" if not checked else "overdue" if overdue else "on time",
            "checked_at": record.get("checked_at"), "first_seen": record.get("first_seen"),
            "upstreams": record.get("upstreams", []),
            "errors": record.get("errors", [])}


def code_version(record: dict) -> dict:
    """A deployment's code version as people read it: its package's short hash, git commit, who and when."""
    origin = record.get("promoted_from")
    return {"version": record["package"]["sha256"][:12], "sha256": record["package"]["sha256"],
            "commit": describe(record), "deployed_at": record["deployed_at"], "deployer": record["deployer"],
            "promoted_from": origin["branch"] if origin else None}
