"""Flow parameters: class attributes that become `run --name value` options and Airflow DAG params."""
from __future__ import annotations

import json
from typing import Any

from ..errors import CommandLineError, FlowDefinitionError, caller_location, located
from .flowspec import RESERVED_NAMES


class JSONType:
    """Parameter type for values given as JSON text (lists, dicts)."""


_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", JSONType: "JSON"}
_TRUE, _FALSE = {"true", "1", "yes", "y", "on"}, {"false", "0", "no", "n", "off"}


class Parameter:
    """A flow parameter: `alpha = Parameter('alpha', default=0.01, help='learning rate')`."""

    def __init__(self, name: str, default: Any = None, type: type | None = None, help: str | None = None,
                 required: bool = False):
        self.location = caller_location()  # the line of the class body that defines it, for errors
        with located(self.location):
            if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
                raise FlowDefinitionError(f"Parameter name {name!r} is invalid: use letters, digits, '_' or '-'.")
            if type is None:
                type = builtin_type(default) if default is not None else str
            if type not in _TYPE_NAMES:
                raise FlowDefinitionError(f"Parameter '{name}' has type {type!r}: use str, int, float, bool or "
                                          "JSONType.")
            if not isinstance(required, bool):
                raise FlowDefinitionError(f"Parameter '{name}' has required={required!r}: use True or False.")
        self.name, self.default, self.type, self.help, self.required = name, default, type, help, required
        self.attr_name = name

    def __set_name__(self, owner, attr_name):
        self.attr_name = attr_name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return instance._parameter_value(self)

    def __set__(self, instance, value):
        raise AttributeError(f"Parameter '{self.name}' is read-only: assign the value to another attribute.")

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.type]

    def convert(self, value: Any) -> Any:
        """Turn a command-line string or a JSON value from Airflow into this parameter's type."""
        try:
            if self.type is JSONType:
                return json.loads(value) if isinstance(value, str) else value
            if self.type is bool:
                if isinstance(value, bool):
                    return value
                text = str(value).strip().lower()
                if text in _TRUE | _FALSE:
                    return text in _TRUE
                raise ValueError(value)
            if self.type is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return self.type(value)
        except (ValueError, TypeError):
            raise CommandLineError(f"Parameter '{self.name}' expects a {self.type_name} value, got "
                                   f"{value!r}.") from None


def builtin_type(value: Any) -> type:
    for candidate in (bool, int, float, str):
        if isinstance(value, candidate):
            return candidate
    return JSONType


def flow_parameters(flow_cls: type) -> dict[str, Parameter]:
    """The flow's parameters by name, base classes first (a subclass may redefine one under its attribute)."""
    found: dict[str, Parameter] = {}
    for klass in reversed(flow_cls.__mro__):
        for attr, value in vars(klass).items():
            if not isinstance(value, Parameter):
                continue
            if attr in RESERVED_NAMES:
                raise FlowDefinitionError(f"Flow {flow_cls.__name__} has a parameter as attribute '{attr}', a name "
                                          "reserved in flows (self.name is the flow's name): use another attribute "
                                          "name.", *value.location)
            other = found.get(value.name)
            if other is not None and other.attr_name != attr:
                raise FlowDefinitionError(f"Flow {flow_cls.__name__} has two parameters named '{value.name}' "
                                          f"(attributes '{other.attr_name}' and '{attr}'): give each its own name.",
                                          *value.location)
            found[value.name] = value
    return found


def resolve_parameter_values(flow_cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with given values, converted; by attribute name."""
    params = flow_parameters(flow_cls)
    unknown = set(given) - set(params)
    if unknown:
        raise CommandLineError(f"Flow {flow_cls.__name__} has no parameter {sorted(unknown)[0]!r}; its "
                               f"parameters are: {', '.join(params) or 'none'}.")
    values = {}
    for name, param in params.items():
        if name in given and given[name] is not None:
            values[param.attr_name] = param.convert(given[name])
        elif param.required and param.default is None:
            raise CommandLineError(f"Parameter '{name}' is required: pass --{name} VALUE.")
        else:
            values[param.attr_name] = param.convert(param.default) if param.default is not None else None
    return values
