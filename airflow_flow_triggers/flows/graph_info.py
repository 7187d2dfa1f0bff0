"""`current.graph`: the flow's graph as Metaflow describes it to a running step (its `_graph_info`).

The same keys and shapes as Metaflow's: the file, start and end steps, parameters and constants, each
step's type ('start', 'linear', 'split-static', 'split-foreach', 'split-switch', 'join',
'end'), line, doc, decorators
and successors, and the nested `graph_structure` list. Decorator attributes are the values in effect.
"""
from __future__ import annotations

import inspect
import os
import types

from .configs import flow_configs
from .parameters import Parameter, flow_parameters
from .user_decorators import user_decorator_info

_TYPES = {"split": "split-static", "foreach": "split-foreach", "switch": "split-switch"}


def graph_info(graph, flow_cls: type) -> dict:
    parameters = sorted(p.attr_name for p in flow_parameters(flow_cls).values())
    kinds = {**dict.fromkeys(parameters, "Parameter"), **dict.fromkeys(flow_configs(flow_cls), "Config")}
    steps = {node.name: _step_info(node, getattr(flow_cls, node.name)) for node in graph}
    return {
        "file": os.path.basename(graph.file),
        "start_step": "start",
        "end_step": "end",
        "parameters": [{"name": name, "type": kinds[name]} for name in sorted(kinds)],
        "constants": _constants(flow_cls, set(kinds)),
        "steps": steps,
        "graph_structure": _block(graph, "start", "end") + ["end"],
        "doc": _doc(flow_cls),
        "decorators": [],
        "extensions": {"installed": {}},
    }


def _step_info(node, func) -> dict:
    info = {"name": node.name, "type": _TYPES.get(node.type, node.type), "line": node.line,
            "source_file": node.file, "doc": _doc(func),
            "decorators": [*getattr(func, "step_decorators", []), *user_decorator_info(func)],
            "next": list(node.out_funcs),
            "node_info": {}}
    if node.type == "foreach":
        info["foreach_artifact"] = node.foreach_var
    if node.type == "switch":
        info["condition"] = node.condition
        info["switch_cases"] = dict(node.switch_cases)
    if node.matching_join:
        info["matching_join"] = node.matching_join
    return info


def _doc(obj) -> str:
    """The object's own docstring, cleaned (a flow without one has none: FlowSpec's is not its)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
    return inspect.cleandoc(doc) if doc else ""


def _block(graph, start: str, end: str | None) -> list:
    """Metaflow's nested list: the steps from `start` up to `end`, each split followed by its branches."""
    names, name = [], start
    while name != end:
        node = graph[name]
        names.append(name)
        if node.type in ("split", "foreach"):
            names.append([_block(graph, out, node.matching_join) for out in node.out_funcs])
            name = node.matching_join
        elif node.type == "switch":   # as Metaflow: each case up to the block's end, then the block ends
            names.append([_block(graph, out, end) for out in node.out_funcs if out != name])
            break
        elif node.out_funcs:
            name = node.out_funcs[0]
        else:
            break
    return names


def _constants(flow_cls: type, parameters: set[str]) -> list[dict]:
    return [{"name": name, "type": type(value).__name__} for name, value in flow_constants(flow_cls).items()
            if name not in parameters]


def flow_constants(flow_cls: type) -> dict:
    """The flow's constants, as Metaflow finds them: class attributes that are neither steps, methods, classes,
    parameters nor configs. Stored as artifacts by the start step; read-only in steps."""
    found, configs = {}, flow_configs(flow_cls)
    for name in dir(flow_cls):
        if name.startswith("_") or name in configs:
            continue
        value = getattr(flow_cls, name)
        if not isinstance(value, (types.FunctionType, types.MethodType, property, type, Parameter)):
            found[name] = value
    return found
