"""Card components for steps' code, and reading a task's cards, as Metaflow's `metaflow.cards`:

    from airflow_flow_triggers.cards import Markdown, Table, get_cards
    current.card.append(Markdown("# Results"))
    get_cards("ReportFlow/1733/start/1")[0].view()
"""
from .flows.card_types import MetaflowCard
from .reports.components import (
    Artifact,
    Error,
    Image,
    JSONViewer,
    Markdown,
    MetaflowCardComponent,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
    YAMLViewer,
)
from .runtime.card_client import Card, CardContainer, get_cards

__all__ = [
    "Card",
    "CardContainer",
    "get_cards",
    "MetaflowCard",
    "Artifact",
    "Error",
    "Image",
    "JSONViewer",
    "Markdown",
    "MetaflowCardComponent",
    "ProgressBar",
    "PythonCode",
    "Table",
    "ValueBox",
    "VegaChart",
    "YAMLViewer",
]

