"""Card components with Metaflow 2.19's API (`metaflow.cards`): each `render()` returns the same
JSON-serialisable dict as Metaflow's component given the same arguments, which `html.py` turns into HTML.

A component whose render raises, or returns something that is not JSON, renders as Metaflow's error log
("Render failed of component named `X`") in its place; `rendered` gives any component, a user's
own subclass included, that same safety.
"""
from __future__ import annotations

import base64
import functools
import inspect
import json
import logging
import re
import reprlib
import textwrap
import traceback
import uuid
import warnings
from typing import Any

TIME_FORMAT = "%Y-%m-%d %I:%M:%S %p"   # Metaflow's, for datetimes in artifacts
_TABLE_CELL_TYPES = (str, bool, int, float, dict, list, tuple, type(None))   # shown as they are, exact types
_CSS_CLASS = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]*$")
_log = logging.getLogger(__name__)


class MetaflowCardComponent:
    """The base of every card component: `render()` returns a dict; `update()` changes a live component."""

    REALTIME_UPDATABLE = False   # whether the card may show this component's updates while the task runs
    _component_id = None
    _logger = None               # Metaflow's hook: a card runtime may set a function to tell users of misuse

    @property
    def component_id(self) -> str | None:
        return self._component_id

    @component_id.setter
    def component_id(self, value: str):
        if not isinstance(value, str):
            raise TypeError("Component ID must be a string")
        self._component_id = value

    id = component_id

    def update(self, *args, **kwargs):
        raise NotImplementedError()

    def render(self):
        raise NotImplementedError()


class UserComponent(MetaflowCardComponent):
    """A component users add to a card; one without its own `update` warns once and changes nothing."""

    _warned_once = False

    def update(self, *args, **kwargs):
        self._warn(f"{type(self).__name__} doesn't have an `update` method implemented and is not compatible "
                   "with realtime updates.")

    def _warn(self, message: str):
        if self._warned_once:
            return
        self._warned_once = True
        if self._logger is not None:
            self._logger(f"[@card-component WARNING] {message}", timestamp=False, bad=True)
        else:
            _log.warning("[@card-component WARNING] %s", message)


def new_component_id(component) -> str:
    """Metaflow's default id: the class name in lower case and six random hex digits."""
    return f"{type(component).__name__.lower()}_{uuid.uuid4().hex[:6]}"


def error_log(headline: str, message: str) -> dict:
    """Metaflow's ErrorComponent: a "log" component with the headline, a blank line and the message."""
    return {"type": "log", "data": f"{headline}\n\n{message}", "id": f"logcomponent_{uuid.uuid4().hex[:6]}"}


def failed_render(component_name: str, message: str) -> dict:
    return error_log(f"Render failed of component named `{component_name}`", message)


def rendered(component, render=None) -> dict | str:
    """`component.render()` (or `render(component)`), or the error log in its place when it raises or returns
    no JSON: one broken component never breaks the card."""
    name = type(component).__name__
    try:
        result = component.render() if render is None else render(component)
    except Exception:
        return failed_render(name, traceback.format_exc())
    if type(result) not in (str, dict):
        return failed_render(name, "Component render didn't return a `string` or `dict`")
    try:
        json.dumps(result)
    except (TypeError, ValueError, OverflowError) as error:
        return failed_render(name, f"Rendered Component cannot be JSON serialized. \n\n {error}")
    return result


def _safe_render(render):
    """Metaflow's `with_default_component_id` and `render_safely` on a component's render method."""

    @functools.wraps(render)
    def safely(self):
        if self.component_id is None:
            self.component_id = new_component_id(self)
        return rendered(self, render)

    return safely


def full_classname(obj) -> str:
    """Metaflow's type name of an artifact: module and qualified name, builtins without a module."""
    cls = type(obj)
    name = cls.__qualname__ if cls.__module__ in (None, "builtins", "__builtin__") else \
        f"{cls.__module__}.{cls.__qualname__}"
    return "pandas.core.frame.DataFrame" if name == "pandas.DataFrame" else name   # pandas >= 3 moved it


# ---- artifacts: shown as Metaflow's TaskToDict shows them ----

class _ShortRepr(reprlib.Repr):
    """Metaflow's reprlib limits. Bytes are told without building the repr of all of them: a 50 MB value
    gives the same text as reprlib's, in milliseconds."""

    def __init__(self):
        super().__init__()
        self.maxarray = self.maxstring = self.maxother = self.maxtuple = self.maxlist = 100
        self.maxlevel = 3

    def repr_bytes(self, x, level):
        return self._long_bytes(x, "", "") if len(x) > 4 * self.maxother else self.repr_instance(x, level)

    def repr_bytearray(self, x, level):
        return self._long_bytes(x, "bytearray(", ")") if len(x) > 4 * self.maxother else \
            self.repr_instance(x, level)

    def _long_bytes(self, x, prefix: str, suffix: str) -> str:
        head = max(0, (self.maxother - 3) // 2)
        tail = max(0, self.maxother - 3 - head)
        quote = '"' if b"'" in x and b'"' not in x else "'"   # as repr(x) chooses, from all of x
        text_head = (prefix + _bytes_repr(bytes(x[:head]), quote))[:head]
        text_tail = (_bytes_repr(bytes(x[len(x) - tail:]), quote) + suffix)[-tail:] if tail else ""
        return text_head + "..." + text_tail


def _bytes_repr(chunk: bytes, quote: str) -> str:
    """repr(chunk), quoted with `quote` (the quote the whole value's repr uses)."""
    text = repr(chunk)
    if text[1] == quote:
        return text
    if quote == '"':            # the chunk holds neither quote: nothing else changes
        return 'b"' + text[2:-1] + '"'
    return "b'" + text[2:-1].replace("'", "\\'") + "'"   # the chunk holds ' but not ": escape it


_SHORT_REPR = _ShortRepr()


def short_repr(value) -> str:
    """The value as Metaflow's cards show an artifact: reprlib's truncated repr, pretty-printed when short."""
    import pprint
    text = _SHORT_REPR.repr(value)
    if "..." in text:
        return text
    return pprint.pformat(value, indent=2, width=50, compact=True)


def artifact_view(value, compressed: bool = True) -> dict:
    """Metaflow's TaskToDict view of one artifact: its type name and its value as text (compressed) or as
    JSON-like data (not compressed)."""
    type_name = full_classname(value)
    if compressed:
        return {"type": type_name, "data": short_repr(value), "large_object": False, "supported_type": False,
                "only_repr": True}
    parse = _NATIVE.get(type_name)
    data = _SHORT_REPR.repr(value) if parse is None else parse(value)
    return {"type": type_name, "data": data, "large_object": False, "supported_type": parse is not None,
            "only_repr": False}


def _native(value):
    parse = _NATIVE.get(full_classname(value))
    return _SHORT_REPR.repr(value) if parse is None else parse(value)


def _bytearray_text(value):
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return _SHORT_REPR.repr(value)


_NATIVE = {
    "tuple": lambda v: [_native(item) for item in v],
    "list": lambda v: [_native(item) for item in v],
    "set": lambda v: [_native(item) for item in v],
    "frozenset": lambda v: [_native(item) for item in v],
    "dict": lambda v: {key: _native(item) for key, item in v.items()},
    "NoneType": lambda v: v, "bool": lambda v: v, "int": lambda v: v, "float": lambda v: v,
    "str": lambda v: v,
    "bytearray": _bytearray_text,
    "bytes": lambda v: base64.encodebytes(v).decode("utf8"),
    "datetime.datetime": lambda v: v.strftime(TIME_FORMAT),
    "decimal.Decimal": float,
    "complex": str,
    "type": lambda v: v.__name__,
    "range": lambda v: _SHORT_REPR.repr(v),
    "Exception": lambda v: _SHORT_REPR.repr(v),
    "numpy.ndarray": lambda v: v.tolist(),
    "pandas.core.frame.DataFrame": lambda v: dataframe_table(v),
}


def image_kind(data: bytes) -> str | None:
    """The image format of `data` when a browser shows it (as the imghdr checks Metaflow uses), else None."""
    head = data[:32]
    if head[6:10] in (b"JFIF", b"Exif") or head[:4] == b"\xff\xd8\xff\xdb":
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    return None


def image_data_uri(data: bytes) -> str | None:
    """Metaflow's image source: a base64 data: URI (its exact spacing kept), or None if not a web image."""
    kind = image_kind(data)
    if kind is None:
        return None
    return f"data:image/{kind};base64, {base64.encodebytes(data).decode('utf8')}"


def dataframe_table(frame, truncate: bool = True) -> dict:
    """Metaflow's table of a DataFrame: the first five rows (unless `truncate` is False), the index as the
    first column, long text cut at 30 characters. The caller's frame is never changed."""
    import pandas as pd
    shown = (frame.head() if truncate else frame).copy()
    index = shown.index
    with warnings.catch_warnings():   # pandas warns of "null" in a float column: Metaflow's own choice
        warnings.simplefilter("ignore")
        if isinstance(index, pd.MultiIndex):
            index = pd.MultiIndex.from_arrays([_column_cells(index.get_level_values(name).to_series())
                                               for name in index.names], names=index.names)
        else:
            index = pd.Index(_column_cells(index.to_series()))
        for column in shown.columns:
            shown[column] = _column_cells(shown[column])
    rows = shown.values.tolist()
    for row, label in zip(rows, index.values.tolist(), strict=True):
        row.insert(0, label)
    return {"full_size": (len(frame), len(frame.columns)), "headers": [""] + list(frame.columns), "data": rows,
            "truncated": truncate}


def _truncated(column):
    text = column.astype("string")
    if len(column) > 0 and text.str.len().max() > 30:
        return text.str.slice(0, 30) + "..."
    return text


_PARTIAL_DTYPES = (
    ("complex", lambda column: column.astype("string")),
    ("datetime64", lambda column: column.dt.strftime("%Y-%m-%dT%H:%M:%S%Z")),
    ("timedelta", lambda column: column.dt.total_seconds()),
    ("interval", lambda column: column.astype("string")),
    ("period", lambda column: column.astype("string")),
)


def _column_cells(column):
    dtype = str(column.dtype)
    try:
        if dtype in ("int64", "float64", "bool"):
            return column.fillna("null")
        if dtype in ("object", "category"):
            return _truncated(column.fillna("null"))
        for marker, parse in _PARTIAL_DTYPES:
            if marker in dtype:
                return parse(column).fillna("null")
        return _truncated(column.fillna("null"))
    except (TypeError, ValueError):
        return f"Unsupported type: {dtype}"


# ---- the components ----

class Artifact(UserComponent):
    """Any Python object, pretty-printed; large objects truncated with reprlib (`compressed`)."""

    REALTIME_UPDATABLE = True

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True):
        self._artifact = artifact
        self._name = name
        self._compressed = compressed

    def update(self, artifact):
        self._artifact = artifact

    @_safe_render
    def render(self):
        view = artifact_view(self._artifact, self._compressed)
        view["name"] = None if self._name is None else str(self._name)
        return {"type": "artifacts", "data": [view], "id": self.component_id}


class Table(UserComponent):
    """A table: rows of cells, each a plain value or another component; `headers` names the columns."""

    REALTIME_UPDATABLE = True

    def __init__(self, data: list | None = None, headers: list | None = None, disable_updates: bool = False):
        data = data or [[]]
        headers = headers or []
        self._headers = headers if type(headers) is list else []
        self._data = data if type(data) is list and data and type(data[0]) is list else [[]]
        if disable_updates:
            self.REALTIME_UPDATABLE = False

    def update(self, *args, **kwargs):
        self._warn("`Table` doesn't have an `update` method implemented. Components within a table can be "
                   "updated individually but the table itself cannot be updated.")

    @classmethod
    def from_dataframe(cls, dataframe=None, truncate: bool = True) -> Table:
        """A table of a pandas DataFrame's first rows (all of them if `truncate` is False)."""
        type_name = full_classname(dataframe)
        if type_name != "pandas.core.frame.DataFrame":
            return cls(headers=[f"Object type {type_name} not supported"], disable_updates=True)
        table = dataframe_table(dataframe, truncate=truncate)
        return cls(data=table["data"], headers=table["headers"], disable_updates=True)

    def _cells(self, row: list) -> list:
        cells = []
        for cell in row:
            if isinstance(cell, MetaflowCardComponent):
                if isinstance(cell, VegaChart):
                    cell._chart_inside_table = True
                cells.append(rendered(cell))
            else:
                cells.append(cell if type(cell) in _TABLE_CELL_TYPES else "<object>")
        return cells

    @_safe_render
    def render(self):
        return {"type": "table", "columns": self._headers, "data": [self._cells(row) for row in self._data],
                "vertical": False, "id": self.component_id}


class Image(UserComponent):
    """An image, embedded in the card: PNG, JPEG, GIF or WebP bytes, a PIL image or a Matplotlib figure."""

    REALTIME_UPDATABLE = True

    def __init__(self, src=None, label: str | None = None, disable_updates: bool = True):
        if disable_updates:
            self.REALTIME_UPDATABLE = False
        self._set_source(src, label)

    @staticmethod
    def render_fail_headline(message: str) -> str:
        return f"[IMAGE_RENDER FAIL]: {message}"

    def _set_source(self, src, label):
        self._label, self._src, self._error = label, None, None
        if src is None:
            self._fail("`Image` Component `src` cannot be `None`")
        elif isinstance(src, str):
            if "data:image/" in src:
                self._src = src
            else:
                self._fail("The `Image` `src` argument should be of type `bytes` or valid image base64 string",
                           f"String {src} is invalid base64 string")
        elif full_classname(src) != "bytes":
            self._fail("The `Image` `src` argument should be of type `bytes` or valid image base64 string",
                       f"Type of {type(src)} is invalid")
        else:
            self._src = image_data_uri(src)
            if self._src is None:
                self._fail("Bytes not parsable as image")

    def _fail(self, headline: str, message: str = ""):
        self._error = error_log(self.render_fail_headline(headline), message)

    @classmethod
    def from_pil_image(cls, pilimage, label: str | None = None, disable_updates: bool = False) -> Image:
        """An image of a PIL image (saved as PNG)."""
        image = cls(src=None, label=label, disable_updates=disable_updates)
        image._set_from(pilimage, label, _pil_png, "PIL Image Not Parsable")
        return image

    @classmethod
    def from_matplotlib(cls, plot, label: str | None = None, disable_updates: bool = False) -> Image:
        """An image of a Matplotlib figure, or of the figure of an Axes (saved as PNG)."""
        image = cls(src=None, label=label, disable_updates=disable_updates)
        image._set_from(plot, label, _matplotlib_png, "Matplotlib plot's image is not parsable")
        return image

    def _set_from(self, obj, label, to_png, failure: str = "Image Not Parsable"):
        try:
            png = to_png(obj)
        except _ImageTypeError as error:
            self._label, self._src, self._error = label, None, error_log(self.render_fail_headline(error.args[0]),
                                                                          error.args[1])
            return
        except Exception:
            self._label, self._src = label, None
            self._fail(failure, traceback.format_exc())
            return
        self._set_source(png, label)

    def update(self, image, label: str | None = None):
        """Show another image (bytes, a data: URI, a PIL image or a Matplotlib figure)."""
        if not self.REALTIME_UPDATABLE:
            self._warn("The `Image` component is disabled for realtime updates. Please set `disable_updates` to "
                       "`False` while creating the `Image` object.")
            return
        label = label if label is not None else self._label
        type_name = full_classname(image)
        if type_name in ("bytes", "str"):
            self._set_source(image, label)
        elif type_name.startswith("PIL"):
            self._set_from(image, label, _pil_png)
        elif type_name == "matplotlib.figure.Figure":
            self._set_from(image, label, _matplotlib_png)
        else:
            self._set_source(None, label)
            self._fail(f"Invalid Type. Object {type(image)} is not supported. Supported types: str, bytes, "
                       "PIL.Image.Image, matplotlib.figure.Figure")

    @_safe_render
    def render(self):
        if self._error is not None:
            return self._error
        if self._src is None:
            return error_log(self.render_fail_headline("`Image` Component `src` argument is `None`"), "")
        return {"type": "image", "src": self._src, "label": self._label, "id": self.component_id}


class _ImageTypeError(Exception):
    """(headline, message): the object given is not an image of the kind expected."""


def _pil_png(pilimage) -> bytes:
    import io
    type_name = full_classname(pilimage)
    pil_error = _ImageTypeError("first argument for `Image` should be of type PIL.Image.Image",
                                f"Type of {type_name} is invalid. Type of PIL.Image.Image required")
    if not type_name.startswith("PIL"):
        raise pil_error
    from PIL import Image as PILImage
    if not isinstance(pilimage, PILImage.Image):
        raise pil_error
    buffer = io.BytesIO()
    try:
        pilimage.save(buffer, format="PNG")
    except OSError as error:
        raise _ImageTypeError("PIL Image Not Parsable", repr(error)) from None
    return buffer.getvalue()


def _matplotlib_png(plot) -> bytes:
    import io
    import sys
    figure = plot if full_classname(plot) == "matplotlib.figure.Figure" else None
    if figure is None:
        if getattr(plot, "get_figure", None) is None:
            raise _ImageTypeError(f"Invalid Type. Object {type(plot)} is not from `matplotlib`", "")
        figure = plot.get_figure()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="PNG")
    if "matplotlib.pyplot" in sys.modules:   # a pyplot figure stays open (and in memory) until closed
        sys.modules["matplotlib.pyplot"].close(figure)
    return buffer.getvalue()


class Error(UserComponent):
    """An exception shown on the card, under a title: `repr(exception)`, as Metaflow shows it."""

    def __init__(self, exception, title: str | None = None):
        self._exception = exception
        self._title = title

    def render(self):
        return rendered(self, lambda own: error_log(f"{own._title}", repr(own._exception)))


class Markdown(UserComponent):
    """Text in Markdown; the indentation common to all lines is removed."""

    REALTIME_UPDATABLE = True

    def __init__(self, text: str | None = None):
        self._text = None if text is None else textwrap.dedent(text)

    def update(self, text: str | None = None):
        self._text = None if text is None else textwrap.dedent(text)

    @_safe_render
    def render(self):
        # Metaflow's: text not starting with a heading gets a leading newline (its browser renderer needs it).
        source = self._text
        if source is not None and not source.startswith("#"):
            source = "\n" + source
        return {"type": "markdown", "source": source, "id": self.component_id}


class ProgressBar(UserComponent):
    """A progress bar from 0 to `max`, with an optional label, unit and a line of details (`metadata`)."""

    type = "progressBar"
    REALTIME_UPDATABLE = True

    def __init__(self, max: int = 100, label: str | None = None, value: int = 0, unit: str | None = None,
                 metadata: str | None = None):
        self._max, self._label, self._value, self._unit, self._metadata = max, label, value, unit, metadata

    def update(self, new_value: int, metadata: str | None = None):
        self._value = new_value
        if metadata is not None:
            self._metadata = metadata

    @_safe_render
    def render(self):
        data = {"type": self.type, "id": self.component_id, "max": self._max, "value": self._value}
        for key, value in (("label", self._label), ("unit", self._unit), ("details", self._metadata)):
            if value:
                data[key] = value
        return data


class ValueBox(UserComponent):
    """A key number shown large, with an optional title, subtitle, theme and change indicator."""

    type = "valueBox"
    REALTIME_UPDATABLE = True
    VALID_THEMES = {"default", "success", "warning", "danger", "bg-gradient-indigo-purple"}

    def __init__(self, title: str | None = None, value: str | int | float = "", subtitle: str | None = None,
                 theme: str | None = None, change_indicator: str | None = None):
        if value is None:
            raise ValueError("Value is required and cannot be None")
        self._fields = {}
        self._set(title=title, value=value, subtitle=subtitle, theme=theme, change_indicator=change_indicator)

    def update(self, title: str | None = None, value: str | int | float | None = None,
               subtitle: str | None = None, theme: str | None = None, change_indicator: str | None = None):
        """Change the fields given (those left None keep their value)."""
        self._set(title=title, value=value, subtitle=subtitle, theme=theme, change_indicator=change_indicator)

    def _set(self, **fields):
        for key, value in fields.items():
            if value is not None:
                _check_value_box_field(key, value)
        self._fields.update({key: value for key, value in fields.items() if value is not None})

    @_safe_render
    def render(self):
        data = {"type": self.type, "id": self.component_id, "value": self._fields["value"]}
        data.update({key: value for key, value in self._fields.items() if key != "value"})
        return data


_TEXT_LIMITS = {"title": ("Title", 200), "subtitle": ("Subtitle", 300), "change_indicator": ("Change indicator", 200)}


def _check_value_box_field(key: str, value):
    if key == "value":
        if not isinstance(value, (str, int, float)):
            raise TypeError(f"Value must be str, int, or float, got {type(value).__name__}")
        if isinstance(value, str) and len(value) > 100:
            raise ValueError(f"String value must be 100 characters or less, got {len(value)} characters")
        if isinstance(value, str) and not value.strip():
            raise ValueError("String value cannot be empty or whitespace only")
        if not isinstance(value, str) and not -1e15 <= value <= 1e15:
            raise ValueError(f"Numeric value must be between -1e15 and 1e15, got {value}")
        return
    label, limit = _TEXT_LIMITS.get(key, ("Theme", None))
    if not isinstance(value, str):
        raise TypeError(f"{label} must be a string, got {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{label} must be {limit} characters or less, got {len(value)} characters")
    if not value.strip():
        raise ValueError(f"{label} cannot be empty or whitespace only")
    if key == "theme" and value not in ValueBox.VALID_THEMES and not _CSS_CLASS.match(value):
        raise ValueError(f"Theme must be a valid CSS class name, got '{value}'")


class VegaChart(UserComponent):
    """A Vega-Lite chart, from its spec (a dict) or an Altair chart."""

    type = "vegaChart"
    REALTIME_UPDATABLE = True

    def __init__(self, spec: dict, show_controls: bool = False):
        self._spec = spec
        self._show_controls = show_controls
        self._chart_inside_table = False

    def update(self, spec=None):
        """Show another spec (a dict or an Altair chart)."""
        if _is_altair_chart(spec):
            spec = spec.to_dict()
        if spec is not None:
            self._spec = spec

    @classmethod
    def from_altair_chart(cls, altair_chart) -> VegaChart:
        if not _is_altair_chart(altair_chart):
            raise ValueError(full_classname(altair_chart) + " is not an altair chart")
        return cls(spec=altair_chart.to_dict())

    @_safe_render
    def render(self):
        # Metaflow fills in width/autosize on the caller's dict; we leave it alone
        spec = dict(self._spec) if isinstance(self._spec, dict) else self._spec
        data = {"type": self.type, "id": self.component_id, "spec": spec}
        if not self._show_controls:
            data["options"] = {"actions": False}
        if "width" not in spec and not self._chart_inside_table:
            spec["width"] = "container"
        if self._chart_inside_table and "autosize" not in spec:
            spec["autosize"] = "fit-x"
        return data


def _is_altair_chart(obj) -> bool:
    name = full_classname(obj)
    return all(part in name for part in ("altair", "vegalite", "Chart"))


class PythonCode(UserComponent):
    """Python source code: a function's (`code_func`) or a string's (`code_string`)."""

    def __init__(self, code_func=None, code_string: str | None = None):
        self._code = inspect.getsource(code_func) if code_func is not None else code_string

    @_safe_render
    def render(self):
        if self._code is None:
            return error_log("`PythonCode` component requires a `code_func` or `code_string` argument. ",
                             "None provided for both")
        return {"type": "pythonCode", "data": self._code, "id": self.component_id}


class _TextViewer(UserComponent):
    """Data shown as formatted text (JSON or YAML), in a collapsible box of at most `max_height`."""

    REALTIME_UPDATABLE = True
    type = ""
    _text_key = ""
    _default_title = ""

    def __init__(self, data: Any, collapsible: bool = True, max_height: str | None = None,
                 show_copy_button: bool = True, title: str | None = None):
        self._data = data
        self._collapsible = collapsible
        self._max_height = max_height
        self._show_copy_button = show_copy_button
        self._title = title

    def update(self, data: Any):
        self._data = data

    def _text(self) -> str:
        raise NotImplementedError()

    @_safe_render
    def render(self):
        data = {"type": self.type, "id": self.component_id, self._text_key: self._text(),
                "collapsible": self._collapsible, "show_copy_button": self._show_copy_button,
                "title": self._title or self._default_title}
        if self._max_height:
            data["max_height"] = self._max_height
        return data


class JSONViewer(_TextViewer):
    """Data shown as indented JSON (a string holding JSON is re-indented)."""

    type, _text_key, _default_title = "jsonViewer", "json_string", "JSON"

    def _text(self) -> str:
        try:
            if isinstance(self._data, str):
                try:
                    return json.dumps(json.loads(self._data), indent=2, ensure_ascii=False)
                except json.JSONDecodeError:
                    return json.dumps(self._data, indent=2, ensure_ascii=False)
            return json.dumps(self._data, indent=2, ensure_ascii=False, default=str)
        except Exception as error:
            return json.dumps({"error": f"Could not serialize data: {error}"}, indent=2)


class YAMLViewer(_TextViewer):
    """Data shown as YAML (a string holding JSON is converted; any other string is shown as it is)."""

    type, _text_key, _default_title = "yamlViewer", "yaml_string", "YAML"

    def _text(self) -> str:
        import yaml
        data = self._data
        try:
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except json.JSONDecodeError:
                    return data
            text = yaml.dump(data, default_flow_style=False, indent=2, sort_keys=False)
            return str(text) if text is not None else "# Empty YAML result"
        except Exception as error:
            return f"# Error converting to YAML: {error}\n{json.dumps(self._data, indent=2, default=str)}"
