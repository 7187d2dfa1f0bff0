"""`python flow.py run` and `python flow.py resume [STEP]`: a local run, new or reusing an earlier one."""
from __future__ import annotations

import argparse

from ..errors import CommandLineError
from ..flows.configs import pending_decorators
from ..flows.decorators import deployment_of
from ..flows.decospecs import attach_decorators
from ..flows.parameters import flow_parameters, read_included_files, with_computed_defaults
from ..flows.triggers import trigger_outcome
from ..naming import check_tags
from ..runtime.current import outside_steps
from .airflow_commands import given_parameters
from .metaflow_options import decospecs, read_environment, write_run_id


def run(flow_cls, deployment, args) -> int:
    from ..runtime.events import events_for_runs, trigger_parameters
    from ..runtime.runner import MAX_NUM_SPLITS, LocalRun
    events = events_for_runs(args.trigger, deployment, outcome=trigger_outcome(flow_cls))
    given = {**trigger_parameters(flow_cls, events), **read_included_files(flow_cls, given_parameters(args))}
    with outside_steps(deployment):                     # default functions: called once, before the run
        given = with_computed_defaults(flow_cls, given)
    texts = decospecs(args)
    attach_decorators(flow_cls, texts)
    local_run = LocalRun(flow_cls, deployment, given, max_workers=args.max_workers, trigger_events=events,
                         tags=check_tags(args.tag), max_num_splits=args.max_num_splits or MAX_NUM_SPLITS,
                         decospecs=texts)
    write_run_id(args.run_id_file, local_run.run_id)
    local_run.run()
    return 0


def add_resume(commands, flow_cls: type) -> argparse.ArgumentParser:
    """The `resume` command; its parameter options only say why a resume takes none."""
    resume = commands.add_parser("resume", help="run again the failed step (or STEP) and what follows, reusing "
                                                 "what the latest run (or --origin-run-id) finished before it")
    resume.add_argument("step", nargs="?", metavar="STEP",
                        help="run this step and every step after it again, even if they succeeded")
    resume.add_argument("--origin-run-id", metavar="RUN_ID", default=None,
                        help="the run to resume (default: the latest run `run` started, yours, on this branch)")
    for param in flow_parameters(flow_cls).values():
        resume.add_argument(f"--{param.name}", action=_RefusedParameter, metavar=param.type_name.upper(),
                            help=argparse.SUPPRESS)
    resume.set_defaults(handler=resume_run)
    return resume


class _RefusedParameter(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        raise CommandLineError(f"{option_string} cannot be given to resume: a resumed run keeps the parameters of "
                               f"the run it resumes, as in Metaflow; start a new run with `run {option_string} "
                               "VALUE` to change it.")


def resumed_configs(flow_cls, args) -> dict | None:
    """For `resume`, the configs of the run it resumes, which it keeps (Metaflow's rule); None for another command,
    or a flow whose @project name is a config value (its runs are found once it is configured, with the defaults)."""
    from ..runtime.resume import find_origin
    from ..runtime.store import ArtifactStore
    from ..runtime.task import run_configs
    if args.command != "resume":
        return None
    if args.config or args.config_value:
        raise CommandLineError("--config and --config-value cannot be given to resume: a resumed run keeps the "
                               "configs of the run it resumes, as in Metaflow.")
    if pending_decorators(flow_cls):
        return None
    read_environment(args, flow_cls)                    # METAFLOW_BRANCH, METAFLOW_PRODUCTION name the branch
    origin = find_origin(ArtifactStore(), deployment_of(flow_cls, args.branch, args.production), args.origin_run_id)
    return run_configs(origin)


def resume_run(flow_cls, deployment, args) -> int:
    from ..runtime.resume import Resume
    from ..runtime.runner import MAX_NUM_SPLITS, LocalRun
    from ..runtime.store import ArtifactStore
    if args.trigger:
        raise CommandLineError("--trigger cannot be given to resume: a resumed run keeps the trigger of the run it "
                               "resumes.")
    resume = Resume(flow_cls, deployment, ArtifactStore(), args.origin_run_id, args.step)
    texts = decospecs(args)
    attach_decorators(flow_cls, texts)
    local_run = LocalRun(flow_cls, deployment, resume.parameters, max_workers=args.max_workers,
                         trigger_events=resume.trigger_events, tags=check_tags(args.tag),
                         max_num_splits=args.max_num_splits or MAX_NUM_SPLITS, decospecs=texts, resume=resume)
    write_run_id(args.run_id_file, local_run.run_id)
    local_run.run()
    return 0
