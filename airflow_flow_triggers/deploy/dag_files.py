"""`python -m airflow_flow_triggers airflow ACTION report.py [--branch B] [--production] [options]`: the flow
file's `airflow` commands (create, trigger, delete, list, why, promote, diff, prune) for a DAG file whose DAG
has @project (orchestration/project_dags.py).

The file is imported here, on the deployer's machine, as the branch chosen (the api-server never imports
it), and its project DAG stands in for a flow class in the same commands (airflow_commands.py): same
names, tokens, code packages, versions and records, the record saying the package holds a DAG.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from ..errors import CommandLineError, FlowTriggersError
from ..naming import branch_choice
from ..orchestration import project_dags
from .cli import run_cli

USAGE = "python -m airflow_flow_triggers airflow ACTION DAG_FILE [--branch B] [--production] [options]"


def main(argv: list[str]) -> int:
    """`airflow ACTION FILE [options]` for the project DAG of FILE; returns the exit status."""
    try:
        if len(argv) < 3 or argv[0] != "airflow" or argv[1].startswith("-"):
            raise CommandLineError(f"Name the action and the DAG file: {USAGE}.")
        action, path, rest = argv[1], Path(argv[2]), argv[3:]
        choice, rest = _branch_options(rest)
        dag_cls = project_dag_class(path, choice.branch, choice.production)
    except FlowTriggersError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    options = [*(["--branch", choice.branch] if choice.branch else []), *(["--production"] if choice.production
                                                                          else [])]
    return run_cli(dag_cls, [*options, "airflow", action, *rest])


def _branch_options(argv: list[str]):
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--branch")
    parser.add_argument("--production", action="store_true")
    return parser.parse_known_args(argv)


def project_dag_class(path: Path, branch: str | None = None, production: bool = False) -> type:
    """The project DAG of the file at `path`, as the flow class the `airflow` commands take: named after the DAG,
    with its @project and @trigger_on_finish, able to build itself as any deployment of it."""
    if not path.is_file():
        raise CommandLineError(f"{path} is not a file: name the DAG file to deploy.")
    path = path.resolve()
    module, enrolled = _import(path, branch=branch, production=production)
    if not enrolled:
        raise CommandLineError(f"{path.name} defines no Airflow DAG with @project or @trigger_on_finish: put "
                               "@project(name='...') above its @dag (or call project(name='...')(dag)).", str(path))
    names = sorted({name for name, _ in enrolled})
    if len(names) > 1:
        raise CommandLineError(f"{path.name} defines {len(names)} project DAGs ({', '.join(names)}): `airflow create` "
                               "deploys one DAG per file; put each in a file of its own.", str(path))
    member = enrolled[-1][1]._flow_triggers_member

    def validate(deployment) -> set[str]:
        """Import the file again as `deployment` (as the dag-processor will), returning the DAG ids that trigger
        it; a file that does not build that deployment's DAG is an error here, before Airflow is asked."""
        choice = branch_choice(deployment.branch) if deployment.branch else {}
        _, built = _import(path, **choice, deployer=deployment.deployer)
        dag = built[-1][1] if built else None
        if dag is None or dag.dag_id != deployment.project_flow_name:
            raise CommandLineError(f"{path.name} does not build {deployment.project_flow_name} when imported as that "
                                   "deployment: does its @project depend on the environment?", str(path))
        spec = dag._flow_triggers_member.spec.finish
        return {u.project_flow_name for u in spec.upstreams(deployment)} if spec else set()

    return type(member.base_id, (), {
        "__module__": module.__name__, "__doc__": member.dag.description,
        "_project": member.spec.project, "_trigger_on_finish": member.spec.finish, "_schedule": None,
        "_trigger_events": None, "_dag_settings": None, "_deployment_kind": "dag",
        "_command": f"python -m airflow_flow_triggers airflow {{action}} {path.name}",
        "_validate_deployment": staticmethod(validate)})


def _import(path: Path, **choice):
    """Import the DAG file (a fresh module each time) as the deployment `choice`; returns it and the project DAGs
    it enrolled, as (DAG id as written, DAG)."""
    name = f"flow_triggers_dag_file_{abs(hash((str(path), tuple(sorted(choice.items())))))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        with project_dags.loading_as(**choice) as loading:
            spec.loader.exec_module(module)
    except FlowTriggersError:
        raise
    except Exception as error:
        raise CommandLineError(f"{path.name} fails to import ({type(error).__name__}: {error}), so it cannot be "
                               "deployed: fix the file (`python` on it shows the whole traceback).", str(path)) \
            from None
    finally:
        sys.path.remove(str(path.parent))
    return module, list(loading.enrolled)
