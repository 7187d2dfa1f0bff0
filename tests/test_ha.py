"""Airflow's HA mode, as teams run production: two schedulers on PostgreSQL, with the LocalExecutor and on the
Celery topology (airflow_flow_triggers/sandbox/topology.py). On each: a burst of finishes starts exactly one run
per finish; so does a burst of finishes and failures of either of two upstreams (any=True, outcome='any'); an
AND burst is matched first in, first out; a scheduler SIGKILLed mid-burst loses and doubles
nothing; a consumer with @airflow_dag(max_active_runs=1) still gets one run per finish, one after another.

Duplicate runs with two schedulers and events lost with max_active_runs=1 are known Airflow bug classes
(apache/airflow#63507, #54491, #56050): these tests keep our one-run-per-finish rule true under both.
"""
import datetime
import os
import shutil

import pytest
from test_airflow_triggers import AND_DOWN, PLAIN, finish_order

from airflow_flow_triggers import Run
from airflow_flow_triggers.runtime.store import ArtifactStore
from airflow_flow_triggers.sandbox.harness import AirflowHarness
from airflow_flow_triggers.sandbox.topology import Postgres, Topology, tools_missing

pytestmark = [pytest.mark.e2e, pytest.mark.topology]
BURST = 10

UP = '''
from airflow_flow_triggers import FlowSpec, Parameter, step, build_dag

class {name}(FlowSpec):
    batch = Parameter('batch', default=0)

    @step
    def start(self):
        self.rows = self.batch * 10
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag({name})
'''

DOWN = '''
from airflow_flow_triggers import FlowSpec, airflow_dag, current, step, trigger_on_finish, build_dag

{settings}
@trigger_on_finish(flow='{upstream}')
class {name}(FlowSpec):
    @step
    def start(self):
        self.upstream = current.trigger.run.pathspec
        self.rows = current.trigger.run.data.rows
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag({name})
'''


class HA:
    """Two schedulers on one Airflow; `airflow` is its harness, `store` where its runs' artifacts are."""

    def __init__(self, airflow: AirflowHarness, store: ArtifactStore):
        self.airflow, self.store = airflow, store
        airflow.start_component("scheduler2", ["scheduler"])


# Both by default; FLOW_TRIGGERS_HA_TOPOLOGIES=local (or celery) runs one of them.
TOPOLOGIES = os.environ.get("FLOW_TRIGGERS_HA_TOPOLOGIES", "local,celery").split(",")


@pytest.fixture(scope="module", params=TOPOLOGIES)
def ha(request, tmp_path_factory):
    missing = tools_missing()
    if missing:
        pytest.fail(f"the HA tests need {', '.join(missing)} (.ci/run installs them)")
    base = tmp_path_factory.mktemp(f"ha_{request.param}")
    if request.param == "local":
        postgres = Postgres(base).start()
        airflow = AirflowHarness(base / "airflow", AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=(
            f"postgresql+psycopg2://postgres@{postgres.address}/airflow"), AIRFLOW__CORE__PARALLELISM="8")
        try:
            airflow.start()
            yield HA(airflow, airflow.store())
        finally:
            try:
                airflow.stop()
            finally:
                postgres.stop()
    else:
        topology = Topology(base)
        try:
            with topology.start().artifacts_here():
                yield HA(topology.airflow, ArtifactStore(topology.settings()["AIRFLOW__FLOW_TRIGGERS__ARTIFACT_ROOT"]))
        finally:
            topology.stop()


def deploy(airflow, *flows: tuple[str, str]) -> None:
    for name, source in flows:
        airflow.drop(f"{name}.py", source)
    for name, _ in flows:
        airflow.wait_for_dag(name)


def burst(airflow, up: str, count: int = BURST) -> list[str]:
    """Start `up` `count` times at once (through the REST API, within a second), batches 1..count; returns the
    run ids."""
    return [airflow.post_run(up, {"batch": batch}) for batch in range(1, count + 1)]


def assert_one_run_per_finish(ha, up: str, down: str, ups: list[str]) -> list[dict]:
    airflow = ha.airflow
    assert all(run["state"] == "success" for run in airflow.wait_for_runs(up, len(ups), timeout=600))
    airflow.wait_for_runs(down, len(ups), timeout=600)
    airflow.quiet(timeout=600)
    downs = airflow.runs(down)
    assert len(downs) == len(ups) and all(run["state"] == "success" for run in downs), downs
    seen = [Run(f"{down}/{run['dag_run_id']}", store=ha.store).data for run in downs]
    assert sorted(data.upstream for data in seen) == sorted(f"{up}/{run}" for run in ups)   # each finish once
    assert sorted(data.rows for data in seen) == [10 * batch for batch in range(1, len(ups) + 1)]
    return downs


def test_a_burst_of_finishes_starts_one_run_each(ha):
    deploy(ha.airflow, ("HaUp", UP.format(name="HaUp")),
           ("HaDown", DOWN.format(name="HaDown", upstream="HaUp", settings="")))
    assert_one_run_per_finish(ha, "HaUp", "HaDown", burst(ha.airflow, "HaUp"))


def test_an_and_burst_is_matched_first_in_first_out(ha):
    airflow = ha.airflow
    deploy(airflow, ("HaA", PLAIN.format(name="HaA")), ("HaB", PLAIN.format(name="HaB")),
           ("HaC", AND_DOWN.format(a="HaA", b="HaB", within="", name="HaC")))
    airflow.wait_for_dag("HaC.wait_for_all")
    for _ in range(4):
        airflow.post_run("HaA")
    airflow.wait_for_runs("HaA", 4, timeout=600)
    for _ in range(4):
        airflow.post_run("HaB")
    airflow.wait_for_runs("HaC", 4, timeout=600)
    airflow.quiet(timeout=600)
    runs = airflow.runs("HaC")
    assert len(runs) == 4
    a, b = finish_order(airflow, "HaC.wait_for_all", "HaA"), finish_order(airflow, "HaC.wait_for_all", "HaB")
    sets = sorted(Run(f"HaC/{run['dag_run_id']}", store=ha.store).data.upstream_runs for run in runs)
    assert sets == sorted([f"HaA/{x}", f"HaB/{y}"] for x, y in zip(a, b, strict=True))


def test_a_scheduler_killed_mid_burst_loses_and_doubles_nothing(ha):
    airflow = ha.airflow
    deploy(airflow, ("KillUp", UP.format(name="KillUp")),
           ("KillDown", DOWN.format(name="KillDown", upstream="KillUp", settings="")))
    ups = burst(airflow, "KillUp")
    airflow.wait_for_runs("KillDown", 3, timeout=600)           # in the middle of the burst
    airflow.kill_component("scheduler")                        # SIGKILL: the scheduler and what it started
    try:
        assert_one_run_per_finish(ha, "KillUp", "KillDown", ups)
    finally:
        airflow.start_component("scheduler")


def test_max_active_runs_one_still_runs_once_per_finish_one_after_another(ha):
    airflow = ha.airflow
    deploy(airflow, ("SerialUp", UP.format(name="SerialUp")),
           ("SerialDown", DOWN.format(name="SerialDown", upstream="SerialUp",
                                      settings="@airflow_dag(max_active_runs=1)")))
    assert airflow.api("GET", "dags/SerialDown")["max_active_runs"] == 1
    downs = assert_one_run_per_finish(ha, "SerialUp", "SerialDown", burst(airflow, "SerialUp", 6))
    spans = sorted((datetime.datetime.fromisoformat(run["start_date"]),
                    datetime.datetime.fromisoformat(run["end_date"])) for run in downs)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False)), spans


FLAKY_UP = UP.replace("        self.rows = self.batch * 10\n",
                      "        self.rows = self.batch * 10\n        assert self.batch % 2, 'even batches fail'\n")

ANY_DOWN = '''
from airflow_flow_triggers import FlowSpec, current, step, trigger_on_finish, build_dag

@trigger_on_finish(flows=['{a}', '{b}'], any=True, outcome='any')
class {name}(FlowSpec):
    @step
    def start(self):
        self.upstream = current.trigger.run.pathspec
        self.succeeded = current.trigger.run.successful
        self.next(self.end)

    @step
    def end(self):
        pass

dag = build_dag({name})
'''


def test_a_burst_of_finishes_and_failures_of_either_upstream_starts_one_run_each(ha):
    """any=True with outcome='any': both upstreams started at once, half of one's runs failing; each finish and
    each failure starts exactly one run, with two schedulers."""
    airflow = ha.airflow
    deploy(airflow, ("HaFlaky", FLAKY_UP.format(name="HaFlaky")), ("HaSteady", UP.format(name="HaSteady")),
           ("HaEither", ANY_DOWN.format(a="HaFlaky", b="HaSteady", name="HaEither")))
    flaky, steady = burst(airflow, "HaFlaky", 4), burst(airflow, "HaSteady", 4)
    airflow.wait_for_runs("HaFlaky", 4, timeout=600)
    airflow.wait_for_runs("HaEither", 8, timeout=600)
    airflow.quiet(timeout=600)
    downs = airflow.runs("HaEither")
    assert len(downs) == 8 and all(run["state"] == "success" for run in downs), downs
    seen = sorted((data.upstream, data.succeeded) for data in
                  (Run(f"HaEither/{run['dag_run_id']}", store=ha.store).data for run in downs))
    assert seen == sorted([(f"HaFlaky/{run}", batch % 2 == 1) for batch, run in enumerate(flaky, start=1)] +
                          [(f"HaSteady/{run}", True) for run in steady])


@pytest.fixture(autouse=True)
def _clean_dags(ha):
    """Each test's DAG files go when it ends, so the next one's bursts share the schedulers with nothing else."""
    yield
    for path in ha.airflow.dags.glob("*.py"):
        path.unlink()
    shutil.rmtree(ha.airflow.dags / "__pycache__", ignore_errors=True)
