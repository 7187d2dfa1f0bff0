"""A run's user tags, changed after the run as Metaflow changes them (`Run.add_tag`, `python flow.py tag add`).

Metaflow's rules: a tag is text (or UTF-8 bytes), not empty, at most 500 characters; a run has at most 50
user tags (a run over it may still shrink); adding a tag that is a system tag does nothing; removing a
system tag is an error and changes nothing; removals apply before additions, all at once. The run's record
is rewritten whole (readers never see half of it); on a local root one process at a time changes it (a lock
file beside it), on object storage it is read back and written again while another process's change
overwrote this one, as Metaflow's local metadata does.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import tempfile
import time

from ..errors import TaggingError
from .logs import local_path
from .store import read_json, write_json

MAX_TAG_SIZE = 500
MAX_USER_TAG_SET_SIZE = 50
_TRIES = 5


def one_or_many(tags) -> list:
    """One tag, or (Metaflow's older form, still accepted) an iterable of them."""
    return [tags] if isinstance(tags, (str, bytes)) else tags


def validate_tag(tag) -> str:
    """The tag as text; one sentence saying what is wrong with it otherwise."""
    if isinstance(tag, bytes):
        try:
            tag = tag.decode("utf-8")
        except UnicodeDecodeError:
            raise TaggingError(f"The tag {tag!r} is not UTF-8: give tags as text.") from None
    if not isinstance(tag, str):
        raise TaggingError(f"The tag {tag!r} is a {type(tag).__name__}, not text: give tags as strings.")
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        raise TaggingError(f"The tag {tag!r} cannot be written as UTF-8: give tags as valid text.") from None
    if not tag:
        raise TaggingError("A tag cannot be empty: give at least one character.")
    if len(tag) > MAX_TAG_SIZE:
        raise TaggingError(f"The tag '{tag[:20]}...' is {len(tag)} characters long: a tag has at most "
                           f"{MAX_TAG_SIZE}.")
    return tag


def mutate_user_tags(record_path, tags_to_remove, tags_to_add) -> frozenset[str]:
    """Remove `tags_to_remove`, then add `tags_to_add`, to the user tags of the run whose record is at
    `record_path`; returns its user tags after."""
    remove = frozenset(validate_tag(t) for t in _iterable(tags_to_remove, "tags_to_remove"))
    add = frozenset(validate_tag(t) for t in _iterable(tags_to_add, "tags_to_add"))
    if not remove and not add:
        raise TaggingError("Give at least one tag to add or to remove.")
    with _changing(record_path):
        return _mutate(record_path, remove, add)


def _mutate(record_path, remove: frozenset, add: frozenset) -> frozenset[str]:
    for attempt in range(_TRIES):
        record = read_json(record_path)
        if record is None:
            raise TaggingError(f"The run whose record is {record_path} does not exist: check the run id.")
        system, user = frozenset(record.get("system_tags", ())), frozenset(record.get("user_tags", ()))
        if remove & system:
            raise TaggingError(f"Cannot remove {sorted(remove & system)}: system tags say who made the run and "
                               "where, and stay; remove user tags only (run.user_tags).")
        wanted = (user - remove) | (add - system)
        if wanted == user:
            return user
        if len(wanted) > MAX_USER_TAG_SET_SIZE and len(wanted) > len(user):
            raise TaggingError(f"A run has at most {MAX_USER_TAG_SET_SIZE} user tags ({len(wanted)} asked): remove "
                               "some first.")
        _write_whole(record_path, dict(record, user_tags=sorted(wanted)))
        now = frozenset((read_json(record_path) or {}).get("user_tags", ()))
        if not (add - system - now) and not (remove & now) - add:
            return now
        time.sleep(0.3 * random.uniform(1.1, 1.3) ** (attempt + 1))
    raise TaggingError(f"The tags of the run at {record_path} kept changing under other processes' changes "
                       f"({_TRIES} tries): try again.")


def _iterable(tags, what: str) -> list:
    if isinstance(tags, (str, bytes)):
        raise TaggingError(f"{what} must be a list of tags, not the single tag {tags!r}.")
    try:
        return list(tags)
    except TypeError:
        raise TaggingError(f"{what} must be a list of tags, not {tags!r}.") from None


@contextlib.contextmanager
def _changing(record_path):
    """One process at a time changes a run's tags, where the record is a local file."""
    local = local_path(record_path)
    if local is None or not local.parent.is_dir():
        yield
        return
    with open(local.parent / ".tags.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_whole(path, data: dict) -> None:
    """Replace the JSON file at `path` at once: a reader sees the old record or the new, never half."""
    local = local_path(path)
    if local is None:                 # an object store's put is whole already
        write_json(path, data)
        return
    fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=".tags-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(data, indent=1, default=str))
        os.replace(tmp, local)
    except BaseException:
        os.unlink(tmp)
        raise

