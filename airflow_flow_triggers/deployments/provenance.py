"""Where a deployment's code came from: the git commit of the flow file's work tree, and whether its code
package differed from that commit (a file of it changed or not committed).

It is recorded as the client tells it (the api-server has no copy of the client's repository) and shown by
`airflow list` and the plugin's branch page; what the deployment runs is named by its package's SHA-256.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ..errors import CommandLineError

COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def git_provenance(root: Path, files) -> dict | None:
    """{"commit", "dirty"} of the git work tree holding the package folder `root`, or None outside one (or
    without git). Dirty: one of the package's `files` (paths inside `root`) is changed or not committed."""
    commit = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    prefix = _git(root, "rev-parse", "--show-prefix")
    if commit is None or prefix is None or not COMMIT.fullmatch(commit):
        return None
    status = _git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--", ".", strip=False) or ""
    changed = {entry[3:] for entry in status.split("\0") if len(entry) > 3}
    return {"commit": commit, "dirty": any(f"{prefix}{path}" in changed for path in files)}


def checked_provenance(provenance: dict | None) -> dict | None:
    """A client's provenance, as the api-server accepts it: a commit id and a flag, nothing else."""
    if provenance is None:
        return None
    if set(provenance) != {"commit", "dirty"} or not isinstance(provenance["commit"], str) \
            or not COMMIT.fullmatch(provenance["commit"]) or not isinstance(provenance["dirty"], bool):
        raise CommandLineError("A deployment's git provenance is {\"commit\": <40 or 64 hex digits>, \"dirty\": "
                               "true|false}.")
    return provenance


def describe(record: dict) -> str:
    """`abc1234567` or `abc1234567+dirty` for `airflow list`; `-` when the code was not in a git work tree."""
    provenance = record.get("git")
    if not provenance:
        return "-"
    return provenance["commit"][:10] + ("+dirty" if provenance["dirty"] else "")


def _git(folder: Path, *args: str, strip: bool = True) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() if strip else done.stdout
