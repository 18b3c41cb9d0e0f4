"""Risk ranking of CVEs and patches: KEV, then EPSS, then CVSS (FEATURES BP-07)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchfleet.core.advisories import EpssScore, KevEntry
from patchfleet.core.risk import (
    NO_PRIORITY,
    Band,
    Exposure,
    Priority,
    rank_cve,
    rank_patch,
)

TODAY = date(2025, 4, 1)
CVE = "CVE-2024-3094"
NOBODY = Exposure(0, 0)


def kev_entry(added=date(2025, 3, 4), due=date(2025, 3, 25), ransomware=False):
    return KevEntry(CVE, added, due, ransomware)


def epss_score(probability, percentile=0.5):
    return EpssScore(CVE, probability, percentile)


def rank(*, kev=None, epss=None, cvss=None, severity="", exposure=NOBODY, today=TODAY):
    return rank_cve(
        CVE,
        kev=kev,
        epss=epss,
        cvss=cvss,
        severity=severity,
        exposure=exposure,
        today=today,
    )


# ------------------------------------------------------------------ slots and bands


@pytest.mark.parametrize(
    ("inputs", "score", "band"),
    [
        pytest.param({}, 0, Band.NONE, id="nothing known"),
        pytest.param(
            {"exposure": Exposure(10_000, 0)}, 9, Band.NONE, id="nothing, everywhere"
        ),
        pytest.param({"cvss": 0.0}, 0, Band.NONE, id="CVSS 0"),
        pytest.param(
            {"severity": "Low"}, 10 + int(29 * 0.8 * 2 / 7), Band.LOW, id="word low"
        ),
        pytest.param(
            {"cvss": 5.3}, 10 + int(29 * 0.8 * 5.3 / 7), Band.LOW, id="CVSS 5.3"
        ),
        pytest.param(
            {"severity": "Moderate"},
            10 + int(29 * 0.8 * 5.5 / 7),
            Band.LOW,
            id="word moderate",
        ),
        pytest.param({"cvss": 7.0}, 40, Band.MEDIUM, id="CVSS 7.0"),
        pytest.param(
            {"severity": "Important"},
            40 + int(9 * 0.8 / 3),
            Band.MEDIUM,
            id="word important",
        ),
        pytest.param(
            {"cvss": 10.0, "exposure": Exposure(10_000, 1)},
            49,
            Band.MEDIUM,
            id="CVSS 10, everywhere",
        ),
        pytest.param({"epss": epss_score(0.01)}, 50, Band.MEDIUM, id="EPSS 1%"),
        pytest.param({"epss": epss_score(0.1)}, 60, Band.HIGH, id="EPSS 10%"),
        pytest.param({"epss": epss_score(0.5)}, 70, Band.HIGH, id="EPSS 50%"),
        pytest.param(
            {"epss": epss_score(0.97), "cvss": 10.0, "exposure": Exposure(50_000, 0)},
            79,
            Band.HIGH,
            id="non-KEV ceiling",
        ),
        pytest.param({"kev": kev_entry(due=None)}, 80, Band.CRITICAL, id="KEV floor"),
        pytest.param(
            {"kev": kev_entry(due=TODAY)},
            80,
            Band.CRITICAL,
            id="KEV due today is not overdue",
        ),
        pytest.param(
            {"kev": kev_entry(due=TODAY - timedelta(days=1))},
            90,
            Band.CRITICAL,
            id="KEV overdue",
        ),
        pytest.param(
            {"kev": kev_entry(due=None, ransomware=True)},
            90,
            Band.CRITICAL,
            id="KEV ransomware",
        ),
        pytest.param(
            {"kev": kev_entry(ransomware=True)},
            96,
            Band.CRITICAL,
            id="KEV overdue and ransomware",
        ),
        pytest.param(
            {
                "kev": kev_entry(ransomware=True),
                "epss": epss_score(1.0),
                "cvss": 10.0,
                "exposure": Exposure(10_000, 0),
            },
            100,
            Band.CRITICAL,
            id="ceiling",
        ),
    ],
)
def test_slots(inputs, score, band):
    priority = rank(**inputs)
    assert (priority.score, priority.band) == (score, band)
    assert priority.cve == CVE
    assert priority.cve_count == 0


def test_kev_outranks_the_worst_non_kev():
    worst = rank(epss=epss_score(1.0), cvss=10.0, exposure=Exposure(10**6, 10**6))
    mildest_kev = rank(kev=kev_entry(due=None))
    assert mildest_kev.score > worst.score


def test_epss_dominates_cvss():
    assert (
        rank(epss=epss_score(0.02), cvss=0.1).score
        > rank(epss=epss_score(0.009), cvss=10.0).score
    )
    assert (
        rank(epss=epss_score(0.1), cvss=None).score
        > rank(epss=epss_score(0.09), cvss=10.0).score
    )


def test_cvss_wins_over_the_vendor_word():
    assert rank(cvss=3.1, severity="Critical").band is Band.LOW
    assert rank(cvss=None, severity="Critical").band is Band.MEDIUM
    assert rank(cvss=float("nan"), severity="Critical").band is Band.MEDIUM


def test_out_of_range_inputs_are_clamped():
    assert rank(cvss=42.0) == rank(cvss=10.0)
    assert rank(cvss=-1.0) == rank(cvss=0.0)
    assert rank(epss=epss_score(3.0)).score == rank(epss=epss_score(1.0)).score
    assert rank(exposure=Exposure(-5, -5)).score == 0


# --------------------------------------------------------------------- explanations


@pytest.mark.parametrize(
    ("inputs", "explanation"),
    [
        pytest.param(
            {
                "kev": kev_entry(ransomware=True),
                "epss": epss_score(0.94, 0.995),
                "cvss": 9.8,
                "exposure": Exposure(42, 40),
            },
            "known exploited since 2025-03-04, due 2025-03-25 (overdue), "
            "used in ransomware, EPSS 94% (99th percentile), CVSS 9.8, on 42 devices, "
            "fix installable on 40",
            id="everything",
        ),
        pytest.param(
            {"kev": kev_entry(due=date(2025, 4, 22)), "exposure": Exposure(3, 3)},
            "known exploited since 2025-03-04, due 2025-04-22, on 3 devices, "
            "fix installable on 3",
            id="KEV not yet due",
        ),
        pytest.param(
            {"kev": kev_entry(due=None)},
            "known exploited since 2025-03-04, on no device",
            id="KEV without due date",
        ),
        pytest.param(
            {"epss": epss_score(0.025, 0.913), "cvss": 7.5, "exposure": Exposure(1, 0)},
            "EPSS 2.5% (91st percentile), CVSS 7.5, on 1 device, no fix installable",
            id="EPSS in percent with one decimal",
        ),
        pytest.param(
            {"epss": epss_score(0.00043, 0.12)},
            "EPSS 0.04% (12th percentile), on no device",
            id="small EPSS",
        ),
        pytest.param(
            {"epss": epss_score(0.00001, 0.0)},
            "EPSS <0.01% (0th percentile), on no device",
            id="tiny EPSS",
        ),
        pytest.param(
            {"epss": epss_score(0.0, 0.0)},
            "EPSS 0% (0th percentile), on no device",
            id="zero EPSS",
        ),
        pytest.param(
            {"severity": " Important ", "exposure": Exposure(1_234, 1_200)},
            "vendor severity important, on 1,234 devices, fix installable on 1,200",
            id="vendor word, thousands",
        ),
        pytest.param(
            {"cvss": 5.0, "severity": "Moderate"},
            "CVSS 5.0, vendor severity moderate, on no device",
            id="CVSS and vendor word",
        ),
        pytest.param(
            {},
            "no KEV, EPSS, CVSS or severity data, on no device",
            id="nothing known",
        ),
    ],
)
def test_explanation(inputs, explanation):
    assert rank(**inputs).explanation == explanation


@pytest.mark.parametrize(
    ("percentile", "ordinal"),
    [
        (0.0, "0th"),
        (0.01, "1st"),
        (0.02, "2nd"),
        (0.03, "3rd"),
        (0.11, "11th"),
        (0.12, "12th"),
        (0.13, "13th"),
        (0.21, "21st"),
        (0.29, "29th"),
        (0.57, "57th"),
        (0.999, "99th"),
        (1.0, "100th"),
        (float("nan"), "0th"),
    ],
)
def test_percentile_ordinals(percentile, ordinal):
    assert (
        f"({ordinal} percentile)" in rank(epss=epss_score(0.5, percentile)).explanation
    )


# ------------------------------------------------------------------------- patches


def test_patch_without_cve():
    assert rank_patch([]) is NO_PRIORITY
    assert NO_PRIORITY.explanation == "fixes no known CVE"
    assert NO_PRIORITY.band is Band.NONE


def test_patch_takes_its_most_urgent_cve():
    low = replace(rank(cvss=4.0), cve="CVE-2024-0002")
    kev = replace(
        rank(kev=kev_entry(ransomware=True), exposure=Exposure(2, 2)),
        cve="CVE-2024-0001",
    )
    patch = rank_patch([low, kev])
    assert (patch.score, patch.band, patch.cve, patch.cve_count) == (
        kev.score,
        Band.CRITICAL,
        "CVE-2024-0001",
        2,
    )
    assert patch.explanation == (
        "CVE-2024-0001 (most urgent of 2 CVEs): known exploited since 2025-03-04, "
        "due 2025-03-25 (overdue), used in ransomware, on 2 devices, fix installable on 2"
    )


def test_patch_with_one_cve_names_it():
    patch = rank_patch([rank(cvss=9.8)])
    assert patch.explanation == f"{CVE}: CVSS 9.8, on no device"


def test_patch_ties_go_to_the_lowest_cve_id():
    a = Priority(50, Band.MEDIUM, ("a",), "CVE-2024-0009")
    b = Priority(50, Band.MEDIUM, ("b",), "CVE-2024-0001")
    assert rank_patch([a, b]).cve == "CVE-2024-0001"
    assert rank_patch(iter([b, a])).cve == "CVE-2024-0001"


# ---------------------------------------------------------------------- properties

dates = st.dates(min_value=date(2021, 11, 3), max_value=date(2030, 12, 31))
kevs = st.builds(
    KevEntry,
    st.just(CVE),
    dates,
    st.none() | dates,
    st.booleans(),
)
probabilities = st.floats(0.0, 1.0)
epss_scores = st.builds(EpssScore, st.just(CVE), probabilities, probabilities)
cvss_scores = st.floats(0.0, 10.0)
severities = st.sampled_from(
    ["", "Critical", "Important", "Moderate", "Low", "none", "urgent", "odd"]
)
exposures = st.integers(0, 200_000).flatmap(
    lambda devices: st.builds(Exposure, st.just(devices), st.integers(0, devices))
)
inputs = st.fixed_dictionaries(
    {
        "kev": st.none() | kevs,
        "epss": st.none() | epss_scores,
        "cvss": st.none() | cvss_scores,
        "severity": severities,
        "exposure": exposures,
        "today": dates,
    }
)
BAND_SCORES = {
    Band.CRITICAL: range(80, 101),
    Band.HIGH: range(60, 80),
    Band.MEDIUM: range(40, 60),
    Band.LOW: range(10, 40),
    Band.NONE: range(10),
}


@given(args=inputs)
@settings(max_examples=300)
def test_score_in_range_and_band_matches(args):
    priority = rank(**args)
    assert 0 <= priority.score <= 100
    assert priority.score in BAND_SCORES[priority.band]
    assert (priority.band is Band.CRITICAL) == (args["kev"] is not None)


@given(args=inputs, kev=kevs)
@settings(max_examples=200)
def test_adding_kev_never_lowers(args, kev):
    without = rank(**(args | {"kev": None}))
    assert rank(**(args | {"kev": kev})).score >= without.score


@given(args=inputs, other=inputs, kev=kevs)
@settings(max_examples=200)
def test_kev_always_outranks_non_kev(args, other, kev):
    assert rank(**(args | {"kev": kev})).score > rank(**(other | {"kev": None})).score


@given(args=inputs, kev=kevs)
@settings(max_examples=200)
def test_ransomware_and_overdue_never_lower(args, kev):
    base = replace(kev, ransomware=False, due_date=None)
    plain = rank(**(args | {"kev": base})).score
    assert rank(**(args | {"kev": replace(base, ransomware=True)})).score >= plain
    overdue = replace(base, due_date=args["today"] - timedelta(days=1))
    assert rank(**(args | {"kev": overdue})).score >= plain


@given(args=inputs, a=probabilities, b=probabilities)
@settings(max_examples=300)
def test_higher_epss_never_lowers(args, a, b):
    low, high = sorted([a, b])
    assert (
        rank(**(args | {"epss": epss_score(high)})).score
        >= rank(**(args | {"epss": epss_score(low)})).score
    )
    assert (
        rank(**(args | {"epss": epss_score(low)})).score
        >= rank(**(args | {"epss": None})).score
    )


@given(args=inputs, other=inputs)
@settings(max_examples=300)
def test_non_kev_epss_level_dominates_cvss_and_exposure(args, other):
    levels = (0.0, 0.01, 0.1, 0.5)

    def level(a):
        p = a["epss"].probability if a["epss"] else 0.0
        return sum(p >= threshold for threshold in levels[1:])

    a, b = args | {"kev": None}, other | {"kev": None}
    if level(a) > level(b):
        assert rank(**a).score > rank(**b).score


@given(args=inputs, a=cvss_scores, b=cvss_scores)
@settings(max_examples=300)
def test_higher_cvss_never_lowers(args, a, b):
    low, high = sorted([a, b])
    assert rank(**(args | {"cvss": high})).score >= rank(**(args | {"cvss": low})).score


@given(args=inputs, a=st.integers(0, 10**6), b=st.integers(0, 10**6))
@settings(max_examples=300)
def test_more_devices_never_lower_and_never_change_the_band(args, a, b):
    low, high = sorted([a, b])
    fewer = rank(**(args | {"exposure": Exposure(low, 0)}))
    more = rank(**(args | {"exposure": Exposure(high, 0)}))
    assert more.score >= fewer.score
    assert more.band is fewer.band


@given(args=inputs)
@settings(max_examples=300)
def test_explanation_mentions_every_input_given(args):
    text = rank(**args).explanation
    kev, epss, cvss = args["kev"], args["epss"], args["cvss"]
    if kev is not None:
        assert kev.date_added.isoformat() in text
        if kev.due_date is not None:
            assert f"due {kev.due_date.isoformat()}" in text
            assert ("(overdue)" in text) == (kev.due_date < args["today"])
        assert ("ransomware" in text) == kev.ransomware
    if epss is not None:
        assert "EPSS " in text
        assert "percentile" in text
    if cvss is not None:
        assert f"CVSS {cvss:.1f}" in text
    if args["severity"]:
        assert f"vendor severity {args['severity'].lower()}" in text
    exposure = args["exposure"]
    assert (f"on {exposure.devices:,} device" in text) or (
        exposure.devices == 0 and "on no device" in text
    )
    if exposure.devices and exposure.installable:
        assert f"fix installable on {exposure.installable:,}" in text
