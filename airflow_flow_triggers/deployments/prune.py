"""Which branches of a project are stale: user.* and test.* branches with no deployment and no run for a
given age. Prod branches are never stale (removing one takes `airflow delete --branch-all` and its token).

A stale branch may be removed by anyone Airflow lets delete its DAGs, without the branch's token: the
token guards a branch in use, and a branch nobody deployed or ran for the whole age is not in use.
"""
from __future__ import annotations

import datetime

from ..errors import CommandLineError
from ..flows.expectations import short_duration
from ..naming import branch_kind

PRUNABLE_KINDS = ("user", "test")


def parse_age(text: str) -> datetime.timedelta:
    """'30d', '12h', '2w', '90m' as a timedelta."""
    age = short_duration(text)
    if not age:
        raise CommandLineError(f"--older-than {text!r} is not an age: write a whole number and a unit, as 30d, "
                               "12h, 2w or 90m.")
    return age


def stale_branches(records: list[dict], last_runs: dict[str, str | None], project: str,
                   older_than: datetime.timedelta, now: datetime.datetime | None = None) -> list[dict]:
    """The user.* and test.* branches of `project` whose newest deployment and newest run (`last_runs`:
    {DAG id: ISO time of its newest run, or None}) are both older than `older_than`, oldest first."""
    cutoff = (now or datetime.datetime.now(datetime.timezone.utc)) - older_than
    branches: dict[str, list[dict]] = {}
    for record in records:
        if record["project"] == project and branch_kind(record["branch"]) in PRUNABLE_KINDS:
            branches.setdefault(record["branch"], []).append(record)
    stale = []
    for branch, members in branches.items():
        deployed = max(_time(r["deployed_at"]) for r in members)
        runs = [_time(last_runs[r["dag_id"]]) for r in members if last_runs.get(r["dag_id"])]
        last_run = max(runs) if runs else None
        active = max([deployed, *runs])
        if active < cutoff:
            stale.append((active, {"project": project, "branch": branch, "flows": sorted(r["flow"] for r in members),
                          "dag_ids": sorted(r["dag_id"] for r in members),
                          "last_deployed": deployed.isoformat(timespec="seconds"),
                          "last_run": last_run.isoformat(timespec="seconds") if last_run else None}))
    return [branch for _, branch in sorted(stale, key=lambda pair: (pair[0], pair[1]["branch"]))]  # longest idle first


def stale_lines(stale: list[dict], older_than: str, removed: bool) -> list[str]:
    """What `airflow prune` prints."""
    if not stale:
        return [f"No user.* or test.* branch has gone {older_than} without a deployment or a run."]
    lines = [f"{'Removed' if removed else 'Would remove'} {len(stale)} branch(es) with no deployment and no run for "
             f"{older_than}:"]
    for branch in stale:
        last_run = branch["last_run"] or "never"
        lines.append(f"  {branch['project']} {branch['branch']}: {', '.join(branch['flows'])} (deployed "
                     f"{branch['last_deployed']}, last run {last_run})")
    if not removed:
        lines.append("Nothing was removed: run again with --yes to remove them.")
    return lines


def _time(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)
