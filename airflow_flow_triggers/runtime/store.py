"""The artifact store: pickled artifacts and JSON records under an object-storage root.

Layout under the root (`[flow_triggers] artifact_root`):

    <project_flow_name>/<run_id>/_run.json
    <project_flow_name>/<run_id>/_parameters.pickle
    <project_flow_name>/<run_id>/<step>/<task_id>/_task.json
    <project_flow_name>/<run_id>/<step>/<task_id>/<artifact>.pickle

A task's record maps every artifact it can see to the file holding it (relative to the run), so
an artifact a step did not change is never copied: later tasks point at the original file.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from .. import config
from ..errors import ArtifactError

RUN_RECORD = "_run.json"
TASK_RECORD = "_task.json"
RUN_PARAMETERS = "_parameters"  # <run_id>/_parameters.pickle: the run's parameter values, exactly (for resume)


def storage_path(url: str):
    """A path object for `url`: Airflow's ObjectStoragePath, so connections and schemes are Airflow's.

    Plain local roots use universal-pathlib, the library ObjectStoragePath itself is built on, so
    local runs do not pay for importing Airflow.
    """
    if "://" not in url or url.startswith("file://"):
        from upath import UPath
        return UPath(url if "://" in url else f"file://{url}")
    from airflow.sdk import ObjectStoragePath
    return ObjectStoragePath(url)


class ArtifactStore:
    def __init__(self, root: str | None = None):
        self.url = root or config.get("artifact_root")
        try:
            self.root = storage_path(self.url)
        except ValueError as error:
            raise ArtifactError(f"The artifact root '{self.url}' cannot be used ({error}): set "
                                "[flow_triggers] artifact_root to a file path or a URL of a filesystem "
                                "Airflow knows (s3://, gs://, ... with their provider installed).") from None

    def flow_path(self, full_flow_name: str):
        return self.root / full_flow_name

    def run_path(self, full_flow_name: str, run_id: str):
        return self.root / full_flow_name / run_id

    def run_url(self, full_flow_name: str, run_id: str) -> str:
        """Where a run's artifacts are, as people and `[flow_triggers] artifact_root` write it."""
        return f"{self.url.rstrip('/')}/{full_flow_name}/{run_id}"

    def task_path(self, full_flow_name: str, run_id: str, step: str, task_id: str):
        return self.run_path(full_flow_name, run_id) / step / task_id

    def flow_folders(self, flow_name: str | None = None) -> list[str]:
        """The flows' folders (`Flow` and `<project>.<branch>.Flow`), those of class `flow_name` if given."""
        with reaching(self.root, "list"):
            if not self.root.exists():
                return []
            names = sorted(p.name for p in _listing(self.root) if p.is_dir() and not p.name.startswith("_"))
        return [name for name in names if flow_name is None or name.rsplit(".", 1)[-1] == flow_name]

    def run_ids(self, full_flow_name: str) -> list[str]:
        flow_path = self.flow_path(full_flow_name)
        with reaching(flow_path, "list"):
            if not flow_path.exists():
                return []
            return [p.name for p in _listing(flow_path) if (p / RUN_RECORD).exists()]

    def step_names(self, run_path) -> list[str]:
        with reaching(run_path, "list"):
            return [p.name for p in _listing(run_path) if p.is_dir()]

    def task_ids(self, step_path) -> list[str]:
        with reaching(step_path, "list"):
            return sorted((p.name for p in _listing(step_path) if (p / TASK_RECORD).exists()), key=task_order)


def _listing(path) -> list:
    """The entries of the folder `path`, as they are now: an object store's client (s3fs) caches the listings
    it made, which would hide the flows and runs written since."""
    invalidate = getattr(getattr(path, "fs", None), "invalidate_cache", None)
    if invalidate is not None:
        invalidate()
    return list(path.iterdir())


@contextlib.contextmanager
def reaching(path, doing: str):
    """Turn a failure of the store itself (down, unreachable, refused) into one sentence naming it."""
    try:
        yield
    except (ArtifactError, FileNotFoundError):
        raise
    except Exception as error:
        raise store_failure(path, doing, error) from None


def store_failure(path, doing: str, error: Exception) -> ArtifactError:
    url = str(path)
    connection = connection_of(url)
    detail = (str(error).strip().splitlines() or [""])[0][:200]
    return ArtifactError(f"Could not {doing} {url} in the artifact store ({type(error).__name__}: {detail}): check "
                         "that the store is up and that [flow_triggers] artifact_root"
                         + (f" and its Airflow connection '{connection}' point at it." if connection else
                            " points at it."))


def connection_of(url: str) -> str | None:
    """The Airflow connection an object-storage URL names (`s3://<connection>@bucket/...`), if any."""
    location = url.split("://", 1)[1].split("/", 1)[0] if "://" in url else ""
    return location.split("@", 1)[0] if "@" in location else None


def write_json(path, data: dict) -> None:
    with reaching(path, "write"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, default=str))


def write_file(path, data: bytes) -> None:
    """Write `path` whole, so a reader sees the old file or the new one, never part: on a local path (pathlib or
    file://) beside it under a name Airflow does not parse, then renamed over it; an object store's put is whole."""
    local = Path(path.path) if getattr(path, "protocol", None) in ("file", "local") else path
    if not isinstance(local, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=".deploying-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, local)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path) -> dict | None:
    try:
        with reaching(path, "read"):
            return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def save_artifact(task_path, step: str, name: str, value: Any) -> str:
    """Pickle `value` into the task's folder, streaming; returns the file name."""
    file_name = f"{name}.pickle"
    target = task_path / file_name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        target.unlink(missing_ok=True)
        raise ArtifactError(f"Artifact '{name}' of step '{step}' cannot be stored: its value of type "
                            f"{type(value).__name__} cannot be pickled ({error}); keep it in a local "
                            "variable instead of self, or store something picklable.") from None
    except Exception as error:
        raise store_failure(target, f"write artifact '{name}' of step '{step}' to", error) from None
    return file_name


_UNPICKLING = (pickle.UnpicklingError, AttributeError, ImportError, EOFError, TypeError, ValueError)


def load_artifact(path, name: str):
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except FileNotFoundError:
        raise ArtifactError(f"Artifact '{name}' is missing from the artifact store at {path}: was the "
                            "store's root moved or cleaned?") from None
    except _UNPICKLING as error:
        raise ArtifactError(f"Artifact '{name}' at {path} cannot be loaded ({type(error).__name__}: "
                            f"{error}): is the class it was made from importable here?") from None
    except Exception as error:
        raise store_failure(path, f"read artifact '{name}' from", error) from None


def file_digest(path) -> str:
    digest = hashlib.sha1()
    with reaching(path, "read"), path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def value_digest(value: Any) -> str:
    """The hash of `value` pickled as save_artifact would write it, without writing it."""
    sink = _HashingWriter()
    pickle.dump(value, sink, protocol=pickle.HIGHEST_PROTOCOL)
    return sink.digest.hexdigest()


class _HashingWriter:
    def __init__(self):
        self.digest = hashlib.sha1()

    def write(self, data):
        self.digest.update(data)
        return len(data)


def task_order(task_id: str):
    """'4-2' before '4-10'; a recursive switch's later runs ('3.1', '3.2') after its first ('3')."""
    return [[int(n) for n in part.split(".")] if part.replace(".", "").isdigit() else [-1, part]
            for part in task_id.split("-")]
