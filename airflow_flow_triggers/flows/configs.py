"""Metaflow's configs (2.13+): `Config`, `config_expr`, and their values.

A config is a read-only value fixed before a run starts (or at `airflow create`), from a file or JSON on the
command line, the environment (METAFLOW_FLOW_CONFIG, METAFLOW_FLOW_CONFIG_VALUE) or its default. Written in
a class body, before any value is known, `config.a.b`, `config['a']` and `config_expr('expr')` are
DeferredValues: a decorator or Parameter given one waits (`deferrable`) until the flow is configured
(configure.py), then gets the value. Every step sees the config as a ConfigValue.
"""
from __future__ import annotations

import collections.abc
import functools
import importlib
import inspect
import json
import os
import re
import sys
from typing import Any, NamedTuple

from ..errors import CommandLineError, FlowDefinitionError, FlowTriggersError, caller_location
from .flowspec import RESERVED_NAMES, FlowSpec

UNPACK_KEY = "_unpacked_config_"          # `**config` in a call: one key standing for the whole config
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FILES_ENV, VALUES_ENV = "METAFLOW_FLOW_CONFIG", "METAFLOW_FLOW_CONFIG_VALUE"


class ParameterContext(NamedTuple):
    """What a function giving a default (of a Parameter, or a config's default_value) is called with, as
    Metaflow's: the flow's name, the user's, the parameter's, a logger, the artifact store's kind ('local',
    's3', ...) and the configs (None for a config's own default)."""

    flow_name: str
    user_name: str | None
    parameter_name: str | None
    logger: Any
    ds_type: str
    configs: Any


class ConfigValue(dict):
    """A config's value: a read-only mapping, read as attributes or items at any depth (`config.a.b`,
    `config['a']['b']`). Changing it raises TypeError, as Metaflow's does."""

    def __init__(self, data: collections.abc.Mapping):
        super().__init__({key: _frozen(value) for key, value in data.items()})

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def _immutable(self, *args, **kwargs):
        raise TypeError("ConfigValue is immutable")

    __setattr__ = __delattr__ = __setitem__ = __delitem__ = __ior__ = _immutable
    clear = pop = popitem = setdefault = update = _immutable

    def to_dict(self) -> dict:
        """The value as plain dicts (how configs are stored as artifacts, as Metaflow stores them)."""
        return plain(self)

    def copy(self) -> ConfigValue:
        return ConfigValue(self)

    def __reduce__(self):
        return ConfigValue, (self.to_dict(),)

    def __dir__(self):
        return [*dir(type(self)), *(key for key in self if isinstance(key, str) and _IDENTIFIER.fullmatch(key))]


def _frozen(value):
    if isinstance(value, ConfigValue):
        return value
    if isinstance(value, collections.abc.Mapping):
        return ConfigValue(value)
    if isinstance(value, (list, tuple, set)):
        return type(value)(_frozen(item) for item in value)
    return value


def plain(value):
    """`value` with every mapping in it a plain dict."""
    if isinstance(value, collections.abc.Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return type(value)(plain(item) for item in value)
    return value


class DeferredValue(collections.abc.Mapping):
    """A value computed from the configs once they are known: `config_expr('expr')`, or a config read in a
    class body (`config.a.b`, `config['a']`), and any attribute or item read from it. A Mapping of one key
    so that `**config` in a decorator's call passes it along (the decorator unpacks it when resolved)."""

    def __init__(self, expression: str, scope: dict | None = None, path: tuple = (), where=None):
        self._expression, self._scope, self._path = expression, scope, path
        self._where = where or caller_location()     # the line it is written on, for errors

    def _read(self, key) -> DeferredValue:
        if not _IDENTIFIER.fullmatch(self._expression):
            raise FlowDefinitionError(f"config_expr({self._expression!r}) is an expression, not one config: write "
                                      f"the whole access inside it, e.g. config_expr('{self._expression}.x').",
                                      *self._where)
        return DeferredValue(self._expression, self._scope, (*self._path, key), self._where)

    def __getattr__(self, name: str) -> DeferredValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._read(name)

    def __getitem__(self, key):
        if key == self._unpack_key:
            return self
        return self._read(key)

    @property
    def _unpack_key(self) -> str:
        return f"{UNPACK_KEY}{id(self)}"

    def __iter__(self):
        yield self._unpack_key

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return f"<value of config expression {self.text!r}, known once the flow is configured>"

    @property
    def text(self) -> str:
        return self._expression + "".join(f".{key}" if isinstance(key, str) else f"[{key!r}]" for key in self._path)

    def resolve(self, values: dict[str, Any]):
        """The value, given every config's value as steps see it ({name: ConfigValue, plain value or None})."""
        try:
            value = eval(self._expression, self._scope if self._scope is not None else {}, dict(values))
            for key in self._path:
                key = key.resolve(values) if isinstance(key, DeferredValue) else key
                value = value[key] if isinstance(value, collections.abc.Mapping) else getattr(value, key)
        except (KeyError, AttributeError) as error:
            raise FlowDefinitionError(f"Config expression '{self.text}' could not be evaluated: the config has no "
                                      f"key {error.args[0]!r} (its configs: {_listing(values)}).", *self._where) \
                from None
        except Exception as error:
            raise FlowDefinitionError(f"Config expression '{self.text}' could not be evaluated: "
                                      f"{type(error).__name__}: {error} (its configs: {_listing(values)}).",
                                      *self._where) from None
        return value


def _listing(values: dict) -> str:
    return ", ".join(f"{name}={'None' if value is None else 'set'}" for name, value in values.items()) or "none"


def config_expr(expression: str) -> DeferredValue:
    """A value computed from the configs when they are known: `@project(name=config_expr('config').project)`,
    `config_expr('str(config.value)')`. The expression may use the names of the file it is written in."""
    if not isinstance(expression, str) or not expression.strip():
        raise FlowDefinitionError(f"config_expr({expression!r}) needs a Python expression as a string, e.g. "
                                  "config_expr('config.name').", *caller_location())
    return DeferredValue(expression.strip(), sys._getframe(1).f_globals)


def is_deferred(value) -> bool:
    """Whether `value` holds a DeferredValue (at any depth in dicts, lists, tuples and sets)."""
    if isinstance(value, (DeferredValue, Config)):
        return True
    if isinstance(value, dict):
        return any(is_deferred(key) or is_deferred(item) for key, item in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(is_deferred(item) for item in value)
    return False


def resolve_deferred(value, values: dict[str, Any], to_dict: bool = True):
    """`value` with each DeferredValue in it replaced by its value (mappings as plain dicts with `to_dict`)."""
    if isinstance(value, Config):
        value = DeferredValue(value.name, where=value.location)
    if isinstance(value, DeferredValue):
        resolved = value.resolve(values)
        return plain(resolved) if to_dict else resolved
    if isinstance(value, dict):
        return {resolve_deferred(key, values, to_dict): resolve_deferred(item, values, to_dict)
                for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return type(value)(resolve_deferred(item, values, to_dict) for item in value)
    return value


def init_with_config_values(user_object, values: dict[str, Any], bases: tuple, takes: str) -> None:
    """Metaflow's init() of a user's decorator or mutator: resolve its arguments' config values and call
    `user_object.init()` with them, once (when the flow is configured). Arguments given to a class whose init()
    is only one of `bases`' are refused, saying to define `takes`."""
    if user_object._initialized:
        return
    user_object._initialized = True
    try:
        args, kwargs = resolve_arguments(user_object._args, user_object._kwargs, values, to_dict=False)
        user_object._args, user_object._kwargs = args, kwargs
        own_init = any("init" in vars(klass) for klass in type(user_object).__mro__ if klass not in (*bases, object))
        if (args or kwargs) and not own_init:
            raise FlowDefinitionError(f"{user_object} is used with arguments but does not implement init(): define "
                                      f"{takes} to take them.")
        user_object.init(*args, **kwargs)
    except FlowTriggersError as error:
        raise type(error)(error.message, *user_object._where) from None


def resolve_arguments(args: tuple, kwargs: dict, values: dict[str, Any], to_dict: bool = True) -> tuple[tuple, dict]:
    """A call's arguments with their DeferredValues resolved; `**config` (a key UNPACK_KEY...) unpacked."""
    resolved = {}
    for key, item in kwargs.items():
        if isinstance(key, str) and key.startswith(UNPACK_KEY):
            mapping = resolve_deferred(item, values, to_dict)
            if not isinstance(mapping, collections.abc.Mapping):
                raise FlowDefinitionError(f"**{item.text} unpacks a {type(mapping).__name__}, not a mapping of "
                                          "argument names to values.", *item._where)
            resolved.update(mapping)
        else:
            resolved[key] = resolve_deferred(item, values, to_dict)
    return tuple(resolve_deferred(arg, values, to_dict) for arg in args), resolved


class Config(collections.abc.Mapping):
    """A config of the flow (Metaflow's `Config`): `config = Config('config', default='config.json')`.

    `default` is a file path (or a function of a ParameterContext giving one), `default_value` the value
    itself (a dict, JSON text, or a function giving either); not both. `parser` (a function or its dotted
    name) turns the file's text or the value into a dict; without it the text is JSON. `required`: the run
    needs a value. `plain=True` keeps the value as parsed instead of a ConfigValue.
    """

    def __init__(self, name: str, default=None, default_value=None, help: str | None = None,
                 required: bool | None = None, parser=None, plain: bool = False, show_default: bool = True):
        where = caller_location()
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name.replace("-", "_")):
            raise FlowDefinitionError(f"Config name {name!r} is invalid: use letters, digits, '_' or '-'.", *where)
        if default is not None and default_value is not None:
            raise FlowDefinitionError(f"Config '{name}' has both default= (a file) and default_value= (the value): "
                                      "give one of them.", *where)
        if default is not None and not isinstance(default, str) and not callable(default):
            raise FlowDefinitionError(f"Config '{name}' has default={default!r}: give the path of a file (or a "
                                      "function returning one); for the value itself use default_value=.", *where)
        if default_value is not None and not isinstance(default_value, (str, dict)) and not callable(default_value):
            raise FlowDefinitionError(f"Config '{name}' has default_value={default_value!r}: give a dict, JSON text "
                                      "or a function returning either.", *where)
        if parser is not None and not callable(parser) and not isinstance(parser, str):
            raise FlowDefinitionError(f"Config '{name}' has parser={parser!r}: give a function, or its dotted name "
                                      "('package.module.function').", *where)
        self.name, self.default, self.default_value, self.help = name, default, default_value, help
        self.required, self.parser, self.plain, self.show_default = bool(required), parser, plain, show_default
        self.location = where
        self.attr_name = name

    is_step = False     # what the package asks of a class attribute is no key of the config

    def __set_name__(self, owner, attr_name):
        self.attr_name = attr_name

    def __get__(self, instance, owner=None):
        if configured(owner):
            return config_value(owner, self.attr_name)
        if instance is None:
            return self
        raise FlowDefinitionError(f"Config '{self.name}' has no value yet: flow {owner.__name__} is configured when "
                                  "it runs (or is deployed), from --config / --config-value or the defaults.",
                                  *self.location)

    def __set__(self, instance, value):
        raise AttributeError(f"Flow level attributes and Parameters are not modifiable: '{self.attr_name}' is the "
                             f"config '{self.name}', read-only in steps as in Metaflow; store the value under another "
                             "attribute name.")

    # In a class body, before values are known: `config.a`, `config['a']`, `**config`.
    def __getattr__(self, name: str) -> DeferredValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return DeferredValue(self.name, where=caller_location())._read(name)

    def __getitem__(self, key):
        deferred = DeferredValue(self.name, where=caller_location())
        if isinstance(key, str) and key.startswith(UNPACK_KEY):
            return deferred
        return deferred._read(key)

    def __iter__(self):
        yield f"{UNPACK_KEY}{id(self)}"

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return f"Config({self.name!r})"

    __hash__ = object.__hash__
    __eq__ = object.__eq__

    def value_from(self, text: str | None) -> Any:
        """The config's value from its text (a file's content or JSON); None stays None."""
        if text is None:
            return None
        parser = self.parser
        if parser is None:
            if self.plain:
                return text
            try:
                value = json.loads(text)
            except ValueError as error:
                raise _BadValue(f"configuration value for '{self.name}' is not valid JSON: {error}") from None
        else:
            parse = _parser(self, parser)
            try:
                value = parse(text)
            except Exception as error:
                raise _BadValue(f"the parser {getattr(parse, '__name__', parse)} of '{self.name}' raised "
                                f"{type(error).__name__}: {error}") from None
        if not self.plain and not isinstance(value, collections.abc.Mapping):
            raise _BadValue(f"configuration value for '{self.name}' is a {type(value).__name__}, not a mapping "
                            "(a JSON object)")
        return value


class _BadValue(Exception):
    """One config's value cannot be had; its message is a clause of the error naming every bad config."""


def _parser(config: Config, parser):
    if callable(parser):
        return parser
    module, _, function = parser.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError, ValueError):
        found = None
    if not callable(found):
        raise _BadValue(f"the parser '{parser}' of '{config.name}' cannot be imported (give a function, or its full "
                        "dotted name)")
    return found


def flow_configs(flow_cls: type) -> dict[str, Config]:
    """The flow's configs by attribute name, base classes first."""
    found: dict[str, Config] = {}
    names: dict[str, str] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if not isinstance(value, Config):
                continue
            if attr in RESERVED_NAMES:
                raise FlowDefinitionError(f"Flow {flow_cls.__name__} has a config as attribute '{attr}', a name "
                                          "reserved in flows: use another attribute name.", *value.location)
            if names.get(value.name, attr) != attr:
                raise FlowDefinitionError(f"Flow {flow_cls.__name__} has two configs named '{value.name}' "
                                          f"(attributes '{names[value.name]}' and '{attr}'): give each its own "
                                          "name.", *value.location)
            names[value.name] = attr
            found[attr] = value
    return found


def configured(flow_cls: type) -> bool:
    """Whether the flow's configs are known and its decorators applied (configure.py's configure_flow)."""
    return "_configured" in vars(flow_cls)


def config_values(flow_cls: type) -> dict[str, Any]:
    """The values of a configured flow's configs, by config name."""
    return dict(vars(flow_cls).get("_config_values", {}))


def config_artifacts(flow_cls: type) -> dict[str, Any]:
    """The configs as the artifacts of a run's start task, by attribute name: plain dicts, as Metaflow stores
    them (steps read them as ConfigValues)."""
    values = vars(flow_cls).get("_config_values", {})
    return {attr: plain(values.get(config.name)) for attr, config in flow_configs(flow_cls).items()}


def config_value(flow_cls: type, attr_name: str):
    """What a step reads as `self.<config>`: a ConfigValue (or the plain value, or None)."""
    return vars(flow_cls)["_config_seen"][attr_name]


def as_seen(config: Config, value):
    """A config's value as steps and expressions see it: a ConfigValue, unless plain (or None)."""
    return value if value is None or config.plain else _frozen(value)


def seen_config_values(flow_cls: type) -> dict[str, Any]:
    """Every config's value as steps see it, by config name (None before the flow is configured)."""
    seen = vars(flow_cls).get("_config_seen", {})
    return {config.name: seen.get(attr) for attr, config in flow_configs(flow_cls).items()}


def set_config_values(flow_cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Fix the values of the flow's configs ({name: value}); returns them as seen, by config name: what config
    expressions are evaluated with."""
    configs = flow_configs(flow_cls)
    flow_cls._config_values = {config.name: values.get(config.name) for config in configs.values()}
    flow_cls._config_seen = {attr: as_seen(config, values.get(config.name)) for attr, config in configs.items()}
    return {config.name: flow_cls._config_seen[attr] for attr, config in configs.items()}


def read_config_values(flow_cls: type, files: list[tuple[str, str]], texts: list[tuple[str, str]],
                       context: ParameterContext, environ=os.environ) -> dict[str, Any]:
    """Every config's value, by name, as Metaflow settles them: `--config NAME FILE` (else METAFLOW_FLOW_CONFIG,
    a JSON object of names to files), `--config-value NAME JSON` (else METAFLOW_FLOW_CONFIG_VALUE), else the
    config's default file or default value. Every bad value is named in one error."""
    configs = {config.name: config for config in flow_configs(flow_cls).values()}
    files = dict(_given(files, FILES_ENV, environ, configs, "--config"))
    texts = dict(_given(texts, VALUES_ENV, environ, configs, "--config-value"))
    both = sorted(set(files) & set(texts))
    if both:
        raise CommandLineError(f"Config '{both[0]}' is given both a file (--config) and a value (--config-value): "
                               "give one of them.")
    values, problems = {}, []
    for name, config in configs.items():
        try:
            if name in files:
                text = _read(files[name], f"configuration file '{files[name]}' could not be read for '{name}'")
            elif name in texts:
                text = texts[name]
            else:
                text = _default_text(config, context._replace(parameter_name=name))
            values[name] = config.value_from(text)
            if values[name] is None and config.required:
                problems.append(f"missing configuration for '{name}'")
        except _BadValue as problem:
            problems.append(str(problem))
    if problems:
        raise CommandLineError(f"Bad values passed for configuration options: {', '.join(problems)}: give each with "
                               "--config NAME FILE or --config-value NAME JSON (before the command).")
    return values


def _given(pairs: list[tuple[str, str]], variable: str, environ, configs: dict, option: str):
    """The (name, file or text) pairs of an option; without any on the command line, those of its variable."""
    if not pairs and environ.get(variable):
        try:
            loaded = json.loads(environ[variable])
            if not isinstance(loaded, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            example = '{"config": "config.json"}' if option == "--config" else '{"config": {"a": 1}}'
            raise CommandLineError(f"{variable} is not a JSON object of config names to "
                                   f"{'files' if option == '--config' else 'values'} ({error}): e.g. "
                                   f"{variable}='{example}'.") from None
        pairs = [(name, value if isinstance(value, str) else json.dumps(value)) for name, value in loaded.items()]
    for name, value in pairs:
        if name not in configs:
            raise CommandLineError(f"{option} names the config '{name}', which the flow does not have; its configs "
                                   f"are: {', '.join(sorted(configs)) or 'none'}.")
        yield name, value


def _read(path: str, problem: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        raise _BadValue(problem) from None


def _default_text(config: Config, context: ParameterContext) -> str | None:
    """The text of a config's default: its default file's content, or its default value as JSON text."""
    if config.default is not None:
        path = _called(config, config.default, context)
        return _read(path, f"default configuration file '{path}' could not be read for '{config.name}'")
    value = _called(config, config.default_value, context) if callable(config.default_value) else \
        config.default_value
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _called(config: Config, function, context: ParameterContext):
    if not callable(function):
        return function
    try:
        return function(context)
    except Exception as error:
        raise _BadValue(f"the default function of '{config.name}' raised {type(error).__name__}: {error}") from None


# -- decorators that take config values ---------------------------------------------------------

DECORATORS: dict[str, Any] = {}     # the package's decorators, by name (mutators add them by name)


def deferrable(factory):
    """Let a decorator take config values: called with a DeferredValue among its arguments (`@retry(times=
    config.n)`, `@environment(**config)`), it waits until the flow is configured; the application is kept on
    the step function or flow class (`pending_decorators`) and made then, its errors naming this line."""
    @functools.wraps(factory)
    def called(*args, **kwargs):
        if not is_deferred(args) and not is_deferred(kwargs):
            return factory(*args, **kwargs)
        where = caller_location()

        def decorate(target):
            if (inspect.isclass(target) and issubclass(target, FlowSpec)) or \
                    (inspect.isfunction(target) and getattr(target, "is_step", False)):
                target._pending_decorators = [*pending_decorators(target), (factory, args, kwargs, where)]
                return target
            raise FlowDefinitionError(f"@{factory.__name__} is given a config value, which only a flow class and its "
                                      "steps can take (configs belong to flows): put it on the flow class, or above "
                                      "@step.", *where)

        return decorate

    DECORATORS[factory.__name__] = called
    return called


def pending_decorators(target) -> list:
    """The decorators given config values that wait on `target` (a step function or a flow class)."""
    return list(vars(target).get("_pending_decorators", ()))


def apply_pending(target, values: dict[str, Any], written_on=None) -> None:
    """Apply the decorators waiting on `target` (or written on `written_on`, a base class of the flow `target`),
    with the config values resolved; errors name their line."""
    pending = pending_decorators(written_on or target)
    if written_on is None and pending:
        delattr(target, "_pending_decorators")
    for factory, args, kwargs, where in pending:
        try:
            args, kwargs = resolve_arguments(args, kwargs, values)
            factory(*args, **kwargs)(target)
        except FlowTriggersError as error:
            raise type(error)(error.message, *where) from None
        except TypeError as error:
            raise FlowDefinitionError(f"@{factory.__name__} cannot take these arguments: {error}.", *where) from None
