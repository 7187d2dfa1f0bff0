"""Deadlines for an expected upstream, on Airflow: the companion DAG `<consumer>.expect` that raises and clears them.

For `@trigger_on_finish(..., expect_every=... | expect_by=...)` the DAG factory (flows, and a project's Airflow DAGs
through the same `finish_timetable`) adds a small DAG, `<consumer DAG id>.expect`, owned and tagged as its consumer.
It runs every `[flow_triggers] expectation_check_interval` seconds (Airflow's DeltaTriggerTimetable); its one task,
`check_expectations`, reads the time of each upstream's last finish, decides whether the consumer is overdue
(flows/expectations.py), and on a change since its previous check (kept in the Airflow Variable
`flow_triggers.expect.<consumer>`) calls `[flow_triggers] deadline_notifier` once: `overdue`, then `cleared` when a
finish came. It pushes what it found as an XCom (`flow_triggers_expectation`), which the plugin reads (why, the
branch page and its API) without importing any flow.

Where the time of an upstream's last finish comes from: every finish (and failure announcement) of a deployment
records it in the Variable `flow_triggers.last_finish.<dag id>` (`flow_triggers.last_failure.<dag id>`), written by
the task that emits the event (tasks.py). Not the asset's history: a task reads it only through `inlet_events`, which
in Airflow 3.3.2 fails with HTTP 500 as long as a run that consumed the newest event is still queued (gates.py says
more), and the newest finish is exactly the one whose consumer runs may be queued. Nor a schedule on the finish asset
(Airflow's AssetOrTimeSchedule): finish events are partitioned, and a partitioned event never queues a
non-partitioned DAG (assets/manager.py), so such a DAG would run on its clock only. A finish posted by hand records
nothing: only a real run satisfies an expectation. Branch isolation is the trigger's own: the upstreams are those
the trigger resolves for this deployment, and their Variables are named by their DAG ids.
"""
from __future__ import annotations

import asyncio
import copy
import datetime
import importlib
import logging

from .. import config
from ..errors import SettingError
from ..flows.expectations import Expectation
from ..naming import Deployment, check_dag_id

log = logging.getLogger(__name__)

EXPECT_SUFFIX = "expect"                  # the companion DAG: `<consumer DAG id>.expect`, tagged `expect`
CHECK_TASK = "check_expectations"
EXPECT_KEY = "flow_triggers_expectation"  # the XCom of each check: what the plugin shows
STATE_PREFIX = "flow_triggers.expect."    # the Variable of a consumer's alerts: what was last notified, and since when
LAST_FINISH_PREFIXES = {"succeeded": "flow_triggers.last_finish.", "failed": "flow_triggers.last_failure."}
OUTCOMES = {"succeeded": ("succeeded",), "failed": ("failed",), "any": ("succeeded", "failed")}
WHAT = {"succeeded": "finish", "failed": "failure", "any": "finish or failure"}
START_DATE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)    # as every deployment's: never backfills


def companion_id(consumer_dag_id: str) -> str:
    return f"{consumer_dag_id}.{EXPECT_SUFFIX}"


def state_key(consumer_dag_id: str) -> str:
    return STATE_PREFIX + consumer_dag_id


def last_finish_key(dag_id: str, outcome: str = "succeeded") -> str:
    return LAST_FINISH_PREFIXES[outcome] + dag_id


# -- the upstream's side: every finish records its time ------------------------------------------------------

def record_finish(dag_id: str, run_id: str, outcome: str = "succeeded") -> None:
    """Note the finish (or, `outcome='failed'`, the failure) of run `run_id` of `dag_id` for its expectations. A
    failure to write it is logged, never the run's: the finish itself is what matters."""
    try:
        from airflow.sdk import Variable
        Variable.set(last_finish_key(dag_id, outcome), {"at": _iso(_now()), "run_id": run_id},
                     description=f"The last {WHAT[outcome]} of {dag_id}, for @trigger_on_finish(expect_every= | "
                                 "expect_by=) of the flows it triggers (see airflow_flow_triggers docs/triggers.md).",
                     serialize_json=True)
    except Exception as error:       # the execution API refused or is unreachable: an expectation may see it late
        log.warning("Could not record the %s of %s/%s for expectations: %s", WHAT[outcome], dag_id, run_id, error)


# -- the companion DAG ---------------------------------------------------------------------------------------

def expectation_dag(spec, deployment: Deployment, upstreams: list[Deployment], owner: str, tags: list[str]):
    """The DAG `<consumer>.expect` that checks `spec.expect` of each of `upstreams` for `deployment` (built inside
    the DAG file that builds the consumer, so Airflow loads it with it)."""
    from airflow.sdk import DAG, DeltaTriggerTimetable, task
    consumer = deployment.project_flow_name
    interval = check_interval()
    names = [u.project_flow_name for u in upstreams]
    with DAG(dag_id=check_dag_id(companion_id(consumer)),
             schedule=DeltaTriggerTimetable(datetime.timedelta(seconds=interval)),
             start_date=START_DATE, catchup=False, is_paused_upon_creation=False, max_active_runs=1,
             tags=[*tags, EXPECT_SUFFIX], default_args={"owner": owner},
             description=f"Marks {consumer} overdue when no {WHAT[spec.outcome]} of {', '.join(names)} came "
                         f"{spec.expect.describe()} (checked every {interval:g} s)."):
        # one check at a time, each a run of its own: a failed check (the notifier raised) is tried again at the next
        task(task_id=CHECK_TASK, retries=0, max_active_tis_per_dag=1)(
            check_callable(consumer, names, spec.expect, spec.outcome))()


def check_interval() -> float:
    seconds = config.get_number("expectation_check_interval", float, required=True)
    if seconds <= 0:
        raise SettingError(f"[{config.SECTION}] expectation_check_interval = {seconds:g} must be a number of seconds "
                           "over 0 (env AIRFLOW__FLOW_TRIGGERS__EXPECTATION_CHECK_INTERVAL; default "
                           f"{config.defaults()['expectation_check_interval']}).")
    return seconds


def check_callable(consumer: str, upstreams: list[str], expect: Expectation, outcome: str):
    """The companion's task: each upstream on time or overdue; the notifier called once per change."""

    def check_expectations(**context):
        from airflow.sdk import Variable
        now = _now()
        state = Variable.get(state_key(consumer), default={}, deserialize_json=True)
        since = _time(state.get("first_seen")) or now
        known = state.get("upstreams", {})        # upstream -> {"overdue": what was last notified, "at": when}
        alerts = {upstream: known[upstream] for upstream in upstreams if upstream in known}
        entries, errors, notifier = [], [], None
        for upstream in upstreams:
            entry = upstream_state(consumer, upstream, expect, outcome, now, since, _last_finish(upstream, outcome))
            alerted = bool(alerts.get(upstream, {}).get("overdue"))
            if entry["overdue"] != alerted:
                change = "overdue" if entry["overdue"] else "cleared"
                notifier = notifier or _notifier()         # imported only when there is something to send
                error = send(*notifier, change, entry, context)
                if error is None:
                    alerts[upstream] = {"overdue": entry["overdue"], "at": _iso(now)}
                    entry["notified"] = change
                else:
                    errors.append(error)
            log.log(logging.WARNING if entry["overdue"] else logging.INFO, "%s", entry["message"])
            entries.append(entry)
        if alerts != known or "first_seen" not in state:
            Variable.set(state_key(consumer), {"first_seen": _iso(since), "upstreams": alerts},
                         description=f"The deadline alerts of {consumer} (its {companion_id(consumer)} DAG's; see "
                                     "airflow_flow_triggers docs/triggers.md).", serialize_json=True)
        context["ti"].xcom_push(EXPECT_KEY, {
            "consumer": consumer, "checked_at": _iso(now), "first_seen": _iso(since),
            "overdue": any(e["overdue"] for e in entries), "upstreams": entries, "errors": errors})
        if errors:
            raise RuntimeError(" ".join(errors) + " The next check tries again.")

    return check_expectations


def upstream_state(consumer: str, upstream: str, expect: Expectation, outcome: str, now: datetime.datetime,
                   since: datetime.datetime, last: dict | None) -> dict:
    """What a check finds of one upstream: its last finish (`last`: {"at", "run_id"} or None), when the next is
    due, whether it is overdue, and one sentence saying so."""
    last_at = _time(last["at"]) if last else None
    due = expect.due(last_at, since)
    overdue = expect.overdue(now, last_at, since)
    what = WHAT[outcome]
    if not overdue:
        message = (f"{consumer} is on time: the last {what} of {upstream} was at {_iso(last_at)}"
                   f" (run {last['run_id']})" if last else
                   f"{consumer} is on time: no {what} of {upstream} yet since the expectation was first checked at "
                   f"{_iso(since)}") + f"; the next is due by {_iso(due)} (expect {expect.describe()})."
    elif last:
        message = (f"{consumer} is overdue: the last {what} of {upstream} was at {_iso(last_at)} (run "
                   f"{last['run_id']}), and the next was due by {_iso(due)} (expect {expect.describe()}).")
    else:
        message = (f"{consumer} is overdue: no {what} of {upstream} since the expectation was first checked at "
                   f"{_iso(since)}, and one was due by {_iso(due)} (expect {expect.describe()}).")
    return {"consumer": consumer, "upstream": upstream, "expect": expect.describe(), "outcome": outcome,
            "overdue": overdue, "last_finish": _iso(last_at), "last_run_id": last["run_id"] if last else None,
            "due": _iso(due), "message": message}


def _last_finish(upstream: str, outcome: str) -> dict | None:
    """The newest of the upstream's recorded finishes of the outcomes the trigger listens to."""
    from airflow.sdk import Variable
    found = [Variable.get(last_finish_key(upstream, o), default=None, deserialize_json=True) for o in OUTCOMES[outcome]]
    found = [f for f in found if isinstance(f, dict) and f.get("at")]
    return max(found, key=lambda f: _time(f["at"])) if found else None


# -- the notifier ------------------------------------------------------------------------------------------------

def load_notifier():
    """`[flow_triggers] deadline_notifier`: None when empty; else the object it names (`module.name` or
    `module:name`): an Airflow notifier (a BaseNotifier instance, or a class taking no arguments) or any callable
    taking the context."""
    name = config.get("deadline_notifier").strip()
    if not name:
        return None
    module, _, attribute = name.rpartition(":") if ":" in name else name.rpartition(".")
    try:
        if not module:
            raise ImportError("no module named")
        found = getattr(importlib.import_module(module), attribute)
        if isinstance(found, type):
            found = found()
    except Exception as error:
        raise SettingError(f"[{config.SECTION}] deadline_notifier = {name!r} names nothing this worker can import "
                           f"({type(error).__name__}: {error}): write module.name of an Airflow notifier or a "
                           "callable, importable where tasks run.") from None
    if not callable(found):
        raise SettingError(f"[{config.SECTION}] deadline_notifier = {name!r} is a {type(found).__name__}, not a "
                           "notifier or callable.")
    return found


def _notifier():
    try:
        return load_notifier(), None
    except SettingError as error:
        return None, error.message


def send(notifier, notifier_error: str | None, change: str, entry: dict, context) -> str | None:
    """Tell the notifier that the consumer went overdue or was cleared; returns why it could not, or None."""
    message = entry["message"] if change == "overdue" else _cleared(entry)
    if notifier_error is not None:
        return f"{change}: {entry['upstream']}: not sent: {notifier_error}"
    if notifier is None:
        log.warning("%s (No [%s] deadline_notifier is set: the alert is recorded, and sent nowhere.)", message,
                    config.SECTION)
        return None
    alert = {**entry, "state": change, "message": message}
    try:
        call_notifier(notifier, {**context, "expectation": alert})
    except Exception as error:
        log.exception("The deadline notifier failed to send %s for %s", change, entry["upstream"])
        return f"{change}: {entry['upstream']}: the notifier raised {type(error).__name__}: {error}."
    log.info("Sent %s: %s", change, message)
    return None


def call_notifier(notifier, context: dict) -> None:
    """Call an Airflow notifier as Airflow calls a callback (templates rendered from `context`; one that implements
    only `async_notify` is awaited), or any callable with the context."""
    from airflow.sdk import BaseNotifier
    if not isinstance(notifier, BaseNotifier):
        notifier(context)
        return
    notifier = copy.copy(notifier)        # rendering its templates replaces them: keep the original for the next call
    if type(notifier).notify is BaseNotifier.notify:
        notifier.context = context
        asyncio.run(_awaited(notifier))
    else:
        notifier(context)


async def _awaited(notifier) -> None:
    await notifier


def _cleared(entry: dict) -> str:
    return (f"{entry['consumer']} is no longer overdue: a {WHAT[entry['outcome']]} of {entry['upstream']} came at "
            f"{entry['last_finish']} (run {entry['last_run_id']}); the next is due by {entry['due']} (expect "
            f"{entry['expect']}).")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(text: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(text) if text else None
