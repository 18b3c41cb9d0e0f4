"""When a scheduled job runs: recurrence, time zones and DST (FEATURES SCH-01..SCH-11).

The one core module that imports python-dateutil (ADR 0005): ``rrule`` yields the
local calendar days, ``zoneinfo`` turns each day's wall time into a UTC instant.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import islice, takewhile
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, MONTHLY, TU, WEEKLY, rrule, rruleset

from patchfleet.core.errors import InvalidInputError


class Frequency(StrEnum):
    """How often a schedule runs (SCH-01..SCH-07)."""

    ON_DEMAND = "on_demand"
    ONCE = "once"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"
    PATCH_TUESDAY = "patch_tuesday"


class ScheduleError(InvalidInputError):
    """A schedule that cannot run as given; ``field`` names the offending field."""

    def __init__(self, message: str, field: str) -> None:
        """Keep the message and the field it is about."""
        super().__init__(message, loc=("body", field))
        self.field = field


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring (or one-off) run at a local wall time in an IANA time zone.

    Attributes:
        frequency: How often it runs.
        time_of_day: Naive local wall time in ``timezone``.
        timezone: IANA zone name, e.g. ``Europe/Berlin`` (SCH-08 override).
        start_date: First local day it may run; the run day for ONCE; for YEARLY
            also the day of the month it runs on.
        weekdays_only: DAILY only: run Monday to Friday.
        weekdays: WEEKLY only: 0=Monday .. 6=Sunday, at least one.
        month_days: MONTHLY only: 1..31; a day a month lacks runs on its last
            day, once per month however many chosen days fall onto it.
        months: YEARLY only: 1..12, at least one.
        offset_days: PATCH_TUESDAY only: 0..26 days after the second Tuesday.
        end_date: Last local day it may run (inclusive).
    """

    frequency: Frequency
    time_of_day: time
    timezone: str
    start_date: date | None
    weekdays_only: bool = False
    weekdays: frozenset[int] = frozenset()
    month_days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    offset_days: int = 0
    end_date: date | None = None


MAX_OFFSET_DAYS = 26
"""Patch Tuesday + 26 days is always before the next Patch Tuesday (DEC-04)."""

# Which optional field each frequency reads; setting another one is an error,
# so a mistyped form never silently runs on a different rule.
_OPTIONS_BY_FREQUENCY: dict[Frequency, frozenset[str]] = {
    Frequency.ON_DEMAND: frozenset(),
    Frequency.ONCE: frozenset(),
    Frequency.DAILY: frozenset({"weekdays_only"}),
    Frequency.WEEKLY: frozenset({"weekdays"}),
    Frequency.MONTHLY: frozenset({"month_days"}),
    Frequency.YEARLY: frozenset({"months"}),
    Frequency.PATCH_TUESDAY: frozenset({"offset_days"}),
}
_OPTION_DEFAULTS: dict[str, object] = {
    "weekdays_only": False,
    "weekdays": frozenset(),
    "month_days": frozenset(),
    "months": frozenset(),
    "offset_days": 0,
}
_OPTION_RANGES: dict[str, range] = {
    "weekdays": range(7),
    "month_days": range(1, 32),
    "months": range(1, 13),
    "offset_days": range(MAX_OFFSET_DAYS + 1),
}
_NEEDS_START_DATE = frozenset({Frequency.ONCE, Frequency.YEARLY})
_NOT_IANA = frozenset({"localtime"})  # the host's zone, not a name of one
_MONDAY_TO_FRIDAY = (0, 1, 2, 3, 4)
_SLACK = timedelta(days=2)  # wider than any DST shift or date-line jump
_TICK = timedelta(microseconds=1)  # datetime resolution


def validate(schedule: Schedule) -> None:
    """Check that ``schedule`` can run as given.

    Raises:
        ScheduleError: The first problem found, with a message for the user.
    """
    _zone(schedule.timezone)
    if schedule.time_of_day.tzinfo is not None:
        raise ScheduleError(
            "time_of_day must be a wall time without zone; set timezone instead",
            "time_of_day",
        )
    if schedule.frequency in _NEEDS_START_DATE and schedule.start_date is None:
        raise ScheduleError(
            f"{schedule.frequency} schedules need a start_date", "start_date"
        )
    if (
        schedule.start_date is not None
        and schedule.end_date is not None
        and schedule.end_date < schedule.start_date
    ):
        raise ScheduleError("end_date is before start_date", "end_date")
    for name in _OPTION_DEFAULTS:
        _check_option(schedule, name)


def _check_option(schedule: Schedule, name: str) -> None:
    value = getattr(schedule, name)
    if name not in _OPTIONS_BY_FREQUENCY[schedule.frequency]:
        if value != _OPTION_DEFAULTS[name]:
            raise ScheduleError(
                f"{name} does not apply to {schedule.frequency} schedules", name
            )
        return
    allowed = _OPTION_RANGES.get(name)
    if allowed is None:  # weekdays_only: any bool
        return
    values = [value] if isinstance(value, int) else sorted(value)
    if not values:
        raise ScheduleError(
            f"{schedule.frequency} schedules need at least one value in {name}", name
        )
    for item in values:
        if item not in allowed:
            raise ScheduleError(
                f"{name} {item} is out of range {allowed[0]}..{allowed[-1]}", name
            )


def _zone(name: str) -> ZoneInfo:
    if name in _NOT_IANA:
        raise ScheduleError(f"unknown time zone {name!r}", "timezone")
    try:
        return ZoneInfo(name)
    # Not found, a malformed key ('', '../x', '/etc/x') or a folder ('Europe').
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(f"unknown time zone {name!r}", "timezone") from exc


def patch_tuesday(year: int, month: int) -> date:
    """The second Tuesday of ``month`` (DEC-04).

    Raises:
        ValueError: ``year`` or ``month`` is out of range.
    """
    first = datetime.combine(date(year, month, 1), time())
    return next(iter(_patch_tuesdays(first, None))).date()


def next_run(schedule: Schedule, after: datetime) -> datetime | None:
    """The first run strictly after ``after``, in UTC.

    Returns:
        None for ON_DEMAND, a ONCE already past, or nothing left before end_date.

    Raises:
        ScheduleError: ``schedule`` is invalid.
        ValueError: ``after`` is naive.
    """
    return next(_runs_after(schedule, after), None)


def runs_between(
    schedule: Schedule, start: datetime, end: datetime, limit: int = 1000
) -> list[datetime]:
    """All runs in ``(start, end]``, ascending, in UTC; at most the first ``limit``.

    Raises:
        ScheduleError: ``schedule`` is invalid.
        ValueError: ``start`` or ``end`` is naive, or ``limit`` is negative.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    if limit < 0:
        raise ValueError("limit must not be negative")
    runs = takewhile(lambda at: at <= end, _runs_after(schedule, start))
    return list(islice(runs, limit))


def missed_run(
    schedule: Schedule, last_run: datetime | None, now: datetime, grace: timedelta
) -> datetime | None:
    """The run to catch up after downtime (SCH-11), or None.

    That is the latest run in ``(last_run, now]`` if it is at most ``grace`` old.
    Older missed runs are skipped (the caller logs them); several missed runs
    inside ``grace`` still give one catch-up run.

    Raises:
        ScheduleError: ``schedule`` is invalid.
        ValueError: ``now`` or ``last_run`` is naive, or ``grace`` is negative.
    """
    _require_aware(now, "now")
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    after = now - grace - _TICK  # (now - grace - tick, now] == [now - grace, now]
    if last_run is not None:
        after = max(after, _require_aware(last_run, "last_run"))
    latest = None
    for at in takewhile(lambda at: at <= now, _runs_after(schedule, after)):
        latest = at
    return latest


def _require_aware(value: datetime, name: str) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value


def _runs_after(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Runs strictly after ``after``, ascending and in UTC (checks eagerly)."""
    validate(schedule)
    _require_aware(after, "after")
    # Compare in UTC only: PEP 495 makes inter-zone comparisons of a wall time in a
    # DST gap unreliable (a local ``after`` inside the gap skipped that day's run).
    after = after.astimezone(UTC)
    zone = _zone(schedule.timezone)
    first = after.astimezone(zone).date() - _SLACK
    return _instants(schedule, zone, first, after)


def _instants(
    schedule: Schedule, zone: ZoneInfo, first: date, after: datetime
) -> Iterator[datetime]:
    for day in _run_days(schedule, first):
        at = _instant(day, schedule.time_of_day, zone)
        if at > after:
            yield at
            after = at  # strictly ascending even if two days met in one gap


def _run_days(schedule: Schedule, first: date) -> Iterator[date]:
    """Local days ``schedule`` runs on, from ``first`` (or its start) on."""
    if schedule.start_date is not None:
        first = max(first, schedule.start_date)
    if schedule.frequency == Frequency.ON_DEMAND:
        return iter(())
    if schedule.frequency == Frequency.ONCE:
        assert schedule.start_date is not None  # validate() requires it
        return iter([schedule.start_date] if first <= schedule.start_date else [])
    if schedule.frequency == Frequency.PATCH_TUESDAY:
        # Shift the search window back by the offset, then each Tuesday forward.
        shift = timedelta(days=schedule.offset_days)
        tuesdays = _patch_tuesdays(
            _midnight(first - shift),
            None if schedule.end_date is None else _midnight(schedule.end_date - shift),
        )
        return (tuesday.date() + shift for tuesday in tuesdays)
    build = _RULES[schedule.frequency]
    until = None if schedule.end_date is None else _midnight(schedule.end_date)
    return (at.date() for at in build(schedule, _midnight(first), until))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _patch_tuesdays(start: datetime, until: datetime | None) -> rrule:
    return rrule(MONTHLY, dtstart=start, until=until, byweekday=TU(+2))


def _daily(schedule: Schedule, start: datetime, until: datetime | None) -> rrule:
    days = _MONDAY_TO_FRIDAY if schedule.weekdays_only else None
    return rrule(DAILY, dtstart=start, until=until, byweekday=days)


def _weekly(schedule: Schedule, start: datetime, until: datetime | None) -> rrule:
    days = sorted(schedule.weekdays)
    return rrule(WEEKLY, dtstart=start, until=until, byweekday=days)


def _monthly(schedule: Schedule, start: datetime, until: datetime | None) -> rruleset:
    return _clamped_month_days(schedule.month_days, (), start, until)


def _yearly(schedule: Schedule, start: datetime, until: datetime | None) -> rruleset:
    assert schedule.start_date is not None  # validate() requires it
    day = schedule.start_date.day
    return _clamped_month_days([day], schedule.months, start, until)


def _clamped_month_days(
    days: Iterable[int],
    months: Iterable[int],
    start: datetime,
    until: datetime | None,
) -> rruleset:
    """Each chosen day every (chosen) month, a missing day on the month's last.

    ``bymonthday=(day, -1)`` with ``bysetpos=1`` picks the earlier of ``day``
    and the last day of the month. The set drops days that coincide, so days
    30 and 31 run once on 30 April and once on the last day of February.
    """
    union = rruleset()
    for day in sorted(days):
        union.rrule(
            rrule(
                MONTHLY,
                dtstart=start,
                until=until,
                bymonth=sorted(months) or None,
                bymonthday=(day, -1),
                bysetpos=1,
            )
        )
    return union


_RULES: dict[
    Frequency, Callable[[Schedule, datetime, datetime | None], rrule | rruleset]
] = {
    Frequency.DAILY: _daily,
    Frequency.WEEKLY: _weekly,
    Frequency.MONTHLY: _monthly,
    Frequency.YEARLY: _yearly,
}


def _instant(day: date, time_of_day: time, zone: ZoneInfo) -> datetime:
    """``day`` at ``time_of_day`` in ``zone``, as UTC (SCH-08).

    A wall time repeated by a fall-back runs at its first occurrence (fold=0);
    one skipped by a spring-forward gap runs when the gap ends.
    """
    wall = datetime.combine(day, time_of_day.replace(fold=0))
    at = wall.replace(tzinfo=zone).astimezone(UTC)
    if at.astimezone(zone).replace(tzinfo=None) == wall:
        return at
    return _end_of_gap(wall, zone)


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after the gap that skips ``wall``, in UTC.

    Read with the offsets from either side of the gap, ``wall`` names one
    instant before the transition and one after it; bisect the whole seconds
    between them (tz transitions fall on whole seconds).
    """
    readings = [wall.replace(tzinfo=zone, fold=f).timestamp() for f in (0, 1)]
    before, after = math.floor(min(readings)), math.ceil(max(readings))
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) > wall:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)
