"""Why a run started, and what became of each finish: recorded as XComs in Airflow's metadata database, so
the answer outlives task logs (rotation, remote log storage) and the plugin can read it with one query.

    flow_triggers_cause   pushed by a consumer's `start` task before any step code: the trigger events it
                          started from (none: started by hand), and its verdict, "started", "refused" (a
                          finish no successful run stands behind), "stopped" (over max_trigger_depth) or
                          "rejected" (its trigger's artifacts could not set its parameters: the run failed)
    flow_triggers_gate    pushed by a wait-for-all gate's task: the finishes it received, the sets it
                          matched (by partition key), those it let expire, and those still waiting

A start task that fails before pushing its cause failed before any step code ran.
"""
from __future__ import annotations

CAUSE_KEY = "flow_triggers_cause"
# the task that records a run's cause: a flow's `start` step, or the start task the package adds to a project's
# own Airflow DAG when a root task of it is mapped (project_dags.py; else each root task records it before it runs)
START_TASKS = ("start", "flow_triggers_start")
GATE_KEY = "flow_triggers_gate"
STARTED, REFUSED, STOPPED, REJECTED = "started", "refused", "stopped", "rejected"


def cause(verdict: str, events: list[dict], refused: list[tuple[str, str]] = (), detail: str = "",
          code: dict | None = None, parameters: dict | None = None) -> dict:
    """The cause record of a run: its verdict, its trigger events (as the store vouched for them), why a
    finish was refused, the code version it runs (its package's SHA-256; None for a hand-written file), and the
    parameters its trigger's artifacts set (JSON-safe: as their repr where they are not)."""
    return {"verdict": verdict, "detail": detail, "code": (code or {}).get("sha256"),
            "parameters": {name: value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
                           for name, value in (parameters or {}).items()},
            "events": [{key: event.get(key) for key in ("name", "id", "type", "pathspec", "timestamp", "depth",
                                                        "outcome")}
                       for event in events],
            "refused": [{"what": what, "why": why} for what, why in refused]}


def gate_record(received: list[dict], matched: dict[str, list[dict]], expired: list[tuple[dict, dict]],
                waiting: dict[str, list[dict]], refused: list[tuple[str, str]], window) -> dict:
    """What one run of a gate did with the finishes it holds."""
    return {"received": [e["pathspec"] for e in received],
            "matched": {key: [e["pathspec"] for e in batch] for key, batch in matched.items()},
            "expired": [{"pathspec": old["pathspec"], "finished_at": old["timestamp"], "by": newest["pathspec"]}
                        for old, newest in expired],
            "waiting": [e["pathspec"] for events in waiting.values() for e in events],
            "refused": [{"what": what, "why": why} for what, why in refused],
            "window_seconds": window.total_seconds() if window else None}
