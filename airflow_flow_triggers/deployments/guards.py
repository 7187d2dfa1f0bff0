"""Who keeps a project branch's owner and token hash, and how changes to one branch happen one at a time.

    FolderGuard     local mode: an OS lock (flock) on <branch>/.deploy.lock, the owner in
                    <branch>/.production_token.json, beside the deployments in the folder
    DatabaseGuard   the api-server: a row per branch in the table flow_triggers_branch of Airflow's
                    metadata database, locked while the branch changes, so api-server replicas take turns;
                    only the api-server writes it
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import functools
import json

from ..naming import Deployment
from ..runtime.store import write_file
from .tokens import BranchOwner

TOKEN_FILE = ".production_token.json"
LOCK_FILE = ".deploy.lock"


class FolderGuard:
    """The owner and lock of each branch in files beside it (a local deployments root only)."""

    def __init__(self, branch_folder):
        self.branch_folder = branch_folder          # Deployment -> its folder (a local Path)

    @contextlib.contextmanager
    def locked(self, deployment: Deployment):
        folder = self.branch_folder(deployment)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield                                   # closing the file releases the lock

    def owner(self, deployment: Deployment) -> BranchOwner | None:
        try:
            stored = json.loads((self.branch_folder(deployment) / TOKEN_FILE).read_text())
        except FileNotFoundError:
            return None
        return BranchOwner(stored["owner"], stored["token_sha256"])

    def set_owner(self, deployment: Deployment, owner: BranchOwner) -> None:
        write_file(self.branch_folder(deployment) / TOKEN_FILE,
                   json.dumps({"owner": owner.owner, "token_sha256": owner.token_sha256}).encode())

    def forget(self, deployment: Deployment) -> None:
        folder = self.branch_folder(deployment)
        (folder / TOKEN_FILE).unlink(missing_ok=True)
        (folder / LOCK_FILE).unlink(missing_ok=True)    # still held: nobody changes the branch meanwhile


@functools.cache
def branch_table():
    """The table, defined on first use: local runs and the command line never import SQLAlchemy."""
    from sqlalchemy import Column, DateTime, MetaData, String, Table
    return Table("flow_triggers_branch", MetaData(),
                 Column("project", String(128), primary_key=True),
                 Column("branch", String(250), primary_key=True),
                 Column("owner", String(250), nullable=True),
                 Column("token_sha256", String(64), nullable=True),
                 Column("changed_at", DateTime(timezone=True), nullable=True))


class DatabaseGuard:
    """The owner and lock of each branch in Airflow's metadata database (the api-server's session)."""

    def __init__(self, session):
        self.table = branch_table()
        self.table.create(bind=session.connection(), checkfirst=True)
        self.session = session

    @contextlib.contextmanager
    def locked(self, deployment: Deployment):
        """Lock the branch's row (made if new) until the change is committed; roll back if it fails.

        The UPDATE takes the lock: a row lock on PostgreSQL and MySQL, the database's write lock on SQLite."""
        from sqlalchemy.exc import IntegrityError
        key = {"project": deployment.project or "", "branch": deployment.branch or ""}
        try:
            with self.session.begin_nested():
                self.session.execute(self.table.insert().values(**key))
        except IntegrityError:
            pass                                    # it exists: another change made it first
        self.session.execute(self.table.update().where(*self._is(deployment)).values(changed_at=_now()))
        try:
            yield
        except BaseException:
            self.session.rollback()
            raise
        self.session.commit()

    def owner(self, deployment: Deployment) -> BranchOwner | None:
        from sqlalchemy import select
        row = self.session.execute(select(self.table.c.owner, self.table.c.token_sha256)
                                   .where(*self._is(deployment))).first()
        return BranchOwner(row.owner, row.token_sha256) if row is not None and row.owner else None

    def set_owner(self, deployment: Deployment, owner: BranchOwner) -> None:
        self.session.execute(self.table.update().where(*self._is(deployment))
                             .values(owner=owner.owner, token_sha256=owner.token_sha256))

    def forget(self, deployment: Deployment) -> None:
        self.session.execute(self.table.delete().where(*self._is(deployment)))

    def _is(self, deployment: Deployment):
        return self.table.c.project == (deployment.project or ""), self.table.c.branch == (deployment.branch or "")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)
