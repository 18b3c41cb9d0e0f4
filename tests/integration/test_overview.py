"""The Overview (OV-01..OV-15) through the real API on SQLite and PostgreSQL.

A seeded random fleet (scans, install jobs with several rounds of results, reboots,
CVEs) is checked against an independent model, and for EVERY tile at every scope:
tile count == drill-down total == rows paged through == CSV rows (OV-12, OV-14).
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from test_agent_api import scan_body

from patchfleet.server.db.rows import CveRow, DeviceCveRow, DeviceRow, KevRow
from patchfleet.server.services import overview as overview_service
from patchfleet.server.services.overview_views import Tile
from support.clock import START

# name, classification, severity: some share a name to give one device two arches.
UPDATES = [
    ("openssl", "security", "high"),
    ("libssl3", "security", "critical"),
    ("linux-image-amd64", "critical", "high"),
    ("curl", "security", "medium"),
    ("tzdata", "bugfix", "none"),
    ("firmware-misc-nonfree", "firmware", "low"),
    ("vim", "enhancement", "none"),
]
STATES = ["installable", "installable", "held", "phased", "blocked"]
RESULTS = ["installed", "installed", "failed", "not_applicable"]
SECURITY = {"security", "critical"}
KEV_CVES = {"CVE-2024-0001", "CVE-2024-0003"}


@dataclass
class Device:
    """What the model knows of one seeded device."""

    id: str
    hostname: str
    client_id: int
    auth: dict[str, str]
    scanned: bool = False
    updates: list[dict[str, object]] = field(default_factory=list)
    reboot_required: bool = False
    rebooted: bool = False
    cves: set[str] = field(default_factory=set)


@dataclass
class Fleet:
    """The seeded fleet and the latest install result per (device, patch, arch)."""

    clients: dict[str, int]
    devices: list[Device]
    results: dict[tuple[str, str, str], str] = field(default_factory=dict)
    runs: dict[int | None, int] = field(default_factory=dict)

    def expected(self, client_id: int | None) -> dict[str, int]:
        """Tile counts computed from the model, for one client or All Clients."""
        mine = [d for d in self.devices if client_id in (None, d.client_id)]
        ids = {d.id for d in mine}
        missing = [u for d in mine for u in d.updates]
        security = [u for u in missing if u["classification"] in SECURITY]
        latest = [s for (dev, _, _), s in self.results.items() if dev in ids]
        in_scope_cves = {c for d in mine for c in d.cves}
        return {
            Tile.DEVICES: len(mine),
            Tile.SCANNED: sum(d.scanned for d in mine),
            Tile.UNSCANNED: sum(not d.scanned for d in mine),
            Tile.SECURITY: len(security),
            Tile.SECURITY_INSTALLABLE: sum(
                u["state"] == "installable" for u in security
            ),
            Tile.FAILED: latest.count("failed"),
            Tile.INSTALLED: latest.count("installed"),
            Tile.REBOOT: sum(d.reboot_required for d in mine),
            Tile.REBOOTED: sum(d.rebooted for d in mine),
            Tile.RUNS: self.runs.get(client_id, 0),
            Tile.CVE_DEVICES: sum(bool(d.cves) for d in mine),
            Tile.KEV: len(in_scope_cves & KEV_CVES),
        }


def post(api, path, body, **params):
    r = api.http.post(path, json=body, params=params, headers=api.admin)
    assert r.status_code < 300, r.text
    return r


def _scan(api, clock, rng: random.Random, device: Device) -> None:
    chosen = rng.sample(UPDATES, rng.randint(0, len(UPDATES)))
    updates = []
    for name, classification, severity in chosen:
        arches = ["amd64", "i386"] if rng.random() < 0.2 else ["amd64"]
        updates += [
            {
                "name": name,
                "installed_version": "1.0-1",
                "candidate_version": "1.0-2",
                "arch": arch,
                "classification": classification,
                "severity": severity,
                "state": rng.choice(STATES),
            }
            for arch in arches
        ]
    device.reboot_required = rng.random() < 0.4
    body = scan_body(
        clock, updates=updates, backend="apt", reboot_required=device.reboot_required
    )
    r = api.http.post("/agent/v1/scans", json=body, headers=device.auth)
    assert r.status_code == 204, r.text
    device.scanned, device.updates = True, updates


def _install_round(api, clock, rng: random.Random, fleet: Fleet) -> None:
    """Install Now on some scanned devices; most jobs report a result per patch."""
    for device in fleet.devices:
        if not device.updates or rng.random() < 0.3:
            continue
        (job_id,) = post(
            api, "/api/v1/install-now", {"device_ids": [device.id]}
        ).json()["jobs"]
        if rng.random() < 0.2:
            continue  # still pending: no result yet
        job = api.http.get(f"/api/v1/jobs/{job_id}", headers=api.admin).json()
        reported = []
        for p in job["patches"]:
            if p["status"] != "pending":
                continue
            status = rng.choice(RESULTS)
            reported.append(
                {**{k: p[k] for k in ("name", "version", "arch")}, "status": status}
            )
            fleet.results[(device.id, p["patch_id"], p["arch"])] = status
        device.reboot_required = rng.random() < 0.5
        rebooted = rng.random() < 0.3
        device.rebooted = device.rebooted or rebooted
        report = {
            "report_id": str(uuid.uuid4()),
            "order_id": job_id,
            "sent_at": clock().isoformat(),
            "final": True,
            "patches": reported,
            "reboot_required": device.reboot_required,
            "rebooted": rebooted,
        }
        r = api.http.post("/agent/v1/jobs", json=report, headers=device.auth)
        assert r.status_code == 204, r.text


def _add_cves(api, rng: random.Random, fleet: Fleet) -> None:
    """CVE states straight into the tables the CVE service derives (vulns is tested
    elsewhere): KEV entries for two of four CVEs."""
    sessions = api.http.app.state.sessionmaker
    with sessions() as s, s.begin():
        ids = {str(r.uuid): r.id for r in s.query(DeviceRow)}
        for cve in ("CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004"):
            s.add(CveRow(id=cve, description=f"{cve} text", cvss_score=7.5))
        for cve in sorted(KEV_CVES):
            s.add(KevRow(cve=cve, date_added=date(2026, 11, 1), vendor="v", name="n"))
        for device in fleet.devices:
            for cve in rng.sample(
                sorted(
                    {"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004"}
                ),
                rng.randint(0, 2),
            ):
                device.cves.add(cve)
                s.add(
                    DeviceCveRow(
                        device_id=ids[device.id],
                        cve=cve,
                        package="openssl",
                        version="1.0-1",
                        fixed="1.0-2",
                        state="fixed-installable",
                        first_seen_at=START,
                    )
                )


def _schedules(api, clock, fleet: Fleet) -> None:
    """A configuration run now and a scan schedule due in an hour (Default Client)."""
    nobody = "hostname = nobody-*"  # the run is recorded; it installs nothing
    config = post(
        api,
        "/api/v1/configurations",
        {
            "name": "Nightly",
            "device_query": nobody,
            "schedule": {"frequency": "on_demand"},
        },
        client_id=api.client_id,
    ).json()["id"]
    post(api, f"/api/v1/configurations/{config}/run", None)
    soon = clock() + timedelta(hours=1)
    once = {
        "frequency": "once",
        "time_of_day": soon.strftime("%H:%M"),
        "timezone": "UTC",
        "start_date": soon.date().isoformat(),
    }
    body = {"name": "Soon", "device_query": nobody, "schedule": once}
    post(api, "/api/v1/scan-schedules", body, client_id=api.client_id)
    fleet.runs = {None: 2, api.client_id: 2}


def _compliance(api, fleet: Fleet) -> None:
    """A compliance configuration over the Default Client's devices (OV-04/05)."""
    body = {
        "name": "Baseline",
        "os_type": "linux",
        "schedule": {"frequency": "on_demand"},
        "static_devices": [d.id for d in fleet.devices if d.client_id == api.client_id],
        "selected_patches": ["apt:openssl@1.0-2", "apt:curl@1.0-2"],
    }
    post(api, "/api/v1/compliance", body, client_id=api.client_id)


def seed(api, clock, rng: random.Random) -> Fleet:
    globex, globex_token = api.new_client("Globex")
    empty, _ = api.new_client("Empty Co")  # OV-15: a client with nothing at all
    clients = {"Default Client": api.client_id, "Globex": globex, "Empty Co": empty}
    tokens = {api.client_id: api.enrollment_token, globex: globex_token}
    fleet = Fleet(clients, [])
    for i in range(9):
        client_id = rng.choice([api.client_id, globex])
        device_id, auth = api.enroll(tokens[client_id], f"host-{i:02d}")
        fleet.devices.append(Device(device_id, f"host-{i:02d}", client_id, auth))
    for device in fleet.devices:
        if rng.random() < 0.75:
            _scan(api, clock, rng, device)
    patch_ids = sorted(
        {f"apt:{u['name']}@1.0-2" for d in fleet.devices for u in d.updates}
    )
    if patch_ids:
        post(api, "/api/v1/patches/approve", {"patch_ids": patch_ids})
    for _ in range(2):  # a later job's result replaces an earlier one
        _install_round(api, clock, rng, fleet)
        clock.advance(hours=1)
    _add_cves(api, rng, fleet)
    _schedules(api, clock, fleet)
    _compliance(api, fleet)
    return fleet


def tiles(api, client_id=None) -> dict[str, int | None]:
    params = {"client_id": client_id} if client_id else {}
    r = api.http.get("/api/v1/overview", params=params, headers=api.admin)
    assert r.status_code == 200, r.text
    return {t["key"]: t["count"] for t in r.json()["tiles"]}


def paged(api, tile, client_id, size) -> tuple[int, list[dict]]:
    """Every row of a drill-down, page by page; (total, rows)."""
    rows, page, total = [], 1, None
    while True:
        params = {"page": page, "page_size": size}
        if client_id:
            params["client_id"] = client_id
        r = api.http.get(f"/api/v1/overview/{tile}", params=params, headers=api.admin)
        assert r.status_code == 200, r.text
        body = r.json()
        assert total in (None, body["total"])
        total = body["total"]
        rows += body["items"]
        if page * size >= total:
            return total, rows
        page += 1


def csv_rows(api, tile, client_id) -> list[dict[str, str]]:
    params = {"client_id": client_id} if client_id else {}
    r = api.http.get(f"/api/v1/overview/{tile}.csv", params=params, headers=api.admin)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


def non_compliant(api, client_id) -> int:
    params = {"client_id": client_id} if client_id else {}
    r = api.http.get(
        "/api/v1/compliance/non-compliant-devices", params=params, headers=api.admin
    )
    assert r.status_code == 200, r.text
    return len(r.json())


@pytest.mark.parametrize("fleet_seed", [8, 5])
def test_every_tile_equals_its_list_and_its_csv(api, clock, fleet_seed):
    fleet = seed(api, clock, random.Random(fleet_seed))
    # The seed exercises every tile: none is zero at All Clients.
    assert all(tiles(api).values()), tiles(api)
    for client_id in (None, *fleet.clients.values()):
        counts = tiles(api, client_id)
        expected = fleet.expected(client_id)
        assert {k: counts[k] for k in expected} == expected, client_id
        assert counts[Tile.NON_COMPLIANT] == non_compliant(api, client_id)
        for tile in Tile:
            count = counts[tile] or 0
            total, rows = paged(api, tile, client_id, size=3)
            exported = csv_rows(api, tile, client_id)
            assert (
                (tile, count)
                == (tile, total)
                == (tile, len(rows))
                == (
                    tile,
                    len(exported),
                )
            ), client_id
            assert len({repr(sorted(r.items())) for r in rows}) == len(rows), tile


def test_client_overview_has_one_row_per_client_equal_to_its_scope(api, clock):
    fleet = seed(api, clock, random.Random(5))
    r = api.http.get("/api/v1/overview", headers=api.admin)
    body = r.json()
    assert [c["client_name"] for c in body["clients"]] == sorted(fleet.clients)
    for row in body["clients"]:
        scoped = tiles(api, row["client_id"])
        assert row["counts"] == {k: scoped[k] for k in row["counts"]}
    # At one client the Client Overview is not shown.
    one = api.http.get(
        "/api/v1/overview", params={"client_id": api.client_id}, headers=api.admin
    )
    assert one.json()["clients"] == []
    assert one.json()["is_partner_level"] is False


def test_latest_result_per_device_and_patch_wins(api, clock):
    device_id, auth = api.enroll(api.enrollment_token, "retry-01")
    update = {
        "name": "openssl",
        "installed_version": "3.0.1-1",
        "candidate_version": "3.0.2-1",
        "arch": "amd64",
        "classification": "security",
        "severity": "high",
    }
    body = scan_body(clock, updates=[update], backend="apt")
    assert api.http.post("/agent/v1/scans", json=body, headers=auth).status_code == 204
    post(api, "/api/v1/patches/approve", {"patch_ids": ["apt:openssl@3.0.2-1"]})

    def attempt(status):
        (job,) = post(api, "/api/v1/install-now", {"device_ids": [device_id]}).json()[
            "jobs"
        ]
        patch = {"name": "openssl", "version": "3.0.2-1", "arch": "amd64"}
        report = {
            "report_id": str(uuid.uuid4()),
            "order_id": job,
            "sent_at": clock().isoformat(),
            "final": True,
            "patches": [{**patch, "status": status}],
        }
        assert (
            api.http.post("/agent/v1/jobs", json=report, headers=auth).status_code
            == 204
        )
        clock.advance(minutes=10)
        return tiles(api)

    assert (attempt("failed")["failed"], tiles(api)["installed"]) == (1, 0)
    after = attempt("installed")
    assert (after["failed"], after["installed"]) == (0, 1)
    (row,) = api.http.get("/api/v1/overview/installed", headers=api.admin).json()[
        "items"
    ]
    assert (row["hostname"], row["patch_id"], row["status"]) == (
        "retry-01",
        "apt:openssl@3.0.2-1",
        "installed",
    )


ONCE_AT = {"frequency": "once", "time_of_day": "13:00", "timezone": "UTC"}


def test_runs_cover_exactly_the_last_and_next_24_hours(api, clock):
    """OV-06/07 clock test: runs at -25 h and -1 h, next runs at +1 h and +25 h."""
    api.enroll(api.enrollment_token, "web-01")
    clock.now = START - timedelta(hours=25)
    made = {}
    for name, schedule in (
        ("ran -25h", {"frequency": "on_demand"}),
        ("ran -1h", {"frequency": "on_demand"}),
        ("next +1h", {**ONCE_AT, "start_date": "2026-11-27"}),
        ("next +25h", {**ONCE_AT, "start_date": "2026-11-28"}),
    ):
        for kind in ("configurations", "scan-schedules"):
            made[(kind, name)] = post(
                api,
                f"/api/v1/{kind}",
                {
                    "name": name,
                    "device_query": "hostname = web-*",
                    "schedule": schedule,
                },
                client_id=api.client_id,
            ).json()["id"]
    for kind in ("configurations", "scan-schedules"):
        post(api, f"/api/v1/{kind}/{made[(kind, 'ran -25h')]}/run", None)
    clock.now = START - timedelta(hours=1)
    for kind in ("configurations", "scan-schedules"):
        post(api, f"/api/v1/{kind}/{made[(kind, 'ran -1h')]}/run", None)
    clock.now = START

    body = api.http.get("/api/v1/overview/runs", headers=api.admin).json()
    got = [(r["kind"], r["name"], r["timing"], r["at"]) for r in body["items"]]
    assert got == [
        ("configuration", "ran -1h", "ran", "2026-11-27T11:00:00Z"),
        ("scan schedule", "ran -1h", "ran", "2026-11-27T11:00:00Z"),
        ("configuration", "next +1h", "next", "2026-11-27T13:00:00Z"),
        ("scan schedule", "next +1h", "next", "2026-11-27T13:00:00Z"),
    ]
    assert tiles(api)["runs"] == 4
    assert len(csv_rows(api, "runs", None)) == 4
    # At another client none of them is in scope.
    other, _ = api.new_client("Other")
    assert tiles(api, other)["runs"] == 0


def test_cve_figures_agree_with_cve_insights(api, clock):
    fleet = seed(api, clock, random.Random(2))
    counts = tiles(api)
    insights = api.http.get("/api/v1/cves/insights", headers=api.admin).json()
    impacted = sum(bool(d.cves) for d in fleet.devices)
    assert counts["cve-devices"] == insights["impacted_devices"] == impacted
    assert counts["kev"] == insights["kev"]


def test_empty_scope_shows_zeros_and_empty_lists(api):
    """OV-15: a new client has no rows, never an error."""
    empty, _ = api.new_client("New Co")
    counts = tiles(api, empty)
    assert {k: v for k, v in counts.items() if k != "non-compliant"} == dict.fromkeys(
        (t for t in Tile if t is not Tile.NON_COMPLIANT), 0
    )
    for tile in Tile:
        assert paged(api, tile, empty, size=10) == (0, [])
        assert csv_rows(api, tile, empty) == []


def test_unknown_tile_and_paging_are_validated(api):
    r = api.http.get("/api/v1/overview/nonsense", headers=api.admin)
    assert r.status_code == 422
    r = api.http.get(
        "/api/v1/overview/devices", params={"page_size": 0}, headers=api.admin
    )
    assert r.status_code == 422
    r = api.http.get(
        "/api/v1/overview/devices", params={"sort": "x"}, headers=api.admin
    )
    assert r.status_code == 422  # unknown query parameters are refused (API-06)


def test_client_user_sees_only_its_client(api, clock):
    fleet = seed(api, clock, random.Random(4))
    globex = fleet.clients["Globex"]
    body = {
        "username": "globex-viewer",
        "password": "globex-password-1",
        "client_id": globex,
    }
    assert (
        api.http.post("/api/v1/users", json=body, headers=api.admin).status_code == 201
    )
    viewer = api.login("globex-viewer", "globex-password-1")
    r = api.http.get("/api/v1/overview", headers=viewer)
    assert {t["key"]: t["count"] for t in r.json()["tiles"]}["devices"] == (
        fleet.expected(globex)[Tile.DEVICES]
    )
    assert r.json()["clients"] == []
    r = api.http.get(
        "/api/v1/overview/devices.csv",
        params={"client_id": fleet.clients["Default Client"]},
        headers=viewer,
    )
    assert r.status_code == 404
    hosts = [row["hostname"] for row in csv_rows_as(api, viewer, "devices")]
    assert hosts == sorted(d.hostname for d in fleet.devices if d.client_id == globex)


def csv_rows_as(api, headers, tile):
    r = api.http.get(f"/api/v1/overview/{tile}.csv", headers=headers)
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


def test_csv_cells_never_start_a_formula():
    assert overview_service.csv_value("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert overview_service.csv_value("@cmd") == "'@cmd"
    assert overview_service.csv_value("web-01") == "web-01"
    assert overview_service.csv_value(3) == "3"
    assert overview_service.csv_value(None) == ""
    assert overview_service.csv_value(True) == "true"
    assert (
        overview_service.csv_value(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
        == "2026-01-02T03:04:05Z"
    )
