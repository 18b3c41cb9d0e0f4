"""Which dynamic configuration owns each device (DEC-07, CFG-02..CFG-07, CFG-25, MT-06)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest

from patchfleet.core.allocation import (
    AllocationChange,
    ConfigurationRef,
    DeviceFacts,
    allocate,
    allocation_order,
    diff,
    static_members,
)
from patchfleet.core.errors import InvalidInputError
from patchfleet.core.policy import ALL_CLIENTS, ClientScope, Level
from patchfleet.core.queries import DEVICE_FIELDS, parse

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ACME = 7
GLOBEX = 8
LATER = 99  # a client created after every configuration here


def dev(device_id, client_id, os_family, *tags, seen_hours_ago=1):
    record = {
        "hostname": f"host-{device_id}",
        "os_family": os_family,
        "tag": tags,
        "last_seen": NOW - timedelta(hours=seen_hours_ago),
    }
    return DeviceFacts(device_id, client_id, record)


DEVICES = [
    dev(1, ACME, "linux", "web"),
    dev(2, ACME, "windows", "db"),
    dev(3, GLOBEX, "linux", "web"),
    dev(4, LATER, "linux", "web"),
    dev(5, ACME, "macos"),
    dev(6, GLOBEX, "windows", "web", seen_hours_ago=72),
]


def client_cfg(cfg_id, query, *, client=ACME, precedence=1, age_days=0):
    return ConfigurationRef(
        id=cfg_id,
        level=Level.CLIENT,
        precedence=precedence,
        created_at=EPOCH + timedelta(days=100 - age_days),
        query=parse(query, DEVICE_FIELDS),
        client_id=client,
    )


def partner_cfg(cfg_id, query, *, clients=ALL_CLIENTS, precedence=1, age_days=0):
    return ConfigurationRef(
        id=cfg_id,
        level=Level.PARTNER,
        precedence=precedence,
        created_at=EPOCH + timedelta(days=100 - age_days),
        query=parse(query, DEVICE_FIELDS),
        clients=clients,
    )


def static_cfg(cfg_id, device_ids, *, client=ACME, precedence=1):
    return ConfigurationRef(
        id=cfg_id,
        level=Level.CLIENT,
        precedence=precedence,
        created_at=EPOCH,
        device_ids=frozenset(device_ids),
        client_id=client,
    )


LINUX = "os_family = linux"
WEB = "tag = web"
ANY = "hostname = *"


@pytest.mark.parametrize(
    ("configurations", "expected"),
    [
        pytest.param([], {}, id="no-configurations"),
        pytest.param([client_cfg(10, LINUX)], {1: 10}, id="one-client-config"),
        pytest.param(
            [client_cfg(10, LINUX), client_cfg(11, "os_family = windows")],
            {1: 10, 2: 11},
            id="disjoint-queries",
        ),
        pytest.param(
            [client_cfg(10, ANY, precedence=2), client_cfg(11, ANY, precedence=1)],
            {1: 11, 2: 11, 5: 11},
            id="lower-precedence-number-wins",
        ),
        pytest.param(
            [
                client_cfg(10, ANY, precedence=2, age_days=50),
                client_cfg(11, ANY, precedence=1, age_days=0),
            ],
            {1: 11, 2: 11, 5: 11},
            id="precedence-beats-age",
        ),
        pytest.param(
            [
                client_cfg(10, ANY, precedence=3, age_days=1),
                client_cfg(11, ANY, precedence=3, age_days=9),
            ],
            {1: 11, 2: 11, 5: 11},
            id="same-precedence-older-wins",
        ),
        pytest.param(
            [client_cfg(12, ANY), client_cfg(11, ANY)],
            {1: 11, 2: 11, 5: 11},
            id="same-precedence-same-age-lower-id-wins",
        ),
        pytest.param(
            [
                client_cfg(10, LINUX, precedence=1),
                client_cfg(11, WEB, precedence=2),
            ],
            {1: 10},
            id="overlap-goes-to-one-config-only",
        ),
        pytest.param(
            [partner_cfg(20, LINUX, precedence=1), client_cfg(10, LINUX, precedence=9)],
            {1: 10, 3: 20, 4: 20},
            id="client-level-beats-partner-level",
        ),
        pytest.param(
            [
                partner_cfg(1, ANY, precedence=1, age_days=90),
                client_cfg(50, ANY, precedence=99, age_days=0),
            ],
            {1: 50, 2: 50, 5: 50, 3: 1, 4: 1, 6: 1},
            id="client-level-beats-older-higher-priority-partner",
        ),
        pytest.param(
            [partner_cfg(20, WEB)],
            {1: 20, 3: 20, 4: 20, 6: 20},
            id="partner-all-clients-includes-later-client",
        ),
        pytest.param(
            [partner_cfg(20, WEB, clients=ClientScope.select({GLOBEX}))],
            {3: 20, 6: 20},
            id="partner-select-clients",
        ),
        pytest.param(
            [
                partner_cfg(20, WEB, clients=ClientScope.select({GLOBEX})),
                partner_cfg(21, WEB, precedence=5),
            ],
            {1: 21, 3: 20, 4: 21, 6: 20},
            id="partner-select-then-partner-all",
        ),
        pytest.param(
            [client_cfg(10, LINUX, client=GLOBEX)],
            {3: 10},
            id="client-config-keeps-to-its-client",
        ),
        pytest.param(
            [client_cfg(10, WEB), client_cfg(11, WEB, client=GLOBEX)],
            {1: 10, 3: 11, 6: 11},
            id="two-clients-two-configs",
        ),
        pytest.param(
            [static_cfg(30, [1, 2, 5]), client_cfg(10, LINUX, precedence=2)],
            {1: 10},
            id="static-never-allocated",
        ),
        pytest.param(
            [partner_cfg(20, "last_seen < 1d")],
            {1: 20, 2: 20, 3: 20, 4: 20, 5: 20},
            id="age-query-uses-now",
        ),
        pytest.param(
            [client_cfg(10, "tag = nope"), partner_cfg(20, "os_family = bsd")],
            {},
            id="device-matching-none",
        ),
        pytest.param(
            [
                client_cfg(10, LINUX, precedence=2, age_days=5),
                client_cfg(11, LINUX, precedence=2, age_days=5),
                client_cfg(12, LINUX, precedence=1, age_days=0),
                partner_cfg(13, ANY, precedence=1, age_days=99),
            ],
            {1: 12, 2: 13, 3: 13, 4: 13, 5: 13, 6: 13},
            id="four-way-overlap",
        ),
    ],
)
def test_allocate(configurations, expected):
    assert allocate(configurations, DEVICES, now=NOW) == expected


def test_allocation_does_not_depend_on_input_order():
    configurations = [
        client_cfg(10, LINUX, precedence=2),
        client_cfg(11, WEB, precedence=2, age_days=3),
        partner_cfg(12, ANY, precedence=1),
        static_cfg(13, [1]),
    ]
    results = {
        tuple(sorted(allocate(order, DEVICES, now=NOW).items()))
        for order in permutations(configurations)
    }
    assert results == {((1, 11), (2, 12), (3, 12), (4, 12), (5, 12), (6, 12))}


def test_allocation_order_key():
    newer_client = client_cfg(1, ANY, precedence=5, age_days=0)
    older_partner = partner_cfg(2, ANY, precedence=1, age_days=9)
    assert sorted([older_partner, newer_client], key=allocation_order) == [
        newer_client,
        older_partner,
    ]


def test_each_device_gets_at_most_one_dynamic_configuration():
    configurations = [client_cfg(i, ANY, precedence=i % 3 + 1) for i in range(1, 20)]
    owners = allocate(configurations, DEVICES, now=NOW)
    assert set(owners) == {1, 2, 5}
    assert len(set(owners.values())) == 1


# Static configurations ---------------------------------------------------------------


def test_static_members_are_returned_as_saved():
    configurations = [
        static_cfg(30, [1, 2]),
        static_cfg(31, [404], client=GLOBEX),  # a device that no longer exists
        static_cfg(32, []),
        client_cfg(10, ANY),
    ]
    assert static_members(configurations) == {
        30: frozenset({1, 2}),
        31: frozenset({404}),
        32: frozenset(),
    }


def test_enrolment_never_changes_a_static_list():
    configurations = [static_cfg(30, [1])]
    before = static_members(configurations)
    allocate(configurations, [*DEVICES, dev(7, ACME, "linux", "web")], now=NOW)
    assert static_members(configurations) == before == {30: frozenset({1})}


# Recompute: only changed devices (CFG-06, CFG-25) ------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "added", "removed"),
    [
        pytest.param({}, {}, {}, {}, id="nothing"),
        pytest.param({1: 10}, {1: 10}, {}, {}, id="unchanged"),
        pytest.param({}, {1: 10}, {1: 10}, {}, id="new-device"),
        pytest.param({1: 10}, {}, {}, {1: 10}, id="device-left"),
        pytest.param({1: 10}, {1: 11}, {1: 11}, {1: 10}, id="device-moved"),
        pytest.param(
            {1: 10, 2: 10, 3: 11},
            {1: 10, 2: 11, 4: 11},
            {2: 11, 4: 11},
            {2: 10, 3: 11},
            id="mixed",
        ),
    ],
)
def test_diff(old, new, added, removed):
    assert diff(old, new) == AllocationChange(added, removed)


def test_newly_enrolled_matching_device_joins_at_the_next_recompute():
    configurations = [client_cfg(10, LINUX)]
    before = allocate(configurations, DEVICES, now=NOW)
    enrolled = dev(7, ACME, "linux")
    after = allocate(configurations, [*DEVICES, enrolled], now=NOW)
    assert diff(before, after) == AllocationChange(added={7: 10}, removed={})


def test_new_higher_priority_configuration_moves_only_its_devices():
    old_configurations = [partner_cfg(20, ANY, precedence=5)]
    new_configurations = [*old_configurations, client_cfg(10, WEB, client=GLOBEX)]
    before = allocate(old_configurations, DEVICES, now=NOW)
    after = allocate(new_configurations, DEVICES, now=NOW)
    assert diff(before, after) == AllocationChange(
        added={3: 10, 6: 10}, removed={3: 20, 6: 20}
    )


# Validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        pytest.param({"precedence": 0}, ("body", "precedence"), id="precedence-zero"),
        pytest.param(
            {"level": Level.CLIENT, "client_id": None},
            ("body", "client_id"),
            id="client-level-without-client",
        ),
        pytest.param(
            {"level": Level.PARTNER, "client_id": ACME},
            ("body", "client_id"),
            id="partner-level-with-client",
        ),
        pytest.param(
            {"device_ids": frozenset({1})},
            ("body", "device_ids"),
            id="query-and-list",
        ),
        pytest.param(
            {"level": Level.PARTNER, "client_id": None, "query": None},
            ("body", "query"),
            id="partner-static",
        ),
    ],
)
def test_invalid_configurations_are_refused(fields, loc):
    values = {
        "id": 1,
        "level": Level.CLIENT,
        "precedence": 1,
        "created_at": EPOCH,
        "query": parse(ANY, DEVICE_FIELDS),
        "client_id": ACME,
    }
    with pytest.raises(InvalidInputError) as caught:
        ConfigurationRef(**(values | fields))
    assert caught.value.loc == loc


def test_dynamic_and_static_are_told_apart():
    assert client_cfg(1, ANY).is_dynamic
    assert not static_cfg(2, [1]).is_dynamic
