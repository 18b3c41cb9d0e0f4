"""Matching installed (release, package, version) tuples against advisories (CVE-*).

Tables for each rule of ``patchfleet.core.vulns`` on real-looking Debian, Ubuntu and
RHEL versions, then hypothesis properties: a version at or above the distribution's
fix is never flagged, and the index agrees with a naive reference implementation that
compares every range with ``versions.compare``.
"""

from __future__ import annotations

import functools
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patchfleet.core.advisories import Advisory, AffectedPackage, FixState, scheme_of
from patchfleet.core.updates import Update, UpdateState
from patchfleet.core.versions import Scheme, VersionError, compare
from patchfleet.core.vulns import (
    AdvisoryIndex,
    Candidate,
    Finding,
    Installed,
    delta,
    device_state,
)

DEB12 = "debian:12"
JAMMY = "ubuntu:22.04"
RHEL9 = "rhel:9"
CVE1 = "CVE-2024-0001"
CVE2 = "CVE-2024-0002"
CVE3 = "CVE-2024-0003"


def rng(
    release: str = DEB12,
    package: str = "openssl",
    *,
    introduced: str = "",
    fixed: str = "",
    last_affected: str = "",
    not_affected: bool = False,
) -> AffectedPackage:
    """One affected entry, scheme taken from the release."""
    return AffectedPackage(
        release,
        package,
        scheme_of(release),
        introduced=introduced,
        fixed=fixed,
        last_affected=last_affected,
        not_affected=not_affected,
    )


def adv(
    advisory_id: str,
    *affected: AffectedPackage,
    cves: tuple[str, ...] = (CVE1,),
    withdrawn: bool = False,
) -> Advisory:
    return Advisory(advisory_id, "osv", cves, affected, withdrawn=withdrawn)


def flagged(
    advisories: list[Advisory], version: str, release: str = DEB12, package: str = ""
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``{cve: (fixed, advisories)}`` for one installed version."""
    package = package or advisories[0].affected[0].package
    index = AdvisoryIndex.build(advisories)
    return {
        f.cve: (f.fixed, f.advisories)
        for f in index.match(Installed(release, package, version))
    }


# --------------------------------------------------------------------------- tables

DSA = "DSA-5678-1"
DEB_FIX = "3.0.11-1~deb12u2"

MATCH_CASES = [
    # (advisories, release, package, installed version, expected {cve: fixed})
    pytest.param(
        [adv(DSA, rng(fixed=DEB_FIX))],
        DEB12,
        "openssl",
        "3.0.11-1~deb12u1",
        {CVE1: DEB_FIX},
        id="deb below the fix",
    ),
    pytest.param(
        [adv(DSA, rng(fixed=DEB_FIX))],
        DEB12,
        "openssl",
        DEB_FIX,
        {},
        id="deb at the fix",
    ),
    pytest.param(
        [adv(DSA, rng(fixed=DEB_FIX))],
        DEB12,
        "openssl",
        "3.0.11-1",
        {},
        id="deb above the fix: ~deb12u2 sorts before the plain revision",
    ),
    pytest.param(
        [adv(DSA, rng(package="glibc", fixed="2.36-9+deb12u4"))],
        DEB12,
        "glibc",
        "2.36-9+deb12u3",
        {CVE1: "2.36-9+deb12u4"},
        id="backported stable update below",
    ),
    pytest.param(
        [adv(DSA, rng(package="glibc", fixed="2.36-9+deb12u4"))],
        DEB12,
        "glibc",
        "2.36-9+deb12u10",
        {},
        id="deb12u10 is above deb12u4",
    ),
    pytest.param(
        [adv(DSA, rng(package="glibc", fixed="2.36-9+deb12u4"))],
        DEB12,
        "glibc",
        "2.36-9",
        {CVE1: "2.36-9+deb12u4"},
        id="release before update",
    ),
    pytest.param(
        [adv(DSA, rng(package="glibc", fixed="2.36-9+deb12u4"))],
        DEB12,
        "glibc",
        "2.36-9+deb12u4+b1",
        {},
        id="binNMU of the fix",
    ),
    pytest.param(
        [adv(DSA, rng(package="ntp", fixed="1:4.2.8p15+dfsg-2~deb12u1"))],
        DEB12,
        "ntp",
        "4.2.9-1",
        {CVE1: "1:4.2.8p15+dfsg-2~deb12u1"},
        id="missing epoch is epoch 0: below any 1: version",
    ),
    pytest.param(
        [adv(DSA, rng(package="ntp", fixed="1:4.2.8p15+dfsg-2~deb12u1"))],
        DEB12,
        "ntp",
        "2:0.1-1",
        {},
        id="higher epoch is above",
    ),
    pytest.param(
        [adv(DSA, rng(package="ntp", fixed="1:4.2.8p15+dfsg-2~deb12u1"))],
        DEB12,
        "ntp",
        "1:4.2.8p15+dfsg-1",
        {CVE1: "1:4.2.8p15+dfsg-2~deb12u1"},
        id="same epoch, lower revision",
    ),
    pytest.param(
        [adv(DSA, rng(package="tool", fixed="1.0~rc2-1"))],
        DEB12,
        "tool",
        "1.0~rc1-1",
        {CVE1: "1.0~rc2-1"},
        id="tilde rc1 below rc2",
    ),
    pytest.param(
        [adv(DSA, rng(package="tool", fixed="1.0~rc2-1"))],
        DEB12,
        "tool",
        "1.0-1",
        {},
        id="final release above its rc",
    ),
    pytest.param(
        [adv(DSA, rng(package="tool", fixed="1.0-1"))],
        DEB12,
        "tool",
        "1.0~rc1-1",
        {CVE1: "1.0-1"},
        id="rc below the final release",
    ),
    pytest.param(
        [adv("USN-6859-1", rng(JAMMY, "openssh", fixed="1:8.9p1-3ubuntu0.10"))],
        JAMMY,
        "openssh",
        "1:8.9p1-3ubuntu0.6",
        {CVE1: "1:8.9p1-3ubuntu0.10"},
        id="ubuntu0.6 below ubuntu0.10",
    ),
    pytest.param(
        [adv("USN-6859-1", rng(JAMMY, "openssh", fixed="1:8.9p1-3ubuntu0.10"))],
        JAMMY,
        "openssh",
        "1:8.9p1-3ubuntu0.10",
        {},
        id="ubuntu at the fix",
    ),
    pytest.param(
        [adv("RHSA-2024:1", rng(RHEL9, "glibc", fixed="2.34-60.el9"))],
        RHEL9,
        "glibc",
        "2.34-59.el9",
        {CVE1: "2.34-60.el9"},
        id="rpm below",
    ),
    pytest.param(
        [adv("RHSA-2024:1", rng(RHEL9, "glibc", fixed="2.34-60.el9"))],
        RHEL9,
        "glibc",
        "2.34-60.el9_0",
        {},
        id="rpm .el9_0 above .el9",
    ),
    pytest.param(
        [adv("RHSA-2024:1", rng(RHEL9, "glibc", fixed="2.34-60.el9_2"))],
        RHEL9,
        "glibc",
        "2.34-60.el9",
        {CVE1: "2.34-60.el9_2"},
        id="rpm z-stream fix above the GA build",
    ),
    pytest.param(
        [adv("RHSA-2024:1", rng(RHEL9, "glibc", fixed="2.34-60.el9_2"))],
        RHEL9,
        "glibc",
        "2.34-60.el9_2.1",
        {},
        id="rpm rebuild of the fix",
    ),
    pytest.param(
        [adv("RHSA-2024:1", rng(RHEL9, "openssl", fixed="1:3.0.7-24.el9"))],
        RHEL9,
        "openssl",
        "3.0.9-1.el9",
        {CVE1: "1:3.0.7-24.el9"},
        id="rpm epoch",
    ),
    pytest.param(
        [adv("RHSA-2024:1", rng(RHEL9, "kernel", fixed="5.14.0-427.13.1.el9_4"))],
        RHEL9,
        "kernel",
        "5.14.0-362.24.1.el9_3",
        {CVE1: "5.14.0-427.13.1.el9_4"},
        id="rpm kernel",
    ),
    pytest.param(
        [
            adv(
                DSA,
                rng(
                    package="xz-utils",
                    introduced="5.6.0-0.1",
                    fixed="5.6.1+really5.4.5-1",
                ),
            )
        ],
        DEB12,
        "xz-utils",
        "5.4.1-0.2",
        {},
        id="below introduced",
    ),
    pytest.param(
        [
            adv(
                DSA,
                rng(
                    package="xz-utils",
                    introduced="5.6.0-0.1",
                    fixed="5.6.1+really5.4.5-1",
                ),
            )
        ],
        DEB12,
        "xz-utils",
        "5.6.0-0.1",
        {CVE1: "5.6.1+really5.4.5-1"},
        id="at introduced",
    ),
    pytest.param(
        [adv(DSA, rng(package="xz-utils", introduced="0", fixed="5.4.5-1"))],
        DEB12,
        "xz-utils",
        "0~beta1-1",
        {CVE1: "5.4.5-1"},
        id="introduced 0 means since the first version",
    ),
    pytest.param(
        [adv("OSV-1", rng(package="curl", last_affected="7.88.1-10+deb12u5"))],
        DEB12,
        "curl",
        "7.88.1-10+deb12u5",
        {CVE1: ""},
        id="at last_affected",
    ),
    pytest.param(
        [adv("OSV-1", rng(package="curl", last_affected="7.88.1-10+deb12u5"))],
        DEB12,
        "curl",
        "7.88.1-10+deb12u6",
        {},
        id="above last_affected",
    ),
    pytest.param(
        [adv("DEBIAN-CVE-2016-2781", rng(package="coreutils"))],
        DEB12,
        "coreutils",
        "9.1-1",
        {CVE1: ""},
        id="unfixed",
    ),
    pytest.param(
        [adv("DEBIAN-CVE-2016-2781", rng(package="coreutils"))],
        DEB12,
        "coreutils",
        "99:1",
        {CVE1: ""},
        id="unfixed: every version",
    ),
    pytest.param(
        [adv(DSA, rng(release="debian:11", fixed=DEB_FIX))],
        DEB12,
        "openssl",
        "1.1.1n-0+deb11u1",
        {},
        id="other release",
    ),
    pytest.param(
        [adv(DSA, rng(package="openssl", fixed=DEB_FIX))],
        DEB12,
        "libssl3",
        "3.0.11-1~deb12u1",
        {},
        id="other package",
    ),
    pytest.param(
        [adv(DSA, rng(fixed=DEB_FIX), withdrawn=True)],
        DEB12,
        "openssl",
        "3.0.0-1",
        {},
        id="withdrawn advisory",
    ),
    pytest.param(
        [adv(DSA, rng(fixed=DEB_FIX), cves=())],
        DEB12,
        "openssl",
        "3.0.0-1",
        {},
        id="advisory without CVE",
    ),
    pytest.param(
        [adv(DSA, rng(fixed=DEB_FIX), cves=(CVE2, CVE1, CVE2))],
        DEB12,
        "openssl",
        "3.0.0-1",
        {CVE1: DEB_FIX, CVE2: DEB_FIX},
        id="one finding per CVE of the advisory",
    ),
    pytest.param(
        [adv(DSA, rng(fixed=DEB_FIX)), adv("OSV-2", rng(not_affected=True))],
        DEB12,
        "openssl",
        "3.0.0-1",
        {},
        id="not_affected wins",
    ),
    pytest.param(
        [
            adv(DSA, rng(fixed=DEB_FIX)),
            adv("OSV-2", rng(not_affected=True), cves=(CVE2,)),
        ],
        DEB12,
        "openssl",
        "3.0.0-1",
        {CVE1: DEB_FIX},
        id="not_affected for another CVE does not",
    ),
    pytest.param(
        [
            adv(DSA, rng(fixed=DEB_FIX)),
            adv("OSV-2", rng(release="debian:11", not_affected=True)),
        ],
        DEB12,
        "openssl",
        "3.0.0-1",
        {CVE1: DEB_FIX},
        id="not_affected in another release does not",
    ),
]


@pytest.mark.parametrize(
    ("advisories", "release", "package", "version", "expected"), MATCH_CASES
)
def test_match(advisories, release, package, version, expected):
    index = AdvisoryIndex.build(advisories)
    found = index.match(Installed(release, package, version))
    assert {f.cve: f.fixed for f in found} == expected
    assert all(
        f.fixed == "" or compare(scheme_of(release), f.fixed, version) > 0
        for f in found
    )


MULTI = [
    adv(
        "OSV-BRANCHES",
        rng(package="lib", fixed="1.5-1"),
        rng(package="lib", introduced="2.0-1", fixed="2.3-1"),
    )
]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.4-1", {CVE1: ("1.5-1", ("OSV-BRANCHES",))}),
        ("1.5-1", {}),
        ("1.9-1", {}),
        ("2.0-1", {CVE1: ("2.3-1", ("OSV-BRANCHES",))}),
        ("2.3-1", {}),
    ],
)
def test_multiple_ranges(version, expected):
    assert flagged(MULTI, version) == expected


STALE = [
    adv(DSA, rng(package="glibc", fixed="2.36-9+deb12u4")),
    adv("DEBIAN-CVE-2024-0001", rng(package="glibc")),
]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param(
            "2.36-9+deb12u3",
            {CVE1: ("2.36-9+deb12u4", ("DEBIAN-CVE-2024-0001", DSA))},
            id="both flag it; the fix is the DSA's",
        ),
        pytest.param("2.36-9+deb12u4", {}, id="the fix closes the stale open range"),
        pytest.param("2.37-1", {}, id="above the fix"),
    ],
)
def test_stale_unfixed_record_does_not_outlive_the_fix(version, expected):
    assert flagged(STALE, version) == expected


def test_fix_below_introduced_does_not_close_an_open_range():
    advisories = [
        adv("A", rng(package="lib", fixed="1.5-1")),
        adv("B", rng(package="lib", introduced="2.0-1")),
    ]
    assert flagged(advisories, "2.1-1") == {CVE1: ("", ("B",))}
    assert flagged(advisories, "1.6-1") == {}


def test_fix_closes_last_affected_range_too():
    advisories = [
        adv("A", rng(package="lib", fixed="1.2-1")),
        adv("B", rng(package="lib", last_affected="1.3-1")),
    ]
    assert flagged(advisories, "1.1-1") == {CVE1: ("1.2-1", ("A", "B"))}
    assert flagged(advisories, "1.2-1") == {}


DISAGREE = [
    adv(DSA, rng(package="glibc", fixed="2.36-9+deb12u4")),
    adv("DEBIAN-CVE-2024-0001", rng(package="glibc", fixed="2.36-9+deb12u5")),
]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.36-9+deb12u3", {CVE1: ("2.36-9+deb12u4", ("DEBIAN-CVE-2024-0001", DSA))}),
        ("2.36-9+deb12u4", {CVE1: ("2.36-9+deb12u5", ("DEBIAN-CVE-2024-0001",))}),
        ("2.36-9+deb12u5", {}),
    ],
)
def test_two_fixes_lowest_that_still_applies(version, expected):
    assert flagged(DISAGREE, version) == expected


def test_findings_sorted_and_identical_ranges_merged():
    advisories = [
        adv("DSA-2", rng(fixed=DEB_FIX), cves=(CVE2, CVE1)),
        adv("DSA-1", rng(fixed=DEB_FIX), cves=(CVE1,)),
    ]
    index = AdvisoryIndex.build(advisories)
    assert index.ranges == 2  # (CVE1, fix) once for both advisories, (CVE2, fix)
    assert index.packages == 1
    found = index.match(Installed(DEB12, "openssl", "3.0.0-1"))
    assert found == [
        Finding(DEB12, "openssl", "3.0.0-1", CVE1, DEB_FIX, ("DSA-1", "DSA-2")),
        Finding(DEB12, "openssl", "3.0.0-1", CVE2, DEB_FIX, ("DSA-2",)),
    ]
    assert found[0].installed == Installed(DEB12, "openssl", "3.0.0-1")


def test_findings_over_many_tuples_once_each():
    index = AdvisoryIndex.build(
        [
            adv(DSA, rng(fixed=DEB_FIX)),
            adv("RHSA", rng(RHEL9, "glibc", fixed="2.34-60.el9")),
        ]
    )
    items = [
        Installed(DEB12, "openssl", "3.0.11-1~deb12u1"),
        Installed(DEB12, "openssl", DEB_FIX),
        Installed(RHEL9, "glibc", "2.34-59.el9"),
        Installed(DEB12, "openssl", "3.0.11-1~deb12u1"),  # repeated
        Installed(DEB12, "zlib", "1:1.2.13.dfsg-1"),  # unknown package
    ]
    assert [(f.package, f.version) for f in index.findings(items)] == [
        ("openssl", "3.0.11-1~deb12u1"),
        ("glibc", "2.34-59.el9"),
    ]


# ----------------------------------------------------------------- bad data, skipped


def test_invalid_advisory_versions_are_skipped_and_counted():
    advisories = [
        adv("BAD-1", rng(fixed="1.0 beta"), rng(package="curl", fixed="7.88.1-10")),
        adv("BAD-2", rng(introduced="", fixed="", last_affected="-1")),
        adv("BAD-3", rng(package="zlib", introduced=":1")),
        adv("GOOD", rng(fixed=DEB_FIX)),
    ]
    index = AdvisoryIndex.build(advisories)
    assert [(s.advisory, s.package) for s in index.skipped] == [
        ("BAD-1", "openssl"),
        ("BAD-2", "openssl"),
        ("BAD-3", "zlib"),
    ]
    assert "'1.0 beta' in fixed" in index.skipped[0].reason
    assert "last_affected" in index.skipped[1].reason
    assert "introduced" in index.skipped[2].reason
    assert flagged(advisories, "3.0.0-1") == {CVE1: (DEB_FIX, ("GOOD",))}
    assert flagged(advisories, "7.0-1", package="curl") == {
        CVE1: ("7.88.1-10", ("BAD-1",))
    }


def test_scheme_mismatch_and_missing_names_are_skipped():
    advisories = [
        adv("X", AffectedPackage(DEB12, "openssl", Scheme.RPM, fixed="3.0.0-1.el9")),
        adv("Y", AffectedPackage("", "openssl", Scheme.DEB, fixed="1")),
        adv("Z", AffectedPackage(DEB12, "", Scheme.DEB, fixed="1")),
    ]
    index = AdvisoryIndex.build(advisories)
    assert [s.advisory for s in index.skipped] == ["X", "Y", "Z"]
    assert "does not match release debian:12" in index.skipped[0].reason
    assert index.packages == 0


def test_not_affected_entry_needs_no_valid_version():
    index = AdvisoryIndex.build(
        [
            adv(DSA, rng(fixed=DEB_FIX)),
            adv("OSV", rng(fixed="not a version", not_affected=True)),
        ]
    )
    assert index.skipped == ()
    assert index.match(Installed(DEB12, "openssl", "1.0-1")) == []


def test_unparsable_installed_version_matches_nothing():
    index = AdvisoryIndex.build([adv(DSA, rng())])
    item = Installed(DEB12, "openssl", "1.0 beta")
    assert index.match(item) == []
    assert list(index.findings([item])) == []
    assert index.state_of(item, CVE1) is None


# ------------------------------------------------------------------------ state_of

STATE_INDEX = AdvisoryIndex.build(
    [
        adv(DSA, rng(fixed=DEB_FIX), cves=(CVE1,)),
        adv("DEBIAN-CVE-2", rng(), cves=(CVE2,)),
        adv("OSV-3", rng(not_affected=True), cves=(CVE3,)),
    ]
)


@pytest.mark.parametrize(
    ("version", "cve", "candidates", "expected"),
    [
        pytest.param(
            "3.0.0-1", CVE1, (), FixState.FIXED_NOT_INSTALLABLE, id="no candidate"
        ),
        pytest.param(
            "3.0.0-1",
            CVE1,
            (Candidate(DEB_FIX),),
            FixState.FIXED_INSTALLABLE,
            id="installable fix",
        ),
        pytest.param(DEB_FIX, CVE1, (), FixState.NOT_AFFECTED, id="outside the range"),
        pytest.param("3.0.0-1", CVE2, (), FixState.NO_FIX_YET, id="no fix yet"),
        pytest.param(
            "3.0.0-1", CVE3, (), FixState.NOT_AFFECTED, id="feed: not affected"
        ),
        pytest.param("3.0.0-1", "CVE-2024-9999", (), None, id="unknown CVE"),
    ],
)
def test_state_of(version, cve, candidates, expected):
    assert (
        STATE_INDEX.state_of(Installed(DEB12, "openssl", version), cve, candidates)
        == expected
    )


def test_state_of_unknown_package_is_none():
    assert STATE_INDEX.state_of(Installed(DEB12, "zlib", "1.0-1"), CVE1) is None
    assert (
        STATE_INDEX.state_of(Installed("debian:11", "openssl", "1.0-1"), CVE1) is None
    )


# -------------------------------------------------------------------- device_state

FIX = Finding(DEB12, "openssl", "3.0.11-1~deb12u1", CVE1, DEB_FIX, (DSA,))
RPM_FIX = Finding(RHEL9, "glibc", "2.34-59.el9", CVE1, "2.34-60.el9_2", ("RHSA",))


@pytest.mark.parametrize(
    ("finding", "candidates", "expected"),
    [
        pytest.param(
            Finding(DEB12, "coreutils", "9.1-1", CVE1, "", ("D",)),
            [Candidate("9.4-1")],
            FixState.NO_FIX_YET,
            id="no fix published",
        ),
        pytest.param(
            FIX, [Candidate(DEB_FIX)], FixState.FIXED_INSTALLABLE, id="at the fix"
        ),
        pytest.param(
            FIX,
            [Candidate("3.0.13-1~deb12u1")],
            FixState.FIXED_INSTALLABLE,
            id="above the fix",
        ),
        pytest.param(
            FIX,
            [Candidate(DEB_FIX, installable=False)],
            FixState.FIXED_NOT_INSTALLABLE,
            id="held candidate",
        ),
        pytest.param(
            FIX,
            [Candidate("3.0.11-1~deb12u1+b1")],
            FixState.FIXED_NOT_INSTALLABLE,
            id="candidate below the fix (fixing repository missing)",
        ),
        pytest.param(FIX, [], FixState.FIXED_NOT_INSTALLABLE, id="no candidate"),
        pytest.param(
            FIX,
            [Candidate("not a version"), Candidate("")],
            FixState.FIXED_NOT_INSTALLABLE,
            id="unparsable candidates ignored",
        ),
        pytest.param(
            FIX,
            [
                Candidate("3.0.11-1~deb12u1+b1"),
                Candidate(DEB_FIX, installable=False),
                Candidate("3.0.11-1"),
            ],
            FixState.FIXED_INSTALLABLE,
            id="one good candidate among several",
        ),
        pytest.param(
            RPM_FIX,
            [Candidate("2.34-60.el9")],
            FixState.FIXED_NOT_INSTALLABLE,
            id="rpm below",
        ),
        pytest.param(
            RPM_FIX,
            [Candidate("2.34-60.el9_2.1")],
            FixState.FIXED_INSTALLABLE,
            id="rpm above",
        ),
    ],
)
def test_device_state(finding, candidates, expected):
    assert device_state(finding, candidates) == expected
    assert device_state(finding, candidates, scheme_of(finding.release)) == expected


def test_device_state_with_unparsable_fix_is_not_installable():
    finding = Finding(DEB12, "x", "1.0-1", CVE1, "1.0 beta", ())
    assert device_state(finding, [Candidate("9-1")]) is FixState.FIXED_NOT_INSTALLABLE


@pytest.mark.parametrize(
    ("state", "installable"),
    [
        (UpdateState.INSTALLABLE, True),
        (UpdateState.HELD, False),
        (UpdateState.PHASED, False),
        (UpdateState.BLOCKED, False),
    ],
)
def test_candidate_of_update(state, installable):
    update = Update("libssl3", "3.0.11-1~deb12u1", DEB_FIX, state=state)
    assert Candidate.of(update) == Candidate(DEB_FIX, installable)
    expected = (
        FixState.FIXED_INSTALLABLE if installable else FixState.FIXED_NOT_INSTALLABLE
    )
    assert device_state(FIX, [Candidate.of(update)]) is expected


# --------------------------------------------------------------------------- delta


def test_delta_matches_only_tuples_new_to_the_fleet():
    index = AdvisoryIndex.build(
        [
            adv(DSA, rng(fixed=DEB_FIX)),
            adv("D2", rng(package="curl", fixed="7.88.1-10+deb12u5")),
        ]
    )
    kept = Installed(DEB12, "zlib", "1:1.2.13.dfsg-1")
    old_ssl = Installed(DEB12, "openssl", "3.0.11-1~deb12u1")
    new_ssl = Installed(DEB12, "openssl", "3.0.9-1")  # a downgrade, affected
    old_curl = Installed(DEB12, "curl", "7.88.1-10+deb12u5")
    new_curl = Installed(DEB12, "curl", "7.88.1-10+deb12u4")  # affected, known already
    result = delta(
        index,
        {kept, old_ssl, old_curl},
        [kept, new_ssl, new_curl],
        known={kept, old_ssl, old_curl, new_curl},
    )
    assert result.added == {new_ssl, new_curl}
    assert result.removed == {old_ssl, old_curl}
    assert result.computed == {new_ssl}
    assert [(f.package, f.version, f.cve) for f in result.findings] == [
        ("openssl", "3.0.9-1", CVE1)
    ]


def test_delta_without_known_matches_every_added_tuple():
    index = AdvisoryIndex.build([adv(DSA, rng(fixed=DEB_FIX))])
    a = Installed(DEB12, "openssl", "3.0.9-1")
    b = Installed(DEB12, "openssl", "3.0.8-1")
    result = delta(index, [], [b, a])
    assert result.removed == frozenset()
    assert result.computed == {a, b}
    assert [f.version for f in result.findings] == ["3.0.8-1", "3.0.9-1"]
    assert delta(index, [a], [a]).findings == ()


# ---------------------------------------------------------------------- properties

DEB_UPSTREAMS = [
    "1.0",
    "1.0.1",
    "1.0~rc1",
    "1.0+dfsg",
    "2.36",
    "3.0.11",
    "1:1.0",
    "1:2.36",
    "0.9",
]
DEB_REVISIONS = [
    "1",
    "2",
    "1+deb12u1",
    "1+deb12u2",
    "1+deb12u10",
    "1~deb12u1",
    "9+deb12u4",
    "0ubuntu1",
    "0ubuntu1.22.04.1",
    "0ubuntu1.22.04.10",
    "1+b1",
    "1~bpo12+1",
]
RPM_UPSTREAMS = ["2.34", "2.34.1", "3.0.7", "1:3.0.7", "0.9~beta", "5.14.0"]
RPM_RELEASES = [
    "59.el9",
    "60.el9",
    "60.el9_0",
    "60.el9_2",
    "60.el9_2.1",
    "100.el9",
    "1.el9_4",
    "24.el9",
    "427.13.1.el9_4",
]

deb_versions = st.builds(
    lambda u, r: f"{u}-{r}",
    st.sampled_from(DEB_UPSTREAMS),
    st.sampled_from(DEB_REVISIONS),
) | st.sampled_from(DEB_UPSTREAMS)
rpm_versions = st.builds(
    lambda u, r: f"{u}-{r}",
    st.sampled_from(RPM_UPSTREAMS),
    st.sampled_from(RPM_RELEASES),
)
RELEASE_VERSIONS = {DEB12: deb_versions, JAMMY: deb_versions, RHEL9: rpm_versions}


@st.composite
def one_release_case(draw):
    """A release, a version strategy for it, and its name."""
    release = draw(st.sampled_from(sorted(RELEASE_VERSIONS)))
    return release, RELEASE_VERSIONS[release]


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_never_flag_at_or_above_the_fix(data):
    """The central property: backported fixes and stale open records included."""
    release, versions = data.draw(one_release_case())
    scheme = scheme_of(release)
    fix = data.draw(versions, label="fixed")
    introduced = data.draw(st.sampled_from(["", "0"]) | versions, label="introduced")
    stale = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["", "0"]) | versions, st.sampled_from([""]) | versions
            ),
            max_size=3,
        ),
        label="stale fixless ranges (introduced, last_affected)",
    )
    # A fixless range starting above the fix is a new, unfixed branch: not stale.
    stale = [
        (i, last) for i, last in stale if i in ("", "0") or compare(scheme, i, fix) <= 0
    ]
    advisories = [adv("FIX", rng(release, "pkg", introduced=introduced, fixed=fix))]
    advisories += [
        adv(f"STALE-{n}", rng(release, "pkg", introduced=i, last_affected=last))
        for n, (i, last) in enumerate(stale)
    ]
    version = data.draw(versions, label="installed")
    index = AdvisoryIndex.build(advisories)
    found = index.match(Installed(release, "pkg", version))
    if compare(scheme, version, fix) >= 0:
        assert found == []
    for finding in found:
        assert finding.fixed == fix


def valid(scheme: Scheme, version: str) -> bool:
    try:
        compare(scheme, version, version)
    except VersionError:
        return False
    return True


def lowest(scheme: Scheme, versions: list[str]) -> str:
    by_version = functools.cmp_to_key(functools.partial(compare, scheme))
    return min(versions, key=lambda f: (by_version(f), f), default="")


def reference_ranges(
    advisories: list[Advisory], item: Installed
) -> dict[str, list[tuple[str, str, str, str]]]:
    """``{cve: [(introduced, fixed, last_affected, advisory id)]}``, not-affected CVEs
    left out."""
    scheme = scheme_of(item.release)
    not_affected: set[str] = set()
    ranges: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    for advisory in advisories:
        entries = [
            e
            for e in advisory.affected
            if (e.release, e.package, e.scheme) == (item.release, item.package, scheme)
            and not advisory.withdrawn
        ]
        for entry in entries:
            bounds = [entry.introduced, entry.fixed, entry.last_affected]
            if entry.not_affected:
                not_affected.update(advisory.cves)
            elif all(valid(scheme, b) for b in bounds if b):
                introduced = "" if entry.introduced == "0" else entry.introduced
                for cve in advisory.cves:
                    ranges[cve].append(
                        (introduced, entry.fixed, entry.last_affected, advisory.id)
                    )
    return {cve: r for cve, r in ranges.items() if cve not in not_affected}


def reference(advisories: list[Advisory], item: Installed) -> set[Finding]:
    """The module docstring's rules, written the slow and obvious way."""
    scheme = scheme_of(item.release)
    v = item.version
    if not valid(scheme, v):
        return set()

    def at_least(a: str, b: str) -> bool:
        return compare(scheme, a, b) >= 0

    result = set()
    for cve, items in reference_ranges(advisories, item).items():
        fixes = [f for _, f, _, _ in items if f]
        hits = []
        for introduced, fixed, last, advisory_id in items:
            if not fixed:  # closed by the lowest fix at or above its start
                caps = [f for f in fixes if not introduced or at_least(f, introduced)]
                fixed = lowest(scheme, caps)
            if (
                (not introduced or at_least(v, introduced))
                and (not fixed or not at_least(v, fixed))
                and (not last or at_least(last, v))
            ):
                hits.append((fixed, advisory_id))
        if hits:
            ids = tuple(sorted({a for _, a in hits}))
            fixed = lowest(scheme, [f for f, _ in hits if f])
            result.add(Finding(item.release, item.package, v, cve, fixed, ids))
    return result


@st.composite
def advisory_sets(draw):
    """Advisories over two packages of one release, with bad and odd entries."""
    release, versions = draw(one_release_case())
    scheme = scheme_of(release)
    other_scheme = Scheme.RPM if scheme is Scheme.DEB else Scheme.DEB

    def rare(n: int) -> st.SearchStrategy[bool]:
        return st.integers(0, n - 1).map(lambda k: k == 0)

    def entry(pkg, introduced, fixed, last, not_affected, wrong_scheme, broken):
        return AffectedPackage(
            release,
            pkg,
            other_scheme if wrong_scheme else scheme,
            introduced=introduced,
            fixed=broken or fixed,
            last_affected=last,
            not_affected=not_affected,
        )

    entries = st.builds(
        entry,
        st.sampled_from(["pkg", "pkg", "other"]),
        st.one_of(st.just(""), st.just("0"), versions, versions),
        st.one_of(st.just(""), versions, versions),
        st.one_of(st.just(""), st.just(""), st.just(""), versions),
        rare(12),
        rare(30),
        st.one_of(*[st.just("")] * 14, st.sampled_from(["1 2", "x\x00"])),
    )
    advisories = [
        Advisory(
            f"ADV-{n}",
            "osv",
            draw(st.lists(st.sampled_from([CVE1, CVE2, CVE3]), max_size=2)),
            tuple(draw(st.lists(entries, min_size=1, max_size=3))),
            withdrawn=draw(rare(12)),
        )
        for n in range(draw(st.integers(1, 5)))
    ]
    installed = draw(st.lists(versions, min_size=1, max_size=4))
    return release, advisories, [Installed(release, "pkg", v) for v in installed]


@given(case=advisory_sets())
@settings(max_examples=400, deadline=None)
def test_index_agrees_with_reference(case):
    release, advisories, installed = case
    index = AdvisoryIndex.build(advisories)
    for item in installed:
        expected = reference(advisories, item)
        assert set(index.match(item)) == expected
        for finding in expected:
            assert (
                finding.fixed == ""
                or compare(scheme_of(release), finding.fixed, item.version) > 0
            )
    assert set(index.findings(installed)) == set().union(
        *(reference(advisories, i) for i in installed)
    )
