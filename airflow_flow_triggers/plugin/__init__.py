"""The Airflow plugin: a "Flow branches" page in Airflow's UI and a JSON API, at /flow-triggers.

Registered through the `airflow.plugins` entry point (setup.cfg), so installing the package is
enough. Every Airflow process imports this module; only the api-server builds the web app, so
nothing here imports more than Airflow's plugin base class.
"""
from __future__ import annotations

import functools

from airflow.plugins_manager import AirflowPlugin

from .urls import URL_PREFIX


class FlowTriggersPlugin(AirflowPlugin):
    name = "flow_triggers"
    external_views = [{
        "name": "Flow branches",
        "href": f"{URL_PREFIX}/",
        "url_route": "flow-branches",       # the UI shows the page at /plugin/flow-branches
        "destination": "nav",
        "nav_top_level": True,
        "icon": f"{URL_PREFIX}/static/icon.svg",
    }]

    @functools.cached_property
    def operator_extra_links(self) -> list:
        """The "Card" link of flow step tasks (orchestration/card_link.py), known to Airflow by its class."""
        from ..orchestration.card_link import CardLink
        return [CardLink()]

    @functools.cached_property
    def fastapi_apps(self) -> list[dict]:
        from .api import create_app
        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Flow branches"}]
