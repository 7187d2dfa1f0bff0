"""Deadlines for an expected upstream: `@trigger_on_finish(flow='Ingest', expect_every='1d')` (or `expect_by=<cron>`).

What the decorator's `expect_every` / `expect_by` mean, checked where they are written, and when an upstream is
overdue, as pure functions of the clock, the upstream's last finish and when the expectation was first checked (so
that they are tested without Airflow). The Airflow side, the companion DAG that checks them and raises and clears
the alert, is orchestration/expectations.py.

- `expect_every=<duration>`: overdue once more than that has passed since the upstream's last finish (or, before
  any, since the expectation was first checked).
- `expect_by=<cron>` (five fields, UTC): at each tick T of the cron a finish must have come since the tick before
  T (a finish exactly at a tick counts for the next one); overdue from T until a finish comes.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from ..errors import FlowDefinitionError

SHORT_DURATION = re.compile(r"(\d+)([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def short_duration(text: str) -> datetime.timedelta | None:
    """'45s', '30m', '6h', '1d', '2w' (a whole number and a unit) as a timedelta; None for anything else. The
    grammar of expect_every= and of `airflow prune --older-than`."""
    match = SHORT_DURATION.fullmatch(text.strip())
    return datetime.timedelta(**{UNITS[match.group(2)]: int(match.group(1))}) if match else None


@dataclass(frozen=True)
class Expectation:
    """One of `every` (a duration) or `by` (a five-field cron expression, in UTC)."""

    every: datetime.timedelta | None = None
    by: str | None = None

    def describe(self) -> str:
        """'every 1d', 'every 30m', 'by 0 6 * * *': as people read it (why, the API, the notifier)."""
        return f"every {human_duration(self.every)}" if self.every is not None else f"by {self.by}"

    def due(self, last_finish: datetime.datetime | None, since: datetime.datetime) -> datetime.datetime:
        """When the next finish is due: `expect_every` after the last finish; with `expect_by`, the second tick of
        the cron after it (the first tick after a finish is the one it satisfies). Without a finish yet, counted
        from `since`, when the expectation was first checked."""
        start = last_finish or since
        if self.every is not None:
            return start + self.every
        return next_tick(self.by, next_tick(self.by, start))

    def overdue(self, now: datetime.datetime, last_finish: datetime.datetime | None,
                since: datetime.datetime) -> bool:
        """Whether the upstream is overdue at `now`: more than `every` since its last finish, or a tick of `by`
        passed (the tick itself included) with no finish since the tick before it."""
        due = self.due(last_finish, since)
        return now > due if self.every is not None else now >= due


def next_tick(cron: str, after: datetime.datetime) -> datetime.datetime:
    """The first tick of `cron` strictly after `after` (an aware datetime; the cron is read in its time zone)."""
    from croniter import croniter  # Airflow's own cron library (its CronTriggerTimetable's)
    return croniter(cron, after).get_next(datetime.datetime)


def expectation(expect_every, expect_by) -> Expectation | None:
    """The decorator's arguments, checked: None when neither is given."""
    if expect_every is not None and expect_by is not None:
        raise FlowDefinitionError("@trigger_on_finish takes one of expect_every= (a duration since the last finish) "
                                  "or expect_by= (a cron time), not both.")
    if expect_every is not None:
        return Expectation(every=_duration(expect_every))
    if expect_by is not None:
        return Expectation(by=_cron(expect_by))
    return None


def _duration(value) -> datetime.timedelta:
    what = (f"@trigger_on_finish(expect_every={value!r}) is not a positive duration: write a timedelta, a number of "
            "seconds, or a whole number and a unit, as '30m', '6h', '1d', '2w' (or ISO 8601, 'PT30M').")
    if isinstance(value, bool):
        raise FlowDefinitionError(what)
    if isinstance(value, (int, float)):
        duration = datetime.timedelta(seconds=value)
    elif isinstance(value, datetime.timedelta):
        duration = value
    elif isinstance(value, str):
        duration = _parsed_duration(value.strip(), what)
    else:
        raise FlowDefinitionError(what)
    if duration <= datetime.timedelta(0):
        raise FlowDefinitionError(what)
    return datetime.timedelta(seconds=duration.total_seconds())    # a plain timedelta (pendulum's Duration is one)


def _parsed_duration(text: str, what: str) -> datetime.timedelta:
    short = short_duration(text)
    if short is not None:
        return short
    if not text.upper().startswith("P"):
        raise FlowDefinitionError(what)
    import pendulum
    try:
        parsed = pendulum.parse(text)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise FlowDefinitionError(what) from None
    if not isinstance(parsed, datetime.timedelta):
        raise FlowDefinitionError(what)
    if getattr(parsed, "years", 0) or getattr(parsed, "months", 0):
        raise FlowDefinitionError(f"@trigger_on_finish(expect_every={text!r}) counts in months or years, whose "
                                  "length varies: write days or weeks (or use expect_by= with a cron time).")
    return parsed


def _cron(value) -> str:
    what = (f"@trigger_on_finish(expect_by={value!r}) is not a cron time: write five fields (minute hour day month "
            "weekday, in UTC), as '0 6 * * *' for 06:00 every day.")
    if not isinstance(value, str) or not value.strip():
        raise FlowDefinitionError(what)
    cron = " ".join(value.split())
    from croniter import croniter
    if not croniter.is_valid(cron) or (not cron.startswith("@") and len(cron.split()) != 5):
        raise FlowDefinitionError(what)
    return cron


def human_duration(duration: datetime.timedelta) -> str:
    """'1d', '6h', '30m', '1d 6h', '90s', '1.5s': a duration in the units it is written in."""
    seconds = duration.total_seconds()
    if seconds != int(seconds):
        return f"{seconds:g}s"
    parts, left = [], int(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size and not (unit == "w" and left % size):       # weeks only when whole
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts) or "0s"
