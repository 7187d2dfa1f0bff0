"""Flow parameters: class attributes that become `run --name value` options and Airflow DAG params.

A parameter's arguments may be config values (`default=config_expr('config').alpha`): it is settled when the
flow is configured. A default may be a function of a ParameterContext (Metaflow's deploy-time value): a local
run calls it once, when the run starts; `airflow create` calls it once, and the DAG's param default is what
it returned.
"""
from __future__ import annotations

import base64
import codecs
import importlib
import inspect
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import CommandLineError, FlowDefinitionError, caller_location, located
from ..naming import USER_ENV_VARS
from .configs import ConfigValue, ParameterContext, is_deferred, resolve_deferred, seen_config_values
from .flowspec import RESERVED_NAMES


class JSONType:
    """Parameter type for values given as JSON text (lists, dicts)."""


_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", JSONType: "JSON"}
_TRUE, _FALSE = {"true", "1", "yes", "y", "on"}, {"false", "0", "no", "n", "off"}


class Parameter:
    """A flow parameter: `alpha = Parameter('alpha', default=0.01, help='learning rate')`."""

    def __init__(self, name: str, default: Any = None, type: type | None = None, help: str | None = None,
                 required: bool | None = None, show_default: bool | None = None, separator: str | None = None):
        self._start(name, {"default": default, "type": type, "help": help, "required": required,
                           "show_default": show_default, "separator": separator})

    def _start(self, name: str, arguments: dict) -> None:
        """Check the name; settle the arguments now, or, when some are config values, once the flow is configured
        (until then, as if they were not given)."""
        self.location = caller_location()  # the line of the class body that defines it, for errors
        with located(self.location):
            if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
                raise FlowDefinitionError(f"Parameter name {name!r} is invalid: use letters, digits, '_' or '-'.")
        self.name, self.attr_name = name, name
        self._arguments = arguments
        self.pending = is_deferred(arguments)
        self._settle(**({key: None for key in arguments} if self.pending else arguments))

    def resolve(self, values: dict[str, Any]) -> None:
        """Settle arguments that are config values, given the configs' values as seen (configure_flow)."""
        if self.pending:
            with located(self.location):
                arguments = resolve_deferred(self._arguments, values)
            self.pending = False
            self._settle(**arguments)
            if self.default is not None and not self.computed_default:
                with located(self.location):        # a config's value that does not fit: this line, now
                    self.convert(self.default)

    def _settle(self, default: Any = None, type: type | None = None, help: str | None = None,
                required: bool | None = None, show_default: bool | None = None, separator: str | None = None):
        name = self.name
        with located(self.location):
            if type is None:   # as Metaflow: from the default, unless a function gives it (then str)
                type = builtin_type(default) if default is not None and not callable(default) else str
            if type not in _TYPE_NAMES:
                raise FlowDefinitionError(f"Parameter '{name}' has type {type!r}: use str, int, float, bool or "
                                          "JSONType.")
            required = bool(required) if required is None else required
            if not isinstance(required, bool):
                raise FlowDefinitionError(f"Parameter '{name}' has required={required!r}: use True or False.")
            if separator is not None and (type is not str or not (isinstance(default, (str, type(None)))
                                                                  or callable(default))):
                raise FlowDefinitionError(f"Parameter '{name}' has a separator, which only a string parameter "
                                          "takes (as in Metaflow): drop the separator, or make it type=str.")
            if separator is not None and (not isinstance(separator, str) or not separator):
                raise FlowDefinitionError(f"Parameter '{name}' has separator={separator!r}: use a non-empty "
                                          "string, e.g. ','.")
        self.default, self.type, self.help, self.required = default, type, help, required
        self.show_default = True if show_default is None else bool(show_default)
        self.separator = separator

    @property
    def computed_default(self) -> bool:
        """Whether the default is a function (Metaflow's deploy-time value), called when a run starts."""
        return callable(self.default)

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
        self._start(name, {"required": required, "is_text": is_text, "encoding": encoding, "help": help,
                           "parser": parser, "default": default, "show_default": show_default})

    def _settle(self, required: bool | None = None, is_text: bool | None = None, encoding: str | None = None,
                help: str | None = None, parser=None, default: str | None = None, show_default: bool | None = None):
        super()._settle(default=None, type=str, help=help, required=required, show_default=show_default)
        name = self.name
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


def resolve_parameter_values(flow_cls: type, given: dict[str, Any], computed: bool = True) -> dict[str, Any]:
    """Defaults overlaid with given values, converted; by attribute name. A default that is a function is
    called (once per run), unless not `computed` (then the parameter is None)."""
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
        elif param.computed_default:
            values[param.attr_name] = param.convert(computed_default(flow_cls, param)) if computed else None
        else:
            values[param.attr_name] = param.convert(param.default) if param.default is not None else None
    return values


def with_computed_defaults(flow_cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """`given` with the value of every default function of a parameter not given, called now: what a local run
    starts with (its functions called once, before the run, as Metaflow's command line does)."""
    called = {name: computed_default(flow_cls, param) for name, param in flow_parameters(flow_cls).items()
              if param.computed_default and given.get(name) is None}
    return {**given, **called}


def deploy_time_defaults(flow_cls: type) -> dict[str, Any]:
    """The values of the flow's default functions for a deployment ({parameter name: value}): those it was
    deployed with (`use_deploy_time_defaults`), else each function called once and remembered (at `airflow
    create`, or where a DAG file builds the flow's DAG itself)."""
    known = vars(flow_cls).get("_deploy_time_defaults")
    if known is None:
        known = {name: computed_default(flow_cls, param, deploy_time=True)
                 for name, param in flow_parameters(flow_cls).items() if param.computed_default}
        flow_cls._deploy_time_defaults = known
    return dict(known)


def use_deploy_time_defaults(flow_cls: type, values: dict[str, Any]) -> None:
    """The values the flow's default functions had when it was deployed (what its DAG's params default to)."""
    flow_cls._deploy_time_defaults = dict(values)


def computed_default(flow_cls: type, param: Parameter, deploy_time: bool = False):
    """What the parameter's default function returns, checked as Metaflow checks it: the parameter's type exactly
    (JSON parameters: JSON text; at deploy time any JSON value)."""
    context = parameter_context(flow_cls, param.name)
    function = param.default
    try:
        takes_two = len(inspect.signature(function).parameters) >= 2
    except (TypeError, ValueError):
        takes_two = False
    try:
        value = function(context, deploy_time) if takes_two else function(context)
    except Exception as error:
        raise FlowDefinitionError(f"The default function of parameter '{param.name}' raised {type(error).__name__}: "
                                  f"{error}: fix it, or give --{param.name} a value.", *param.location) from None
    expected = str if param.type is JSONType and not deploy_time else param.type
    if expected is JSONType:
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            expected = "JSON"
    elif type(value) is not expected:
        article = "an" if expected.__name__[0] in "aeiou" else "a"
        what = "JSON text (a str)" if param.type is JSONType else f"{article} {expected.__name__}"
        raise FlowDefinitionError(f"The default function of parameter '{param.name}' returned {value!r}, a "
                                  f"{type(value).__name__}; it must return {what}, the parameter's type (as in "
                                  "Metaflow).", *param.location)
    if expected == "JSON":
        raise FlowDefinitionError(f"The default function of parameter '{param.name}' returned {value!r}, which is "
                                  "not a JSON value; return JSON text or a JSON value.", *param.location)
    return value


def parameter_context(flow_cls: type, parameter_name: str | None = None, configs: bool = True) -> ParameterContext:
    """The ParameterContext a default function is called with (Metaflow's): the configs as a ConfigValue, or
    None for a config's own default."""
    return ParameterContext(
        flow_name=flow_cls.__name__, user_name=next((os.environ[v] for v in USER_ENV_VARS
                                                     if os.environ.get(v) and os.environ[v] != "root"), None),
        parameter_name=parameter_name, logger=_log, ds_type=_store_kind(),
        configs=ConfigValue(dict(sorted(seen_config_values(flow_cls).items(), reverse=True))) if configs else None)


def _log(line: str = "", **_options) -> None:
    print(line, flush=True)


# Reads the artifact store's URL: registered by the package at import (airflow_flow_triggers/__init__.py), since
# the settings may come from Airflow's config, which defining a flow never imports.
_artifact_root = None


def set_artifact_root_reader(reader) -> None:
    global _artifact_root
    _artifact_root = reader


def _store_kind() -> str:
    """Metaflow's name for the artifact store's kind: 'local' for a folder, else the URL's scheme ('s3')."""
    root = _artifact_root() if _artifact_root is not None else "file://"
    scheme = root.split("://", 1)[0] if "://" in root else "file"
    return {"file": "local", "abfs": "azure", "az": "azure", "gcs": "gs"}.get(scheme, scheme)


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
