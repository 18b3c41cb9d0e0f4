"""Feeds into the database and CVE states of devices, on SQLite and PostgreSQL.

Real data: Canonical's OSV record UBUNTU-CVE-2023-4911 (glibc fixed in
2.35-0ubuntu3.4 on 22.04) and CISA's KEV catalog (CVE-2023-4911 added 2023-11-21,
due 2023-12-12).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from test_agent_api import scan_body

from patchfleet.core.packages import Package, inventory_hash
from patchfleet.server.db.engine import make_sessionmaker
from patchfleet.server.db.rows import AdvisoryRow, AffectedRangeRow, EpssRow, KevRow
from patchfleet.server.feeds.errors import FeedError
from patchfleet.server.feeds.load import FeedKind, import_file
from patchfleet.server.services import vulns

GLIBC_FIXED = "2.35-0ubuntu3.4"  # UBUNTU-CVE-2023-4911, Ubuntu:22.04:LTS
GLIBC_OLD = "2.35-0ubuntu3.1"
GLIBC_NEWER = "2.35-0ubuntu3.8"


def counts(session: Session) -> tuple[int, int, int, int]:
    with session.begin():
        return (
            session.scalar(select(func.count()).select_from(AdvisoryRow)) or 0,
            session.scalar(select(func.count()).select_from(AffectedRangeRow)) or 0,
            session.scalar(select(func.count()).select_from(KevRow)) or 0,
            session.scalar(select(func.count()).select_from(EpssRow)) or 0,
        )


def test_imports_are_idempotent_and_bad_files_change_nothing(
    engine, clock, shared_data, tmp_path
):
    session = make_sessionmaker(engine)()
    osv = import_file(session, FeedKind.OSV, shared_data / "osv/ubuntu", now=clock())
    assert osv.status == "ok"
    assert osv.changed == osv.records > 20
    kev = import_file(
        session,
        FeedKind.KEV,
        shared_data / "kev/known_exploited_vulnerabilities.json",
        now=clock(),
    )
    assert (kev.records, kev.changed) == (1404, 1404)
    epss = import_file(
        session,
        FeedKind.EPSS,
        shared_data / "epss/claircore-epss-data.csv",
        now=clock(),
    )
    assert epss.records == 29  # data rows in the file (its README says 28)
    before = counts(session)
    assert before[2:] == (1404, 29)

    again = import_file(session, FeedKind.OSV, shared_data / "osv/ubuntu", now=clock())
    assert (again.status, again.changed) == ("unchanged", 0)
    assert counts(session) == before

    bad_files = {
        FeedKind.OVAL: (
            "truncated.xml",
            (shared_data / "oval/com.redhat.rhsa-20231659.xml").read_bytes()[:3000],
        ),
        FeedKind.KEV: (
            "kev.json",
            b'{"catalogVersion": "x", "vulnerabilities": [{"cveID": 42}]}',
        ),
        FeedKind.EPSS: ("epss.csv", b"cve,epss,percentile\nCVE-2024-1,1.5,0.2\n"),
        FeedKind.NVD: ("nvd.json", b'{"vulnerabilities": "not a list"}'),
    }
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<oval_definitions>&lol2;</oval_definitions>"
    )
    for kind, (name, data) in [*bad_files.items(), (FeedKind.OVAL, ("bomb.xml", bomb))]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(FeedError) as caught:
            import_file(session, kind, path, now=clock())
        assert str(caught.value).startswith(f"{kind}: "), caught.value
        assert counts(session) == before, kind
    bomb_error = str(caught.value)
    assert "entit" in bomb_error.lower() or "dtd" in bomb_error.lower()


def _seed_ubuntu_device(api, clock, hostname, version, *, candidate="", state=""):
    device_id, cred = api.enroll(
        api.enrollment_token,
        hostname,
        os_id="ubuntu",
        os_name="Ubuntu 22.04.4 LTS",
        os_version="22.04",
    )
    packages = [
        Package("libc6", version, "amd64", "glibc", version),
        Package("libc-bin", version, "amd64", "glibc", version),
        Package("bash", "5.1-6ubuntu1", "amd64", "bash", "5.1-6ubuntu1"),
    ]
    items = [
        {
            "name": p.name,
            "version": p.version,
            "arch": p.arch,
            "source_name": p.source_name,
            "source_version": p.source_version,
        }
        for p in packages
    ]
    r = api.http.post(
        "/agent/v1/inventory",
        json={"kind": "full", "hash": inventory_hash(packages), "packages": items},
        headers=cred,
    )
    assert r.status_code == 204, r.text
    updates = []
    if candidate:
        updates = [
            {
                "name": "libc6",
                "installed_version": version,
                "candidate_version": candidate,
                "arch": "amd64",
                "classification": "security",
                "source": "jammy-security",
                "source_package": "glibc",
                "state": state or "installable",
            }
        ]
    r = api.http.post(
        "/agent/v1/scans", json=scan_body(clock, updates=updates), headers=cred
    )
    assert r.status_code == 204, r.text
    return device_id


def _state(api, device_id, cve="CVE-2023-4911"):
    r = api.http.get(f"/api/v1/devices/{device_id}/cves/{cve}", headers=api.admin)
    assert r.status_code == 200, r.text
    return r.json()["state"]


def test_fix_states_from_real_ubuntu_osv_and_kev(api, engine, clock, shared_data):
    session = make_sessionmaker(engine)()
    import_file(
        session,
        FeedKind.OSV,
        shared_data / "osv/ubuntu/UBUNTU-CVE-2023-4911.json",
        now=clock(),
    )
    import_file(
        session,
        FeedKind.KEV,
        shared_data / "kev/known_exploited_vulnerabilities.json",
        now=clock(),
    )
    installable = _seed_ubuntu_device(
        api, clock, "u-1", GLIBC_OLD, candidate=GLIBC_FIXED
    )
    held = _seed_ubuntu_device(
        api, clock, "u-2", GLIBC_OLD, candidate=GLIBC_FIXED, state="held"
    )
    missing = _seed_ubuntu_device(api, clock, "u-3", GLIBC_OLD)
    at_fix = _seed_ubuntu_device(api, clock, "u-4", GLIBC_FIXED)
    above = _seed_ubuntu_device(api, clock, "u-5", GLIBC_NEWER)

    result = vulns.refresh(session, now=clock())
    assert result.full
    assert result.devices == 5

    assert _state(api, installable) == "fixed-installable"
    assert _state(api, held) == "fixed-not-installable"
    assert _state(api, missing) == "fixed-not-installable"
    assert _state(api, at_fix) == "not-affected"
    assert _state(api, above) == "not-affected"

    detail = api.http.get("/api/v1/cves/CVE-2023-4911", headers=api.admin).json()
    assert sorted((d["hostname"], d["state"]) for d in detail["devices"]) == [
        ("u-1", "fixed-installable"),
        ("u-2", "fixed-not-installable"),
        ("u-3", "fixed-not-installable"),
    ]
    assert {d["fixed"] for d in detail["devices"]} == {GLIBC_FIXED}
    summary = detail["summary"]
    assert summary["kev"] is True
    assert summary["kev_due"] == "2023-12-12"
    assert summary["band"] == "critical"
    assert "known exploited since 2023-11-21" in summary["explanation"]
    assert "on 3 devices" in summary["explanation"]
    # offered on u-1 (installable) and u-2 (held)
    assert detail["patches"] == [{"patch_id": f"apt:libc6@{GLIBC_FIXED}", "devices": 2}]

    insights = api.http.get("/api/v1/cves/insights", headers=api.admin).json()
    assert (insights["devices"], insights["impacted_devices"], insights["kev"]) == (
        5,
        3,
        1,
    )
    by_device = api.http.get("/api/v1/cves/devices", headers=api.admin).json()
    assert by_device["total"] == insights["impacted_devices"]

    patch = next(
        p
        for p in api.http.get(
            "/api/v1/missing-patches/by-patch", headers=api.admin
        ).json()["items"]
        if p["name"] == "libc6"
    )
    assert patch["cves"] == ["CVE-2023-4911"]
    assert patch["kev"] is True
    assert patch["priority"] == summary["priority"] or patch["priority"] > 0
    assert "known exploited" in patch["priority_explanation"]


def test_approval_rule_on_kev_and_priority(api, engine, clock, shared_data):
    session = make_sessionmaker(engine)()
    for kind, path in (
        (FeedKind.OSV, "osv/ubuntu/UBUNTU-CVE-2023-4911.json"),
        (FeedKind.KEV, "kev/known_exploited_vulnerabilities.json"),
    ):
        import_file(session, kind, shared_data / path, now=clock())
    _seed_ubuntu_device(api, clock, "u-1", GLIBC_OLD, candidate=GLIBC_FIXED)
    vulns.refresh(session, now=clock())
    for query in ("kev = true", "priority >= 80"):
        r = api.http.post(
            "/api/v1/approval-rules",
            params={"client_id": api.client_id},
            json={"name": query, "query": query, "action": "approve"},
            headers=api.admin,
        )
        assert r.status_code == 201, r.text
        rows = api.http.get(
            "/api/v1/missing-patches/by-patch",
            params={"client_id": api.client_id},
            headers=api.admin,
        ).json()["items"]
        assert [(p["name"], p["approval"]) for p in rows] == [("libc6", "approved")]
        api.http.delete(f"/api/v1/approval-rules/{r.json()['id']}", headers=api.admin)


def test_changelog_cves_reported_by_agents_link_updates_without_any_feed(
    api, engine, clock
):
    device_id, cred = api.enroll(
        api.enrollment_token, "d-1", os_id="debian", os_version="12"
    )
    packages = [Package("demo-tool", "1.0-1", "all", "demo-tool", "1.0-1")]
    r = api.http.post(
        "/agent/v1/inventory",
        json={
            "kind": "full",
            "hash": inventory_hash(packages),
            "packages": [
                {
                    "name": "demo-tool",
                    "version": "1.0-1",
                    "arch": "all",
                    "source_name": "demo-tool",
                    "source_version": "1.0-1",
                }
            ],
        },
        headers=cred,
    )
    assert r.status_code == 204
    update = {
        "name": "demo-tool",
        "installed_version": "1.0-1",
        "candidate_version": "1.0-2",
        "arch": "all",
        "classification": "security",
        "source_package": "demo-tool",
        "cves": ["CVE-2024-0001"],
    }
    api.http.post(
        "/agent/v1/scans", json=scan_body(clock, updates=[update]), headers=cred
    )
    vulns.refresh(make_sessionmaker(engine)(), now=clock())
    assert _state(api, device_id, "CVE-2024-0001") == "fixed-installable"


def test_unknown_cve_and_bad_ids_are_clear_errors(api):
    device = uuid.uuid4()
    r = api.http.get("/api/v1/cves/CVE-1999-0001", headers=api.admin)
    assert r.status_code == 404
    assert "not known" in r.text
    r = api.http.get("/api/v1/cves/not-a-cve", headers=api.admin)
    assert r.status_code == 422
    assert "CVE-YYYY-NNNN" in r.text
    r = api.http.get(f"/api/v1/devices/{device}/cves", headers=api.admin)
    assert r.status_code == 404


def test_missing_feed_location_is_a_clear_error(engine, clock, tmp_path: Path):
    from patchfleet.server.feeds.load import import_location

    with pytest.raises(FeedError, match="no such file or folder"):
        import_location(
            make_sessionmaker(engine)(), FeedKind.OSV, str(tmp_path / "x"), now=clock()
        )


def test_by_patch_keeps_each_patchs_cves_across_many_patches(api, clock):
    """1,200 distinct missing patches, each with its own reported CVE."""
    _, cred = api.enroll(api.enrollment_token, "big-1", os_id="debian", os_version="12")
    updates = [
        {
            "name": f"pkg{i:04d}",
            "installed_version": "1.0-1",
            "candidate_version": "1.0-2",
            "arch": "amd64",
            "classification": "security",
            "cves": [f"CVE-2024-{10000 + i}"],
        }
        for i in range(1200)
    ]
    r = api.http.post(
        "/agent/v1/scans", json=scan_body(clock, updates=updates), headers=cred
    )
    assert r.status_code == 204, r.text
    page = api.http.get(
        "/api/v1/missing-patches/by-patch",
        params={"page_size": 100, "search": "pkg0007"},
        headers=api.admin,
    ).json()
    assert page["total"] == 1
    assert page["items"][0]["cves"] == ["CVE-2024-10007"]
    everything = api.http.get(
        "/api/v1/missing-patches/by-patch", params={"page_size": 10}, headers=api.admin
    ).json()
    assert everything["total"] == 1200
