"""What differs between two branches of a project, from their deployment records: what a reviewer reads
before `airflow promote`. Flows compare by code version (their package's SHA-256); trigger edges compare
branch-relative (FirstProjectFlow -> SecondProjectFlow on either branch is the same edge)."""
from __future__ import annotations

from ..naming import split_flow_name


def branch_diff(records: list[dict], project: str, ours: str, theirs: str) -> list[str]:
    """Lines that say, flow by flow and edge by edge, how branch `ours` differs from branch `theirs`."""
    mine, other = _branch(records, project, ours), _branch(records, project, theirs)
    lines = [f"{project}: {ours} against {theirs}"]
    if not mine and not other:
        return lines + ["  nothing is deployed on either branch: `airflow list` shows what is deployed"]
    width = max(len(flow) for flow in {*mine, *other})
    for flow in sorted({*mine, *other}):
        if flow not in other:
            lines.append(f"  {flow:<{width}}  only on {ours} ({_version(mine[flow])})")
        elif flow not in mine:
            lines.append(f"  {flow:<{width}}  only on {theirs} ({_version(other[flow])})")
        elif _version(mine[flow]) != _version(other[flow]):
            lines.append(f"  {flow:<{width}}  differs: {_version(mine[flow])} on {ours}, {_version(other[flow])} on "
                         f"{theirs}")
        else:
            lines.append(f"  {flow:<{width}}  same code ({_version(mine[flow])})")
    my_edges, their_edges = _edges(mine, project, ours), _edges(other, project, theirs)
    for edge in sorted(my_edges - their_edges):
        lines.append(f"  trigger {edge}: only on {ours}")
    for edge in sorted(their_edges - my_edges):
        lines.append(f"  trigger {edge}: only on {theirs}")
    if my_edges == their_edges:
        lines.append("  trigger edges: the same")
    return lines


def _branch(records: list[dict], project: str, branch: str) -> dict[str, dict]:
    return {r["flow"]: r for r in records if r["project"] == project and r["branch"] == branch}


def _version(record: dict) -> str:
    return record["package"]["sha256"][:12]


def _edges(records: dict[str, dict], project: str, branch: str) -> set[str]:
    """'Upstream -> Consumer', the upstream by flow name when it is on the same branch, else by DAG id."""
    edges = set()
    for flow, record in records.items():
        for upstream in record.get("triggered_by", []):
            up_project, up_branch, up_flow = split_flow_name(upstream)
            name = up_flow if (up_project, up_branch) == (project, branch) else upstream
            edges.add(f"{name} -> {flow}")
    return edges
