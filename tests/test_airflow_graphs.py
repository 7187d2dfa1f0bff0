"""Switch steps and nested foreach on a real Airflow. The switch is a branching task, the cases not taken are
skipped, the steps after them run once, and the end's finish asset is emitted once; a foreach inside a foreach
maps its steps over every (outer, inner) branch. The same results as a local run."""
import re

import pytest
from conftest import run_flow

from airflow_flow_triggers import Run
from airflow_flow_triggers.runtime.store import ArtifactStore

pytestmark = pytest.mark.e2e

SWITCHY = '''
from airflow_flow_triggers import FlowSpec, Parameter, step, project, build_dag

@project(name='graphs')
class SwitchyFlow(FlowSpec):
    size = Parameter('size', default=1)

    @step
    def start(self):
        self.route = 'slow' if self.size > 2 else 'fast'
        self.next({'fast': self.quick, 'slow': self.careful}, condition='route')

    @step
    def quick(self):
        self.result = 'quick'
        self.next(self.after)

    @step
    def careful(self):
        self.result = 'careful'
        self.next(self.check)

    @step
    def check(self):
        self.result += ' checked'
        self.next(self.after)

    @step
    def after(self):
        print('after', self.result)
        self.next(self.end)

    @step
    def end(self):
        self.final = (self.route, self.result)

if __name__ == '__main__':
    SwitchyFlow()

dag = build_dag(SwitchyFlow, user='alice')
'''

SWITCH_IN_SPLIT = '''
from airflow_flow_triggers import FlowSpec, step, project, build_dag

@project(name='graphs')
class SwitchInSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.p, self.q)

    @step
    def p(self):
        self.kind = 'b'
        self.next({'a': self.a, 'b': self.b}, condition='kind')

    @step
    def a(self):
        self.got = 'a'
        self.next(self.join)

    @step
    def b(self):
        self.got = 'b'
        self.next(self.join)

    @step
    def q(self):
        self.got = 'q'
        self.next(self.join)

    @step
    def join(self, inputs):
        self.gots = sorted(i.got for i in inputs)
        self.steps = sorted(i.step_name for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    SwitchInSplitFlow()

dag = build_dag(SwitchInSplitFlow, user='alice')
'''


def states(airflow, dag_id, run_id) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in airflow.task_instances(dag_id, run_id)}


def local_run(tmp_path, name, source, *args) -> Run:
    flow_file = tmp_path / name
    flow_file.write_text(source)
    result = run_flow(flow_file, "run", *args, airflow_home=tmp_path / "home", user="alice")
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"run-id (\d+)", result.stdout).group(1)
    dag_id = f"graphs.user.alice.{name.split('.')[0].title().replace('_', '')}"
    return Run(f"{dag_id}/{run_id}", store=ArtifactStore(f"file://{tmp_path}/home/flow_triggers/artifacts"))


def test_switch_runs_only_the_chosen_case_and_skips_the_others(airflow, tmp_path):
    dag_id = "graphs.user.alice.SwitchyFlow"
    airflow.drop("graphs/user.alice/switchy_flow.py", SWITCHY)
    airflow.wait_for_dag(dag_id)
    slow = airflow.post_run(dag_id, {"size": 5})
    assert airflow.wait_for_run(dag_id, slow)["state"] == "success"
    assert states(airflow, dag_id, slow) == {"start": "success", "quick": "skipped", "careful": "success",
                                             "check": "success", "after": "success", "end": "success"}
    assert Run(f"{dag_id}/{slow}", store=airflow.store()).data.final == ("slow", "careful checked")
    events = airflow.asset_events(dag_id)
    assert [e["source_run_id"] for e in events] == [slow]

    fast = airflow.post_run(dag_id, {"size": 1})
    assert airflow.wait_for_run(dag_id, fast)["state"] == "success"
    assert states(airflow, dag_id, fast) == {"start": "success", "quick": "success", "careful": "skipped",
                                             "check": "skipped", "after": "success", "end": "success"}
    on_airflow = Run(f"{dag_id}/{fast}", store=airflow.store())
    assert on_airflow.data.final == ("fast", "quick")
    assert [e["source_run_id"] for e in airflow.asset_events(dag_id)] == [slow, fast]
    assert any("after quick" in str(e.get("event")) for e in airflow.task_log(dag_id, fast, "after"))

    local = local_run(tmp_path, "switchy_flow.py", SWITCHY, "--size", "1")
    assert local.data.final == on_airflow.data.final


def test_switch_inside_a_static_split_joins_the_cases_that_ran(airflow, tmp_path):
    dag_id = "graphs.user.alice.SwitchInSplitFlow"
    airflow.drop("graphs/user.alice/switch_in_split_flow.py", SWITCH_IN_SPLIT)
    airflow.wait_for_dag(dag_id)
    run_id = airflow.post_run(dag_id)
    assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"
    assert states(airflow, dag_id, run_id) == {"start": "success", "p": "success", "a": "skipped", "b": "success",
                                               "q": "success", "join": "success", "end": "success"}
    on_airflow = Run(f"{dag_id}/{run_id}", store=airflow.store())
    assert (on_airflow.data.gots, on_airflow.data.steps) == (["b", "q"], ["b", "q"])
    assert len(airflow.asset_events(dag_id)) == 1
    local = local_run(tmp_path, "switch_in_split_flow.py", SWITCH_IN_SPLIT)
    assert (local.data.gots, local.data.steps) == (["b", "q"], ["b", "q"])


NESTED = '''
from airflow_flow_triggers import FlowSpec, current, step, project, build_dag

@project(name='graphs')
class NestedFlow(FlowSpec):
    @step
    def start(self):
        self.rows = ['a', 'b', 'c']
        self.next(self.row, foreach='rows')

    @step
    def row(self):
        self.row_name = self.input
        self.cols = list(range(ord(self.input) - ord('a') + 1))
        self.next(self.cell, foreach='cols')

    @step
    def cell(self):
        self.cell_name = f'{self.row_name}{self.input}'
        self.where = (self.index, self.input, current.task_id)
        self.next(self.join_cols)

    @step
    def join_cols(self, inputs):
        self.cells = [i.cell_name for i in inputs]
        self.wheres = [i.where for i in inputs]
        self.outer = (self.index, self.input)
        self.next(self.row_done)

    @step
    def row_done(self):
        self.summary = (self.outer, self.cells, self.wheres)
        self.next(self.join_rows)

    @step
    def join_rows(self, inputs):
        self.grid = [i.summary for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == '__main__':
    NestedFlow()

dag = build_dag(NestedFlow, user='alice')
'''


def test_nested_foreach_gives_the_same_grid_as_locally(airflow, tmp_path):
    dag_id = "graphs.user.alice.NestedFlow"
    airflow.drop("graphs/user.alice/nested_flow.py", NESTED)
    airflow.wait_for_dag(dag_id)
    run_id = airflow.post_run(dag_id)
    assert airflow.wait_for_run(dag_id, run_id)["state"] == "success"
    tis = airflow.task_instances(dag_id, run_id)
    assert sorted(ti["map_index"] for ti in tis if ti["task_id"] == "cell") == list(range(6))   # 1 + 2 + 3
    assert sorted(ti["map_index"] for ti in tis if ti["task_id"] == "join_cols") == [0, 1, 2]
    assert {ti["state"] for ti in tis} == {"success"}
    grid = Run(f"{dag_id}/{run_id}", store=airflow.store()).data.grid
    assert grid == [((0, 'a'), ['a0'], [(0, 0, '3-0-0')]),            # the inner step is the flow's step 3
                    ((1, 'b'), ['b0', 'b1'], [(0, 0, '3-1-0'), (1, 1, '3-1-1')]),
                    ((2, 'c'), ['c0', 'c1', 'c2'], [(0, 0, '3-2-0'), (1, 1, '3-2-1'), (2, 2, '3-2-2')])]
    assert local_run(tmp_path, "nested_flow.py", NESTED).data.grid == grid
    assert len(airflow.asset_events(dag_id)) == 1
