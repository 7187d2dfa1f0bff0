"""Artifact round trips through the store, on a local root and through Airflow's ObjectStoragePath."""
import datetime
import decimal
import threading

import pytest

from airflow_flow_triggers.errors import ArtifactError, RunNotFoundError
from airflow_flow_triggers.runtime.store import (
    ArtifactStore,
    file_digest,
    load_artifact,
    save_artifact,
    storage_path,
    value_digest,
)

VALUES = [0, 1.5, "text", b"\x00bytes", None, [1, [2, 3]], {"a": {"b": (1, 2)}}, {1, 2},
          datetime.datetime(2026, 11, 22, 7, 0), decimal.Decimal("1.10"), bytes(3 << 20)]


@pytest.mark.parametrize("root_kind", ["file", "local"])
def test_round_trip(tmp_path, root_kind):
    root = f"{root_kind}://{tmp_path}/store"
    task = ArtifactStore(root).task_path("F", "1", "start", "0")
    for i, value in enumerate(VALUES):
        name = f"v{i}"
        file_name = save_artifact(task, "start", name, value)
        loaded = load_artifact(task / file_name, name)
        assert loaded == value and type(loaded) is type(value)
        assert file_digest(task / file_name) == value_digest(value)


def test_memory_root_is_airflow_object_storage():
    from airflow.sdk import ObjectStoragePath
    assert isinstance(storage_path("local:///tmp/x"), ObjectStoragePath)
    assert not isinstance(storage_path("/tmp/x"), ObjectStoragePath)
    assert str(storage_path("/tmp/x")) == "file:///tmp/x"


def test_unpicklable_value_leaves_nothing(tmp_path):
    task = ArtifactStore(str(tmp_path)).task_path("F", "1", "start", "0")
    with pytest.raises(ArtifactError, match=r"Artifact 'lock' of step 'start' cannot be stored: its value "
                                            r"of type lock cannot be pickled"):
        save_artifact(task, "start", "lock", threading.Lock())
    assert not (task / "lock.pickle").exists()


def test_missing_artifact_file(tmp_path):
    with pytest.raises(ArtifactError, match="Artifact 'x' is missing from the artifact store"):
        load_artifact(ArtifactStore(str(tmp_path)).root / "nope.pickle", "x")


def test_flow_run_on_object_storage_root(tmp_path, airflow_home, as_alice):
    """A whole local run, artifacts written through Airflow's ObjectStoragePath and its fs registry."""
    from airflow_flow_triggers import FlowSpec, Run, step
    from airflow_flow_triggers.naming import Deployment
    from airflow_flow_triggers.runtime.runner import LocalRun

    class MemoryFlow(FlowSpec):
        @step
        def start(self):
            self.values = VALUES
            self.next(self.end)

        @step
        def end(self):
            self.count = len(self.values)

    store = ArtifactStore(f"local://{tmp_path}/objects")
    run_id = LocalRun(MemoryFlow, Deployment("MemoryFlow"), {}, store=store).run()
    run = Run(f"MemoryFlow/{run_id}", store=store)
    assert run.successful and run.data.values == VALUES and run.data.count == len(VALUES)


def test_unusable_roots_are_clear_errors():
    with pytest.raises(ArtifactError, match=r"The artifact root 'nosuchscheme://bucket/root' cannot be used"):
        ArtifactStore("nosuchscheme://bucket/root")
    task = ArtifactStore("memory://bucket/root").task_path("F", "1", "start", "0")
    with pytest.raises(ArtifactError, match=r"Could not write artifact 'x' of step 'start' to memory://.* in the "
                                            r"artifact store \(.*No filesystem registered for scheme memory.*\): "
                                            r"check that the store is up"):
        save_artifact(task, "start", "x", 1)


def test_unknown_run_is_a_clear_error(airflow_home):
    from airflow_flow_triggers import Flow, Run
    with pytest.raises(RunNotFoundError, match=r"Run 'NoSuchFlow/123' does not exist in the artifact store"):
        Run("NoSuchFlow/123")
    with pytest.raises(RunNotFoundError, match=r"'NoSuchFlow' is not a run pathspec"):
        Run("NoSuchFlow")
    with pytest.raises(RunNotFoundError, match=r"Flow\('NoSuchFlow'\) does not exist in the artifact store"):
        Flow("NoSuchFlow")
