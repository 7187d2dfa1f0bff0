"""The DAG bundle's refresh of a store in object storage: a worker refreshes before every task, so an
unchanged store costs one read of its generation, and every change is fetched after the writer marks it."""
import uuid

import pytest
from upath import UPath

from airflow_flow_triggers.deployments import layout
from airflow_flow_triggers.deployments.bundle import fetch_store


@pytest.fixture
def remote():
    root = UPath(f"memory:///store-{uuid.uuid4().hex}")
    (root / "proj" / "user.alice" / "Flow.py").write_bytes(b"dag = 1\n")
    (root / "proj" / "user.alice" / "Flow.deploy.json").write_bytes(b"{}")
    layout.mark_changed(root)
    return root


@pytest.fixture
def listings(remote, monkeypatch):
    """How many times the store was listed."""
    count = []
    find = remote.fs.find
    monkeypatch.setattr(remote.fs, "find", lambda *args, **kwargs: count.append(1) or find(*args, **kwargs))
    return count


def files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and not p.name.startswith(".flow_triggers")}


def test_an_unchanged_store_is_not_listed_again(remote, listings, tmp_path):
    fetch_store(remote, tmp_path)
    fetch_store(remote, tmp_path)
    fetch_store(remote, tmp_path)
    assert files(tmp_path) == {"proj/user.alice/Flow.py": b"dag = 1\n", "proj/user.alice/Flow.deploy.json": b"{}"}
    assert len(listings) == 1


def test_each_marked_change_is_fetched(remote, listings, tmp_path):
    fetch_store(remote, tmp_path)
    (remote / "proj" / "user.alice" / "Other.py").write_bytes(b"dag = 2\n")
    (remote / "proj" / "user.alice" / "Flow.py").write_bytes(b"dag = 3\n")
    layout.mark_changed(remote)
    fetch_store(remote, tmp_path)
    assert files(tmp_path)["proj/user.alice/Other.py"] == b"dag = 2\n"
    assert files(tmp_path)["proj/user.alice/Flow.py"] == b"dag = 3\n"
    (remote / "proj" / "user.alice" / "Other.py").unlink()
    layout.mark_changed(remote)
    fetch_store(remote, tmp_path)
    assert "proj/user.alice/Other.py" not in files(tmp_path)
    assert len(listings) == 3


def test_a_store_without_a_generation_is_listed_every_time(remote, listings, tmp_path):
    (remote / layout.GENERATION).unlink()
    fetch_store(remote, tmp_path)
    (remote / "proj" / "user.alice" / "New.py").write_bytes(b"dag = 4\n")
    fetch_store(remote, tmp_path)
    assert "proj/user.alice/New.py" in files(tmp_path)
    assert len(listings) == 2


def test_a_removed_local_copy_is_fetched_again(remote, listings, tmp_path):
    local = tmp_path / "bundle"
    fetch_store(remote, local)
    for path in sorted(local.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    fetch_store(remote, local)
    assert files(local)["proj/user.alice/Flow.py"] == b"dag = 1\n"


def test_a_local_root_is_not_marked(tmp_path):
    layout.mark_changed(tmp_path)
    assert not (tmp_path / layout.GENERATION).exists()


def test_objects_copied_in_by_hand_show_at_the_next_listing(remote, listings, tmp_path, monkeypatch):
    from airflow_flow_triggers.deployments import bundle
    fetch_store(remote, tmp_path)
    (remote / "proj" / "user.alice" / "ByHand.py").write_bytes(b"dag = 5\n")      # no new generation
    fetch_store(remote, tmp_path)
    assert "proj/user.alice/ByHand.py" not in files(tmp_path)
    monkeypatch.setattr(bundle, "LIST_AT_LEAST_EVERY", 0)
    fetch_store(remote, tmp_path)
    assert "proj/user.alice/ByHand.py" in files(tmp_path)
    assert len(listings) == 2
