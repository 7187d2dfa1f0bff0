"""Switch steps (Metaflow 2.19's conditional branches): the graph's checks with file and line, local runs taking
only the chosen case, a recursive switch, and what Airflow refuses."""
import subprocess
import sys
import textwrap

import pytest
from test_graph import graph_error, load_flow

from airflow_flow_triggers.errors import FlowDefinitionError
from airflow_flow_triggers.flows.graph import FlowGraph
from airflow_flow_triggers.orchestration.dag_factory import build_dag

SWITCH = """
    class MyFlow(FlowSpec):
        @step
        def start(self):
            self.route = 'b'
            self.next({'a': self.a, 'b': self.b}, condition='route')
        @step
        def a(self):
            self.next(self.after)
        @step
        def b(self):
            self.next(self.b2)
        @step
        def b2(self):
            self.next(self.after)
        @step
        def after(self):
            self.next(self.end)
        @step
        def end(self):
            pass
"""


def test_switch_graph_reconverges_at_a_normal_step(tmp_path):
    flow, _, _ = load_flow(tmp_path, SWITCH)
    graph = FlowGraph(flow)
    assert graph["start"].type == "switch"
    assert graph["start"].condition == "route" and graph["start"].switch_cases == {"a": "a", "b": "b"}
    assert graph["after"].type == "linear" and sorted(graph["after"].in_funcs) == ["a", "b2"]
    info = graph.info()
    assert info["steps"]["start"]["type"] == "split-switch"
    assert info["steps"]["start"]["switch_cases"] == {"a": "a", "b": "b"}
    assert info["graph_structure"] == ["start", [["a", "after"], ["b", "b2", "after"]], "end"]


def test_switch_inside_foreach_and_recursive_switch_are_valid(tmp_path):
    flow, _, _ = load_flow(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.items = [1, 2]
                self.next(self.each, foreach='items')
            @step
            def each(self):
                self.n = 0
                self.next(self.loop)
            @step
            def loop(self):
                self.n += 1
                self.state = 'again' if self.n < self.input else 'done'
                self.next({'again': self.loop, 'done': self.after}, condition='state')
            @step
            def after(self):
                self.next(self.join)
            @step
            def join(self, inputs):
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    graph = FlowGraph(flow)
    assert graph["loop"].type == "switch" and graph["start"].matching_join == "join"
    assert graph["loop"].split_parents == ["start"]


@pytest.mark.parametrize("next_call, message", [
    ("self.next({'a': self.a, 'b': self.b})  # <-", "without condition="),
    ("self.next(self.a, condition='route')  # <-", "exactly one non-empty dict"),
    ("self.next({}, condition='route')  # <-", "exactly one non-empty dict"),
    ("self.next({'a': self.a, 'b': self.b}, condition=route)  # <-", "not a string"),
    ("self.next({'a': self.a, 'b': self.b}, condition='route', foreach='xs')  # <-",
     "cannot be combined with foreach"),
    ("self.next({key: self.a, 'b': self.b}, condition='route')  # <-", "not a literal"),
    ("self.next({'a': self.a, 'b': 'b'}, condition='route')  # <-", "pass steps as self.<step_name>"),
    ("self.next({'a': self.a, 'a': self.b}, condition='route')  # <-", "twice"),
    ("self.next({'a': self.a}, condition='route')  # <-", "at least 2 cases"),
    ("self.next({'a': self.a, 'b': self.nowhere}, condition='route')  # <-", "unknown step 'nowhere'"),
])
def test_bad_switch_transitions(tmp_path, next_call, message):
    error = graph_error(tmp_path, f"""
        class MyFlow(FlowSpec):
            @step
            def start(self):
                key, route, self.xs = 'a', 'a', [1]
                self.route = 'a'
                {next_call}
            @step
            def a(self):
                self.next(self.end)
            @step
            def b(self):
                self.next(self.end)
            @step
            def end(self):
                pass
    """.replace("                {next_call}", "                " + next_call))
    assert message in error


def test_switch_going_straight_to_a_join_is_refused(tmp_path):
    error = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.items = [1]
                self.next(self.each, foreach='items')
            @step
            def each(self):
                self.k = 'a'
                self.next({'a': self.a, 'j': self.join}, condition='k')
            @step
            def a(self):
                self.next(self.join)
            @step
            def join(self, inputs):  # <-
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "Switch step 'each' goes straight to join step 'join'" in error


def test_a_loop_through_another_step_is_still_refused(tmp_path):
    error = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.sw)
            @step
            def sw(self):
                self.k = 'a'
                self.next({'a': self.a, 'e': self.end}, condition='k')
            @step
            def a(self):
                self.next(self.sw)  # <-
            @step
            def end(self):
                pass
    """)
    assert "Steps form a loop" in error


def test_static_split_branches_meeting_at_a_normal_step_are_still_refused(tmp_path):
    error = graph_error(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)
            @step
            def a(self):
                self.next(self.c)
            @step
            def b(self):
                self.next(self.c)
            @step
            def c(self):  # <-
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    assert "so it is a join and must take inputs" in error


def _run(tmp_path, body: str, *args):
    path = tmp_path / "switchy.py"
    path.write_text("from airflow_flow_triggers import FlowSpec, step\n\n" + textwrap.dedent(body)
                    + "\nif __name__ == '__main__':\n    MyFlow()\n")
    return subprocess.run([sys.executable, str(path), "run", *args], capture_output=True, text=True, cwd=tmp_path,
                          env={"AIRFLOW_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "USER": "alice"},
                          timeout=120)


def test_local_run_takes_only_the_chosen_case(tmp_path):
    result = _run(tmp_path, SWITCH.replace("pass", "print('ended')").replace(
        "self.next(self.b2)", "print('in b')\n            self.next(self.b2)").replace(
        "self.next(self.after)\n        @step\n        def b(",
        "print('in a')\n            self.next(self.after)\n        @step\n        def b("))
    assert result.returncode == 0, result.stderr
    assert "in b" in result.stdout and "ended" in result.stdout and "in a" not in result.stdout
    assert "/a/" not in result.stdout and "/b2/4] Task finished successfully." in result.stdout


@pytest.mark.parametrize("value, shown", [("'c'", "'c'"), ("None", "None"), ("['a']", "['a']")])
def test_condition_value_that_is_no_case_is_one_error(tmp_path, value, shown):
    result = _run(tmp_path, SWITCH.replace("self.route = 'b'", f"self.route = {value}"))
    assert result.returncode == 1
    assert f"Step 'start' set self.route to {shown}, which is not one of its switch's cases ('a', 'b')" \
        in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_condition_never_assigned_is_one_error(tmp_path):
    result = _run(tmp_path, SWITCH.replace("self.route = 'b'", "pass"))
    assert result.returncode == 1
    assert "Condition variable self.route in step 'start' does not exist" in result.stdout + result.stderr


def test_condition_from_an_earlier_step_and_numeric_keys(tmp_path):
    result = _run(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.level = 2
                self.next(self.pick)
            @step
            def pick(self):
                self.next({1: self.one, 2: self.two}, condition='level')
            @step
            def one(self):
                self.got = 'one'
                self.next(self.end)
            @step
            def two(self):
                self.got = 'two'
                self.next(self.end)
            @step
            def end(self):
                print('got', self.got)
    """)
    assert result.returncode == 0, result.stderr
    assert "got two" in result.stdout


def test_recursive_switch_tasks_get_their_own_ids(tmp_path):
    result = _run(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.n = 0
                self.next(self.loop)
            @step
            def loop(self):
                self.n += 1
                self.state = 'again' if self.n < 3 else 'done'
                self.next({'again': self.loop, 'done': self.end}, condition='state')
            @step
            def end(self):
                print('n', self.n)
    """)
    assert result.returncode == 0, result.stderr
    for task_id in ("loop/2]", "loop/2.1]", "loop/2.2]"):     # step 2, then its 2nd and 3rd runs
        assert f"{task_id} Task finished successfully." in result.stdout
    assert "n 3" in result.stdout


@pytest.mark.parametrize("body, message", [
    ("""
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.n = 0
                self.next(self.loop)
            @step
            def loop(self):
                self.state = 'done'
                self.next({'again': self.loop, 'done': self.end}, condition='state')  # <-
            @step
            def end(self):
                pass
    """, "Step 'loop' is a recursive switch"),
    ("""
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.items = [1]
                self.next(self.each, foreach='items')
            @step
            def each(self):
                self.k = 'a'
                self.next({'a': self.a, 'b': self.b}, condition='k')  # <-
            @step
            def a(self):
                self.next(self.join)
            @step
            def b(self):
                self.next(self.join)
            @step
            def join(self, inputs):
                self.next(self.end)
            @step
            def end(self):
                pass
    """, "Step 'each' is a switch inside a foreach"),
])
def test_airflow_refuses_what_it_cannot_run(tmp_path, body, message):
    flow, path, line = load_flow(tmp_path, body)
    FlowGraph(flow)                                    # a valid flow, which runs locally
    with pytest.raises(FlowDefinitionError) as info:
        build_dag(flow)
    assert message in str(info.value)
    assert (info.value.file, info.value.line) == (str(path), line)


def test_airflow_dag_of_a_switch_before_a_foreach_with_a_split(tmp_path):
    flow, _, _ = load_flow(tmp_path, """
        class MyFlow(FlowSpec):
            @step
            def start(self):
                self.k, self.items = 'many', [1, 2]
                self.next({'many': self.fan, 'none': self.skip}, condition='k')
            @step
            def fan(self):
                self.next(self.each, foreach='items')
            @step
            def each(self):
                self.next(self.p, self.q)
            @step
            def p(self):
                self.next(self.pq)
            @step
            def q(self):
                self.next(self.pq)
            @step
            def pq(self, inputs):
                self.next(self.gather)
            @step
            def gather(self, inputs):
                self.next(self.after)
            @step
            def skip(self):
                self.next(self.after)
            @step
            def after(self):
                self.next(self.end)
            @step
            def end(self):
                pass
    """)
    dag = build_dag(flow)
    tasks = {t.task_id: t for t in dag.tasks}
    assert type(tasks["start"]).__name__ == "_BranchPythonDecoratedOperator"
    assert type(tasks["pq"]).__name__ == "DecoratedMappedOperator"
    assert tasks["pq"].trigger_rule == "all_success"
    assert tasks["after"].trigger_rule == "none_failed_min_one_success"
    assert sorted(tasks["after"].upstream_task_ids) == ["gather", "skip"]
    assert tasks["end"].trigger_rule == "all_success"
