"""Remediation SLAs: deadlines, statuses, inheritance and figures (FEATURES BP-08)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.risk import Band
from patchfleet.core.sla import (
    DEFAULT_POLICY,
    ClientOverride,
    DueRule,
    PolicySource,
    SlaFigures,
    SlaPolicy,
    SlaStatus,
    Verdict,
    assess,
    deadline,
    effective_policy,
    figures,
    status_of,
    to_days,
    verdict,
)

SEEN = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def due(band=Band.NONE, kev=False, kev_due=None, seen=SEEN, policy=DEFAULT_POLICY):
    return deadline(
        first_seen_at=seen, band=band, kev=kev, kev_due_date=kev_due, policy=policy
    )


# ------------------------------------------------------------------------- deadlines


@pytest.mark.parametrize(
    ("band", "days"),
    [
        pytest.param(Band.CRITICAL, 7, id="critical 7 days"),
        pytest.param(Band.HIGH, 30, id="high 30 days"),
        pytest.param(Band.MEDIUM, 90, id="medium 90 days"),
        pytest.param(Band.LOW, 180, id="low 180 days"),
        pytest.param(Band.NONE, 180, id="none like low"),
    ],
)
def test_default_windows_by_band(band, days):
    assert due(band) == (SEEN + timedelta(days=days), DueRule.BAND)


@pytest.mark.parametrize(
    ("kev_due", "expected", "rule"),
    [
        pytest.param(
            date(2026, 12, 18),
            datetime(2026, 12, 19, tzinfo=UTC),
            DueRule.KEV_DUE_DATE,
            id="CISA date ahead: end of that day UTC, beyond the critical 7 days",
        ),
        pytest.param(
            date(2026, 11, 29),
            datetime(2026, 11, 30, tzinfo=UTC),
            DueRule.KEV_DUE_DATE,
            id="CISA date ahead: sooner than the critical window",
        ),
        pytest.param(
            date(2026, 11, 27),
            datetime(2026, 11, 28, tzinfo=UTC),
            DueRule.KEV_DUE_DATE,
            id="due on the day of detection: the rest of that day",
        ),
        pytest.param(
            date(2026, 11, 26),
            SEEN + 7 * DAY,
            DueRule.KEV_AFTER_DETECTION,
            id="due the day before detection: kev_days from detection",
        ),
        pytest.param(
            date(2023, 12, 12),
            SEEN + 7 * DAY,
            DueRule.KEV_AFTER_DETECTION,
            id="long past at detection (CVE-2023-4911)",
        ),
        pytest.param(
            None,
            SEEN + 7 * DAY,
            DueRule.KEV_AFTER_DETECTION,
            id="KEV without a due date",
        ),
    ],
)
def test_kev_deadlines(kev_due, expected, rule):
    assert due(Band.CRITICAL, kev=True, kev_due=kev_due) == (expected, rule)


def test_kev_days_and_windows_come_from_the_policy():
    policy = SlaPolicy(kev_days=2, critical_days=3, high_days=10, low_days=400)
    assert due(Band.CRITICAL, kev=True, policy=policy)[0] == SEEN + 2 * DAY
    assert due(Band.CRITICAL, policy=policy)[0] == SEEN + 3 * DAY
    assert due(Band.HIGH, policy=policy)[0] == SEEN + 10 * DAY
    assert due(Band.MEDIUM, policy=policy)[0] == SEEN + 90 * DAY
    assert due(Band.NONE, policy=policy)[0] == SEEN + 400 * DAY


def test_a_kev_date_ignores_the_band():
    """Whatever band a KEV item has, CISA's date decides."""
    for band in Band:
        assert due(band, kev=True, kev_due=date(2026, 12, 1))[0] == datetime(
            2026, 12, 2, tzinfo=UTC
        )


# ------------------------------------------------------------------------ time zones


@pytest.mark.parametrize(
    "seen",
    [
        pytest.param(SEEN, id="UTC"),
        pytest.param(SEEN.astimezone(ZoneInfo("Europe/Berlin")), id="Berlin +01:00"),
        pytest.param(SEEN.astimezone(ZoneInfo("Pacific/Auckland")), id="Auckland +13"),
        pytest.param(SEEN.astimezone(timezone(timedelta(hours=-7))), id="fixed -07"),
    ],
)
def test_the_same_instant_in_any_zone_gives_the_same_utc_deadline(seen):
    for kwargs in ({"band": Band.HIGH}, {"kev": True, "kev_due": date(2026, 12, 4)}):
        due_at, _rule = due(seen=seen, **kwargs)
        assert due_at.tzinfo is UTC
        assert due_at == due(seen=SEEN, **kwargs)[0]


def test_kev_day_boundaries_are_utc_days_not_local_days():
    """Seen 2026-11-27 01:00 in Auckland (+13) is 2026-11-26 12:00 UTC: a CISA date
    of 2026-11-26 has not passed yet in UTC, so it stands."""
    seen = datetime(2026, 11, 27, 1, 0, tzinfo=ZoneInfo("Pacific/Auckland"))
    assert due(kev=True, kev_due=date(2026, 11, 26), seen=seen) == (
        datetime(2026, 11, 27, tzinfo=UTC),
        DueRule.KEV_DUE_DATE,
    )
    # Seen one minute after the end of that UTC day: past at detection.
    late = datetime(2026, 11, 27, 0, 1, tzinfo=UTC)
    assert due(kev=True, kev_due=date(2026, 11, 26), seen=late) == (
        late + 7 * DAY,
        DueRule.KEV_AFTER_DETECTION,
    )


@pytest.mark.parametrize(
    "field",
    ["first_seen_at", "due_at", "now", "installed_at"],
)
def test_naive_datetimes_are_refused(field):
    values = {
        "first_seen_at": SEEN,
        "due_at": SEEN + DAY,
        "now": SEEN,
        "installed_at": SEEN,
    }
    values[field] = values[field].replace(tzinfo=None)
    with pytest.raises(ValueError, match=field):
        status_of(**values)


# -------------------------------------------------------------------------- statuses

DUE = SEEN + 30 * DAY  # a high item: 30-day window, due soon with 6 days left


@pytest.mark.parametrize(
    ("now", "installed_at", "status"),
    [
        pytest.param(SEEN, None, SlaStatus.WITHIN, id="just detected"),
        pytest.param(DUE - 6 * DAY - timedelta(seconds=1), None, SlaStatus.WITHIN,
                     id="a second more than 20% left"),
        pytest.param(DUE - 6 * DAY, None, SlaStatus.DUE_SOON, id="exactly 20% left"),
        pytest.param(DUE - timedelta(seconds=1), None, SlaStatus.DUE_SOON,
                     id="a second left"),
        pytest.param(DUE, None, SlaStatus.DUE_SOON, id="at the deadline: not yet overdue"),
        pytest.param(DUE + timedelta(microseconds=1), None, SlaStatus.OVERDUE,
                     id="just past the deadline"),
        pytest.param(DUE + 400 * DAY, None, SlaStatus.OVERDUE, id="long overdue"),
        pytest.param(DUE + 400 * DAY, SEEN + DAY, SlaStatus.MET, id="installed early"),
        pytest.param(SEEN, DUE, SlaStatus.MET, id="installed at the deadline"),
        pytest.param(SEEN, DUE + timedelta(microseconds=1), SlaStatus.MISSED,
                     id="installed just after"),
        pytest.param(SEEN - DAY, None, SlaStatus.WITHIN, id="now before detection (skew)"),
    ],
)  # fmt: skip
def test_status_boundaries(now, installed_at, status):
    assert (
        status_of(first_seen_at=SEEN, due_at=DUE, now=now, installed_at=installed_at)
        is status
    )


@pytest.mark.parametrize(
    ("window_days", "left", "status"),
    [
        pytest.param(7, timedelta(days=3), SlaStatus.DUE_SOON, id="7d: 3 days floor"),
        pytest.param(7, timedelta(days=3, seconds=1), SlaStatus.WITHIN, id="7d: 3d+1s"),
        pytest.param(180, timedelta(days=36), SlaStatus.DUE_SOON, id="180d: 20% is 36d"),
        pytest.param(180, timedelta(days=37), SlaStatus.WITHIN, id="180d: 37d left"),
        pytest.param(2, timedelta(days=2), SlaStatus.DUE_SOON, id="2d: due soon at once"),
    ],
)  # fmt: skip
def test_due_soon_is_the_larger_of_20_percent_and_3_days(window_days, left, status):
    due_at = SEEN + timedelta(days=window_days)
    assert status_of(first_seen_at=SEEN, due_at=due_at, now=due_at - left) is status


def test_assess_kev_item_before_and_after_the_cisa_date():
    kwargs = {
        "first_seen_at": SEEN,
        "band": Band.CRITICAL,
        "kev": True,
        "kev_due_date": date(2026, 12, 4),
        "policy": DEFAULT_POLICY,
    }
    before = assess(now=SEEN + 2 * DAY, **kwargs)
    assert before == Verdict(
        SlaStatus.WITHIN,
        datetime(2026, 12, 5, tzinfo=UTC),
        DueRule.KEV_DUE_DATE,
        time_left=timedelta(days=5, hours=12),
    )
    soon = assess(now=datetime(2026, 12, 2, tzinfo=UTC), **kwargs)
    assert soon.status is SlaStatus.DUE_SOON
    after = assess(now=datetime(2026, 12, 5, 0, 0, 1, tzinfo=UTC), **kwargs)
    assert after.status is SlaStatus.OVERDUE
    assert after.time_left == timedelta(seconds=-1)
    fixed = assess(now=SEEN + 99 * DAY, installed_at=SEEN + 2 * DAY, **kwargs)
    assert (fixed.status, fixed.time_to_patch, fixed.time_left) == (
        SlaStatus.MET,
        2 * DAY,
        None,
    )


def test_kev_past_due_at_detection_is_not_overdue_on_arrival():
    verdict_now = assess(
        first_seen_at=SEEN,
        band=Band.CRITICAL,
        kev=True,
        kev_due_date=date(2023, 12, 12),
        policy=DEFAULT_POLICY,
        now=SEEN,
    )
    assert verdict_now.status is SlaStatus.WITHIN
    assert verdict_now.rule is DueRule.KEV_AFTER_DETECTION


def test_verdict_of_a_stored_deadline_and_time_to_patch_never_negative():
    v = verdict(
        first_seen_at=SEEN,
        due_at=SEEN + DAY,
        rule=DueRule.BAND,
        now=SEEN,
        installed_at=SEEN - DAY,  # clock skew between the scan and the report
    )
    assert (v.status, v.time_to_patch) == (SlaStatus.MET, timedelta(0))


def test_open_statuses():
    assert [s for s in SlaStatus if s.is_open] == [
        SlaStatus.WITHIN,
        SlaStatus.DUE_SOON,
        SlaStatus.OVERDUE,
    ]


# ------------------------------------------------------------------- policy and inheritance

PARTNER = SlaPolicy(kev_days=3, critical_days=5, high_days=20, medium_days=60)
OWN = SlaPolicy(critical_days=2)


@pytest.mark.parametrize(
    ("partner", "client", "expected"),
    [
        pytest.param(None, None, (DEFAULT_POLICY, PolicySource.DEFAULT),
                     id="nothing stored: defaults"),
        pytest.param(PARTNER, None, (PARTNER, PolicySource.PARTNER),
                     id="partner default, client without own"),
        pytest.param(PARTNER, ClientOverride(False, OWN), (OWN, PolicySource.CLIENT),
                     id="client's own values"),
        pytest.param(PARTNER, ClientOverride(True, OWN), (PARTNER, PolicySource.PARTNER),
                     id="Use Parent Level keeps own values aside"),
        pytest.param(None, ClientOverride(True, OWN), (DEFAULT_POLICY, PolicySource.DEFAULT),
                     id="parent level without a partner policy: defaults"),
        pytest.param(None, ClientOverride(False, OWN), (OWN, PolicySource.CLIENT),
                     id="own values without a partner policy"),
    ],
)  # fmt: skip
def test_effective_policy(partner, client, expected):
    assert effective_policy(partner=partner, client=client) == expected


def test_defaults_match_bp08():
    assert (
        SlaPolicy(
            kev_days=7, critical_days=7, high_days=30, medium_days=90, low_days=180
        )
        == DEFAULT_POLICY
    )


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"critical_days": 0}, id="zero"),
        pytest.param({"high_days": -1}, id="negative"),
        pytest.param({"low_days": 3651}, id="over ten years"),
        pytest.param({"kev_days": 1.5}, id="fraction"),
        pytest.param({"medium_days": True}, id="bool"),
    ],
)
def test_policy_refuses_days_out_of_range(values):
    with pytest.raises(InvalidInputError) as caught:
        SlaPolicy(**values)
    assert next(iter(values)) in str(caught.value)


def test_policy_accepts_the_limits():
    assert SlaPolicy(kev_days=1, low_days=3650).window(Band.LOW) == 3650 * DAY


# -------------------------------------------------------------------------- figures


def closed(days: float, status=SlaStatus.MET) -> Verdict:
    return Verdict(status, SEEN, DueRule.BAND, time_to_patch=timedelta(days=days))


def opened(status: SlaStatus) -> Verdict:
    return Verdict(status, SEEN, DueRule.BAND, time_left=DAY)


def test_figures_with_known_values():
    result = figures(
        [
            opened(SlaStatus.WITHIN),
            opened(SlaStatus.WITHIN),
            opened(SlaStatus.DUE_SOON),
            opened(SlaStatus.OVERDUE),
            closed(1),
            closed(2),
            closed(3),
            closed(10, SlaStatus.MISSED),
        ]
    )
    assert result == SlaFigures(
        within=2,
        due_soon=1,
        overdue=1,
        met=3,
        missed=1,
        mean_days=4.0,
        median_days=2.5,
        within_sla_percent=75.0,
    )
    assert (result.open, result.remediated) == (4, 4)
    assert [result.count(s) for s in SlaStatus] == [2, 1, 1, 3, 1]


def test_figures_odd_median_and_hours():
    result = figures([closed(0.5), closed(1.25), closed(4)])
    assert (result.mean_days, result.median_days) == (pytest.approx(5.75 / 3), 1.25)
    assert result.within_sla_percent == 100.0


def test_figures_of_nothing():
    assert figures([]) == SlaFigures()
    only_open = figures([opened(SlaStatus.OVERDUE)])
    assert (only_open.mean_days, only_open.within_sla_percent) == (None, None)


def test_to_days():
    assert to_days(timedelta(days=2, hours=12)) == 2.5
