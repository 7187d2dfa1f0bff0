"""Where things are in the deployment store, and how a file of it is written.

    <root>/<project>/<branch>/<Flow>.py              the DAG file Airflow parses (ENTRY: the same few lines
                                                     for every deployment)
    <root>/<project>/<branch>/<Flow>.deploy.json     the record: who, when, the code package, upstreams, signature
    <root>/_flows/<Flow>.py, <Flow>.deploy.json      flows without @project
    <root>/_packages/<sha256>/...                    code packages, by content (packages.py), never parsed
                                                     by Airflow (_packages/.airflowignore)
    <root>/.generation                               on object storage: a new token after every change, so
                                                     that a reader with the last one knows nothing changed

The root is `[flow_triggers] deployments_root`: any ObjectStoragePath URL, by default Airflow's dags
folder. A local root is written file by file under temporary names Airflow does not parse, then renamed
into place; on object storage each object is written whole.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from .. import config
from ..errors import CommandLineError
from ..naming import Deployment

NO_PROJECT = "_flows"
PACKAGES = "_packages"
RECORD_SUFFIX = ".deploy.json"
GENERATION = ".generation"
# Valid in both syntaxes of .airflowignore: as a glob it matches every package's folder (named by a
# hexadecimal hash), as a regexp (it matches the empty string) every path.
IGNORE_ALL = "[0-9a-f]*\n"
ENTRY = '''"""{dag_id}: a deployment of airflow_flow_triggers, written by `python flow.py airflow create`.

Airflow parses this file; the DAG comes from the code package and the record beside it in the store.
"""
from airflow_flow_triggers.orchestration.deployed import deployed_dag

dag = deployed_dag(__file__)
'''


def root_url() -> str:
    """The store's URL: `[flow_triggers] deployments_root`, or Airflow's dags folder."""
    url = config.get("deployments_root").strip()
    if url:
        return url if "://" in url else f"file://{os.path.abspath(os.path.expanduser(url))}"
    from airflow.configuration import conf
    return f"file://{os.path.abspath(os.path.expanduser(conf.get('core', 'dags_folder')))}"


def store_path(url: str):
    """The root as a path object: a plain Path on this machine's disk, else an ObjectStoragePath."""
    if url.startswith("file://"):
        return Path(url[len("file://"):])
    from airflow.sdk import ObjectStoragePath
    try:
        return ObjectStoragePath(url)
    except ValueError as error:
        raise CommandLineError(f"The deployments root '{url}' cannot be used ({error}): set [flow_triggers] "
                               "deployments_root to a folder or a URL of a filesystem Airflow knows (s3://, gs://, "
                               "... with their provider installed).") from None


def _relative_folder(deployment: Deployment) -> str:
    return NO_PROJECT if deployment.project is None else f"{deployment.project}/{deployment.branch}"


def branch_folder(root, deployment: Deployment):
    return root / _relative_folder(deployment)


def entry_path(root, deployment: Deployment):
    return root / relative_entry(deployment)


def relative_entry(deployment: Deployment) -> str:
    """The DAG file's path inside the store (and inside the DAG bundle that reads it)."""
    return f"{_relative_folder(deployment)}/{deployment.flow_name}.py"


def record_path(root, deployment: Deployment):
    return branch_folder(root, deployment) / f"{deployment.flow_name}{RECORD_SUFFIX}"


def package_folder(root, sha256: str):
    return root / PACKAGES / sha256


def entry_source(dag_id: str) -> str:
    return ENTRY.format(dag_id=dag_id)


def store_root_of_entry(entry: Path, project: str | None) -> Path:
    """The store's root, from the path of one of its DAG files."""
    return entry.parent.parent if project is None else entry.parent.parent.parent


def path_escapes(relative: str) -> bool:
    """Whether a path read from the store would lead out of the folder it is copied into."""
    return relative.startswith("/") or ".." in relative.split("/")


def mark_changed(root) -> None:
    """Tell readers of an object-storage root that it changed, after the change is written (bundle.py reads
    this one object instead of listing the store). A local root is read in place: nothing to tell."""
    if not isinstance(root, Path):
        write_generation(root.fs, root.path)


def write_generation(fs, top: str) -> None:
    fs.pipe(f"{top.rstrip('/')}/{GENERATION}", uuid.uuid4().hex.encode())


def read_generation(fs, top: str) -> str | None:
    """The token write_generation wrote last under `top`; None when none was ever written."""
    try:
        return fs.cat(f"{top.rstrip('/')}/{GENERATION}").decode()
    except FileNotFoundError:
        return None


def remove_folder(path) -> None:
    """Remove a folder of the store and everything in it (a code package)."""
    if isinstance(path, Path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.fs.rm(path.path, recursive=True)


def read_record(path) -> dict | None:
    """A deployment record; None if there is none; a corrupt one is an error naming the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return _parsed_record(text, path)


def read_records(paths: list) -> list[dict]:
    """The records at `paths`, in their order, skipping any removed meanwhile. On object storage in one
    call: fsspec's object stores fetch them concurrently (one GET after another costs seconds at 2,000)."""
    if not paths or isinstance(paths[0], Path):
        return [r for r in (read_record(path) for path in paths) if r is not None]
    fs = paths[0].fs
    contents = fs.cat([path.path for path in paths], on_error="return")
    records = []
    for path in paths:
        content = contents.get(path.path, contents.get(fs._strip_protocol(path.path)))
        if content is None or isinstance(content, FileNotFoundError):
            continue
        if isinstance(content, Exception):
            raise content
        records.append(_parsed_record(content.decode(), path))
    return records


def _parsed_record(text: str, path) -> dict:
    try:
        record = json.loads(text)
        if not isinstance(record, dict) or "dag_id" not in record:
            raise ValueError("not a deployment record")
    except ValueError as error:
        raise CommandLineError(f"The deployment record {path} is corrupt ({error}): delete it, and deploy that "
                               "flow again.") from None
    return record
