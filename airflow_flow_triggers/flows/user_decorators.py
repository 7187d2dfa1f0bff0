"""Metaflow's custom step decorators (2.16+): `UserStepDecorator`, `@user_step_decorator` and `StepMutator`.

A UserStepDecorator wraps a step's code: `pre_step` before it (it may return a function to run instead, or
set `skip_step`), `post_step` after it (it sees the exception, and may swallow it or replace it). A
`@user_step_decorator` generator does the same around its one `yield`. A StepMutator changes the step's
decorators when the flow is configured (mutators.py). Written bare (`@timing`) or called (`@timing(n=2)`),
above `@step`; arguments may be config values. What runs them: `run_step_code` (a step's task) and
configure.py (when the flow is configured).
"""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import FlowDefinitionError, caller_location
from .configs import init_with_config_values, plain
from .decorators import require_step

USER_SKIP_STEP: dict = {}     # yielded by a @user_step_decorator: skip the step, going on as its self.next() would
_BY_NAME: dict[str, type] = {}  # user decorator classes by name (short and qualified), for add_decorator('name')


class UserStepDecoratorBase:
    """What UserStepDecorator and StepMutator share: how they are written and given their arguments."""

    _field: str = ""                # the step function's list this kind goes in
    _takes_positional = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.decorator_name = getattr(cls, "_decorator_name", f"{cls.__module__}.{cls.__qualname__}")
        _BY_NAME[cls.decorator_name] = _BY_NAME[cls.short_name()] = cls

    @classmethod
    def short_name(cls) -> str:
        return cls.decorator_name.rsplit(".", 1)[-1]

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._where = caller_location()
        bare = len(args) == 1 and not kwargs and inspect.isfunction(args[0])
        self._args, self._kwargs = (() if bare else args), dict(kwargs)
        self._initialized, self.statically_defined, self.inserted_by = False, True, None
        if self._args and not self._takes_positional:
            raise FlowDefinitionError(f"{self} takes keyword arguments only (they go to its init()), not "
                                      f"{self._args!r}.", *self._where)
        return self._attach(args[0]) if bare else self

    def __init__(self, *args, **kwargs):
        """The arguments go to init(), once the flow is configured (they may be config values)."""

    def __call__(self, step):
        return self._attach(step)

    def _attach(self, step):
        require_step(step, f"@{self.short_name()}")
        for field in self._fields():
            setattr(step, field, [*getattr(step, field, []), self])
        return step

    def _fields(self) -> list[str]:
        return list(dict.fromkeys(klass._field for klass in type(self).__mro__ if getattr(klass, "_field", "")))

    def init(self, *args, **kwargs):
        """Take the decorator's arguments (written `@MyDecorator(a=1)`); replaces __init__, as in Metaflow."""

    def external_init(self, values: dict[str, Any]) -> None:
        """Resolve the arguments' config values and call init() with them, once (when the flow is configured)."""
        init_with_config_values(self, values, (UserStepDecoratorBase, UserStepDecorator, StepMutator),
                                "init(self, **kwargs)")
        self._initial_skip = getattr(self, "_skip_step", False)

    def get_args_kwargs(self) -> tuple[list, dict]:
        return list(self._args), dict(self._kwargs)

    def spec(self) -> tuple:
        """Metaflow's decorator specification: (name, qualified name, args, kwargs)."""
        return (self.short_name(), self.decorator_name, *self.get_args_kwargs())

    def __str__(self):
        return f"{type(self).__name__}({self.decorator_name})"


class UserStepDecorator(UserStepDecoratorBase):
    """Subclass it: `pre_step(step_name, flow, inputs)` runs before the step's code, `post_step(step_name, flow,
    exception)` after it (before its artifacts are stored, so it may set some); `init(**kwargs)` takes the
    decorator's arguments."""

    _field = "wrappers"

    def pre_step(self, step_name: str, flow, inputs=None):
        """Return None to run the step's code, or a function to run instead (`f(flow)`, `f(flow, inputs)` in a
        join), returning None, True (the step's own self.next()) or a dict of self.next() arguments."""
        return None

    def post_step(self, step_name: str, flow, exception: Exception | None = None):
        """Return None (success: an exception is swallowed), an exception to raise, or (exception, next), next
        being None, True or a dict of self.next() arguments."""
        if exception:
            return exception, None
        return None, None

    @property
    def skip_step(self):
        """False; True to skip the step (and go on as its self.next() would), or a dict of self.next() arguments."""
        return getattr(self, "_skip_step", False)

    @skip_step.setter
    def skip_step(self, value):
        self._skip_step = value


class StepMutator(UserStepDecoratorBase):
    """Subclass it: `pre_mutate(mutable_step)` and `mutate(mutable_step)` run when the flow is configured (its
    configs known), and may add or remove the step's decorators; `init(*args, **kwargs)` takes its arguments."""

    _field = "step_mutators"
    _takes_positional = True

    def pre_mutate(self, mutable_step) -> None:
        """Called first, when the configs are known: may add or remove StepMutators too."""

    def mutate(self, mutable_step) -> None:
        """Called after every pre_mutate."""


def user_step_decorator(*args, **kwargs):
    """Make a step decorator of a generator function `f(step_name, flow, inputs[, attributes])`: its code before
    `yield` runs before the step, after it after the step (`yield` raises the step's exception, which it may
    catch). It may yield a function to run instead of the step, or a dict to skip the step (USER_SKIP_STEP:
    skip it, going on as its self.next() would). `attributes` are the arguments it is written with."""
    if not args:
        return lambda function: user_step_decorator(function, **kwargs)
    function = args[0]
    where = caller_location()
    if not inspect.isgeneratorfunction(function):
        raise FlowDefinitionError("@user_step_decorator decorates generator functions (with one `yield`), not "
                                  f"{getattr(function, '__name__', function)!r}.", *where)
    count = len(inspect.signature(function).parameters)
    if count not in (3, 4) or (kwargs and count != 4):
        raise FlowDefinitionError(f"@user_step_decorator needs {function.__name__}(step_name, flow, inputs"
                                  f"{', attributes' if kwargs else '[, attributes]'}), not {count} argument(s).",
                                  *where)
    return type(function.__name__, (_GeneratorDecorator,), {
        "_function": staticmethod(function), "_takes_attributes": count == 4, "__module__": function.__module__,
        "__doc__": function.__doc__, "_decorator_name": f"{function.__module__}.{function.__qualname__}"})


class _GeneratorDecorator(UserStepDecorator):
    """A @user_step_decorator: its generator, one per run of the step."""

    _function = None
    _takes_attributes = False

    def init(self, **kwargs):
        self._attributes = kwargs

    def pre_step(self, step_name, flow, inputs=None):
        arguments = (step_name, flow, inputs, getattr(self, "_attributes", {}))
        generator = self._function(*arguments[:4 if self._takes_attributes else 3])
        running = self.__dict__.setdefault("_running", [])
        try:
            yielded = generator.send(None)
        except StopIteration:           # it never yields: the step does not run
            running.append(None)
            self.skip_step = True
            return None
        running.append(generator)
        if isinstance(yielded, dict):
            self.skip_step = yielded or True
            return None
        return yielded

    def post_step(self, step_name, flow, exception=None):
        generator = self._running.pop()
        if generator is None:
            return exception
        try:
            if exception is not None:
                generator.throw(exception)
            else:
                generator.send(None)
        except StopIteration as stop:
            return stop.value
        except Exception as error:
            return error
        return None, None, FlowDefinitionError(f"{self} yields more than once: a @user_step_decorator yields once.")


def user_decorator_class(name: str) -> type | None:
    """A UserStepDecorator or StepMutator class by its name or qualified name."""
    return _BY_NAME.get(name)


def user_decorator_info(step) -> list[dict]:
    """The step's user decorators as Metaflow's `current.graph` lists them, after its own decorators."""
    return [{"name": decorator.decorator_name, "attributes": plain({"_args": list(decorator._args),
                                                                   **decorator._kwargs}),
             "statically_defined": decorator.statically_defined, "inserted_by": decorator.inserted_by}
            for decorator in [*getattr(step, "wrappers", []), *getattr(step, "step_mutators", [])]]


def run_step_code(wrappers: list, step_name: str, flow, inputs, run_step, go_on) -> None:
    """Run the step's code (`run_step()`) inside its user decorators, outermost first, as Metaflow does; when a
    decorator skips the step, replaces it or swallows its exception, `go_on(arguments)` makes the step's
    transition (None: the one its source names; else a dict of self.next() arguments)."""
    ran, replacement, next_arguments = [], None, None
    for wrapper in reversed(wrappers):
        wrapper.skip_step = getattr(wrapper, "_initial_skip", False)
        replacement = wrapper.pre_step(step_name, flow, inputs)
        ran.append(wrapper)
        if wrapper.skip_step:
            next_arguments = wrapper.skip_step
            break
        if replacement:
            break
    error, raised = None, False
    try:
        if not next_arguments and replacement:
            next_arguments = (replacement(flow) if inputs is None else replacement(flow, inputs)) or None
        elif not next_arguments:
            run_step()
    except Exception as exception:
        error, raised = exception, True
    for wrapper in reversed(ran):
        try:
            outcome = wrapper.post_step(step_name, flow, error)
        except Exception as exception:
            outcome = exception
        if outcome is None:
            error = None
        elif isinstance(outcome, Exception):
            error = outcome
        elif isinstance(outcome, tuple) and len(outcome) == 2:
            error, next_arguments = outcome
        elif isinstance(outcome, tuple) and len(outcome) == 3:
            raise outcome[2]
        else:
            raise FlowDefinitionError(f"{wrapper}.post_step returned {outcome!r}: return None, an exception, or "
                                      "(exception, self.next() arguments).")
    if error is not None:
        raise error
    if next_arguments not in (None, False) or raised:
        if next_arguments not in (None, False, True) and not isinstance(next_arguments, dict):
            raise FlowDefinitionError(f"A decorator of step '{step_name}' asks to go on with {next_arguments!r}: "
                                      "give True or a dict of self.next() arguments.")
        go_on(next_arguments if isinstance(next_arguments, dict) and next_arguments else None)
