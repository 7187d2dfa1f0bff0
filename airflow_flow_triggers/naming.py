"""Project naming rules (Metaflow's, for @project): the one place that names users, branches and deployments."""
from __future__ import annotations

import datetime
import os
import platform
import re
from dataclasses import dataclass

from .errors import NamingError

_VALID_NAME = re.compile(r"[a-z0-9_]{1,128}")
_INVALID_CHARS = re.compile(r"[^a-z0-9_]")
MAX_NAME_LENGTH = 128
MAX_DAG_ID_LENGTH = 250  # Airflow's ID_LEN
MAX_TAG_LENGTH = 512
USER_ENV_VARS = ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER")
BRANCH_KINDS = ("user", "test", "prod")
PROJECT_TAG, BRANCH_TAG = "project", "project_branch"  # a deployment's DAG tags: project:<p>, project_branch:<b>
AIRFLOW_DAG_TAG = "airflow_dag"  # and, on a project's DAG written with Airflow's own API (not a flow), this one


def validate_name(kind: str, value: object) -> str:
    """Check a project or branch name against Metaflow's rule and return it."""
    if not isinstance(value, str) or not value:
        raise NamingError(f"The {kind} name must not be empty.")
    if len(value) > MAX_NAME_LENGTH:
        raise NamingError(f"The {kind} name must be shorter than {MAX_NAME_LENGTH + 1} characters "
                          f"('{value[:20]}...' has {len(value)}).")
    if not _VALID_NAME.fullmatch(value):
        raise NamingError(f"The {kind} name must only contain lowercase alphanumeric characters "
                          f"and underscores ('{value}' does not).")
    return value


def sanitize_user(user: str) -> str:
    """Lower-case a user name and make it safe in a DAG id and a path."""
    return _INVALID_CHARS.sub("_", user.lower())


def current_user(environ: os._Environ | dict | None = None) -> str:
    """The deploying user, from METAFLOW_USER, SUDO_USER, USERNAME or USER, sanitised."""
    environ = os.environ if environ is None else environ
    for var in USER_ENV_VARS:
        value = environ.get(var)
        if value and value != "root":
            return sanitize_user(value)
    raise NamingError("Could not determine the user name: set one of the environment variables "
                      + ", ".join(USER_ENV_VARS) + " to a name other than 'root'.")


def branch_name(branch: str | None, production: bool, user: str | None) -> str:
    """Form the project branch: prod.<b>, test.<b>, prod or user.<user>."""
    if branch is not None:
        validate_name("branch", branch)
        return f"prod.{branch}" if production else f"test.{branch}"
    if production:
        return "prod"
    if not user:
        raise NamingError("Could not determine the user name for the user branch: set METAFLOW_USER "
                          "or USER, or deploy with --branch or --production.")
    return f"user.{sanitize_user(user)}"


def branch_options(branch: str | None) -> str:
    """The command-line options that name `branch` (`--branch x` for test.x, `--production` for prod, none for
    a user branch), as branch_name forms it from them."""
    if branch is None or branch.startswith("user."):
        return ""
    kind, _, name = branch.partition(".")
    return " ".join(filter(None, ["--production" if kind == "prod" else "", f"--branch {name}" if name else ""]))


def branch_choice(branch: str) -> dict:
    """The choice that names `branch`, as `build_dag` and a deployment's loading take it: user.<u> is
    {"user": u}, test.<b> {"branch": b}, prod {"branch": None, "production": True}, prod.<b> both."""
    kind, _, rest = branch.partition(".")
    return {"user": {"user": rest}, "test": {"branch": rest},
            "prod": {"branch": rest or None, "production": True}}[kind]


def branch_kind(branch: str) -> str:
    """user, test or prod: the three namespaces of a project's branches ('other' for anything else)."""
    kind = branch.split(".", 1)[0]
    return kind if kind in BRANCH_KINDS else "other"


def branch_tags(project: str, branch: str) -> list[str]:
    """The DAG tags that say which project branch a deployment belongs to."""
    return [f"{PROJECT_TAG}:{project}", f"{BRANCH_TAG}:{branch}"]


def tag_value(tags, key: str) -> str | None:
    """The value of the `key:value` tag among a DAG's `tags`, if it has one."""
    return next((tag.split(":", 1)[1] for tag in tags if tag.startswith(f"{key}:")), None)


def check_dag_id(dag_id: str) -> str:
    if len(dag_id) > MAX_DAG_ID_LENGTH:
        raise NamingError(f"The deployment name '{dag_id[:60]}...' is {len(dag_id)} characters long, over "
                          f"Airflow's DAG id limit of {MAX_DAG_ID_LENGTH}: use a shorter project, branch "
                          "or flow name.")
    return dag_id


@dataclass(frozen=True)
class Deployment:
    """Where a flow runs: its project branch (or none) and who deployed it."""

    flow_name: str
    project: str | None = None
    branch: str | None = None
    deployer: str | None = None

    @classmethod
    def resolve(cls, flow_name: str, project: str | None, branch: str | None = None,
                production: bool = False, user: str | None = None) -> Deployment:
        """The deployment of `flow_name` for the given choice; `user` defaults to the current user."""
        if project is None:
            return cls(flow_name)
        validate_name("project", project)
        if user is None and branch is None and not production:
            user = current_user()
        deployment = cls(flow_name, project, branch_name(branch, production, user),
                         user if user is not None else _optional_user())
        check_dag_id(deployment.project_flow_name)
        return deployment

    @property
    def project_flow_name(self) -> str:
        if self.project is None:
            return self.flow_name
        return f"{self.project}.{self.branch}.{self.flow_name}"

    @property
    def is_production(self) -> bool:
        return self.branch is not None and branch_kind(self.branch) == "prod"

    @property
    def is_user_branch(self) -> bool:
        return self.branch is not None and branch_kind(self.branch) == "user"

    def sibling(self, flow_name: str) -> Deployment:
        """The same project branch, another flow."""
        return Deployment(flow_name, self.project, self.branch, self.deployer)


def namespace_of(deployment: Deployment, deployed: bool) -> str:
    """A run's namespace, as Metaflow names it: `user:<name>` for a run on your machine; a deployment's runs,
    like those of Metaflow's deployments, live in `production:<...>`, here named after the deployment's
    project branch (or the flow, without @project) rather than after its secret production token."""
    if not deployed:
        return f"user:{run_user(deployment)}"
    if deployment.project is None:
        return f"production:{deployment.flow_name}"
    return f"production:{deployment.project}.{deployment.branch}"


def system_tags(deployment: Deployment, deployed: bool) -> list[str]:
    """A run's system tags, as Metaflow's: `user:`, `runtime:` (dev locally, airflow when deployed),
    `python_version:`, `date:`, `project:` and `project_branch:` with @project, and a deployed run's namespace
    (`production:...`), by which the client finds it."""
    tags = [f"user:{run_user(deployment)}", f"runtime:{'airflow' if deployed else 'dev'}",
            f"python_version:{platform.python_version()}",
            f"date:{datetime.datetime.now(datetime.timezone.utc).date().isoformat()}"]
    if deployment.project is not None:
        tags += branch_tags(deployment.project, deployment.branch)
    if deployed:
        tags.append(namespace_of(deployment, deployed))
    return sorted(tags)


def check_tags(tags: list[str]) -> list[str]:
    """User tags as Metaflow takes them (`--tag`): non-empty text of at most 512 characters."""
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > MAX_TAG_LENGTH:
            raise NamingError(f"The tag {tag!r} is not a tag: give non-empty text of at most {MAX_TAG_LENGTH} "
                              "characters, e.g. --tag experiment:42.")
    return sorted(set(tags))


def run_user(deployment: Deployment) -> str | None:
    """Who a run belongs to: the deployer, else whoever runs it here."""
    return deployment.deployer or _optional_user()


def _optional_user() -> str | None:
    try:
        return current_user()
    except NamingError:
        return None


def split_flow_name(name: str) -> tuple[str | None, str | None, str]:
    """Split `project.branch....Flow` into (project, branch, flow); a bare name gives (None, None, name).

    The branch is everything between the first and last dot; exactly one dot is an error.
    """
    parts = name.split(".")
    if len(parts) == 1:
        return None, None, name
    if len(parts) == 2:
        raise NamingError(f"The flow name '{name}' has exactly one dot: use a bare flow name "
                          "('FlowName') or a fully qualified one ('project.branch.FlowName').")
    project, branch, flow = parts[0], ".".join(parts[1:-1]), parts[-1]
    validate_name("project", project)
    if not flow:
        raise NamingError(f"The flow name '{name}' ends with a dot: it must end with the flow's name.")
    return project, branch, flow


def qualify(name: str, within: Deployment | None) -> str:
    """The full name of flow `name` seen from `within`: a bare name stays in the same project branch."""
    project, branch, flow = split_flow_name(name)
    if project is not None:
        return name
    if within is None or within.project is None:
        return flow
    return within.sibling(flow).project_flow_name
