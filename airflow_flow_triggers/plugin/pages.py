"""The plugin's HTML pages: Jinja templates (plugin/templates) rendered with where the plugin and Airflow are."""
from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from .urls import URL_PREFIX

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render(request: Request, template: str, **values) -> HTMLResponse:
    """`template` as a page; `here` is the plugin's root URL, `airflow` Airflow's."""
    root = request.scope.get("root_path", "")
    return HTMLResponse(_templates().get_template(template).render(
        here=root, airflow=root.removesuffix(URL_PREFIX), quote=quote, **values))


@functools.cache
def _templates():
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
