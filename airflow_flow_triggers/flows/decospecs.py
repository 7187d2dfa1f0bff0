"""`--with DECO[:name=value,...]`: a step decorator for every step, as Metaflow's `--with` adds one (`run --with
retry`, `airflow create --with kubernetes:cpu=2`). A step that has the decorator already keeps its own.

DECO is one of the package's step decorators, a UserStepDecorator or StepMutator by its name, or one by its
import path (`my_package.decorators.timing`), as in Metaflow. The text is parsed by Metaflow's rules:
attributes split at a comma before `name=`, each value JSON if it parses, else an int, a float, or the text.
"""
from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass

from ..errors import CommandLineError, FlowTriggersError
from . import compute, decorators, secrets, unsupported
from .user_decorators import UserStepDecoratorBase, user_decorator_class


def _step_decorators() -> dict:
    return {"retry": decorators.retry, "timeout": decorators.timeout, "catch": decorators.catch,
            "card": decorators.card, "environment": decorators.environment, "resources": compute.resources,
            "kubernetes": compute.kubernetes, "secrets": secrets.secrets,
            **{name: getattr(unsupported, name) for name in unsupported.INSTEAD}}


@dataclass(frozen=True)
class DecoSpec:
    """One `--with` decorator: its name, its attributes, and the decorator they make (checked)."""

    text: str
    name: str
    attributes: dict
    user_class: type | None = None       # a UserStepDecorator or StepMutator class, else one of ours by name

    def decorate(self, func):
        return self._decorator()(func)

    def on(self, func) -> bool:
        """Whether the step has a decorator of this name already (Metaflow's rule: its own wins)."""
        if self.user_class is not None:
            return any(isinstance(d, self.user_class) for d in [*getattr(func, "wrappers", []),
                                                                 *getattr(func, "step_mutators", [])])
        return self.name in {d["name"] for d in getattr(func, "step_decorators", [])}

    def _decorator(self):
        if self.user_class is not None:
            try:
                return self.user_class(**self.attributes)
            except FlowTriggersError as error:
                raise CommandLineError(f"--with {self.text}: {error.message}") from None
        factory = _step_decorators()[self.name]
        try:
            return factory(**self.attributes)
        except TypeError:
            taken = ", ".join(factory.__wrapped__.__code__.co_varnames[:factory.__wrapped__.__code__.co_argcount])
            raise CommandLineError(f"--with {self.text}: @{self.name} takes {taken or 'no arguments'}.") from None
        except FlowTriggersError as error:
            raise CommandLineError(f"--with {self.text}: {error.message}") from None


def parse_decospec(text: str) -> DecoSpec:
    """`DECO[:name=value,...]` as Metaflow's `--with` takes it; one error naming the text when it is not one."""
    name, _, rest = text.partition(":")
    name = name.strip()
    known = _step_decorators()
    user_class = None if name in known else _user_class(text, name)
    if name not in known and user_class is None:
        usable = ", ".join(n for n in known if n not in unsupported.INSTEAD)
        raise CommandLineError(f"--with {text}: there is no step decorator @{name}; use one of {usable}, a "
                               "UserStepDecorator's name or its import path.")
    attributes = {}
    for item in re.split(r",(?=[\s\w]+=)", rest) if rest.strip() else []:
        key, equals, value = item.partition("=")
        if not equals or not key.strip().isidentifier():
            raise CommandLineError(f"--with {text}: '{item}' is not name=value; write e.g. --with {name}:"
                                   "name=value,other=value.")
        attributes[key.strip()] = _value(value.strip())
    spec = DecoSpec(text, name, attributes, user_class)
    spec._decorator()                    # the arguments are checked now, before anything runs or deploys
    return spec


def _user_class(text: str, name: str) -> type | None:
    """A UserStepDecorator or StepMutator class: by its name, or imported by its path (`package.module.Class`)."""
    found = user_decorator_class(name)
    if found is None and "." in name:
        module, _, attribute = name.rpartition(".")
        try:
            found = getattr(importlib.import_module(module), attribute, None)
        except ImportError as error:
            raise CommandLineError(f"--with {text}: cannot import {module} ({error}).") from None
    return found if isinstance(found, type) and issubclass(found, UserStepDecoratorBase) else None


def _value(text: str):
    try:
        return json.loads(text.replace('\\"', '"'))
    except json.JSONDecodeError:
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text


def attach_decorators(flow_cls: type, texts) -> type:
    """Add each `--with` decorator to every step of `flow_cls` that has none of that name (Metaflow's rule:
    the decorator written on a step wins); the flow class remembers them (`_decospecs`) for the processes that
    import its code again (a pod, a run pinned to an earlier code version). Returns `flow_cls`."""
    specs = [parse_decospec(text) for text in texts]
    for name in dir(flow_cls):
        func = getattr(flow_cls, name, None)
        if not getattr(func, "is_step", False):
            continue
        for spec in specs:
            if not spec.on(func):
                _not_written(spec, spec.decorate(func))
    flow_cls._decospecs = tuple(dict.fromkeys([*getattr(flow_cls, "_decospecs", ()), *texts]))
    return flow_cls


def _not_written(spec: DecoSpec, func) -> None:
    """Mark the decorator just added as Metaflow marks a `--with` one: statically_defined False."""
    if spec.user_class is None:
        func.step_decorators[-1] = {**func.step_decorators[-1], "statically_defined": False}
        return
    for decorator in [*getattr(func, "wrappers", []), *getattr(func, "step_mutators", [])][::-1]:
        if isinstance(decorator, spec.user_class):
            decorator.statically_defined = False
            return
