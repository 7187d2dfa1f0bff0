"""FlowSpec: the base class of flows. Step code sees artifacts as attributes of `self`."""
from __future__ import annotations

from collections import namedtuple

from ..errors import FlowDefinitionError

ForeachFrame = namedtuple("ForeachFrame", ["step", "var", "num_splits", "index", "value"])  # Metaflow's, by name
RESERVED_NAMES = frozenset({"next", "input", "index", "merge_artifacts", "foreach_stack", "name"})

# What `MyFlow()` runs in a flow file's __main__ block. The command line lives in deploy/, above this
# layer, so the package registers it here at import (airflow_flow_triggers/__init__.py).
_command_line = None


# The flow's graph is read in graph.py, which imports this module: it registers its reader here at import.
_graph_of = None


def set_graph_reader(reader) -> None:
    """Register `reader(flow_cls)`, which returns the flow's checked graph (flows/graph.py's flow_graph)."""
    global _graph_of
    _graph_of = reader


def set_command_line(main) -> None:
    """Register the flow files' command line: `main(flow_cls)` parses sys.argv and exits."""
    global _command_line
    _command_line = main


def _run_command_line(flow_cls: type) -> None:
    if _command_line is None:
        raise FlowDefinitionError(f"{flow_cls.__name__}() runs the flow's command line, which is registered "
                                  "when the package is imported: import it as `from airflow_flow_triggers "
                                  "import FlowSpec`.")
    _command_line(flow_cls)


class FlowSpec:
    """Subclass it, decorate methods with @step, chain them with self.next(...).

    `MyFlow()` in a flow file's `__main__` block runs the command line (`python flow.py run`).
    """

    _project = None
    _schedule = None
    _dag_settings = None
    _trigger_on_finish = None
    _trigger_events = None
    _exit_hooks = ()           # @exit_hook's, one ExitHook each (decorators.py)

    def __init__(self, use_cli: bool = True):
        object.__setattr__(self, "_task", None)
        if use_cli:
            _run_command_line(type(self))

    def next(self, *steps, foreach: str | None = None, condition: str | None = None) -> None:
        """Name the step(s) that follow this one; foreach='attr' fans out over a list artifact;
        self.next({'key': self.step, ...}, condition='attr') runs the one case self.attr names."""
        task = self._running_task("self.next()")
        if condition is None:
            task.record_transition(steps, foreach)
            return
        if len(steps) != 1 or not isinstance(steps[0], dict) or not steps[0] or not isinstance(condition, str) \
                or foreach is not None:
            raise FlowDefinitionError(f"Step '{task.step}' has an invalid self.next() transition: with "
                                      "condition='<attribute>' it takes one non-empty dict of cases and no foreach.")
        try:
            value = getattr(self, condition)
        except AttributeError:
            raise FlowDefinitionError(f"Condition variable self.{condition} in step '{task.step}' does not exist: "
                                      f"set self.{condition} in this step.") from None
        task.record_switch(steps[0], condition, value)

    @property
    def _graph(self):
        """The flow's graph, as Metaflow's FlowSpec._graph: `flow._graph['join'].type`, ..."""
        return _graph_of(type(self))

    def __iter__(self):
        """The flow's steps as their functions (`step.name`), by name, as iterating Metaflow's flows gives them
        (its graph lists the class's steps as dir() does)."""
        return iter([getattr(type(self), name) for name in sorted(node.name for node in self._graph)])

    def foreach_stack(self) -> list[tuple]:
        """Metaflow's: one (index, number of items, item) per foreach this step is inside, the outermost first.
        An item whose list this step cannot read (the list of an outer foreach, in an inner join) is None."""
        return self._running_task("self.foreach_stack()").foreach_frames(self)

    @property
    def _foreach_stack(self) -> list[ForeachFrame]:
        """Metaflow's private form of foreach_stack(), which flows written for it read too (its own tests do): one
        (step, var, num_splits, index, value) per foreach, the outermost first; `value` the item as text."""
        task = self._running_task("self._foreach_stack")
        return [ForeachFrame(frame["step"], frame["var"], frame["count"], frame["index"],
                             None if item is None else str(item))
                for frame, (_, _, item) in zip(task.foreach_stack, task.foreach_frames(self), strict=True)]

    @property
    def name(self) -> str:
        """The flow's name (Metaflow's FlowSpec.name), which is why no artifact may be called `name`."""
        return type(self).__name__

    @property
    def input(self):
        """The item of the foreach list this branch works on."""
        return self._running_task("self.input").foreach_input()

    @property
    def index(self) -> int:
        """The position of this branch's item in the foreach list."""
        return self._running_task("self.index").foreach_index()

    def merge_artifacts(self, inputs, exclude=(), include=()) -> None:
        """In a join: take every artifact the inputs agree on (or only one input has)."""
        self._running_task("self.merge_artifacts()").merge(inputs, exclude, include)

    def __str__(self):
        """As Metaflow's: `<flow NAME step STEP>`, with the foreach index and input inside a foreach."""
        task = self.__dict__.get("_task")
        if task is None:
            return f"<flow {type(self).__name__}>"
        index = ",".join(str(frame["index"]) for frame in task.foreach_stack)
        if not index:
            return f"<flow {type(self).__name__} step {task.step}>"
        item = str(self.input)
        return f"<flow {type(self).__name__} step {task.step}[{index}] (input: " \
               f"{item[:20] + '...' if len(item) > 20 else item})>"

    def __setattr__(self, name, value):
        if name in RESERVED_NAMES:
            raise FlowDefinitionError(f"'{name}' is a reserved name in flows: store the value under "
                                      "another attribute name.")
        task = self.__dict__.get("_task")
        if task is not None and name in task.constants:
            raise AttributeError(f"'{name}' is a constant of flow {type(self).__name__} (a class attribute), "
                                 "read-only in steps as in Metaflow: store the value under another attribute name.")
        object.__setattr__(self, name, value)         # a parameter refuses it (AttributeError): not an artifact
        if task is not None and not name.startswith("_"):
            task.assigned.add(name)

    def __getattr__(self, name):
        # Only reached for names not set in this step: read them from the previous step's artifacts.
        task = self.__dict__.get("_task")
        if name.startswith("_") or task is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = task.load(name)
        object.__setattr__(self, name, value)
        return value

    def _parameter_value(self, parameter):
        return self._running_task(f"parameter '{parameter.name}'").parameter(parameter.attr_name)

    def _running_task(self, what: str):
        task = self.__dict__.get("_task")
        if task is None:
            raise FlowDefinitionError(f"{what} is only available inside a running step.")
        return task
