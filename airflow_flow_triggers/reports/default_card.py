"""The default card's own sections, as Metaflow's DefaultCard shows a task: its metadata, the flow's
parameters, its artifacts (truncated), its DataFrames and images, and the flow's DAG with the step marked.
"""
from __future__ import annotations

import datetime
import json

from .components import (
    artifact_view,
    dataframe_table,
    error_log,
    full_classname,
    image_data_uri,
    image_kind,
    short_repr,
)

_MAX_IMAGE_BYTES = 10 * 1024 * 1024   # a bigger image artifact is listed, not embedded: the card stays small


def default_card_components(*, pathspec: str, step: str, parameters: dict, artifacts: dict, graph: dict,
                            started_at: str | None, finished_at: str | None) -> list[dict]:
    """The default card's components (rendered dicts) for one task; `graph` is the flow's `current.graph`."""
    shown = {name: value for name, value in artifacts.items() if name not in parameters}
    sections = [
        _section("Task Metadata", [_task_table(pathspec, step, started_at, finished_at)]),
        _section("Flow Parameters", [_parameter_table(parameters) if parameters else _title("No Parameters")]),
        _section("Artifacts", [_artifacts(shown) if shown else _title("No Artifacts")]),
    ]
    tables = [_guarded(_dataframe_section, name, value) for name, value in shown.items()
              if full_classname(value) == "pandas.core.frame.DataFrame"]
    if tables:
        sections.append(_section("Tabular Data", tables))
    images = [{"type": "image", "src": image_data_uri(value), "label": name} for name, value in shown.items()
              if isinstance(value, bytes) and len(value) <= _MAX_IMAGE_BYTES and image_kind(value)]
    if images:
        sections.append(_section("Image Data", images, columns=len(images)))
    sections.append(_section("DAG", [_dag(graph, step)]))
    return sections


def duration_text(started_at: str | None, finished_at: str | None) -> str | None:
    """How long the task took, as Metaflow shows it (H:MM:SS), or None when a time is missing or unreadable."""
    try:
        took = datetime.datetime.fromisoformat(finished_at) - datetime.datetime.fromisoformat(started_at)
    except (TypeError, ValueError):
        return None
    return str(took).split(".")[0]


def _section(title: str, contents: list, columns: int | None = None) -> dict:
    section = {"type": "section", "title": title, "contents": contents}
    if columns is not None:
        section["columns"] = columns
    return section


def _title(text: str) -> dict:
    return {"type": "title", "text": text}


def _task_table(pathspec: str, step: str, started_at: str | None, finished_at: str | None) -> dict:
    facts = {"Pathspec": pathspec, "Step": step, "Task Started On": started_at or "-",
             "Task Finished On": finished_at or "-"}
    took = duration_text(started_at, finished_at)
    if took is not None:
        facts["Task Duration"] = took
    return {"type": "table", "columns": list(facts), "data": [list(facts.values())], "vertical": True}


def _parameter_table(parameters: dict) -> dict:
    return {"type": "table", "columns": ["Name", "Value"],
            "data": [[name, short_repr(value)] for name, value in parameters.items()], "vertical": False}


def _artifacts(artifacts: dict) -> dict:
    return {"type": "artifacts", "data": [{**artifact_view(value), "name": name} for name, value in artifacts.items()]}


def _dataframe_section(name: str, frame) -> dict:
    table = dataframe_table(frame)
    rows, columns = table["full_size"]
    contents = [{"type": "table", "columns": table["headers"], "data": table["data"], "vertical": False}]
    if rows > len(table["data"]):
        contents.append({"type": "markdown", "source": f"_Truncated - {rows - len(table['data'])} rows not shown_"})
    return _section(f"Artifact Name: {name} ({columns} columns and {rows} rows)", contents)


def _guarded(make, name: str, value) -> dict:
    """One artifact's section, or an error in its place: the card shows the rest."""
    try:
        return json.loads(json.dumps(make(name, value), default=str))   # its cells as the card stores them
    except Exception as error:
        return error_log(f"Artifact {name} cannot be shown", f"{type(error).__name__}: {error}")


def _dag(graph: dict, step: str) -> dict:
    steps = {name: {"type": info.get("type"), "next": info.get("next", []), "doc": info.get("doc", "")}
             for name, info in graph.get("steps", {}).items()}
    return {"type": "dag", "steps": steps, "structure": graph.get("graph_structure") or list(steps),
            "current": step}
