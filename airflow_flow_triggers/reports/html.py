"""A card as one self-contained HTML document: the rendered component dicts, shown with no JavaScript and no
network at all (inline CSS, images and charts as data: URIs, a Content-Security-Policy that allows nothing
else). Charts are drawn by the Vega project's own renderer (vl-convert), Markdown by markdown-it-py.
"""
from __future__ import annotations

import base64
import functools
import json
import math
import re
from pathlib import Path

_TEMPLATES = Path(__file__).parent / "templates"
_CSS_LENGTH = re.compile(r"^\d+(\.\d+)?(px|em|rem|vh|%)$")   # a viewer's max_height; nothing else reaches CSS
_CSS_CLASS = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]*$")
_CHART_WIDTH, _CHART_WIDTH_IN_TABLE = 560, 240   # for Vega-Lite's "container" width: a card has no container


def card_html(components: list, *, title: str, card_type: str, task: dict | None = None,
              live: bool = False) -> str:
    """The card's HTML document: `title` on top, a line about the task if given (keys pathspec, started_at,
    finished_at), then the components; `live` marks a card the task is still updating."""
    template = _environment().get_template("card.html")
    return template.render(title=title, card_type=card_type, task=task, live=live,
                           components=[_view(component) for component in components])


def json_safe(value):
    """`value` with everything JSON cannot hold made JSON: tuples and sets as lists, keys as strings,
    floats that are not numbers and other objects as their repr."""
    if isinstance(value, str | bool | int | type(None)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {key if isinstance(key, str) else repr(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    return repr(value)


def prepare() -> None:
    """Load what rendering a card needs (Jinja2 and its compiled templates, markdown-it) now: a process that
    forks workers calls it first, so each task's card costs its rendering alone."""
    for name in ("card.html", "components.html"):
        _environment().get_template(name)
    _markdown_renderer()


@functools.cache
def _environment():
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True, trim_blocks=True,
                              lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _view(component, in_table: bool = False) -> dict:
    """What the template needs to show one rendered component: its dict, with a `kind` naming the macro."""
    if not isinstance(component, dict):
        return {"kind": "value", "text": _value_text(component)}
    kind = component.get("type")
    make = _VIEWS.get(kind)
    if make is None:
        return {"kind": "unknown", "type": str(kind)}
    try:
        return {**make(component, in_table), "kind": make.__name__.lstrip("_")}
    except Exception as error:   # a malformed dict (hand-made, or from a newer writer) shows as what is wrong
        return {"kind": "failed", "text": f"This {kind} component cannot be shown: {type(error).__name__}: {error}"}


def _value_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(json_safe(value))
    return str(value)


def _title(c, in_table):
    return {"text": str(c.get("text", ""))}


def _subtitle(c, in_table):
    return {"text": str(c.get("text", ""))}


def _text(c, in_table):
    return {"text": str(c.get("text", ""))}


def _section(c, in_table):
    return {"title": c.get("title"), "subtitle": c.get("subtitle"), "columns": c.get("columns"),
            "contents": [_view(content, in_table) for content in c.get("contents", [])]}


def _markdown(c, in_table):
    from markupsafe import Markup
    return {"html": Markup(_markdown_renderer().render(c.get("source") or ""))}


def _table(c, in_table):
    return {"title": c.get("title"), "headers": [str(h) for h in c.get("columns") or []],
            "rows": [[_view(cell, True) for cell in row] for row in c.get("data") or []],
            "vertical": bool(c.get("vertical"))}


def _image(c, in_table):
    src = c.get("src")
    if not isinstance(src, str) or not src.startswith("data:image/"):   # a card loads nothing from anywhere
        raise ValueError("its source is not an embedded image (a data:image/ URI)")
    return {"src": src, "label": c.get("label"), "title": c.get("title")}


def _artifacts(c, in_table):
    return {"entries": [{"name": item.get("name"), "type": item.get("type"),
                       "text": item["data"] if isinstance(item.get("data"), str)
                       else json.dumps(json_safe(item.get("data")), indent=2)}
                      for item in c.get("data") or []]}


def _log(c, in_table):
    return {"text": str(c.get("data", ""))}


def _python_code(c, in_table):
    return {"text": str(c.get("data") or "")}


def _progress(c, in_table):
    maximum, value = c.get("max", 100), c.get("value", 0)
    unit = c.get("unit") or ""
    return {"max": maximum, "value": value, "label": c.get("label"), "details": c.get("details"),
            "amount": f"{value}{unit} of {maximum}{unit}" if unit else f"{value} / {maximum}"}


def _value_box(c, in_table):
    theme = c.get("theme") or "default"
    return {"title": c.get("title"), "value": c.get("value"), "subtitle": c.get("subtitle"),
            "change": c.get("change_indicator"), "theme": theme if _CSS_CLASS.match(theme) else "default"}


def _chart(c, in_table):
    spec = c.get("spec")
    try:
        return {"src": _chart_uri(spec, in_table), "error": None}
    except Exception as error:
        return {"src": None, "error": _chart_error(error)}


def _chart_uri(spec, in_table: bool) -> str:
    import vl_convert
    if not isinstance(spec, dict):
        raise ValueError(f"a chart's spec must be a dict, not {type(spec).__name__}")
    if spec.get("width") == "container":
        spec = {**spec, "width": _CHART_WIDTH_IN_TABLE if in_table else _CHART_WIDTH}
    svg = vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])   # the card's data is in the spec: no fetching
    # An SVG shown by <img> runs nothing and loads nothing: the chart's own text cannot reach the page.
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _chart_error(error: Exception) -> str:
    # vl-convert appends the JavaScript stack ("    at ..." lines): the first lines say what is wrong.
    lines = [line for line in str(error).splitlines() if line.strip() and not line.lstrip().startswith("at ")]
    return "\n".join(lines) or type(error).__name__


def _viewer(c, in_table):
    height = c.get("max_height")
    text = c.get("json_string") if c.get("type") == "jsonViewer" else c.get("yaml_string")
    return {"title": c.get("title"), "text": str(text if text is not None else ""),
            "collapsible": c.get("collapsible", True),
            "max_height": height if isinstance(height, str) and _CSS_LENGTH.match(height) else None}


def _dag(c, in_table):
    steps, current = c.get("steps") or {}, c.get("current")

    def block(names: list) -> list:
        items = []
        for name in names:
            if isinstance(name, list):
                items.append({"branches": [block(branch) for branch in name]})
            else:
                step = steps.get(name, {})
                items.append({"name": name, "type": step.get("type", ""), "doc": step.get("doc", ""),
                              "current": name == current})
        return items

    return {"items": block(c.get("structure") or list(steps))}


_VIEWS = {"title": _title, "subtitle": _subtitle, "text": _text, "section": _section, "page": _section,
          "markdown": _markdown, "table": _table, "image": _image, "artifacts": _artifacts, "log": _log,
          "pythonCode": _python_code, "progressBar": _progress, "valueBox": _value_box, "vegaChart": _chart,
          "jsonViewer": _viewer, "yamlViewer": _viewer, "dag": _dag}


@functools.cache
def _markdown_renderer():
    """CommonMark with tables; HTML in the text is shown as text, and an image shows its alt text unless it
    is embedded (a card loads nothing)."""
    from markdown_it import MarkdownIt
    from markdown_it.common.utils import escapeHtml

    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")

    def image(self, tokens, idx, options, env):
        token = tokens[idx]
        if str(token.attrGet("src") or "").startswith("data:image/"):
            return self.image(tokens, idx, options, env)
        return escapeHtml(self.renderInlineAsText(token.children or [], options, env))

    renderer.add_render_rule("image", image)
    return renderer
