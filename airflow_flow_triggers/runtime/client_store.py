"""Which artifact store the client reads: Metaflow's `metadata()`, `get_metadata()` and `default_metadata()`.

Metaflow names its metadata provider `<type>@<where>` ('local@/home/alice', 'service@https://...'). Here
runs, tasks and artifacts all live in the artifact store, so the provider is the store:
`local@<path>` for a local root, `<scheme>@<url>` for object storage ('s3@s3://aws_default@bucket/flows').
By default it is `[flow_triggers] artifact_root` (the store a local run and Airflow's tasks write to).
"""
from __future__ import annotations

import os
import re

from ..errors import ArtifactError
from .store import ArtifactStore

_TYPED = re.compile(r"([a-z][a-z0-9]*)@(.+)")
_chosen: str | None = None     # the artifact root chosen with metadata(); None: the configured one


def client_store() -> ArtifactStore:
    """The store the client reads now."""
    return ArtifactStore(_chosen)


def get_metadata() -> str:
    """Where the client reads runs from, as Metaflow's provider string: 'local@/path' or '<scheme>@<url>'."""
    return provider_string(client_store().url)


def metadata(ms: str) -> str:
    """Read runs from another artifact store: a path or 'local@<path>', an object-storage URL or
    '<scheme>@<url>'; global to the process, as in Metaflow. Returns get_metadata()."""
    global _chosen
    root = root_of(ms)
    ArtifactStore(root)               # a root that cannot be used is an error now, not at the first read
    _chosen = root
    return get_metadata()


def default_metadata() -> str:
    """Back to the configured artifact store; returns get_metadata()."""
    global _chosen
    _chosen = None
    return get_metadata()


def provider_string(url: str) -> str:
    if "://" not in url or url.startswith("file://"):
        return f"local@{url.removeprefix('file://')}"
    return f"{url.split('://', 1)[0]}@{url}"


def root_of(ms: str) -> str:
    """The artifact root a provider string names."""
    typed = _TYPED.fullmatch(ms)
    kind, where = typed.groups() if typed else ("", ms)
    if where.startswith(("http://", "https://")) or kind not in ("", "local") and not where.startswith(f"{kind}://"):
        raise ArtifactError(f"metadata('{ms}') names no artifact store: runs are read from the artifact store "
                            "itself here (there is no metadata service), so give its root: a path, "
                            "'local@<path>', or an object-storage URL such as 's3://aws_default@bucket/flows'.")
    return where if "://" in where else f"file://{os.path.abspath(os.path.expanduser(where))}"
