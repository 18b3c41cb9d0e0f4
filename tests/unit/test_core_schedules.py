"""Schedules: recurrence, clamping, Patch Tuesday, DST, catch-up and validation."""

from __future__ import annotations

import ast
import calendar
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.schedules import (
    Frequency,
    Schedule,
    ScheduleError,
    missed_run,
    next_run,
    patch_tuesday,
    runs_between,
    validate,
)

CORE = Path(__file__).resolve().parents[2] / "src" / "patchfleet" / "core"
PROPERTIES = settings(max_examples=100, deadline=None, database=None)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime: utc(2024, 3, 31, 1, 30)."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def plan(
    frequency: Frequency,
    at: time = time(9),
    zone: str = "UTC",
    start: date | None = None,
    **options: Any,
) -> Schedule:
    return Schedule(frequency, at, zone, start, **options)


DAILY = plan(Frequency.DAILY)
WORKDAYS = plan(Frequency.DAILY, weekdays_only=True)
MON_THU = plan(Frequency.WEEKLY, weekdays=frozenset({0, 3}))
DAY_31 = plan(Frequency.MONTHLY, month_days=frozenset({31}))
PATCH_TUESDAY = plan(Frequency.PATCH_TUESDAY, time(22))


# --- next_run: every frequency ---------------------------------------------------

NEXT_RUN_CASES = [
    pytest.param(
        plan(Frequency.ON_DEMAND), utc(2024, 1, 1), None, id="on-demand-never"
    ),
    pytest.param(
        plan(Frequency.ONCE, start=date(2024, 5, 6)),
        utc(2024, 1, 1),
        utc(2024, 5, 6, 9),
        id="once-in-the-future",
    ),
    pytest.param(
        plan(Frequency.ONCE, start=date(2024, 5, 6)),
        utc(2024, 5, 6, 9),
        None,
        id="once-exactly-now-is-past",
    ),
    pytest.param(
        plan(Frequency.ONCE, start=date(2024, 5, 6)),
        utc(2024, 6, 1),
        None,
        id="once-in-the-past",
    ),
    pytest.param(DAILY, utc(2024, 5, 6, 8), utc(2024, 5, 6, 9), id="daily-later-today"),
    pytest.param(
        DAILY, utc(2024, 5, 6, 9), utc(2024, 5, 7, 9), id="daily-strictly-after"
    ),
    pytest.param(DAILY, utc(2024, 5, 11, 10), utc(2024, 5, 12, 9), id="daily-saturday"),
    pytest.param(
        WORKDAYS,
        utc(2024, 5, 10, 10),
        utc(2024, 5, 13, 9),
        id="workdays-friday-evening",
    ),
    pytest.param(
        WORKDAYS, utc(2024, 5, 11, 8), utc(2024, 5, 13, 9), id="workdays-saturday"
    ),
    pytest.param(
        replace(DAILY, start_date=date(2024, 6, 1)),
        utc(2024, 5, 6),
        utc(2024, 6, 1, 9),
        id="daily-waits-for-start-date",
    ),
    pytest.param(
        replace(DAILY, end_date=date(2024, 5, 6)),
        utc(2024, 5, 6, 8),
        utc(2024, 5, 6, 9),
        id="daily-end-date-inclusive",
    ),
    pytest.param(
        replace(DAILY, end_date=date(2024, 5, 6)),
        utc(2024, 5, 6, 9),
        None,
        id="daily-past-end-date",
    ),
    pytest.param(MON_THU, utc(2024, 5, 7), utc(2024, 5, 9, 9), id="weekly-tue-to-thu"),
    pytest.param(
        MON_THU, utc(2024, 5, 9, 9), utc(2024, 5, 13, 9), id="weekly-thu-to-mon"
    ),
    pytest.param(
        plan(Frequency.WEEKLY, weekdays=frozenset({6})),
        utc(2024, 12, 30),
        utc(2025, 1, 5, 9),
        id="weekly-sunday-across-new-year",
    ),
    pytest.param(
        DAY_31, utc(2024, 4, 1), utc(2024, 4, 30, 9), id="monthly-31-in-april"
    ),
    pytest.param(
        plan(Frequency.MONTHLY, month_days=frozenset({1, 15})),
        utc(2024, 5, 15, 9),
        utc(2024, 6, 1, 9),
        id="monthly-two-days",
    ),
    pytest.param(
        plan(Frequency.YEARLY, start=date(2024, 3, 15), months=frozenset({1, 7})),
        utc(2024, 1, 1),
        utc(2024, 7, 15, 9),
        id="yearly-not-before-start",
    ),
    pytest.param(
        plan(Frequency.YEARLY, start=date(2023, 1, 31), months=frozenset({2})),
        utc(2023, 3, 1),
        utc(2024, 2, 29, 9),
        id="yearly-31-clamps-to-leap-february",
    ),
    pytest.param(
        PATCH_TUESDAY, utc(2024, 1, 1), utc(2024, 1, 9, 22), id="patch-tuesday"
    ),
    pytest.param(
        PATCH_TUESDAY,
        utc(2024, 1, 9, 22),
        utc(2024, 2, 13, 22),
        id="patch-tuesday-next",
    ),
    pytest.param(
        replace(PATCH_TUESDAY, offset_days=10),
        utc(2024, 1, 14),
        utc(2024, 1, 19, 22),
        id="after-between-a-tuesday-and-its-offset-run",
    ),
    pytest.param(
        replace(PATCH_TUESDAY, offset_days=26),
        utc(2024, 12, 11),
        utc(2025, 1, 5, 22),
        id="offset-26-crosses-into-next-year",
    ),
    pytest.param(
        replace(PATCH_TUESDAY, offset_days=3, start_date=date(2024, 1, 11)),
        utc(2024, 1, 1),
        utc(2024, 1, 12, 22),
        id="start-date-limits-the-run-day-not-the-tuesday",
    ),
    pytest.param(
        replace(PATCH_TUESDAY, offset_days=3, end_date=date(2024, 2, 15)),
        utc(2024, 1, 13),
        None,
        id="end-date-limits-the-run-day",
    ),
    pytest.param(
        plan(Frequency.PATCH_TUESDAY, time(3), "Pacific/Auckland"),
        utc(2024, 1, 1),
        utc(2024, 1, 8, 14),
        id="patch-tuesday-in-auckland-is-monday-in-utc",
    ),
    pytest.param(
        plan(Frequency.DAILY, time(9), "Europe/Berlin"),
        datetime(2024, 1, 15, 8, tzinfo=ZoneInfo("Europe/Berlin")),
        utc(2024, 1, 15, 8),
        id="after-given-in-another-zone",
    ),
]


@pytest.mark.parametrize(("schedule", "after", "expected"), NEXT_RUN_CASES)
def test_next_run(schedule, after, expected):
    assert next_run(schedule, after) == expected


def test_next_run_cases_cover_every_frequency():
    schedules = [case.values[0] for case in NEXT_RUN_CASES]
    covered = {s.frequency for s in schedules if isinstance(s, Schedule)}
    assert covered == set(Frequency)


@pytest.mark.parametrize(
    ("schedule", "after"),
    [
        pytest.param(case.values[0], case.values[1], id=case.id)
        for case in NEXT_RUN_CASES
    ],
)
def test_next_run_is_utc(schedule, after):
    run = next_run(schedule, after)
    assert run is None or run.tzinfo is UTC


# --- runs_between: calendars over longer spans -------------------------------------


@pytest.mark.parametrize(
    ("schedule", "start", "end", "expected_days"),
    [
        pytest.param(
            WORKDAYS,
            utc(2024, 5, 9, 9),
            utc(2024, 5, 15),
            [(5, 10), (5, 13), (5, 14)],
            id="workdays-skip-the-weekend",
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 9, 9),
            utc(2024, 5, 13, 9),
            [(5, 10), (5, 11), (5, 12), (5, 13)],
            id="every-day-includes-the-weekend-end-inclusive",
        ),
        pytest.param(
            MON_THU,
            utc(2024, 5, 1),
            utc(2024, 5, 20, 9),
            [(5, 2), (5, 6), (5, 9), (5, 13), (5, 16), (5, 20)],
            id="weekly-monday-and-thursday",
        ),
        pytest.param(
            plan(Frequency.ONCE, start=date(2024, 5, 6)),
            utc(2024, 1, 1),
            utc(2025, 1, 1),
            [(5, 6)],
            id="once-runs-once",
        ),
        pytest.param(
            plan(Frequency.ON_DEMAND), utc(2024, 1, 1), utc(2025, 1, 1), [], id="none"
        ),
        pytest.param(
            plan(
                Frequency.YEARLY, start=date(2024, 1, 31), months=frozenset({2, 4, 6})
            ),
            utc(2024, 1, 1),
            utc(2024, 12, 31),
            [(2, 29), (4, 30), (6, 30)],
            id="yearly-day-31-clamped-in-each-month",
        ),
        pytest.param(
            plan(Frequency.YEARLY, start=date(2024, 2, 29), months=frozenset({2})),
            utc(2024, 1, 1),
            utc(2024, 12, 31),
            [(2, 29)],
            id="yearly-leap-day-in-a-leap-year",
        ),
        pytest.param(
            DAILY, utc(2024, 5, 9), utc(2024, 5, 1), [], id="end-before-start-is-empty"
        ),
    ],
)
def test_runs_between_days(schedule, start, end, expected_days):
    runs = runs_between(schedule, start, end)
    assert [(run.month, run.day) for run in runs] == expected_days


def test_yearly_leap_day_clamps_in_ordinary_years():
    schedule = plan(Frequency.YEARLY, start=date(2024, 2, 29), months=frozenset({2}))
    runs = runs_between(schedule, utc(2024, 1, 1), utc(2029, 1, 1))
    assert [run.date() for run in runs] == [
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]


M31, M30 = [28, 29, 30, 31], [28, 29, 30]  # days 28..31 in long and 30-day months
B = [30, 31]  # days 30 and 31 in a 31-day month


@pytest.mark.parametrize(
    ("days", "year", "expected"),
    [
        pytest.param(
            {31},
            2024,
            [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
            id="day-31-leap-year-april-included",
        ),
        pytest.param(
            {31},
            2023,
            [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31],
            id="day-31-ordinary-year",
        ),
        pytest.param({29}, 2024, [29] * 12, id="day-29-leap-february-on-the-29th"),
        pytest.param(
            {29},
            2023,
            [29, 28, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29],
            id="day-29-ordinary-february-on-the-28th",
        ),
        pytest.param(
            {30, 31},
            2024,
            [*B, 29, *B, 30, *B, 30, *B, *B, 30, *B, 30, *B],
            id="days-30-and-31-once-in-april-and-february",
        ),
        pytest.param(
            {28, 29, 30, 31},
            2023,
            [*M31, 28, *M31, *M30, *M31, *M30, *M31, *M31, *M30, *M31, *M30, *M31],
            id="days-28-to-31-once-on-february-28",
        ),
        pytest.param({1, 15}, 2024, [1, 15] * 12, id="days-1-and-15"),
    ],
)
def test_monthly_days_through_a_year(days, year, expected):
    schedule = plan(Frequency.MONTHLY, month_days=frozenset(days))
    runs = runs_between(schedule, utc(year, 1, 1), utc(year, 12, 31, 23))
    assert [run.day for run in runs] == expected
    assert len(set(runs)) == len(runs)


@pytest.mark.parametrize(
    "days",
    [
        pytest.param({31}, id="31"),
        pytest.param({30, 31}, id="30-and-31"),
        pytest.param({29}, id="29"),
        pytest.param({1, 28, 29, 30, 31}, id="1-and-28-to-31"),
        pytest.param({5, 20}, id="5-and-20"),
    ],
)
def test_monthly_clamps_like_monthrange_2020_to_2035(days):
    schedule = plan(Frequency.MONTHLY, month_days=frozenset(days))
    runs = runs_between(schedule, utc(2020, 1, 1), utc(2036, 1, 1))
    expected = [
        date(year, month, day)
        for year in range(2020, 2036)
        for month in range(1, 13)
        for day in sorted({min(d, calendar.monthrange(year, month)[1]) for d in days})
    ]
    assert [run.date() for run in runs] == expected


# --- Patch Tuesday (DEC-04) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        pytest.param(2024, 1, date(2024, 1, 9), id="2024-01"),
        pytest.param(2024, 2, date(2024, 2, 13), id="2024-02"),
        pytest.param(2024, 3, date(2024, 3, 12), id="2024-03"),
        pytest.param(2024, 10, date(2024, 10, 8), id="2024-10-month-starts-tuesday"),
        pytest.param(2025, 1, date(2025, 1, 14), id="2025-01-month-starts-wednesday"),
        pytest.param(2025, 10, date(2025, 10, 14), id="2025-10"),
        pytest.param(2023, 11, date(2023, 11, 14), id="2023-11"),
        pytest.param(2026, 12, date(2026, 12, 8), id="2026-12"),
        pytest.param(2020, 2, date(2020, 2, 11), id="2020-02-leap"),
    ],
)
def test_patch_tuesday_known_dates(year, month, expected):
    assert patch_tuesday(year, month) == expected


def test_patch_tuesday_rejects_month_13():
    with pytest.raises(ValueError, match="month"):
        patch_tuesday(2024, 13)


MONTHS_2020_TO_2035 = [(y, m) for y in range(2020, 2036) for m in range(1, 13)]


def test_patch_tuesday_is_the_second_tuesday_2020_to_2035():
    for year, month in MONTHS_2020_TO_2035:
        tuesday = patch_tuesday(year, month)
        assert (tuesday.year, tuesday.month) == (year, month)
        assert tuesday.weekday() == calendar.TUESDAY
        assert 8 <= tuesday.day <= 14


@pytest.mark.parametrize(
    "offset", [pytest.param(n, id=f"offset-{n}") for n in (0, 1, 7, 13, 20, 26)]
)
def test_one_run_per_patch_tuesday_2020_to_2035(offset):
    # Tuesdays fall on days 8..14, so this window holds exactly 2020..2035's runs.
    schedule = replace(PATCH_TUESDAY, offset_days=offset)
    shift = timedelta(days=offset)
    runs = runs_between(schedule, utc(2020, 1, 1) + shift, utc(2036, 1, 1) + shift)
    tuesdays = [run.date() - shift for run in runs]
    assert tuesdays == [patch_tuesday(y, m) for y, m in MONTHS_2020_TO_2035]


def test_offset_zero_runs_in_every_month_exactly_once():
    runs = runs_between(PATCH_TUESDAY, utc(2020, 1, 1), utc(2036, 1, 1))
    assert [(run.year, run.month) for run in runs] == MONTHS_2020_TO_2035


def test_offset_26_always_lands_in_the_next_month():
    schedule = replace(PATCH_TUESDAY, offset_days=26)
    for year, month in MONTHS_2020_TO_2035:
        tuesday = patch_tuesday(year, month)
        run = next_run(schedule, datetime.combine(tuesday, time(22), UTC))
        assert run is not None
        assert run.date() == tuesday + timedelta(days=26)
        assert (run.year * 12 + run.month) - (year * 12 + month) == 1


def test_offset_20_two_close_runs_each_count_once():
    # 12 Dec + 20 = 1 Jan, 9 Jan + 20 = 29 Jan, 13 Feb + 20 = 4 Mar,
    # 12 Mar + 20 = 1 Apr, 9 Apr + 20 = 29 Apr: January and April hold two runs
    # each, February none; still one run per Patch Tuesday.
    schedule = replace(PATCH_TUESDAY, offset_days=20)
    runs = runs_between(schedule, utc(2024, 1, 1), utc(2024, 5, 1))
    assert [run.date() for run in runs] == [
        date(2024, 1, 1),
        date(2024, 1, 29),
        date(2024, 3, 4),
        date(2024, 4, 1),
        date(2024, 4, 29),
    ]


# --- DST (SCH-08) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        pytest.param(
            "Europe/Berlin",
            date(2024, 3, 31),
            time(2, 30),
            utc(2024, 3, 31, 1),
            id="berlin-spring-gap-runs-at-0300-local",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2024, 3, 31),
            time(1, 59),
            utc(2024, 3, 31, 0, 59),
            id="berlin-just-before-the-gap",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2024, 3, 31),
            time(3),
            utc(2024, 3, 31, 1),
            id="berlin-end-of-gap-itself",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2024, 10, 27),
            time(2, 30),
            utc(2024, 10, 27, 0, 30),
            id="berlin-fall-back-first-occurrence",
        ),
        pytest.param(
            "America/New_York",
            date(2024, 3, 10),
            time(2, 30),
            utc(2024, 3, 10, 7),
            id="new-york-spring-gap-runs-at-0300-local",
        ),
        pytest.param(
            "America/New_York",
            date(2024, 11, 3),
            time(1, 30),
            utc(2024, 11, 3, 5, 30),
            id="new-york-fall-back-first-occurrence",
        ),
        pytest.param(
            "America/New_York",
            date(2024, 11, 3),
            time(1, 30, fold=1),
            utc(2024, 11, 3, 5, 30),
            id="new-york-fold-1-time-of-day-still-first",
        ),
        pytest.param(
            "Australia/Sydney",
            date(2024, 10, 6),
            time(2, 30),
            utc(2024, 10, 5, 16),
            id="sydney-spring-gap-in-october",
        ),
        pytest.param(
            "Australia/Sydney",
            date(2024, 4, 7),
            time(2, 30),
            utc(2024, 4, 6, 15, 30),
            id="sydney-fall-back-in-april-first-occurrence",
        ),
        pytest.param(
            "Australia/Lord_Howe",
            date(2024, 10, 6),
            time(2, 15),
            utc(2024, 10, 5, 15, 30),
            id="lord-howe-half-hour-gap",
        ),
        pytest.param(
            "Pacific/Apia",
            date(2011, 12, 30),
            time(9),
            utc(2011, 12, 30, 10),
            id="apia-skipped-day-runs-at-next-midnight",
        ),
        pytest.param(
            "Europe/Berlin",
            date(2024, 3, 31),
            time(2, 30, 15, 500),
            utc(2024, 3, 31, 1),
            id="berlin-gap-with-seconds",
        ),
    ],
)
def test_dst_wall_times(zone, day, wall, expected):
    schedule = plan(Frequency.ONCE, wall, zone, day)
    assert next_run(schedule, utc(2000, 1, 1)) == expected


@pytest.mark.parametrize(
    ("zone", "first_day", "wall"),
    [
        pytest.param("Europe/Berlin", date(2024, 10, 25), time(2, 30), id="berlin"),
        pytest.param("America/New_York", date(2024, 11, 1), time(1, 30), id="new-york"),
        pytest.param("Australia/Sydney", date(2024, 4, 5), time(2, 30), id="sydney"),
        pytest.param("Europe/Berlin", date(2024, 3, 29), time(2, 30), id="berlin-gap"),
        pytest.param("Australia/Sydney", date(2024, 10, 4), time(2, 30), id="syd-gap"),
        pytest.param("Pacific/Apia", date(2011, 12, 28), time(9), id="apia-skip"),
    ],
)
def test_daily_runs_once_per_day_across_dst(zone, first_day, wall):
    schedule = plan(Frequency.DAILY, wall, zone, first_day)
    runs = runs_between(schedule, utc(2000, 1, 1), utc(2030, 1, 1), limit=5)
    assert len(runs) == 5
    assert runs == sorted(set(runs))
    gaps = [later - earlier for earlier, later in pairwise(runs)]
    assert all(timedelta(hours=9) <= gap <= timedelta(hours=25) for gap in gaps)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        pytest.param("UTC", utc(2024, 6, 3, 9), id="utc"),
        pytest.param("Europe/Berlin", utc(2024, 6, 3, 7), id="berlin-summer"),
        pytest.param("America/New_York", utc(2024, 6, 3, 13), id="new-york-summer"),
        pytest.param("Australia/Sydney", utc(2024, 6, 2, 23), id="sydney-winter"),
        pytest.param("Asia/Kolkata", utc(2024, 6, 3, 3, 30), id="kolkata-half-hour"),
    ],
)
def test_zone_override_moves_the_utc_instant(zone, expected):
    schedule = plan(Frequency.ONCE, time(9), "UTC", date(2024, 6, 3))
    assert next_run(replace(schedule, timezone=zone), utc(2024, 1, 1)) == expected


def test_same_schedule_in_two_zones_differs():
    berlin = plan(Frequency.DAILY, time(9), "Europe/Berlin")
    new_york = replace(berlin, timezone="America/New_York")
    in_new_york = next_run(new_york, utc(2024, 6, 3))
    in_berlin = next_run(berlin, utc(2024, 6, 3))
    assert in_new_york is not None
    assert in_berlin is not None
    assert in_new_york - in_berlin == timedelta(hours=6)


# --- runs_between mechanics -------------------------------------------------------


def test_runs_between_is_start_exclusive_and_end_inclusive():
    assert runs_between(DAILY, utc(2024, 5, 6, 9), utc(2024, 5, 7, 9)) == [
        utc(2024, 5, 7, 9)
    ]


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        pytest.param(0, 0, id="zero"),
        pytest.param(3, 3, id="truncated-to-limit"),
        pytest.param(1000, 31, id="default-sized-limit-not-reached"),
    ],
)
def test_runs_between_limit(limit, expected):
    runs = runs_between(DAILY, utc(2024, 1, 1), utc(2024, 2, 1), limit=limit)
    assert len(runs) == expected


def test_runs_between_default_limit_is_1000():
    assert len(runs_between(DAILY, utc(2020, 1, 1), utc(2030, 1, 1))) == 1000


def test_runs_between_rejects_a_negative_limit():
    with pytest.raises(ValueError, match="limit must not be negative"):
        runs_between(DAILY, utc(2024, 1, 1), utc(2024, 2, 1), limit=-1)


HYPOTHESIS_SCHEDULES = [
    DAILY,
    WORKDAYS,
    MON_THU,
    DAY_31,
    plan(
        Frequency.MONTHLY, time(2, 30), "Europe/Berlin", month_days=frozenset({30, 31})
    ),
    plan(Frequency.DAILY, time(2, 30), "Europe/Berlin"),
    plan(Frequency.DAILY, time(1, 30), "America/New_York", weekdays_only=True),
    plan(Frequency.WEEKLY, time(2, 30), "Australia/Sydney", weekdays=frozenset({6})),
    plan(
        Frequency.YEARLY,
        time(23, 59),
        "Pacific/Auckland",
        date(2020, 1, 31),
        months=frozenset({2, 3, 10}),
    ),
    replace(PATCH_TUESDAY, offset_days=26),
    plan(Frequency.PATCH_TUESDAY, time(2, 30), "America/New_York", offset_days=5),
    plan(Frequency.ONCE, time(2, 30), "Europe/Berlin", date(2024, 3, 31)),
    replace(DAILY, start_date=date(2022, 3, 1), end_date=date(2022, 4, 15)),
    plan(Frequency.ON_DEMAND),
]

instants = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2031, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from(
        [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Sydney")]
    ),
)


@PROPERTIES
@given(
    schedule=st.sampled_from(HYPOTHESIS_SCHEDULES),
    start=instants,
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=50)),
)
def test_runs_between_equals_iterated_next_run(schedule, start, span):
    end = start + span
    iterated = []
    run = next_run(schedule, start)
    while run is not None and run <= end:
        iterated.append(run)
        run = next_run(schedule, run)
    assert runs_between(schedule, start, end) == iterated
    assert all(run > start for run in iterated)
    assert iterated == sorted(set(iterated))


@PROPERTIES
@given(schedule=st.sampled_from(HYPOTHESIS_SCHEDULES), after=instants)
def test_next_run_is_strictly_after(schedule, after):
    run = next_run(schedule, after)
    assert run is None or run > after
    # Compare in UTC: PEP 495 makes inter-zone equality of a wall time inside a DST
    # gap always false, so a local ``after`` would never match the UTC run.
    # Step back in UTC too: aware arithmetic is wall-clock arithmetic, and one
    # microsecond before a wall time inside a gap is an hour *later* in real time.
    after_utc = after.astimezone(UTC)
    earlier = next_run(schedule, after_utc - timedelta(microseconds=1))
    assert earlier in {run, after_utc}


# --- missed_run (SCH-11) ------------------------------------------------------------

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("schedule", "last_run", "now", "grace", "expected"),
    [
        pytest.param(
            DAILY,
            utc(2024, 5, 6, 9),
            utc(2024, 5, 6, 12),
            HOUR,
            None,
            id="nothing-missed",
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 5, 9),
            utc(2024, 5, 6, 9, 30),
            HOUR,
            utc(2024, 5, 6, 9),
            id="missed-inside-grace",
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 5, 9),
            utc(2024, 5, 6, 11),
            HOUR,
            None,
            id="outside-grace",
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 5, 9),
            utc(2024, 5, 6, 10),
            HOUR,
            utc(2024, 5, 6, 9),
            id="grace-boundary-inclusive",
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 1, 9),
            utc(2024, 5, 6, 9, 30),
            timedelta(days=7),
            utc(2024, 5, 6, 9),
            id="several-missed-one-catch-up-the-latest",
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 1, 9),
            utc(2024, 5, 6, 12),
            HOUR,
            None,
            id="several-missed-latest-outside-grace",
        ),
        pytest.param(
            DAILY,
            None,
            utc(2024, 5, 6, 9, 30),
            HOUR,
            utc(2024, 5, 6, 9),
            id="never-ran-inside-grace",
        ),
        pytest.param(
            DAILY, None, utc(2024, 5, 6, 12), HOUR, None, id="never-ran-outside-grace"
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 5, 9),
            utc(2024, 5, 6, 9),
            timedelta(0),
            utc(2024, 5, 6, 9),
            id="zero-grace-due-exactly-now",
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 6, 9),
            utc(2024, 5, 6, 9, 30),
            HOUR,
            None,
            id="last-run-is-the-due-run",
        ),
        pytest.param(
            DAILY,
            utc(2024, 5, 7, 9),
            utc(2024, 5, 6, 9, 30),
            HOUR,
            None,
            id="clock-skew",
        ),
        pytest.param(
            plan(Frequency.ON_DEMAND),
            None,
            utc(2024, 5, 6, 9),
            HOUR,
            None,
            id="on-demand-never-misses",
        ),
        pytest.param(
            plan(Frequency.ONCE, start=date(2024, 5, 6)),
            None,
            utc(2024, 5, 6, 9, 5),
            HOUR,
            utc(2024, 5, 6, 9),
            id="once-missed-by-minutes",
        ),
    ],
)
def test_missed_run(schedule, last_run, now, grace, expected):
    assert missed_run(schedule, last_run, now, grace) == expected


def test_missed_run_rejects_negative_grace():
    with pytest.raises(ValueError, match="grace must not be negative"):
        missed_run(DAILY, None, utc(2024, 5, 6), -HOUR)


# --- validation -------------------------------------------------------------------

BERLIN_TIME = time(9, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.mark.parametrize(
    ("schedule", "field", "message"),
    [
        pytest.param(
            plan(Frequency.WEEKLY),
            "weekdays",
            "weekly schedules need at least one value in weekdays",
            id="weekly-without-weekdays",
        ),
        pytest.param(
            plan(Frequency.WEEKLY, weekdays=frozenset({0, 7})),
            "weekdays",
            "weekdays 7 is out of range 0..6",
            id="weekday-7",
        ),
        pytest.param(
            plan(Frequency.MONTHLY),
            "month_days",
            "monthly schedules need at least one value in month_days",
            id="monthly-without-days",
        ),
        pytest.param(
            plan(Frequency.MONTHLY, month_days=frozenset({0})),
            "month_days",
            "month_days 0 is out of range 1..31",
            id="month-day-0",
        ),
        pytest.param(
            plan(Frequency.MONTHLY, month_days=frozenset({1, 32})),
            "month_days",
            "month_days 32 is out of range 1..31",
            id="month-day-32",
        ),
        pytest.param(
            plan(Frequency.YEARLY, start=date(2024, 1, 1)),
            "months",
            "yearly schedules need at least one value in months",
            id="yearly-without-months",
        ),
        pytest.param(
            plan(Frequency.YEARLY, start=date(2024, 1, 1), months=frozenset({13})),
            "months",
            "months 13 is out of range 1..12",
            id="month-13",
        ),
        pytest.param(
            plan(Frequency.YEARLY, months=frozenset({1})),
            "start_date",
            "yearly schedules need a start_date",
            id="yearly-without-start-date",
        ),
        pytest.param(
            plan(Frequency.ONCE),
            "start_date",
            "once schedules need a start_date",
            id="once-without-start-date",
        ),
        pytest.param(
            plan(Frequency.PATCH_TUESDAY, offset_days=27),
            "offset_days",
            "offset_days 27 is out of range 0..26",
            id="offset-27",
        ),
        pytest.param(
            plan(Frequency.PATCH_TUESDAY, offset_days=-1),
            "offset_days",
            "offset_days -1 is out of range 0..26",
            id="offset-negative",
        ),
        pytest.param(
            plan(Frequency.DAILY, zone="Mars/Olympus_Mons"),
            "timezone",
            "unknown time zone 'Mars/Olympus_Mons'",
            id="unknown-zone",
        ),
        pytest.param(
            plan(Frequency.DAILY, zone="europe/berlin"),
            "timezone",
            "unknown time zone 'europe/berlin'",
            id="zone-names-are-case-sensitive",
        ),
        pytest.param(
            plan(Frequency.DAILY, zone=""),
            "timezone",
            "unknown time zone ''",
            id="empty-zone",
        ),
        pytest.param(
            plan(Frequency.DAILY, zone="Europe"),
            "timezone",
            "unknown time zone",
            id="zone-folder",
        ),
        pytest.param(
            plan(Frequency.DAILY, zone="../etc/passwd"),
            "timezone",
            "unknown time zone",
            id="zone-path-escape",
        ),
        pytest.param(
            plan(Frequency.DAILY, zone="localtime"),
            "timezone",
            "unknown time zone",
            id="host-localtime-is-not-a-zone",
        ),
        pytest.param(
            plan(Frequency.DAILY, BERLIN_TIME),
            "time_of_day",
            "time_of_day must be a wall time without zone",
            id="aware-time-of-day",
        ),
        pytest.param(
            plan(Frequency.DAILY, start=date(2024, 5, 6), end_date=date(2024, 5, 5)),
            "end_date",
            "end_date is before start_date",
            id="end-before-start",
        ),
        pytest.param(
            plan(Frequency.DAILY, weekdays=frozenset({1})),
            "weekdays",
            "weekdays does not apply to daily schedules",
            id="weekdays-on-daily",
        ),
        pytest.param(
            plan(Frequency.WEEKLY, weekdays=frozenset({1}), weekdays_only=True),
            "weekdays_only",
            "weekdays_only does not apply to weekly schedules",
            id="weekdays-only-on-weekly",
        ),
        pytest.param(
            plan(Frequency.MONTHLY, month_days=frozenset({1}), offset_days=3),
            "offset_days",
            "offset_days does not apply to monthly schedules",
            id="offset-on-monthly",
        ),
        pytest.param(
            plan(Frequency.PATCH_TUESDAY, month_days=frozenset({1})),
            "month_days",
            "month_days does not apply to patch_tuesday schedules",
            id="month-days-on-patch-tuesday",
        ),
        pytest.param(
            plan(Frequency.ON_DEMAND, months=frozenset({1})),
            "months",
            "months does not apply to on_demand schedules",
            id="months-on-on-demand",
        ),
    ],
)
def test_validate_rejects(schedule, field, message):
    with pytest.raises(ScheduleError, match=message) as caught:
        validate(schedule)
    assert caught.value.field == field
    assert caught.value.loc == ("body", field)
    assert isinstance(caught.value, InvalidInputError)


@pytest.mark.parametrize(
    "schedule",
    [
        pytest.param(plan(Frequency.ON_DEMAND), id="on-demand"),
        pytest.param(plan(Frequency.ONCE, start=date(2024, 1, 1)), id="once"),
        pytest.param(WORKDAYS, id="daily-workdays"),
        pytest.param(
            plan(Frequency.WEEKLY, weekdays=frozenset(range(7))), id="all-week"
        ),
        pytest.param(plan(Frequency.MONTHLY, month_days=frozenset({1, 31})), id="1-31"),
        pytest.param(
            plan(Frequency.YEARLY, start=date(2024, 1, 1), months=frozenset({1, 12})),
            id="yearly",
        ),
        pytest.param(replace(PATCH_TUESDAY, offset_days=26), id="offset-26"),
        pytest.param(
            plan(Frequency.DAILY, start=date(2024, 5, 6), end_date=date(2024, 5, 6)),
            id="one-day-range",
        ),
    ],
)
def test_validate_accepts(schedule):
    assert validate(schedule) is None  # type: ignore[func-returns-value]


def test_run_functions_validate_the_schedule():
    with pytest.raises(ScheduleError, match="weekdays"):
        next_run(plan(Frequency.WEEKLY), utc(2024, 1, 1))


NAIVE = datetime(2024, 5, 6, 9)  # noqa: DTZ001 - the point of these tests


@pytest.mark.parametrize(
    ("call", "name"),
    [
        pytest.param(lambda: next_run(DAILY, NAIVE), "after", id="next-run-after"),
        pytest.param(
            lambda: runs_between(DAILY, NAIVE, utc(2024, 6, 1)),
            "start",
            id="runs-between-start",
        ),
        pytest.param(
            lambda: runs_between(DAILY, utc(2024, 5, 1), NAIVE),
            "end",
            id="runs-between-end",
        ),
        pytest.param(
            lambda: missed_run(DAILY, None, NAIVE, HOUR), "now", id="missed-run-now"
        ),
        pytest.param(
            lambda: missed_run(DAILY, NAIVE, utc(2024, 5, 6), HOUR),
            "last_run",
            id="missed-run-last-run",
        ),
    ],
)
def test_naive_datetimes_are_rejected(call, name):
    with pytest.raises(ValueError, match=f"{name} must be a timezone-aware datetime"):
        call()


# --- the one core module that imports dateutil (ADR 0005) ---------------------------


def imports_dateutil(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(name.split(".")[0] == "dateutil" for name in names):
            return True
    return False


def test_only_schedules_imports_dateutil_in_core():
    importers = {path.name for path in CORE.glob("*.py") if imports_dateutil(path)}
    assert importers == {"schedules.py"}


def test_an_instant_given_as_a_wall_time_in_the_dst_gap_keeps_that_days_run():
    """Found by the property above: 02:00 (fold=1) in Berlin's 2020 spring gap is
    00:00 UTC, and the 02:30 run (moved to 03:30 CEST = 01:30 UTC) still follows."""
    berlin = ZoneInfo("Europe/Berlin")
    schedule = Schedule(Frequency.DAILY, time(2, 30), "Europe/Berlin", None)
    in_gap = datetime(2020, 3, 29, 2, 0, fold=1, tzinfo=berlin)
    assert next_run(schedule, in_gap) == next_run(schedule, in_gap.astimezone(UTC))
    assert next_run(schedule, in_gap).date() == date(2020, 3, 29)
