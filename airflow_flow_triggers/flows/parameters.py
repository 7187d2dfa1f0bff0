"""Flow parameters: class attributes that become `run --name value` options and Airflow DAG params."""
from __future__ import annotations

import base64
import codecs
import importlib
import inspect
import json
import urllib.request
from pathlib import Path
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
                 required: bool | None = None, show_default: bool | None = None, separator: str | None = None):
        self.location = caller_location()  # the line of the class body that defines it, for errors
        with located(self.location):
            if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
                raise FlowDefinitionError(f"Parameter name {name!r} is invalid: use letters, digits, '_' or '-'.")
            if type is None:
                type = builtin_type(default) if default is not None else str
            if type not in _TYPE_NAMES:
                raise FlowDefinitionError(f"Parameter '{name}' has type {type!r}: use str, int, float, bool or "
                                          "JSONType.")
            required = bool(required) if required is None else required
            if not isinstance(required, bool):
                raise FlowDefinitionError(f"Parameter '{name}' has required={required!r}: use True or False.")
            if separator is not None and (type is not str or not isinstance(default, (str, type(None)))):
                raise FlowDefinitionError(f"Parameter '{name}' has a separator, which only a string parameter "
                                          "takes (as in Metaflow): drop the separator, or make it type=str.")
            if separator is not None and (not isinstance(separator, str) or not separator):
                raise FlowDefinitionError(f"Parameter '{name}' has separator={separator!r}: use a non-empty "
                                          "string, e.g. ','.")
        self.name, self.default, self.type, self.help, self.required = name, default, type, help, required
        self.show_default = True if show_default is None else bool(show_default)
        self.separator = separator
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
        """Turn a command-line string or a JSON value from Airflow into this parameter's type (a list of
        strings with a separator, as Metaflow splits it)."""
        if self.separator is not None:
            if isinstance(value, (list, tuple)):
                return [str(item) for item in value]
            return str(value).split(self.separator) if value else value
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


class IncludeFile(Parameter):
    """A file's content as a parameter (Metaflow's IncludeFile): `--table data.csv` reads the file when the run
    starts, and every step sees its content (text, or bytes with is_text=False; `parser` turns it into anything).

    Locally the value is a path. On Airflow (conf, `airflow dags trigger -c`) it is the content itself, or an
    RFC 2397 `data:` URL for bytes (what `airflow trigger --table data.csv` sends). The default is a path, read
    relative to the working directory as Metaflow does, else to the flow file's folder, where `airflow create`
    packs it with the code.
    """

    def __init__(self, name: str, required: bool | None = None, is_text: bool | None = None,
                 encoding: str | None = None, help: str | None = None, parser=None, default: str | None = None,
                 show_default: bool | None = None):
        super().__init__(name, default=None, type=str, help=help, required=required, show_default=show_default)
        with located(self.location):
            if default is not None and not isinstance(default, str):
                raise FlowDefinitionError(f"IncludeFile '{name}' has default={default!r}: give the path of a file.")
            if parser is not None and not callable(parser) and not isinstance(parser, str):
                raise FlowDefinitionError(f"IncludeFile '{name}' has parser={parser!r}: give a function, or its "
                                          "dotted name ('package.module.function').")
            if not _known_encoding(encoding):
                raise FlowDefinitionError(f"IncludeFile '{name}' has encoding={encoding!r}, which Python does not "
                                          "know: use e.g. 'utf-8' or 'latin-1'.")
        self.file_default = default
        self.is_text = True if is_text is None else bool(is_text)
        self.encoding = encoding or "utf-8"
        self.parser = parser

    @property
    def type_name(self) -> str:
        return "file"

    def read(self, path: str, folders: tuple[Path, ...] = ()) -> bytes:
        """The bytes of the file at `path`, relative to the working directory, else to one of `folders`."""
        candidates = [Path(path)] + [folder / path for folder in folders if not Path(path).is_absolute()]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.read_bytes()
        raise CommandLineError(f"IncludeFile '{self.name}' names the file '{path}', which does not exist (looked "
                               f"in {', '.join(str(c.parent.resolve()) for c in candidates)}): give the path of a "
                               "file.")

    def convert(self, value: Any) -> Any:
        """The content (bytes as read, text from conf, or a `data:` URL), as text or bytes, then parsed."""
        if isinstance(value, str) and value.startswith("data:"):
            value = _data_url(self.name, value)
        if self.is_text and isinstance(value, bytes):
            try:
                value = value.decode(self.encoding)
            except UnicodeDecodeError:
                raise CommandLineError(f"IncludeFile '{self.name}' is not {self.encoding} text: give "
                                       "is_text=False for a binary file, or its encoding=.") from None
        elif not self.is_text and isinstance(value, str):
            value = value.encode(self.encoding)
        return self._parsed(value)

    def _parsed(self, content):
        parser = self.parser
        if parser is None:
            return content
        if isinstance(parser, str):
            module, _, function = parser.rpartition(".")
            try:
                parser = getattr(importlib.import_module(module), function)
            except (ImportError, AttributeError, ValueError):
                raise CommandLineError(f"IncludeFile '{self.name}' has parser '{self.parser}', which cannot be "
                                       "imported: give a function, or its full dotted name.") from None
        return parser(content)


def included_files(flow_cls: type) -> list[str]:
    """The default files of the flow's IncludeFile parameters (relative paths, as written)."""
    return [p.file_default for p in flow_parameters(flow_cls).values()
            if isinstance(p, IncludeFile) and p.file_default]


def _data_url(name: str, url: str) -> bytes:
    try:
        with urllib.request.urlopen(url) as response:      # the standard library reads RFC 2397 data: URLs
            return response.read()
    except (ValueError, OSError) as error:
        raise CommandLineError(f"IncludeFile '{name}' got a data: URL that cannot be read ({error}): give the "
                               "file's content, or data:;base64,<base64 of the file>.") from None


def _known_encoding(encoding) -> bool:
    try:
        codecs.lookup(encoding or "utf-8")
    except (LookupError, TypeError):
        return False
    return True


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
        elif isinstance(param, IncludeFile) and param.file_default and not param.required:
            values[param.attr_name] = param.convert(param.read(param.file_default, (_flow_folder(flow_cls),)))
        elif param.required and param.default is None:
            raise CommandLineError(f"Parameter '{name}' is required: pass --{name} VALUE.")
        else:
            values[param.attr_name] = param.convert(param.default) if param.default is not None else None
    return values


def read_included_files(flow_cls: type, given: dict[str, Any], for_conf: bool = False) -> dict[str, Any]:
    """Command-line values with each IncludeFile's path replaced by the file's bytes, or, for a DAG run's
    conf (JSON), by its text, or a `data:` URL of its bytes when it is not text."""
    params = flow_parameters(flow_cls)
    values = dict(given)
    for name, value in given.items():
        param = params.get(name)
        if isinstance(param, IncludeFile) and value is not None:
            content = param.read(value)
            values[name] = _conf_value(param, content) if for_conf else content
    return values


def _conf_value(param: IncludeFile, content: bytes) -> str:
    if param.is_text:
        try:
            return content.decode(param.encoding)
        except UnicodeDecodeError:
            pass
    return "data:application/octet-stream;base64," + base64.b64encode(content).decode()


def _flow_folder(flow_cls: type) -> Path:
    try:
        return Path(inspect.getfile(flow_cls)).resolve().parent
    except (TypeError, OSError):
        return Path.cwd()
