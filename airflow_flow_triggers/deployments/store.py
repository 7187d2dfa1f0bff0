"""The deployment store: create, delete and list deployments (layout.py says where each file goes).

Both the local mode (`airflow create --dags-folder DIR`) and the plugin's API on the api-server change
deployments through this class only; what differs is the guard that keeps each branch's owner and takes
turns (guards.py). Everything is checked before anything is written, and a deployment's files are
written package first, record next, DAG file last, so Airflow never parses a deployment half-written.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from .. import config
from ..errors import CommandLineError, FlowDefinitionError
from ..flows.triggers import trigger_loop
from ..naming import Deployment, branch_kind, branch_options, split_flow_name
from ..runtime.store import write_file
from . import layout, packages, signing
from .guards import DatabaseGuard, FolderGuard
from .packages import CodePackage
from .prune import PRUNABLE_KINDS
from .tokens import BranchOwner, check_token, hash_token


@dataclass(frozen=True)
class Created:
    dag_id: str
    location: str               # where the DAG file is (a path or an object-storage URL)
    package_sha256: str
    new_token: str | None       # printed once, when this deployment made or rotated the branch's token


class DeploymentStore:
    def __init__(self, url: str | None = None, session=None):
        """The store at `url` (default: `[flow_triggers] deployments_root`); with the api-server's database
        `session`, branches are kept and locked in the metadata database, else in files beside them."""
        self.url = url or layout.root_url()
        self.dropped: set[str] = set()          # code versions changes let go of (collect_garbage)
        self.root = layout.store_path(self.url)
        if session is not None:
            self.guard = DatabaseGuard(session)
        elif self.url.startswith("file://"):
            self.guard = FolderGuard(lambda deployment: layout.branch_folder(self.root, deployment))
        else:
            raise CommandLineError(f"--dags-folder writes a folder on this machine, not {self.url}: deploy through "
                                   "the api-server instead (leave out --dags-folder).")

    def create(self, deployment: Deployment, package: CodePackage, triggered_by: set[str], source: str,
               authorize: str | None = None, generate_new_token: bool = False,
               provenance: dict | None = None, kind: str = "flow", decospecs=()) -> Created:
        """Check, then write one deployment: its code package, its record and its DAG file. `provenance` is
        what the client knows of the code's origin ({"commit", "dirty"} of its git work tree); `kind` what the
        package's file holds: a flow class, or an Airflow DAG of the project ("dag"); `decospecs` the
        decorators `--with` adds to every step (the DAG file builds them in)."""
        origin = {"source": source, "git": provenance, "promoted_from": None, "decospecs": list(decospecs)}
        return self._deploy(deployment, package.sha256, _package_record(package, kind), triggered_by, origin,
                            authorize, generate_new_token, write_package=lambda: self._write_package(package))

    def promote(self, source: Deployment, target: Deployment, flows: list[str] | None, tested,
                authorize: str | None = None, generate_new_token: bool = False) -> list[Created]:
        """Deploy to `target`'s branch the exact code versions deployed on `source`'s branch (every flow of it, or
        those named in `flows`), without any client's copy of the code: the same package, byte for byte.

        `tested(dag_id)` is {code version: a successful run of it} (plugin/fates.py); a version without one is
        refused. None (`--force`) promotes untested code."""
        records = self.promoted_records(source, target, flows)
        for record in records:
            self._check_package(record)
            version = record["package"]["sha256"]
            if tested is not None and version not in tested(record["dag_id"]):
                command = " ".join(filter(None, ["python", record["package"]["flow_file"],
                                                 branch_options(source.branch), "airflow trigger"]))
                raise CommandLineError(f"{record['dag_id']} has no successful run of its code version {version[:12]} "
                                       f"(deployed {record['deployed_at']}): run it first (`{command}`), or promote "
                                       "it untested with --force.")
        created = []
        for record in records:
            flow = target.sibling(record["flow"])
            upstreams = {_on_branch(name, source, target) for name in record["triggered_by"]}
            origin = {"source": record.get("source", ""), "git": record.get("git"),
                      "decospecs": record.get("decospecs", []),
                      "promoted_from": {"branch": source.branch, "dag_id": record["dag_id"],
                                        "sha256": record["package"]["sha256"], "deployed_at": record["deployed_at"]}}
            created.append(self._deploy(flow, record["package"]["sha256"], record["package"], upstreams, origin,
                                        authorize, generate_new_token and not created, write_package=None))
        return created

    def promoted_records(self, source: Deployment, target: Deployment, flows: list[str] | None) -> list[dict]:
        """The records `promote` would copy: every flow of `source`'s branch, or those in `flows`."""
        if source.project is None:
            raise CommandLineError(f"Flow {source.flow_name} has no @project, so it has no branches to promote "
                                   "between.")
        if (source.project, source.branch) == (target.project, target.branch):
            raise CommandLineError(f"Branch {source.branch} would be promoted onto itself: name another branch "
                                   "with --from.")
        records = [r for r in self.branch_records(source) if not flows or r["flow"] in flows]
        missing = sorted(set(flows or ()) - {r["flow"] for r in records})
        if not records or missing:
            what = "no " + (", ".join(missing) if missing else "flow")
            raise CommandLineError(f"Branch {source.branch} of project {source.project} has {what} deployed in "
                                   f"{self.url}: `airflow list` shows what is deployed, `airflow diff` what differs.")
        return records

    def _deploy(self, deployment: Deployment, sha256: str, package: dict, triggered_by: set[str], origin: dict,
                authorize: str | None, generate_new_token: bool, write_package) -> Created:
        dag_id = deployment.project_flow_name
        self._refuse_trigger_loop(dag_id, triggered_by)
        key = signing.usable_key(required=deployment.is_production)
        with self.guard.locked(deployment):
            new_token = check_token(self.guard.owner(deployment), deployment, deployment.deployer, authorize,
                                    generate_new_token)
            record = {"dag_id": dag_id, "flow": deployment.flow_name, "project": deployment.project,
                      "branch": deployment.branch, "production": deployment.is_production,
                      "deployer": deployment.deployer, "deployed_at": _now(), **origin,
                      "triggered_by": sorted(triggered_by), "package": package,
                      "previous_versions": self._previous_versions(deployment, sha256)}
            record = signing.sign(record, key)
            if write_package is not None:
                write_package()
            if new_token is not None:
                self.guard.set_owner(deployment, BranchOwner(deployment.deployer, hash_token(new_token)))
            write_file(layout.record_path(self.root, deployment), _json(record))
            entry = layout.entry_path(self.root, deployment)
            write_file(entry, layout.entry_source(dag_id).encode())
            layout.mark_changed(self.root)
        return Created(dag_id, str(entry), sha256, new_token)

    def delete(self, deployment: Deployment, deployer: str, authorize: str | None,
               whole_branch: bool = False, confirm=None, token_checked: bool = True) -> list[str]:
        """Remove one deployment (or all of its branch); returns the DAG ids removed. `confirm()` is called
        once the deletion is allowed, before anything is removed: what it raises leaves everything in place."""
        if whole_branch:
            refuse_branch_without_project(deployment)
        records = [r for r in self.branch_records(deployment) if whole_branch or r["flow"] == deployment.flow_name]
        if not records:
            what = f"branch {deployment.branch} of project {deployment.project}" if whole_branch else \
                deployment.project_flow_name
            raise CommandLineError(f"There is no deployment of {what} in {self.url}: `airflow list` shows what is "
                                   "deployed.")
        with self.guard.locked(deployment):
            if token_checked:
                check_token(self.guard.owner(deployment), deployment, deployer, authorize, False)
            if confirm is not None:
                confirm()
            for record in records:
                self.dropped.update(_versions(record))
                flow = deployment.sibling(record["flow"])
                layout.entry_path(self.root, flow).unlink(missing_ok=True)     # Airflow stops parsing it first
                layout.record_path(self.root, flow).unlink(missing_ok=True)
            layout.mark_changed(self.root)
            if whole_branch:
                self.guard.forget(deployment)
        if whole_branch:
            folder = layout.branch_folder(self.root, deployment)
            if self.url.startswith("file://") and folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        return [r["dag_id"] for r in records]

    def remove_stale(self, branch: dict) -> list[str]:
        """Remove a branch `prune.stale_branches` found stale, without its token (prune.py says why)."""
        deployment = Deployment("", branch["project"], branch["branch"])
        if branch_kind(deployment.branch) not in PRUNABLE_KINDS:
            raise CommandLineError(f"Branch {deployment.branch} is a production branch, which prune never removes: "
                                   "remove it with `airflow delete --branch-all` and its token.")
        return self.delete(deployment, "", None, whole_branch=True, token_checked=False)

    def collect_garbage(self, in_use: set[str]) -> list[str]:
        """Remove the code versions this store's changes let go of (a deployment's version beyond its
        `[flow_triggers] keep_versions` last, a removed deployment's) that no deployment keeps and no run in
        progress uses (`in_use`); returns their SHA-256s. Only those: a package being written for a
        deployment whose record is not written yet is never a candidate."""
        if not self.dropped:
            return []                   # nothing to look for: no need to read every record of the store
        kept = set(in_use)
        for record in self.records():
            kept.add(record["package"]["sha256"])
            kept.update(record.get("previous_versions", []))
        unused = sorted(sha for sha in self.dropped - kept if packages.is_package_name(sha))
        for sha in unused:
            folder = layout.package_folder(self.root, sha)
            if folder.exists():
                layout.remove_folder(folder)
        if unused:
            layout.mark_changed(self.root)
        self.dropped -= set(unused)
        return unused

    def _previous_versions(self, deployment: Deployment, new_sha256: str) -> list[str]:
        """The versions this deployment had before, newest first, as many as keep_versions keeps beside the
        new one: a run that started on one of them finishes on it."""
        keep = config.get_number("keep_versions", int, required=True)
        old = layout.read_record(layout.record_path(self.root, deployment))
        history = [sha for sha in dict.fromkeys(_versions(old)) if sha != new_sha256]
        self.dropped.update(history[max(keep - 1, 0):])
        return history[:max(keep - 1, 0)]

    def records(self) -> list[dict]:
        """Every deployment's record."""
        paths = [*self.root.glob(f"*/*/*{layout.RECORD_SUFFIX}"),
                 *self.root.glob(f"{layout.NO_PROJECT}/*{layout.RECORD_SUFFIX}")]
        return layout.read_records(sorted(paths, key=str))

    def branch_records(self, deployment: Deployment) -> list[dict]:
        """The records of `deployment`'s branch (or of the flows without a project)."""
        folder = layout.branch_folder(self.root, deployment)
        return layout.read_records(sorted(folder.glob(f"*{layout.RECORD_SUFFIX}"), key=str))

    def _check_package(self, record: dict) -> None:
        """The code version `record` names is in the store, whole."""
        sha256 = record["package"]["sha256"]
        folder = layout.package_folder(self.root, sha256)
        if not folder.exists() or packages.digest(packages.read_folder(folder)) != sha256:
            raise CommandLineError(f"The code version {sha256[:12]} of {record['dag_id']} is no longer in {self.url} "
                                   "(it was pruned or changed): deploy that branch again, then promote it.")

    def _write_package(self, package: CodePackage) -> None:
        """Write the package under its hash, unless it is there already, whole."""
        folder = layout.package_folder(self.root, package.sha256)
        ignore = self.root / layout.PACKAGES / ".airflowignore"
        if not ignore.exists():
            write_file(ignore, layout.IGNORE_ALL.encode())
        if folder.exists() and packages.digest(packages.read_folder(folder)) == package.sha256:
            return
        for path, content in package.files.items():
            write_file(folder / path, content)

    def _refuse_trigger_loop(self, dag_id: str, upstreams: set[str]) -> None:
        loop = trigger_loop(_Upstreams(self.root, dag_id, upstreams), dag_id)
        if loop:
            raise FlowDefinitionError(f"Deploying {dag_id} would make flows trigger each other in a loop "
                                      f"({' <- '.join(loop)}, each started by the next): remove one "
                                      "@trigger_on_finish, or delete one of the deployments first.")


class _Upstreams:
    """{DAG id: the DAG ids whose finish starts it}, read from the store only for the DAG ids asked about:
    a loop check follows the upstreams of one deployment, not every record of the store."""

    def __init__(self, root, dag_id: str, upstreams: set[str]):
        self.root, self.known = root, {dag_id: set(upstreams)}

    def get(self, dag_id: str, default=()):
        if dag_id not in self.known:
            project, branch, flow = split_flow_name(dag_id)
            record = layout.read_record(layout.record_path(self.root, Deployment(flow, project, branch)))
            self.known[dag_id] = set(record.get("triggered_by", [])) if record else set()
        return self.known[dag_id] or default


def _versions(record: dict | None) -> list[str]:
    """A record's code version and those it keeps from before, newest first."""
    if not record:
        return []
    return [record["package"]["sha256"], *record.get("previous_versions", [])]


def _package_record(package: CodePackage, kind: str) -> dict:
    return {"sha256": package.sha256, "flow_file": package.flow_file, "files": len(package.files),
            "bytes": package.size, **({"kind": kind} if kind != "flow" else {})}


def _on_branch(dag_id: str, source: Deployment, target: Deployment) -> str:
    """An upstream of a flow promoted from `source`'s branch: a flow of that branch becomes the same flow of
    `target`'s; an upstream pinned to another branch stays."""
    project, branch, flow = split_flow_name(dag_id)
    if (project, branch) == (source.project, source.branch):
        return target.sibling(flow).project_flow_name
    return dag_id


def refuse_branch_without_project(deployment: Deployment) -> None:
    if deployment.project is None:
        raise CommandLineError(f"--branch-all removes every flow of a project branch, and flow {deployment.flow_name} "
                               "has no @project: delete it alone, without --branch-all.")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _json(record: dict) -> bytes:
    return json.dumps(record, indent=1).encode()
