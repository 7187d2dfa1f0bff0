"""Configuring a flow: once its configs' values are known, apply what waited for them, in Metaflow's order.

The configs' values are fixed first; then the decorators and Parameters given config values are applied and
settled (their errors naming their own lines), the FlowMutators' and StepMutators' `pre_mutate`, then their
`mutate`, then the user step decorators' `init`. A flow is configured once per process: by the command line
(`--config`, `--config-value`), else, the first time it is needed, from what it was deployed with (the
deploy-time file in its code package), else from the environment and the configs' defaults.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from ..errors import CommandLineError, FlowDefinitionError
from .configs import apply_pending, configured, flow_configs, plain, read_config_values, set_config_values
from .mutators import MutableFlow, MutableStep, flow_mutators, step_functions
from .parameters import deploy_time_defaults, flow_parameters, parameter_context, use_deploy_time_defaults

DEPLOY_TIME_SUFFIX = ".deploy-time.json"   # beside the flow file in a code package: its configs, computed defaults


def configure_flow(flow_cls: type, values: dict[str, Any] | None = None, files=(), texts=()) -> type:
    """Configure the flow with its configs' `values` ({name: value}), or those read from `--config` `files` and
    `--config-value` `texts` ((name, file or JSON) pairs), the environment and the defaults. Returns it."""
    if configured(flow_cls):
        return flow_cls
    if values is None and not flow_configs(flow_cls):
        values = {}
    if values is None:
        values = read_config_values(flow_cls, list(files), list(texts), parameter_context(flow_cls, configs=False))
    seen = set_config_values(flow_cls, values)
    steps = step_functions(flow_cls)
    for base in reversed(flow_cls.__mro__[1:]):     # a base flow class's decorators apply to this flow
        apply_pending(flow_cls, seen, written_on=base)
    for target in (flow_cls, *steps.values()):
        apply_pending(target, seen)
    _settle_parameters(flow_cls, seen)
    _mutate(flow_cls, seen, steps, pre=True)
    _settle_parameters(flow_cls, seen)
    _mutate(flow_cls, seen, step_functions(flow_cls), pre=False)
    for func in step_functions(flow_cls).values():
        for decorator in getattr(func, "wrappers", []):
            decorator.external_init(seen)
    flow_cls._configured = True
    return flow_cls


def _settle_parameters(flow_cls: type, seen: dict[str, Any]) -> None:
    for param in flow_parameters(flow_cls).values():
        param.resolve(seen)


def _mutate(flow_cls: type, seen: dict[str, Any], steps: dict, pre: bool) -> None:
    """Every FlowMutator's pre_mutate (or mutate), then every StepMutator's, each seeing what those before did;
    a mutator added meanwhile runs too."""
    for mutator in _each_new(lambda: flow_mutators(flow_cls)):
        mutator.external_init(seen)
        _refuse_packaging(mutator)
        getattr(mutator, "pre_mutate" if pre else "mutate")(MutableFlow(flow_cls, pre, mutator))
    for func in steps.values():
        for mutator in _each_new(lambda func=func: getattr(func, "step_mutators", [])):
            mutator.external_init(seen)
            _refuse_packaging(mutator)
            getattr(mutator, "pre_mutate" if pre else "mutate")(MutableStep(flow_cls, func, pre, mutator))


def _each_new(mutators):
    """The mutators `mutators()` lists, one at a time, asking again after each: one added meanwhile comes too."""
    done = []
    while waiting := [m for m in mutators() if m not in done]:
        done.append(waiting[0])
        yield waiting[0]


def _refuse_packaging(mutator) -> None:
    """Metaflow's add_to_package hook is not called here: a mutator that defines it is refused, not ignored."""
    if any("add_to_package" in vars(klass) for klass in type(mutator).__mro__):
        raise FlowDefinitionError(f"{mutator} defines add_to_package(), which airflow_flow_triggers does not call: "
                                  "put the files it adds in the flow file's folder (the code package holds its "
                                  "*.py files) and drop the method.", *mutator._where)


def ensure_configured(flow_cls: type, recorded: dict[str, Any] | None = None) -> type:
    """Configure the flow if it is not yet: with the configs a run recorded (`recorded`), else those it was
    deployed with, else the environment's and its defaults."""
    if configured(flow_cls):
        return flow_cls
    if recorded is not None:
        return configure_flow(flow_cls, recorded)
    deployed = deployed_values(flow_cls)
    if deployed is None:
        return configure_flow(flow_cls)
    use_deploy_time_defaults(flow_cls, deployed["parameter_defaults"])
    return configure_flow(flow_cls, deployed["configs"])


def deploy_time_file(flow_file: str) -> str:
    """The deploy-time file's path in a code package whose flow file is `flow_file`."""
    return str(Path(flow_file).with_name(Path(flow_file).stem + DEPLOY_TIME_SUFFIX).as_posix())


def deployed_values(flow_cls: type) -> dict | None:
    """What the flow's deployment fixed (configs, computed parameter defaults), read beside its flow file; None
    where there is no such file (a local run, a DAG file written by hand)."""
    try:
        path = Path(inspect.getfile(flow_cls))
    except (TypeError, OSError):
        return None
    path = path.with_name(path.stem + DEPLOY_TIME_SUFFIX)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise FlowDefinitionError(f"The deploy-time values {path} are not JSON ({error}): deploy the flow again.") \
            from None


def deploy_time_content(flow_cls: type) -> bytes:
    """The deploy-time file of a deployment of the (configured) flow: its configs' values and what its
    parameters' default functions return, computed now, on the deploying machine."""
    values = {"configs": plain(dict(vars(flow_cls).get("_config_values", {}))),
              "parameter_defaults": deploy_time_defaults(flow_cls)}
    try:
        return json.dumps(values, indent=1, sort_keys=True).encode()
    except (TypeError, ValueError) as error:
        raise CommandLineError(f"Flow {flow_cls.__name__}'s configs or computed parameter defaults cannot be stored "
                               f"with its deployment ({error}): make config parsers and default functions return "
                               "JSON values.") from None
