"""core.compliance: statuses, hand-picked and dynamic selections, approvals, trends."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest

from patchfleet.core.compliance import (
    ComplianceSpec,
    ComplianceStatus,
    DeviceEvidence,
    DeviceResult,
    DeviceTarget,
    MissingPatch,
    OsType,
    PatchMode,
    PatchSelection,
    RunPoint,
    Tally,
    approvable,
    check_selected_patches,
    check_static_devices,
    daily_trend,
    evaluate_device,
    evaluate_devices,
    missing_selected,
    os_type_of,
    tally,
)
from patchfleet.core.errors import InvalidInputError
from patchfleet.core.policy import PatchFacts, Rating
from patchfleet.core.queries import DEVICE_FIELDS, PATCH_FIELDS, parse
from patchfleet.core.schedules import Frequency, Schedule
from patchfleet.core.updates import Classification

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DEMO = "apt:demo-tool@1.0-2"
LIB = "apt:demo-lib@1.1-1"


def missing(
    backend: str,
    name: str,
    installed: str,
    candidate: str,
    *,
    category: Classification = Classification.SECURITY,
    rating: Rating = Rating.NOT_RATED,
) -> MissingPatch:
    facts = PatchFacts(
        patch_id=f"{backend}:{name}@{candidate}",
        name=name,
        os_family="debian" if backend == "apt" else "rhel",
        first_seen_at=NOW - timedelta(days=3),
        category=category,
        backend=backend,
    )
    return MissingPatch(facts, installed, rating)


PICKED = PatchSelection(patch_ids=frozenset({DEMO}))


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        pytest.param("debian", OsType.LINUX, id="debian"),
        pytest.param("rhel", OsType.LINUX, id="rhel"),
        pytest.param("suse", OsType.LINUX, id="suse"),
        pytest.param("arch", OsType.LINUX, id="other-distribution"),
        pytest.param("Windows", OsType.WINDOWS, id="windows-any-case"),
        pytest.param("darwin", OsType.MACOS, id="darwin"),
        pytest.param("macos", OsType.MACOS, id="macos"),
        pytest.param("", None, id="unreported"),
        pytest.param("  ", None, id="blank"),
    ],
)
def test_os_type_of_a_reported_family(family, expected):
    assert os_type_of(family) is expected


@pytest.mark.parametrize(
    ("scan", "expected"),
    [
        pytest.param(
            [missing("apt", "demo-tool", "1.0-1", "1.0-2")], (DEMO,), id="exact-patch"
        ),
        pytest.param(
            [missing("apt", "demo-tool", "1.0-1", "1.0-3")],
            (DEMO,),
            id="superseded-by-newer-candidate",
        ),
        pytest.param(
            [missing("apt", "demo-tool", "1.0-2", "1.0-3")],
            (),
            id="selected-version-installed",
        ),
        pytest.param(
            [missing("apt", "demo-tool", "1:0.9", "1:1.0")],
            (),
            id="epoch-makes-installed-newer",
        ),
        pytest.param(
            [missing("dnf", "demo-tool", "1.0-1", "1.0-2")], (), id="other-backend"
        ),
        pytest.param([missing("apt", "demo-lib", "1.0-1", "1.1-1")], (), id="other"),
        pytest.param([], (), id="nothing-missing"),
    ],
)
def test_hand_picked_patch_is_missing_while_an_older_version_is_installed(
    scan, expected
):
    assert missing_selected(PICKED, scan, NOW) == expected


def test_rpm_versions_compare_in_the_rpm_scheme():
    picked = PatchSelection(patch_ids=frozenset({"dnf:demo-tool@1.0-10"}))
    assert missing_selected(
        picked, [missing("dnf", "demo-tool", "1.0-9", "1.0-11")], NOW
    ) == ("dnf:demo-tool@1.0-10",)
    assert (
        missing_selected(picked, [missing("dnf", "demo-tool", "1.0-10", "1.0-11")], NOW)
        == ()
    )


def test_unknown_backend_matches_the_exact_patch_only():
    picked = PatchSelection(patch_ids=frozenset({"winget:tool@2.0"}))
    assert missing_selected(picked, [missing("winget", "tool", "1.0", "2.0")], NOW) == (
        "winget:tool@2.0",
    )
    assert (
        missing_selected(picked, [missing("winget", "tool", "1.0", "3.0")], NOW) == ()
    )


def test_dynamic_selection_matches_by_query_and_never_counts_blocklisted():
    query = PatchSelection(query=parse("category = security", PATCH_FIELDS))
    scan = [
        missing("apt", "demo-tool", "1.0-1", "1.0-2"),
        missing("apt", "demo-lib", "1.0-1", "1.1-1", category=Classification.BUGFIX),
        missing("apt", "openssl", "3.0-1", "3.0-2", rating=Rating.BLOCKLISTED),
    ]
    assert missing_selected(query, scan, NOW) == (DEMO,)


def test_dynamic_selection_sees_the_rating():
    query = PatchSelection(query=parse("rating = allowlisted", PATCH_FIELDS))
    scan = [
        missing("apt", "demo-tool", "1.0-1", "1.0-2", rating=Rating.ALLOWLISTED),
        missing("apt", "demo-lib", "1.0-1", "1.1-1"),
    ]
    assert missing_selected(query, scan, NOW) == (DEMO,)


@pytest.mark.parametrize(
    ("evidence", "status", "missed"),
    [
        pytest.param(
            DeviceEvidence(1, is_scanned=False),
            ComplianceStatus.UNKNOWN,
            (),
            id="never",
        ),
        pytest.param(
            DeviceEvidence(
                1, is_scanned=False, missing=(missing("apt", "demo-tool", "1", "2"),)
            ),
            ComplianceStatus.UNKNOWN,
            (),
            id="unscanned-wins-over-data",
        ),
        pytest.param(
            DeviceEvidence(1, is_scanned=True),
            ComplianceStatus.COMPLIANT,
            (),
            id="zero",
        ),
        pytest.param(
            DeviceEvidence(
                1,
                is_scanned=True,
                missing=(missing("apt", "demo-tool", "1.0-1", "1.0-2"),),
            ),
            ComplianceStatus.NON_COMPLIANT,
            (DEMO,),
            id="one-missing",
        ),
    ],
)
def test_status_by_missing_selected_patches(evidence, status, missed):
    assert evaluate_device(PICKED, evidence, NOW) == DeviceResult(1, status, missed)


def test_evaluate_devices_keeps_order_and_tally_counts():
    results = evaluate_devices(
        PICKED,
        [
            DeviceEvidence(3, True, (missing("apt", "demo-tool", "1.0-1", "1.0-2"),)),
            DeviceEvidence(1, True),
            DeviceEvidence(2, False),
            DeviceEvidence(4, True),
        ],
        NOW,
    )
    assert [r.device_id for r in results] == [3, 1, 2, 4]
    counts = tally(results)
    assert counts == Tally(compliant=2, non_compliant=1, unknown=1)
    assert (counts.devices, counts.percent) == (4, 50.0)


@pytest.mark.parametrize(
    ("counts", "percent"),
    [
        pytest.param(Tally(), None, id="no-devices"),
        pytest.param(Tally(2, 1, 0), 66.7, id="two-of-three"),
        pytest.param(Tally(0, 0, 3), 0.0, id="unknown-is-not-compliant"),
        pytest.param(Tally(5, 0, 0), 100.0, id="all"),
    ],
)
def test_percent_counts_unknown_as_not_compliant(counts, percent):
    assert counts.percent == percent


def test_selection_is_a_query_or_a_list():
    with pytest.raises(InvalidInputError):
        PatchSelection()
    with pytest.raises(InvalidInputError):
        PatchSelection(
            query=parse("name = x", PATCH_FIELDS), patch_ids=frozenset({DEMO})
        )


@pytest.mark.parametrize(
    ("count", "ok"),
    [pytest.param(100, True, id="100"), pytest.param(101, False, id="101")],
)
def test_limits_of_static_devices_and_selected_patches(count, ok):
    patches = [f"apt:pkg{i}@1.0" for i in range(count)]
    if ok:
        check_static_devices(list(range(count)))
        check_selected_patches(patches)
        return
    with pytest.raises(InvalidInputError, match="Device ids must not exceed 100") as d:
        check_static_devices(list(range(count)))
    assert d.value.loc == ("body", "static_devices")
    with pytest.raises(
        InvalidInputError, match="Selection must not exceed 100 patches"
    ) as p:
        check_selected_patches(patches)
    assert p.value.loc == ("body", "selected_patches")


def test_selected_patch_ids_must_be_well_formed():
    with pytest.raises(InvalidInputError) as exc:
        check_selected_patches([DEMO, "no-colon"])
    assert exc.value.loc == ("body", "selected_patches")


def test_approvable_skips_blocklisted_and_decided_patches():
    assert approvable(
        [DEMO, LIB, "apt:x@1", DEMO],
        ratings={LIB: Rating.BLOCKLISTED, DEMO: Rating.ALLOWLISTED},
        decided={"apt:x@1"},
    ) == (DEMO,)


def run(config_id: int, at: datetime, compliant: int, non: int, unknown: int = 0):
    return RunPoint(config_id, at, Tally(compliant, non, unknown))


def test_daily_trend_carries_each_configuration_forward():
    day = datetime(2026, 11, 25, tzinfo=UTC)
    runs = [
        run(1, day + timedelta(hours=3), 1, 1),  # 25th: config 1 at 50 %
        run(1, day + timedelta(hours=20), 2, 0),  # later that day: 100 %
        run(2, day + timedelta(days=1, hours=1), 0, 2),  # 26th: config 2 joins
        run(1, NOW + timedelta(hours=1), 0, 2),  # after now: ignored
    ]
    points = daily_trend(runs, days=4, now=NOW)
    assert [p.day for p in points] == [
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 26),
        date(2026, 11, 27),
    ]
    assert [p.percent for p in points] == [None, 100.0, 50.0, 50.0]
    assert points[2].tally == Tally(2, 2, 0)


def test_daily_trend_needs_a_day():
    with pytest.raises(InvalidInputError):
        daily_trend([], days=0, now=NOW)


def test_an_unparsable_installed_version_never_counts_as_older():
    broken = missing("apt", "demo-tool", "1.0 1", "1.0-3")  # embedded whitespace
    assert missing_selected(PICKED, [broken], NOW) == ()


ON_DEMAND = Schedule(Frequency.ON_DEMAND, time(0, 0), "UTC", None)
DEVICE = uuid.UUID(int=7)


def spec(**changes: object) -> ComplianceSpec:
    values: dict[str, object] = {
        "name": "Demo",
        "os_type": OsType.LINUX,
        "schedule": ON_DEMAND,
        "device_query": "hostname = web-*",
        "selected_patches": (DEMO,),
        **changes,
    }
    return ComplianceSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "partner_level", "field"),
    [
        pytest.param({"name": " "}, False, "name", id="name-required"),
        pytest.param(
            {"schedule": Schedule(Frequency.YEARLY, time(0, 0), "UTC", None)},
            False,
            "start_date",
            id="invalid-schedule",
        ),
        pytest.param(
            {"schedule": Schedule(Frequency.PATCH_TUESDAY, time(0, 0), "UTC", None)},
            False,
            "schedule",
            id="no-patch-tuesday",
        ),
        pytest.param(
            {"device_query": "", "static_devices": (DEVICE,)},
            True,
            "static_devices",
            id="partner-static",
        ),
        pytest.param({"device_query": ""}, True, "device_query", id="partner-none"),
        pytest.param({"clients": ()}, True, "clients", id="partner-no-clients"),
        pytest.param({"clients": (1,)}, False, "clients", id="client-selects-clients"),
        pytest.param({"static_devices": (DEVICE,)}, False, "static_devices", id="both"),
        pytest.param({"device_query": ""}, False, "static_devices", id="neither"),
        pytest.param(
            {"device_query": "hostnme = x"}, False, "device_query", id="query"
        ),
        pytest.param(
            {"patch_selection": PatchMode.DYNAMIC, "patch_query": "name = x"},
            False,
            "patch_query",
            id="dynamic-and-list",
        ),
        pytest.param(
            {
                "patch_selection": PatchMode.DYNAMIC,
                "patch_query": "nme = x",
                "selected_patches": (),
            },
            False,
            "patch_query",
            id="patch-query",
        ),
        pytest.param(
            {"patch_query": "name = x"}, False, "patch_query", id="list-and-q"
        ),
        pytest.param({"selected_patches": ()}, False, "selected_patches", id="none"),
    ],
)
def test_spec_check_points_at_the_field(changes, partner_level, field):
    with pytest.raises(InvalidInputError) as exc:
        spec(**changes).check(partner_level=partner_level)
    assert exc.value.loc == ("body", field)


@pytest.mark.parametrize(
    ("changes", "partner_level"),
    [
        pytest.param({}, False, id="client-query"),
        pytest.param(
            {"device_query": "", "static_devices": (DEVICE,)}, False, id="static"
        ),
        pytest.param({"clients": (1, 2)}, True, id="partner-select-clients"),
        pytest.param({}, True, id="partner-all-clients"),
        pytest.param(
            {
                "patch_selection": PatchMode.DYNAMIC,
                "patch_query": "category = security",
                "selected_patches": (),
            },
            False,
            id="dynamic",
        ),
    ],
)
def test_spec_check_accepts_the_matrix(changes, partner_level):
    spec(**changes).check(partner_level=partner_level)  # raises on a problem
    assert spec(**changes).name == "Demo"


WEB = {"hostname": "web-1"}


@pytest.mark.parametrize(
    ("target", "client_id", "os_family", "expected"),
    [
        pytest.param(
            DeviceTarget(OsType.LINUX, client_id=1, static_devices=frozenset({"d"})),
            1,
            "debian",
            True,
            id="static-listed",
        ),
        pytest.param(
            DeviceTarget(OsType.LINUX, client_id=1, static_devices=frozenset({"x"})),
            1,
            "debian",
            False,
            id="static-not-listed",
        ),
        pytest.param(
            DeviceTarget(OsType.LINUX, client_id=2, static_devices=frozenset({"d"})),
            1,
            "debian",
            False,
            id="other-client",
        ),
        pytest.param(
            DeviceTarget(OsType.LINUX, query=parse("hostname = web-*", DEVICE_FIELDS)),
            5,
            "rhel",
            True,
            id="partner-all-clients-query",
        ),
        pytest.param(
            DeviceTarget(
                OsType.LINUX,
                clients=frozenset({4}),
                query=parse("hostname = web-*", DEVICE_FIELDS),
            ),
            5,
            "rhel",
            False,
            id="partner-select-clients",
        ),
        pytest.param(
            DeviceTarget(
                OsType.WINDOWS, query=parse("hostname = web-*", DEVICE_FIELDS)
            ),
            5,
            "debian",
            False,
            id="other-os-type",
        ),
        pytest.param(
            DeviceTarget(OsType.LINUX, query=parse("hostname = db-*", DEVICE_FIELDS)),
            5,
            "debian",
            False,
            id="query-misses",
        ),
    ],
)
def test_device_target_selects(target, client_id, os_family, expected):
    assert (
        target.selects(
            device_id="d", client_id=client_id, os_family=os_family, record=WEB, now=NOW
        )
        is expected
    )
