"""Every graph error is one FlowDefinitionError naming the flow file and the offending line."""
import textwrap

import pytest
from conftest import import_file

from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.flows.graph import FlowGraph

HEADER = "from airflow_flow_triggers import FlowSpec, step, Parameter\n\n"


def load_flow(tmp_path, body: str, name="flow_under_test"):
    source = HEADER + textwrap.dedent(body)
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    module = import_file(path, name)
    marked = [i + 1 for i, line in enumerate(source.splitlines()) if line.rstrip().endswith("# <-")]
    return module.MyFlow, path, marked[0] if marked else None


def graph_error(tmp_path, body):
    flow, path, line = load_flow(tmp_path, body)
    with pytest.raises(FlowDefinitionError) as info:
        FlowGraph(flow)
    error = info.value
    assert error.file == str(path)
    assert error.line == line, f"expected line {line}, got {error.line}: {error}"
    return str(error)


def test_valid_graph_types_and_joins(tmp_path):
    flow, _, _ = load_flow(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.items = [1, 2]
                self.next(self.a, self.b)
            @step
            def a(self):
                self.next(self.join)
            @step
            def b(self):
                self.next(self.join)
            @step
            def join(self, inputs):
                self.next(self.fan)
            @step
            def fan(self):
                self.items = [1, 2]
                self.next(self.each, foreach='items')
            @step
            def each(self):
                self.next(self.gather)
            @step
            def gather(self, inputs):
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    graph = FlowGraph(flow)
    types = {n.name: n.type for n in graph}
    assert types == {"start": "split", "a": "linear", "b": "linear", "join": "join", "fan": "foreach",
                     "each": "linear", "gather": "join", "end": "end"}
    assert graph["start"].matching_join == "join" and graph["fan"].matching_join == "gather"
    assert [n.name for n in graph][0] == "start" and [n.name for n in graph][-1] == "end"


def test_missing_start(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):  # <-
            @step
            def end(self):
                pass
    """)
    assert "has no 'start' step" in message


def test_missing_end(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):  # <-
            @step
            def start(self):
                self.next(self.start)
    """)
    assert "has no 'end' step" in message


def test_step_without_next(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):  # <-
                print('forgot')
            @step
            def end(self):
                pass
    """)
    assert "Step 'start' must end with self.next(...)" in message


def test_next_not_last(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                if True:
                    self.next(self.end)  # <-
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "must be the step's last statement" in message


def test_unknown_transition(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.middle)  # <-
            @step
            def end(self):
                pass
    """)
    assert "goes to unknown step 'middle'" in message


def test_unreachable_step(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)
            @step
            def orphan(self):  # <-
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "Step 'orphan' is not reachable from 'start'" in message


def test_loop(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.a)
            @step
            def a(self):
                self.next(self.start)  # <-
            @step
            def end(self):
                pass
    """)
    assert "loop" in message


def test_join_without_split(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.join)
            @step
            def join(self, inputs):  # <-
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "takes inputs, so it is a join, but no split comes before it" in message


def test_join_missing_inputs_argument(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)
            @step
            def a(self):
                self.next(self.join)
            @step
            def b(self):
                self.next(self.join)
            @step
            def join(self):  # <-
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "must take inputs: 'def join(self, inputs)'" in message


def test_join_arity_mismatch(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b, self.c)
            @step
            def a(self):
                self.next(self.join)
            @step
            def b(self):
                self.next(self.join)
            @step
            def join(self, inputs):  # <-
                self.next(self.end)
            @step
            def c(self):
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "the split at 'start' opens 3 path(s)" in message


def test_split_never_joined(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):  # <-
                self.items = [1]
                self.next(self.each, foreach='items')
            @step
            def each(self):
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "never joined" in message


def test_foreach_over_missing_attribute(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.itemz = [1, 2]
                self.next(self.each, foreach='items')  # <-
            @step
            def each(self):
                self.next(self.join)
            @step
            def join(self, inputs):
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "fans out over self.items, but no step before it assigns self.items" in message


def test_foreach_over_parameter_is_fine(tmp_path):
    flow, _, _ = load_flow(tmp_path, """
        class MyFlow(FlowSpec):
            items = Parameter('items', default='abc')
            @step
            def start(self):
                self.next(self.each, foreach='items')
            @step
            def each(self):
                self.next(self.join)
            @step
            def join(self, inputs):
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert FlowGraph(flow)["start"].type == "foreach"


def test_foreach_with_two_targets(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.items = [1]
                self.next(self.a, self.b, foreach='items')  # <-
            @step
            def a(self):
                self.next(self.end)
            @step
            def b(self):
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "must name exactly one step" in message


def test_end_calls_next(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)
            @step
            def end(self):
                self.next(self.start)  # <-
    """)
    assert "'end' step must not call self.next()" in message


def test_join_that_splits(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)
            @step
            def a(self):
                self.next(self.join)
            @step
            def b(self):
                self.next(self.join)
            @step
            def join(self, inputs):
                self.items = [1]
                self.next(self.end, foreach='items')  # <-
            @step
            def end(self):
                pass
    """)
    assert "cannot split again in the same step" in message


def test_bad_signature(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self, a, b):  # <-
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "must take 'self'" in message


def test_next_argument_not_a_step(tmp_path):
    message = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next('end')  # <-
            @step
            def end(self):
                pass
    """)
    assert "pass steps as self.<step_name>" in message
