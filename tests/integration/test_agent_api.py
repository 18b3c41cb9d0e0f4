"""The agent API end to end in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import uuid

from patchfleet.core.packages import Package, inventory_hash

SCAN = {
    "backend": "apt",
    "updates": [
        {
            "name": "demo-tool",
            "installed_version": "1.0-1",
            "candidate_version": "1.0-2",
            "arch": "all",
            "classification": "security",
            "severity": "high",
            "source": "Lab-Security:lab-security",
            "cves": ["CVE-2024-0001"],
        },
        {
            "name": "demo-lib",
            "installed_version": "1.0-1",
            "candidate_version": "1.1-1",
            "arch": "all",
            "classification": "bugfix",
        },
    ],
}


def scan_body(clock, order_id=None, updates=None, **extra):
    body = {
        "scan_id": str(uuid.uuid4()),
        "started_at": clock().isoformat(),
        "finished_at": clock().isoformat(),
        **copy.deepcopy(SCAN),
        **extra,
    }
    if updates is not None:
        body["updates"] = updates
    if order_id:
        body["order_id"] = order_id
    return body


def full_inventory(packages):
    items = [{"name": p.name, "version": p.version, "arch": p.arch} for p in packages]
    return {"kind": "full", "hash": inventory_hash(packages), "packages": items}


def test_enroll_checkin_inventory_and_scan(api, clock):
    device_id, dev = api.enroll(
        api.enrollment_token, "web-01", os_name="Debian GNU/Linux 12"
    )
    r = api.http.post("/agent/v1/checkin", json={"inventory_hash": ""}, headers=dev)
    assert r.status_code == 200
    assert r.json()["inventory"] == "full"
    pkgs = [
        Package("demo-tool", "1.0-1", "all"),
        Package("bash", "5.2.15-2+b8", "amd64"),
    ]
    assert (
        api.http.post(
            "/agent/v1/inventory", json=full_inventory(pkgs), headers=dev
        ).status_code
        == 204
    )
    r = api.http.post(
        "/agent/v1/checkin", json={"inventory_hash": inventory_hash(pkgs)}, headers=dev
    )
    assert r.json()["inventory"] == "none"
    assert (
        api.http.post("/agent/v1/scans", json=scan_body(clock), headers=dev).status_code
        == 204
    )

    detail = api.http.get(f"/api/v1/devices/{device_id}", headers=api.admin).json()
    assert detail["hostname"] == "web-01"
    assert detail["package_count"] == 2
    assert detail["missing"] == 2
    assert detail["missing_security"] == 1
    installed = api.http.get(
        f"/api/v1/devices/{device_id}/packages", headers=api.admin
    ).json()
    assert {(p["name"], p["version"]) for p in installed} == {
        ("demo-tool", "1.0-1"),
        ("bash", "5.2.15-2+b8"),
    }


def test_inventory_delta_applies_and_stale_base_is_refused(api):
    _, dev = api.enroll(api.enrollment_token, "web-02")
    old = [Package("a", "1", "amd64"), Package("b", "1", "amd64")]
    api.http.post("/agent/v1/inventory", json=full_inventory(old), headers=dev)
    new = [Package("a", "2", "amd64"), Package("c", "1", "amd64")]
    delta = {
        "kind": "delta",
        "base_hash": inventory_hash(old),
        "hash": inventory_hash(new),
        "packages": [
            {"name": "a", "version": "2", "arch": "amd64"},
            {"name": "c", "version": "1", "arch": "amd64"},
        ],
        "removed": [{"name": "b", "arch": "amd64"}],
    }
    assert (
        api.http.post("/agent/v1/inventory", json=delta, headers=dev).status_code == 204
    )
    stale = {**delta, "base_hash": "0" * 64}
    r = api.http.post("/agent/v1/inventory", json=stale, headers=dev)
    assert r.status_code == 409
    assert "full" in r.json()["detail"]
    devices = api.http.get("/api/v1/devices", headers=api.admin).json()["items"]
    pk = api.http.get(
        f"/api/v1/devices/{devices[0]['id']}/packages", headers=api.admin
    ).json()
    assert {(p["name"], p["version"]) for p in pk} == {("a", "2"), ("c", "1")}


def test_scan_results_are_idempotent(api, clock):
    device_id, dev = api.enroll(api.enrollment_token, "web-03")
    body = scan_body(clock)
    assert api.http.post("/agent/v1/scans", json=body, headers=dev).status_code == 204
    assert api.http.post("/agent/v1/scans", json=body, headers=dev).status_code == 204
    scans = api.http.get(f"/api/v1/devices/{device_id}/scans", headers=api.admin).json()
    assert len(scans) == 1


def test_late_older_scan_does_not_replace_newer(api, clock):
    device_id, dev = api.enroll(api.enrollment_token, "web-04")
    old = scan_body(clock)
    clock.advance(hours=1)
    new = scan_body(clock, updates=[])
    assert api.http.post("/agent/v1/scans", json=new, headers=dev).status_code == 204
    assert api.http.post("/agent/v1/scans", json=old, headers=dev).status_code == 204
    assert (
        api.http.get(f"/api/v1/devices/{device_id}/patches", headers=api.admin).json()
        == []
    )
    assert (
        len(
            api.http.get(f"/api/v1/devices/{device_id}/scans", headers=api.admin).json()
        )
        == 2
    )


def test_scan_now_round_trip(api, clock):
    device_id, dev = api.enroll(api.enrollment_token, "web-05")
    r = api.http.post(f"/api/v1/devices/{device_id}/scan", headers=api.admin)
    assert r.status_code == 202
    assert r.json()["ordered"] == [device_id]
    # a second Scan Now while one is open creates no duplicate
    assert (
        api.http.post(f"/api/v1/devices/{device_id}/scan", headers=api.admin).json()[
            "ordered"
        ]
        == []
    )
    orders = api.http.post("/agent/v1/checkin", json={}, headers=dev).json()["orders"]
    assert [o["kind"] for o in orders] == ["scan"]
    # delivered orders are not handed out again until the redelivery timeout
    assert (
        api.http.post("/agent/v1/checkin", json={}, headers=dev).json()["orders"] == []
    )
    clock.advance(minutes=11)
    again = api.http.post("/agent/v1/checkin", json={}, headers=dev).json()["orders"]
    assert [o["id"] for o in again] == [orders[0]["id"]]
    api.http.post(
        "/agent/v1/scans", json=scan_body(clock, order_id=orders[0]["id"]), headers=dev
    )
    clock.advance(minutes=11)
    assert (
        api.http.post("/agent/v1/checkin", json={}, headers=dev).json()["orders"] == []
    )


def test_bulk_scan_now_is_capped_at_100(api):
    ids = [str(uuid.uuid4()) for _ in range(101)]
    r = api.http.post("/api/v1/scan-now", json={"device_ids": ids}, headers=api.admin)
    assert r.status_code == 422
    assert "at most 100" in r.json()["detail"][0]["msg"]


def test_checkin_sees_only_its_own_orders(api):
    _, first = api.enroll(api.enrollment_token, "own-01")
    second_id, second = api.enroll(api.enrollment_token, "own-02")
    api.http.post(f"/api/v1/devices/{second_id}/scan", headers=api.admin)
    assert (
        api.http.post("/agent/v1/checkin", json={}, headers=first).json()["orders"]
        == []
    )
    assert (
        len(
            api.http.post("/agent/v1/checkin", json={}, headers=second).json()["orders"]
        )
        == 1
    )


def test_full_inventory_over_an_existing_one_stores_exactly_the_new_set(api):
    device_id, dev = api.enroll(api.enrollment_token, "full-02")
    old = [
        Package("a", "1", "amd64"),
        Package("b", "1", "amd64"),
        Package("c", "1", "amd64"),
    ]
    new = [
        Package("a", "1", "amd64"),
        Package("b", "2", "amd64"),
        Package("d", "1", "all"),
    ]
    for packages in (old, new, new):
        r = api.http.post(
            "/agent/v1/inventory", json=full_inventory(packages), headers=dev
        )
        assert r.status_code == 204
    stored = api.http.get(
        f"/api/v1/devices/{device_id}/packages", headers=api.admin
    ).json()
    assert {(p["name"], p["version"], p["arch"]) for p in stored} == {
        ("a", "1", "amd64"),
        ("b", "2", "amd64"),
        ("d", "1", "all"),
    }
