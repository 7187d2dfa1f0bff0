"""The deployment store as a DAG bundle: what the dag-processor and the workers read it through.

With the default root (Airflow's dags folder) nothing is to be set: the dags-folder bundle reads it.
A root in object storage is a bundle of its own, e.g. in `[dag_processor] dag_bundle_config_list`:

    [{"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
     {"name": "flow-deployments", "classpath": "airflow_flow_triggers.deployments.bundle.DeploymentsBundle",
      "kwargs": {}}]

Its `path` is a folder on the machine that reads it (under `[dag_processor] dag_bundle_storage_path`),
which `refresh()` brings level with the store: new and changed objects are fetched (each written whole,
then renamed into place), removed ones are removed; a code package, named by its content, is fetched
once; and when the store's generation object says nothing changed since the last refresh (and the last
listing is less than five minutes old), nothing is listed at all. The dag-processor refreshes it every
`refresh_interval` seconds and at once when the api-server asks for a new deployment to be parsed; a
worker refreshes it before it runs a task.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from airflow.dag_processing.bundles.base import BaseDagBundle

from ..runtime.store import write_file
from . import layout

# the store's generation this folder was last brought level with, and what each file was fetched from (size, ETag)
SYNC_STATE = ".flow_triggers_sync.json"
# Listed anyway after this many seconds, unchanged generation or not: objects copied into the store by hand
# (not through `airflow create`, which renews the generation) show within five minutes.
LIST_AT_LEAST_EVERY = 300


class DeploymentsBundle(BaseDagBundle):
    """`[flow_triggers] deployments_root` (or kwargs `url`) as a DAG bundle."""

    supports_versioning = False

    def __init__(self, *, url: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.url = url or layout.root_url()

    @property
    def remote(self) -> bool:
        return not self.url.startswith("file://")

    @property
    def path(self) -> Path:
        return self.base_dir / "store" if self.remote else layout.store_path(self.url)

    def get_current_version(self) -> None:
        return None

    def initialize(self) -> None:
        self.refresh()
        super().initialize()

    def refresh(self) -> None:
        if self.remote:
            with self.lock():
                fetch_store(layout.store_path(self.url), self.path)


def fetch_store(remote, local: Path) -> None:
    """Make the folder `local` hold what the object-storage folder `remote` holds.

    Listing the store costs seconds at thousands of deployments, and a worker refreshes before every task:
    when the store's generation (layout.mark_changed) is the one this folder was last brought level with,
    nothing changed since, and one GET is all it costs."""
    fs, top = remote.fs, remote.path.rstrip("/")
    fs.invalidate_cache()           # fsspec caches listings (and misses) below `top` too
    state_file = local / SYNC_STATE
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        state = {}
    generation = layout.read_generation(fs, top)          # read before listing: a change after it is seen next time
    if generation is not None and state.get("generation") == generation \
            and time.time() - state.get("listed_at", 0) < LIST_AT_LEAST_EVERY:
        return
    listed_at = time.time()
    local.mkdir(parents=True, exist_ok=True)
    fetched = state.get("files", {})
    listed, wanted = {}, {}
    for name, info in fs.find(top, detail=True).items():
        relative = name[len(top):].lstrip("/")
        if not relative or relative == layout.GENERATION or info.get("type") == "directory" \
                or layout.path_escapes(relative):
            continue
        changed = info.get("ETag") or info.get("LastModified") or info.get("mtime") or info.get("created")
        listed[relative] = f"{info.get('size')}:{changed}"
        if fetched.get(relative) != listed[relative] or not (local / relative).exists():
            wanted[name] = relative
    stale = set(wanted.values())
    present = {relative: mark for relative, mark in listed.items() if relative not in stale}
    complete = True
    # one call for all of them: fsspec's object stores fetch concurrently
    for name, content in (fs.cat(list(wanted), on_error="return") if wanted else {}).items():
        relative = wanted.get(name)
        if relative is not None and not isinstance(content, Exception):
            write_file(local / relative, content)
            present[relative] = listed[relative]
        else:
            complete = False                              # gone since listed (or failed): list again next time
    for relative in set(fetched) - set(listed):
        (local / relative).unlink(missing_ok=True)
    state = {"generation": generation if complete else None, "listed_at": listed_at, "files": present}
    write_file(state_file, json.dumps(state).encode())


def local_root() -> Path:
    """Where this machine's Airflow reads the store from: the root itself, or the folder of its bundle."""
    url = layout.root_url()
    if url.startswith("file://"):
        return layout.store_path(url)
    name = bundle_name(url)
    return DeploymentsBundle(name=name or "flow-deployments", url=url).path


def bundle_name(url: str | None = None) -> str | None:
    """The name of the configured DAG bundle that reads the store at `url` (default: the deployments root)."""
    from airflow.configuration import conf
    url = url or layout.root_url()
    root = os.path.realpath(url[len("file://"):]) if url.startswith("file://") else None
    for item in conf.getjson("dag_processor", "dag_bundle_config_list", fallback=None) or []:
        kwargs = item.get("kwargs") or {}
        classpath = item.get("classpath", "")
        if classpath == f"{__name__}.{DeploymentsBundle.__name__}" and (kwargs.get("url") or layout.root_url()) == url:
            return item.get("name")
        if root is not None and classpath.endswith("LocalDagBundle"):
            path = kwargs.get("path") or conf.get("core", "dags_folder")
            if os.path.realpath(os.path.expanduser(path)) == root:
                return item.get("name")
    return None
