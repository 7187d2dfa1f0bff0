"""Metaflow's mutators (2.16+): `FlowMutator` on a flow class, and the MutableFlow / MutableStep they change.

When the flow is configured (configure.py, its configs known), each FlowMutator's `pre_mutate` then each
StepMutator's, then every `mutate`, may read the configs, add or remove the package's step decorators and user
decorators, and (in `pre_mutate`) add or remove parameters and flow decorators. What they change is the flow
class itself, so a local run and the DAG factory see the same steps.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import re
from typing import Any

from ..errors import FlowDefinitionError, FlowTriggersError, caller_location
from . import unsupported
from .configs import DECORATORS, flow_configs, init_with_config_values, seen_config_values
from .flowspec import FlowSpec
from .parameters import Parameter, flow_parameters
from .user_decorators import StepMutator, UserStepDecoratorBase, user_decorator_class

IGNORE, ERROR, OVERRIDE = 1, 2, 3     # what add_decorator does with a decorator the step already has
PACKAGE = "airflow_flow_triggers"
_KEPT = {"is_step", "wrappers", "step_mutators", "_undecorated", "_pending_decorators"}
# flow decorators of the package: the class attribute each sets
FLOW_DECORATORS = {"project": "_project", "schedule": "_schedule", "trigger": "_trigger_events",
                   "trigger_on_finish": "_trigger_on_finish", "airflow_dag": "_dag_settings"}


class FlowMutator:
    """Subclass it and decorate a flow class with it (`@MyMutator` or `@MyMutator(...)`): `pre_mutate(
    mutable_flow)` and `mutate(mutable_flow)` run when the flow is configured; `init(*args, **kwargs)` takes
    its arguments (which may be config values)."""

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._where = caller_location()
        bare = len(args) == 1 and not kwargs and inspect.isclass(args[0]) and issubclass(args[0], FlowSpec)
        self._args, self._kwargs = (() if bare else args), dict(kwargs)
        self._initialized, self.statically_defined, self.inserted_by = False, True, None
        return self._attach(args[0]) if bare else self

    def __init__(self, *args, **kwargs):
        """The arguments go to init(), once the flow is configured (they may be config values)."""

    def __call__(self, flow_cls):
        return self._attach(flow_cls)

    def _attach(self, flow_cls):
        if not (inspect.isclass(flow_cls) and issubclass(flow_cls, FlowSpec)):
            raise FlowDefinitionError(f"{self} decorates flow classes (subclasses of FlowSpec), not "
                                      f"{getattr(flow_cls, '__name__', flow_cls)!r}.", *self._where)
        flow_cls._flow_mutators = [*vars(flow_cls).get("_flow_mutators", ()), self]
        return flow_cls

    @property
    def decorator_name(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}"

    def init(self, *args, **kwargs):
        """Take the mutator's arguments (written `@MyMutator(a=1)`); replaces __init__, as in Metaflow."""

    def external_init(self, values: dict[str, Any]) -> None:
        init_with_config_values(self, values, (FlowMutator,), "init(self, *args, **kwargs)")

    def pre_mutate(self, mutable_flow: MutableFlow) -> None:
        """Called first, when the configs are known: may add parameters and flow decorators."""

    def mutate(self, mutable_flow: MutableFlow) -> None:
        """Called after every pre_mutate: may change the steps' decorators."""

    def __str__(self):
        return f"FlowMutator({self.decorator_name})"


def flow_mutators(flow_cls: type) -> list[FlowMutator]:
    """The FlowMutators of the flow and its base classes, base classes first."""
    return [m for klass in reversed(flow_cls.__mro__) for m in vars(klass).get("_flow_mutators", ())]


def step_functions(flow_cls: type) -> dict[str, Any]:
    """The flow's step functions by name (a subclass's own first)."""
    found = {}
    for klass in flow_cls.__mro__:
        for name, value in vars(klass).items():
            if name not in found and inspect.isfunction(value) and getattr(value, "is_step", False):
                found[name] = value
    return found


def parameter_names(flow_cls: type) -> list[str]:
    """`current.parameter_names` in Metaflow's order: alphabetical, configs among parameters; but a flow with
    mutators lists its configs first (Metaflow reads them apart to run the mutators)."""
    parameters = sorted(param.attr_name for param in flow_parameters(flow_cls).values())
    configs = sorted(flow_configs(flow_cls))
    mutated = flow_mutators(flow_cls) or any(getattr(f, "step_mutators", []) for f in step_functions(flow_cls).values())
    return configs + parameters if mutated else sorted(configs + parameters)


class _Mutable:
    """What MutableFlow and MutableStep share: which stage it is and who changes it."""

    IGNORE, ERROR, OVERRIDE = IGNORE, ERROR, OVERRIDE

    def __init__(self, flow_cls: type, pre_mutate: bool, mutator):
        self._flow_cls, self._pre_mutate = flow_cls, pre_mutate
        self._statically_defined = mutator.statically_defined
        self._inserted_by = [mutator.decorator_name, *(mutator.inserted_by or [])]
        self._mutator = mutator

    def _only_before(self, what: str) -> None:
        if not self._pre_mutate:
            raise FlowDefinitionError(f"{what} from {self._mutator} is only allowed in its pre_mutate() method, not "
                                      "in mutate() (as in Metaflow).", *self._mutator._where)

    def _configs(self) -> dict[str, Any]:
        return seen_config_values(self._flow_cls)

    def has_decorator(self, name: str) -> bool:
        """Whether it has a decorator of this name (a qualified name when it has a dot)."""
        return bool(self.get_decorator_specs(name))

    def get_decorator_specs(self, name: str) -> list[tuple]:
        """The (name, qualified name, args, kwargs) of its decorators of this name."""
        return [spec for spec in self.decorator_specs if _matches(spec, name)]

    def _replace(self, duplicates: int, name: str, flow: bool = False) -> bool:
        """Whether to add a decorator that is there already, as `duplicates` says (OVERRIDE: the caller removes
        the one there)."""
        if duplicates == IGNORE:
            return False
        if duplicates == ERROR:
            if self._statically_defined:
                where = f"flow {self._flow_cls.__name__}" if flow else f"step '{self._name}'"
                raise FlowDefinitionError(f"The {where} already has {name}, which {self._mutator} adds with "
                                          "duplicates=ERROR: remove one of them, or use IGNORE or OVERRIDE.",
                                          *self._mutator._where)
            return False
        if duplicates != OVERRIDE:
            raise FlowDefinitionError(f"add_decorator(duplicates={duplicates!r}) takes IGNORE, ERROR or OVERRIDE.",
                                      *self._mutator._where)
        return True


class MutableFlow(_Mutable):
    """A flow as a FlowMutator changes it: its configs, parameters and steps (also as attributes)."""

    @property
    def configs(self):
        """(name, value) of each config, the value a ConfigValue (or a plain value, or None)."""
        yield from self._configs().items()

    @property
    def parameters(self):
        """(attribute name, Parameter) of each parameter."""
        for param in flow_parameters(self._flow_cls).values():
            yield param.attr_name, param

    @property
    def steps(self):
        """(name, MutableStep) of each step."""
        for name, func in step_functions(self._flow_cls).items():
            yield name, MutableStep(self._flow_cls, func, self._pre_mutate, self._mutator)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        func = step_functions(self._flow_cls).get(name)
        if func is not None:
            return MutableStep(self._flow_cls, func, self._pre_mutate, self._mutator)
        for attr, config in flow_configs(self._flow_cls).items():
            if attr == name:
                return self._configs()[config.name]
        for param in flow_parameters(self._flow_cls).values():
            if param.attr_name == name:
                return param
        raise AttributeError(f"Flow {self._flow_cls.__name__} has no step, config or parameter '{name}'.")

    def add_parameter(self, name: str, value: Parameter, overwrite: bool = False) -> None:
        """Add `value` (a Parameter or IncludeFile) to the flow as attribute `name` (in pre_mutate only)."""
        self._only_before(f"Adding parameter '{name}'")
        if not isinstance(value, Parameter):
            raise FlowDefinitionError(f"add_parameter('{name}', ...) takes a Parameter or an IncludeFile, not "
                                      f"{type(value).__name__}.", *self._mutator._where)
        if hasattr(self._flow_cls, name) and not overwrite:
            raise FlowDefinitionError(f"Flow {self._flow_cls.__name__} already has a class member '{name}': pass "
                                      "overwrite=True to add_parameter to replace it.", *self._mutator._where)
        setattr(self._flow_cls, name, value)
        value.__set_name__(self._flow_cls, name)
        value.resolve(self._configs())

    def remove_parameter(self, parameter_name: str) -> bool:
        """Remove the parameter named `parameter_name` (in pre_mutate only); whether there was one."""
        self._only_before(f"Removing parameter '{parameter_name}'")
        param = flow_parameters(self._flow_cls).get(parameter_name)
        if param is None:
            return False
        if param.attr_name not in vars(self._flow_cls):
            raise FlowDefinitionError(f"Parameter '{parameter_name}' is defined in a base class of flow "
                                      f"{self._flow_cls.__name__}, so {self._mutator} cannot remove it: remove it "
                                      "there.", *self._mutator._where)
        delattr(self._flow_cls, param.attr_name)
        return True

    @property
    def decorator_specs(self):
        """(name, qualified name, args, kwargs) of each flow decorator of the package and each FlowMutator."""
        for name, attribute in FLOW_DECORATORS.items():
            spec = getattr(self._flow_cls, attribute, None)
            if spec is not None:
                yield name, f"{PACKAGE}.{name}", [], _fields(spec)
        for mutator in flow_mutators(self._flow_cls):
            yield type(mutator).__name__, mutator.decorator_name, list(mutator._args), dict(mutator._kwargs)

    def add_decorator(self, deco_type, deco_args=None, deco_kwargs=None, duplicates: int = IGNORE):
        """Add a flow decorator of the package (project, schedule, trigger, trigger_on_finish, airflow_dag: the
        decorator, or its name, with arguments as `name:arg=value,...`) or a FlowMutator class (in pre_mutate
        only). Returns what was added, or None when `duplicates` left the flow as it was."""
        self._only_before(f"Adding flow decorator {getattr(deco_type, '__name__', deco_type)!r}")
        if inspect.isclass(deco_type) and issubclass(deco_type, FlowMutator):
            mutator = deco_type(*(deco_args or ()), **(deco_kwargs or {}))
            existing = [m for m in flow_mutators(self._flow_cls) if type(m) is deco_type]
            if existing and not self._replace(duplicates, type(mutator).__name__, flow=True):
                return None
            self._flow_cls._flow_mutators = [m for m in vars(self._flow_cls).get("_flow_mutators", ())
                                             if m not in existing]
            mutator.statically_defined, mutator.inserted_by = self._statically_defined, self._inserted_by
            mutator._where = self._mutator._where
            mutator._attach(self._flow_cls)
            mutator.external_init(self._configs())
            return mutator
        name, kwargs = _named(deco_type, deco_args, deco_kwargs, FLOW_DECORATORS, "flow", self._mutator)
        if getattr(self._flow_cls, FLOW_DECORATORS[name], None) is not None:
            if not self._replace(duplicates, f"@{name}", flow=True):
                return None
            setattr(self._flow_cls, FLOW_DECORATORS[name], None)
        _apply(DECORATORS[name], kwargs, self._flow_cls, self._mutator)
        return getattr(self._flow_cls, FLOW_DECORATORS[name])

    def remove_decorator(self, deco_name: str, deco_args=None, deco_kwargs=None) -> bool:
        """Remove the flow decorator `deco_name` of the package (matching `deco_args`/`deco_kwargs` when given;
        in pre_mutate only); whether one was removed. FlowMutators cannot be removed, as in Metaflow."""
        self._only_before(f"Removing flow decorator '{deco_name}'")
        if any(_matches(spec, deco_name) for spec in self.decorator_specs if spec[0] not in FLOW_DECORATORS):
            raise FlowDefinitionError(f"FlowMutator '{deco_name}' cannot be removed (as in Metaflow): only flow "
                                      f"decorators ({', '.join(FLOW_DECORATORS)}) can.", *self._mutator._where)
        for name, _, _, kwargs in self.get_decorator_specs(deco_name):
            if (deco_args is None and deco_kwargs is None) or ((deco_args or []) == [] and
                                                               (deco_kwargs or {}) == kwargs):
                setattr(self._flow_cls, FLOW_DECORATORS[name], None)
                return True
        return False


class MutableStep(_Mutable):
    """A step as a StepMutator (or a FlowMutator, through `mutable_flow.steps`) changes it: its decorators."""

    def __init__(self, flow_cls: type, func, pre_mutate: bool, mutator):
        super().__init__(flow_cls, pre_mutate, mutator)
        self._func, self._name = func, func.__name__

    @property
    def flow(self) -> MutableFlow:
        """The flow the step is in."""
        return MutableFlow(self._flow_cls, self._pre_mutate, self._mutator)

    @property
    def decorator_specs(self):
        """(name, qualified name, args, kwargs) of each of the step's decorators, user decorators included."""
        for record in getattr(self._func, "step_decorators", []):
            yield record["name"], f"{PACKAGE}.{record['name']}", [], dict(record["attributes"])
        seen = set()
        for decorator in [*getattr(self._func, "wrappers", []), *getattr(self._func, "step_mutators", [])]:
            if id(decorator) not in seen:
                seen.add(id(decorator))
                yield decorator.spec()

    def add_decorator(self, deco_type, deco_args=None, deco_kwargs=None, duplicates: int = IGNORE):
        """Add a step decorator of the package (retry, environment, ...: the decorator, or its name, with
        arguments as `name:arg=value,...`), or a UserStepDecorator or StepMutator class (a StepMutator in
        pre_mutate only). Returns what was added, or None when `duplicates` left the step as it was."""
        if isinstance(deco_type, str) and user_decorator_class(deco_type.partition(":")[0]) is not None:
            deco_type = user_decorator_class(deco_type.partition(":")[0])
        if inspect.isclass(deco_type) and issubclass(deco_type, UserStepDecoratorBase):
            return self._add_user_decorator(deco_type, deco_args or (), deco_kwargs or {}, duplicates)
        steps = {name for name in DECORATORS if name not in FLOW_DECORATORS}
        name, kwargs = _named(deco_type, deco_args, deco_kwargs, steps, "step", self._mutator)
        if any(record["name"] == name for record in getattr(self._func, "step_decorators", [])):
            if not self._replace(duplicates, f"@{name}"):
                return None
            self.remove_decorator(name)
        _apply(DECORATORS[name], kwargs, self._func, self._mutator)
        record = {**self._func.step_decorators[-1], "statically_defined": self._statically_defined,
                  "inserted_by": self._inserted_by}
        self._func.step_decorators = [*self._func.step_decorators[:-1], record]
        return record

    def _add_user_decorator(self, cls: type, args, kwargs, duplicates: int):
        if issubclass(cls, StepMutator):
            self._only_before(f"Adding step mutator '{cls.__name__}'")
        existing = [d for d in [*getattr(self._func, "wrappers", []), *getattr(self._func, "step_mutators", [])]
                    if type(d) is cls]
        if existing:
            if not self._replace(duplicates, cls.__name__):
                return None
            self._drop(lambda decorator: decorator in existing)
        decorator = cls(*args, **kwargs)
        decorator._where, decorator.statically_defined = self._mutator._where, self._statically_defined
        decorator.inserted_by = self._inserted_by
        decorator(self._func)
        decorator.external_init(self._configs())
        return decorator

    def remove_decorator(self, deco_name: str, deco_args=None, deco_kwargs=None) -> bool:
        """Remove the step's decorators named `deco_name` (those matching `deco_args`/`deco_kwargs` when given);
        whether one was removed. StepMutators are removed in pre_mutate only."""
        def chosen(spec) -> bool:
            return _matches(spec, deco_name) and ((deco_args is None and deco_kwargs is None) or
                                                  (list(deco_args or []), dict(deco_kwargs or {})) == tuple(spec[2:]))

        users = [d for d in [*getattr(self._func, "wrappers", []), *getattr(self._func, "step_mutators", [])]
                 if chosen(d.spec())]
        if any(isinstance(d, StepMutator) for d in users):
            self._only_before(f"Removing step mutator '{deco_name}'")
        self._drop(lambda decorator: decorator in users)
        records = getattr(self._func, "step_decorators", [])
        kept = [r for r in records if not chosen((r["name"], f"{PACKAGE}.{r['name']}", [], r["attributes"]))]
        if len(kept) != len(records):
            _redecorate(self._func, kept)
        return bool(users) or len(kept) != len(records)

    def _drop(self, removed) -> None:
        for field in ("wrappers", "step_mutators"):
            if hasattr(self._func, field):
                setattr(self._func, field, [d for d in getattr(self._func, field) if not removed(d)])


def _redecorate(func, records: list[dict]) -> None:
    """The step as it was before its decorators of the package, decorated again with `records` only."""
    undecorated = vars(func).get("_undecorated", {})
    for key in [key for key in vars(func) if key not in _KEPT and key not in undecorated]:
        delattr(func, key)
    for key, value in undecorated.items():
        if key not in _KEPT:
            setattr(func, key, value)
    for record in records:
        DECORATORS[record["name"]](**record["attributes"])(func)
        func.step_decorators[-1] = dict(record)


def _named(deco_type, deco_args, deco_kwargs, known, kind: str, mutator) -> tuple[str, dict]:
    """The name of a package decorator given as itself or as `name[:arg=value,...]`, and its arguments."""
    if deco_args:
        raise FlowDefinitionError(f"add_decorator(..., deco_args={deco_args!r}): the package's {kind} decorators "
                                  "take keyword arguments only (deco_kwargs=).", *mutator._where)
    kwargs = dict(deco_kwargs or {})
    name = next((n for n, d in DECORATORS.items() if d is deco_type), None)
    if isinstance(deco_type, str):
        name, _, text = deco_type.partition(":")
        spec_kwargs = _spec_arguments(text, deco_type, mutator)
        if spec_kwargs and kwargs:
            raise FlowDefinitionError(f"add_decorator({deco_type!r}, deco_kwargs=...) gives arguments twice: in the "
                                      "text and as deco_kwargs; give them once.", *mutator._where)
        kwargs = spec_kwargs or kwargs
        name = name.strip()
    if name in unsupported.INSTEAD:
        raise FlowDefinitionError(f"@{name} is a Metaflow decorator that airflow_flow_triggers does not support: "
                                  f"{unsupported.INSTEAD[name]}.", *mutator._where)
    if name not in known:
        raise FlowDefinitionError(f"add_decorator takes a {kind} decorator of the package ({', '.join(sorted(known))}"
                                  f"), its name, or a user decorator class; not {deco_type!r}.", *mutator._where)
    return name, kwargs


def _spec_arguments(text: str, spec: str, mutator) -> dict:
    """Metaflow's decorator specification `arg=value,...`: each value JSON if it parses, else an int, a float,
    or the text."""
    arguments = {}
    for item in re.split(r",(?=[\s\w]+=)", text) if text.strip() else []:
        key, equals, value = item.partition("=")
        if not equals or not key.strip().isidentifier():
            raise FlowDefinitionError(f"add_decorator({spec!r}): '{item}' is not name=value.", *mutator._where)
        arguments[key.strip()] = _spec_value(value.strip())
    return arguments


def _spec_value(text: str):
    for parse in (lambda t: json.loads(t.replace('\\"', '"')), int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def _apply(decorator, kwargs: dict, target, mutator) -> None:
    try:
        decorator(**kwargs)(target)
    except FlowTriggersError as error:
        raise type(error)(error.message, *mutator._where) from None
    except TypeError as error:
        raise FlowDefinitionError(f"@{decorator.__name__} cannot take {kwargs!r}: {error}.", *mutator._where) \
            from None


def _matches(spec: tuple, name: str) -> bool:
    """Metaflow's rule: a name with a dot is a qualified name, else a short one."""
    return spec[1] == name if "." in name else spec[0] == name


def _fields(spec) -> dict:
    return dataclasses.asdict(spec) if dataclasses.is_dataclass(spec) else {}

