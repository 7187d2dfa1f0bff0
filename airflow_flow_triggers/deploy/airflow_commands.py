"""`python flow.py [--branch B] [--production] airflow create | trigger | delete | list | promote | diff | prune |
why`.

Without `--dags-folder`, create, delete and list go through the plugin's API on Airflow's api-server
(`[flow_triggers] api_url`), which writes the deployment store there; with `--dags-folder DIR` they
write DIR directly, on this machine. Either way the flow is checked here first, by building its DAG as
Airflow will, and its code package is the Python files of the flow file's folder tree.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
from pathlib import Path

from ..deployments.diff import branch_diff
from ..deployments.packages import CodePackage, collect
from ..deployments.provenance import describe, git_provenance
from ..deployments.prune import parse_age, stale_branches, stale_lines
from ..deployments.store import DeploymentStore, refuse_branch_without_project
from ..errors import CommandLineError
from ..flows.configs import flow_configs
from ..flows.configure import deploy_time_content, deploy_time_file
from ..flows.decorators import deployment_of
from ..flows.decospecs import parse_decospec
from ..flows.parameters import (
    IncludeFile,
    deploy_time_defaults,
    flow_parameters,
    included_files,
    read_included_files,
    resolve_parameter_values,
)
from ..flows.triggers import trigger_outcome, validate_branch
from ..naming import Deployment, branch_name, check_tags, current_user
from ..orchestration.dag_factory import validate_deployment
from .metaflow_options import decospecs


def create(flow_cls, deployment: Deployment, args) -> int:
    source = _flow_file(flow_cls)
    kind = getattr(flow_cls, "_deployment_kind", "flow")
    decospecs = _with_decorators(kind, args)
    upstreams = _validated(flow_cls, deployment, decospecs)   # bad flows fail here, before any Airflow is asked
    data_files = tuple(included_files(flow_cls))
    if args.dags_folder:
        folder = _dags_folder(args)
        deployment = dataclasses.replace(deployment, deployer=current_user())
        package = _with_deploy_time_values(collect(source, leave_out=(folder,), data_files=data_files), flow_cls)
        created = DeploymentStore(f"file://{folder}").create(
            deployment, package, upstreams, str(source), args.authorize, args.generate_new_token,
            git_provenance(source.parent, package.files), kind, decospecs)
        answer = {"location": created.location, "new_token": created.new_token, "note": None}
    else:
        package = _with_deploy_time_values(collect(source, data_files=data_files), flow_cls)
        api = _api()
        named = _as_airflow_names_you(api, flow_cls, args)
        if named.project_flow_name != deployment.project_flow_name:
            upstreams = _validated(flow_cls, named, decospecs)
        deployment = named
        answer = api.create({"flow": deployment.flow_name, "project": deployment.project,
                             "branch": deployment.branch, "deployer": deployment.deployer,
                             "flow_file": package.flow_file, "data_files": sorted(package.data_files),
                             "triggered_by": sorted(upstreams), "source": str(source), "kind": kind,
                             "git": git_provenance(source.parent, package.files), "authorize": args.authorize,
                             "generate_new_token": args.generate_new_token, "decospecs": decospecs}, package.files)
    print(f"Deployed {deployment.project_flow_name} to {answer['location']}")
    if answer["new_token"]:
        print(f"Production token of branch {deployment.branch} of project {deployment.project} (shown only "
              f"now; anyone else changing this branch passes --authorize={answer['new_token']})")
    if answer.get("note"):
        print(f"Note: {answer['note']}")
    options = " ".join(filter(None, [f"--branch {args.branch}" if args.branch else "",
                                     "--production" if args.production else ""]))
    print(f"Start it with: {command_line(flow_cls, 'trigger', options)}   (or: airflow dags trigger "
          f"{deployment.project_flow_name})")
    return 0


def _with_deploy_time_values(package: CodePackage, flow_cls) -> CodePackage:
    """The code package with what the flow's deployment fixes here, if anything (the configs' values and what
    its parameters' default functions return), in a file beside the flow file: a part of the code version."""
    if getattr(flow_cls, "_deployment_kind", "flow") != "flow" or not (flow_configs(flow_cls) or
                                                                      deploy_time_defaults(flow_cls)):
        return package
    return dataclasses.replace(package, files={**package.files,
                                               deploy_time_file(package.flow_file): deploy_time_content(flow_cls)})


def command_line(flow_cls, action: str, options: str = "") -> str:
    """How the user types `airflow <action>` for this flow (or project DAG file), with the branch `options`."""
    command = getattr(flow_cls, "_command", None)
    if command is not None:
        return command.format(action=action) + (f" {options}" if options else "")
    return f"python {Path(sys.argv[0]).name} {options + ' ' if options else ''}airflow {action}"


def _validated(flow_cls, deployment: Deployment, decospecs=()) -> set[str]:
    """Build the deployment's DAG as Airflow will (a bad flow or DAG file fails here); the DAG ids triggering it."""
    validate = getattr(flow_cls, "_validate_deployment", None)
    return validate(deployment) if validate is not None else validate_deployment(flow_cls, deployment, decospecs)


def _with_decorators(kind: str, args) -> list[str]:
    """The decorators the deployment adds to every step, checked: `create --with DECO[:k=v]`, then
    METAFLOW_DEFAULT_DECOSPECS's and the top level's `--with`, as Metaflow's `argo-workflows create` takes them."""
    if kind != "flow":
        if getattr(args, "decospecs", None) or getattr(args, "top_decospecs", None):
            raise CommandLineError("--with adds decorators to a flow's steps; an Airflow DAG has none: leave it out.")
        return []
    return [parse_decospec(text).text for text in decospecs(args)]


def trigger(flow_cls, deployment: Deployment, args) -> int:
    from ..orchestration.tasks import CONF_TAGS, CONF_TRIGGER
    from ..runtime.events import events_for_runs
    given = read_included_files(flow_cls, given_parameters(args), for_conf=True)
    values = resolve_parameter_values(flow_cls, given, computed=False)  # a bad value fails here, not in Airflow
    conf = {p.name: given[p.name] if isinstance(p, IncludeFile) else values[p.attr_name]
            for p in flow_parameters(flow_cls).values() if p.name in given}
    api = _api()
    if deployment.is_user_branch:                       # your user branch is the one Airflow knows you by
        deployment = _as_airflow_names_you(api, flow_cls, args)
    if args.airflow_trigger:
        conf[CONF_TRIGGER] = events_for_runs(args.airflow_trigger, deployment, outcome=trigger_outcome(flow_cls))
    if args.tag:
        conf[CONF_TAGS] = check_tags(args.tag)
    if args.missed and args.airflow_trigger:
        raise CommandLineError("--missed replays the finishes this flow missed, --trigger names one: give one of "
                               "them.")
    replays = [[replay(finish)] for finish in api.missed(deployment.project_flow_name)] if args.missed else [None]
    if not replays:
        print(f"No finish was missed by {deployment.project_flow_name}: nothing to replay.")
    for events in replays:
        run_id = api.trigger(deployment.project_flow_name, {**conf, CONF_TRIGGER: events} if events else conf)
        what = "failure" if events and events[0]["outcome"] == "failed" else "finish"
        started_by = f" for the missed {what} of {events[0]['pathspec']}" if events else ""
        print(f"Started {deployment.project_flow_name} run {run_id}{started_by}")
        print(f"  {api.ui_address(deployment.project_flow_name, run_id)}")
    return 0


def replay(finish: dict) -> dict:
    """The trigger event that replays a missed finish or failure (the run's start task checks it against the store,
    and a failure against the run having failed)."""
    return {"name": finish["upstream"], "id": finish["run_id"], "type": "run", "pathspec": finish["pathspec"],
            "timestamp": finish["finished_at"], "outcome": finish.get("outcome", "succeeded")}


def why(flow_cls, deployment: Deployment, args) -> int:
    """The chain around a run: what started it, and what its finish started (or why not), on one screen."""
    api = _api()
    if deployment.is_user_branch:
        deployment = _as_airflow_names_you(api, flow_cls, args)
    dag_id = deployment.project_flow_name
    run_id = args.run_id or api.latest_run(dag_id)
    if run_id is None:
        expected = api.expectation(dag_id)
        if expected is None:
            raise CommandLineError(f"{dag_id} has no run yet: start one with `airflow trigger`.")
        print(f"{dag_id}: no run yet")
        for line in expectation_lines(expected):
            print(line)
        return 0
    answer = api.why(dag_id, run_id)
    for line in why_lines(answer):
        print(line)
    return 0


def why_lines(answer: dict) -> list[str]:
    cause, finish = answer["cause"], answer["finish"]
    lines = [f"{cause['dag_id']} {cause['run_id']} ({cause['state']})"]
    if cause["started_by"]:
        for upstream in cause["started_by"]:
            if upstream["type"] == "run":
                branch = f", branch {upstream['branch']}" if upstream["branch"] else ""
                lines.append(f"  started by the finish of {upstream['dag_id']} {upstream['run_id']}{branch} "
                             f"(finished {upstream['at']})")
            else:
                lines.append(f"  started by the event {upstream['event']} ({upstream['id']}, {upstream['at']})")
    elif cause["by_hand"]:
        lines.append("  started by hand (airflow trigger, airflow dags trigger, the REST API or the UI)")
    if cause.get("verdict") in ("refused", "stopped", "failed"):
        lines.append(f"  {cause['verdict']}: {cause.get('detail') or '; '.join(r['why'] for r in cause['refused'])}")
    elif cause.get("verdict") is None:
        lines.append(f"  {cause['detail']}")
    if finish["finished_at"] is None:
        lines.append(f"  its finish: none ({finish['detail']})")
    else:
        lines.append(f"  its finish ({finish['finished_at']}):")
        lines += _fate_lines(finish["fates"])
    for posted in finish.get("posted", []):
        lines.append(f"  a finish event posted by hand naming it ({posted['at']}):")
        lines += _fate_lines(posted["fates"])
    return lines + expectation_lines(answer.get("expectation"))


EXPECTED = {"succeeded": "a finish", "failed": "a failure", "any": "a finish or failure"}


def expectation_lines(expected: dict | None) -> list[str]:
    """The deadline of a DAG with expect_every= / expect_by=: one line per upstream, overdue or on time."""
    if not expected:
        return []
    if expected["state"] == "not checked yet":
        return [f"  deadline: not checked yet (by {expected['dag_id']})"]
    lines = []
    for up in expected["upstreams"]:
        what = f"expected {EXPECTED.get(up['outcome'], 'a finish')} of {up['upstream']} {up['expect']}"
        last = (f"the last at {up['last_finish']} ({up['last_run_id']})" if up["last_finish"] else
                f"none since it was first checked ({expected.get('first_seen') or 'deployed'})")
        due = f"due by {up['due']}" if up["overdue"] else f"the next due by {up['due']}"
        lines.append(f"  {'overdue' if up['overdue'] else 'on time'}: {what}; {last}, {due} "
                     f"(checked {expected['checked_at']})")
    return lines + [f"  deadline check failed: {error}" for error in expected.get("errors", [])]


def _fate_lines(fates: list[dict]) -> list[str]:
    lines = []
    for fate in fates or [{"consumer": "no flow", "fate": "none", "why": "no deployed flow is triggered by it"}]:
        run = f" {fate['run_id']} ({fate['run_state']})" if fate.get("run_id") else ""
        replayed = " (replayed)" if fate.get("replayed") else ""
        lines.append(f"    -> {fate['consumer']}{run}: {fate['fate']}{replayed}"
                     + ("" if fate["fate"] == "started" else f": {fate['why']}"))
    return lines


def delete(flow_cls, deployment: Deployment, args) -> int:
    if args.dags_folder:
        deployment = dataclasses.replace(deployment, deployer=current_user())
        api = _api()
        removed = DeploymentStore(f"file://{_dags_folder(args)}").delete(
            deployment, deployment.deployer, args.authorize, args.branch_all,
            confirm=lambda: _reachable(api, "nothing was deleted (Airflow would go on queueing finishes for it)"))
        forgotten = [api.forget_dag(dag_id) for dag_id in removed]
        answer = {"deleted": removed, "still_running": [d for each in forgotten for d in each["still_running"]]}
    else:
        if args.branch_all:
            refuse_branch_without_project(deployment)
        api = _api()
        deployment = _as_airflow_names_you(api, flow_cls, args)
        change = {"deployer": deployment.deployer, "authorize": args.authorize}
        answer = api.delete_branch(deployment.project, deployment.branch, change) if args.branch_all else \
            api.delete(deployment.project_flow_name, change)
    for dag_id in answer["deleted"]:
        print(f"Deleted {dag_id}")
    for dag_id in answer["still_running"]:
        print(f"Note: {dag_id} has tasks running; Airflow keeps its history until they end, then drops the DAG.")
    return 0


def list_deployments(flow_cls, deployment: Deployment, args) -> int:
    if args.dags_folder:
        where = str(_dags_folder(args))
        records = DeploymentStore(f"file://{where}").records()
    else:
        api = _api()
        where, records = api.url, api.deployments()
    if not records:
        print(f"No deployments in {where}.")
        return 0
    rows = [("PROJECT", "BRANCH", "FLOW", "OWNER", "PRODUCTION", "VERSION", "COMMIT", "DEPLOYED AT", "FROM")] + [
        (r["project"] or "-", r["branch"] or "-", r["flow"], r["deployer"], "yes" if r["production"] else "no",
         r["package"]["sha256"][:12], describe(r), r["deployed_at"], _promoted_from(r)) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _promoted_from(record: dict) -> str:
    origin = record.get("promoted_from")
    return f"promoted from {origin['branch']}" if origin else ""


def promote(flow_cls, deployment: Deployment, args) -> int:
    """Put the code versions deployed on the branch --from names onto this branch, byte for byte."""
    if deployment.project is None:
        refuse_branch_without_project(deployment)
    source = Deployment(deployment.flow_name, deployment.project, named_branch(args.source_branch))
    flows = None if args.branch_all else [deployment.flow_name]
    if args.dags_folder:
        deployment = dataclasses.replace(deployment, deployer=current_user())
        api = _api()
        tested = None if args.force else api.tested_versions
        created = DeploymentStore(f"file://{_dags_folder(args)}").promote(
            source, deployment, flows, tested, args.authorize, args.generate_new_token)
        answer = {"promoted": [{"dag_id": c.dag_id, "package_sha256": c.package_sha256} for c in created],
                  "new_token": next((c.new_token for c in created if c.new_token), None), "note": None}
    else:
        api = _api()
        deployment = _as_airflow_names_you(api, flow_cls, args)
        answer = api.promote(deployment.project, deployment.branch, {
            "source_branch": source.branch, "flows": flows or [], "force": args.force,
            "deployer": deployment.deployer, "authorize": args.authorize,
            "generate_new_token": args.generate_new_token})
    for promoted in answer["promoted"]:
        print(f"Promoted {source.sibling(promoted['dag_id'].rsplit('.', 1)[-1]).project_flow_name} to "
              f"{promoted['dag_id']} (code version {promoted['package_sha256'][:12]})")
    if answer["new_token"]:
        print(f"Production token of branch {deployment.branch} of project {deployment.project} (shown only "
              f"now; anyone else changing this branch passes --authorize={answer['new_token']})")
    if answer.get("note"):
        print(f"Note: {answer['note']}")
    return 0


def diff(flow_cls, deployment: Deployment, args) -> int:
    """How this branch differs from another (default: prod), flow by flow and trigger edge by trigger edge."""
    if deployment.project is None:
        raise CommandLineError(f"Flow {deployment.flow_name} has no @project, so it has no branches to compare.")
    if args.dags_folder:
        records = DeploymentStore(f"file://{_dags_folder(args)}").records()
    else:
        api = _api()
        if deployment.is_user_branch:
            deployment = _as_airflow_names_you(api, flow_cls, args)
        records = api.deployments()
    for line in branch_diff(records, deployment.project, deployment.branch, named_branch(args.against)):
        print(line)
    return 0


def prune(flow_cls, deployment: Deployment, args) -> int:
    """List the stale user.* and test.* branches of this flow's project; remove them with --yes."""
    if deployment.project is None:
        raise CommandLineError(f"Flow {deployment.flow_name} has no @project, so it has no branches to prune.")
    older_than = parse_age(args.older_than)
    api = _api()
    if args.dags_folder:
        store = DeploymentStore(f"file://{_dags_folder(args)}")
        records = [r for r in store.records() if r["project"] == deployment.project]
        last_runs = {r["dag_id"]: api.last_run_time(r["dag_id"]) for r in records}
        stale = stale_branches(records, last_runs, deployment.project, older_than)
        answer = {"stale": stale, "removed": args.yes, "deleted": [], "still_running": [], "versions_removed": []}
        if args.yes:
            in_use = api.running_versions()
            for branch in stale:
                removed = store.remove_stale(branch)
                answer["deleted"] += removed
                answer["still_running"] += [d for dag_id in removed for d in api.forget_dag(dag_id)["still_running"]]
            answer["versions_removed"] = store.collect_garbage(in_use)
    else:
        answer = api.prune(deployment.project, {"older_than": args.older_than, "dry_run": not args.yes})
    for line in stale_lines(answer["stale"], args.older_than, answer["removed"]):
        print(line)
    for dag_id in answer["still_running"]:
        print(f"Note: {dag_id} has tasks running; Airflow keeps its history until they end, then drops the DAG.")
    if answer["versions_removed"]:
        print(f"Removed {len(answer['versions_removed'])} code version(s) no deployment keeps and no run uses.")
    return 0


def named_branch(text: str) -> str:
    """A branch as --from and --against take it: `new_model` is test.new_model, as --branch names it; a full
    name (user.alice, test.x, prod, prod.x) is itself."""
    if text == "prod" or "." in text:
        return validate_branch(text)
    return branch_name(text, False, None)


def _api():
    from .airflow_api import AirflowAPI  # httpx is not imported by every flow file that imports the package
    return AirflowAPI()


def given_parameters(args) -> dict:
    return {key.split(":", 1)[1]: value for key, value in vars(args).items()
            if key.startswith("param:") and value is not None}


def _as_airflow_names_you(api, flow_cls, args) -> Deployment:
    """The deployment for the user Airflow authenticated (the local user only where Airflow has none)."""
    identity = api.identity()
    user = identity["user"] if identity["from_airflow"] else current_user()
    return dataclasses.replace(deployment_of(flow_cls, args.branch, args.production, user), deployer=user)


def _reachable(api, else_what: str) -> None:
    """Nothing, once Airflow's API answered; else one error that says `else_what` happened."""
    try:
        api.token()
    except CommandLineError as error:
        raise CommandLineError(f"{error.message.rstrip('.')}; {else_what}.") from None


def _flow_file(flow_cls) -> Path:
    """The flow's file, which must not build a DAG of its own (`airflow create` writes the DAG file)."""
    source = Path(inspect.getsourcefile(flow_cls)).resolve()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        called = getattr(node.func, "id", getattr(node.func, "attr", None)) if isinstance(node, ast.Call) else None
        if called == "build_dag":
            raise CommandLineError("The flow file already builds its own DAG with build_dag(...): `airflow create` "
                                   "writes the DAG file of a deployment itself; remove that line.", str(source),
                                   node.lineno)
    return source


def _dags_folder(args) -> Path:
    folder = Path(args.dags_folder).resolve()
    if folder.exists() and not folder.is_dir():
        raise CommandLineError(f"The dags folder {folder} is a file, not a folder: pass --dags-folder DIR.")
    return folder
