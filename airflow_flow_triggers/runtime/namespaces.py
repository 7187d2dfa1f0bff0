"""Metaflow's namespaces for the client: `namespace()`, `get_namespace()`, `default_namespace()`.

A namespace is a tag; the client sees only the runs that carry it (`None`: every run). Until you choose
one, it is the default: inside a running step the namespace the run was made in (`user:<you>` for a
local run, `production:<project>.<branch>` for a deployment's run, so `Flow('X').latest_run` there is a
run of the same deployment), elsewhere `user:<you>`.
"""
from __future__ import annotations

from ..naming import current_user
from .current import current

_UNSET = object()
_chosen = _UNSET


def namespace(ns: str | None) -> str | None:
    """Switch the client to namespace `ns` (a tag such as 'user:alice', 'project_branch:prod'), or None to see
    every run; returns it. Global to the process, as in Metaflow."""
    global _chosen
    _chosen = ns
    return get_namespace()


def get_namespace() -> str | None:
    """The namespace the client sees now."""
    if _chosen is _UNSET:
        return current.namespace if current.is_running_flow else f"user:{current_user()}"
    return _chosen


def default_namespace() -> str:
    """Back to the default namespace (the running step's, else `user:<you>`); returns it."""
    global _chosen
    _chosen = _UNSET
    return get_namespace()
