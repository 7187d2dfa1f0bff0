"""Production tokens (Metaflow's --authorize): the first deployer of a project branch owns it.

Only a token's SHA-256 is ever kept, by whichever guard keeps the branch (guards.py): a file beside the
branch in local mode, a table of Airflow's metadata database on the api-server.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from ..errors import CommandLineError
from ..naming import Deployment


class BranchRefused(CommandLineError):
    """The branch is someone else's: its owner's without a valid token, or another user's user branch."""


@dataclass(frozen=True)
class BranchOwner:
    owner: str
    token_sha256: str


def check_token(stored: BranchOwner | None, deployment: Deployment, deployer: str, authorize: str | None,
                generate_new_token: bool) -> str | None:
    """Metaflow's rule: the branch's first deployer owns it; anyone else needs --authorize TOKEN.

    Returns a new token when one must be issued (first deployment, or --generate-new-token).
    """
    if deployment.project is None:
        return None
    if stored is None:
        return new_token()
    if stored.owner != deployer:
        if authorize is None:
            raise BranchRefused(f"Branch {deployment.branch} of project {deployment.project} belongs to "
                                   f"{stored.owner}: pass --authorize=TOKEN with its production token to "
                                   "change it.")
        if not secrets.compare_digest(hash_token(authorize), stored.token_sha256):
            raise BranchRefused(f"The token given with --authorize is not the production token of branch "
                                   f"{deployment.branch} of project {deployment.project}.")
    return new_token() if generate_new_token else None


def new_token() -> str:
    """A fresh token. Never one starting with '-', which a command line would read as an option."""
    while True:
        token = secrets.token_urlsafe(16)
        if not token.startswith("-"):
            return token


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
