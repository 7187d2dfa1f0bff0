"""FlowSpec: the base class of flows. Step code sees artifacts as attributes of `self`."""
from __future__ import annotations

from ..errors import FlowDefinitionError

RESERVED_NAMES = frozenset({"next", "input", "index", "merge_artifacts", "foreach_stack", "name"})

# What `MyFlow()` runs in a flow file's __main__ block. The command line lives in deploy/, above this
# layer, so the package registers it here at import (airflow_flow_triggers/__init__.py).
_command_line = None


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
        if task is not None and not name.startswith("_"):
            task.assigned.add(name)
        object.__setattr__(self, name, value)

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
