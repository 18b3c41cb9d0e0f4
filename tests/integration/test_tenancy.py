"""Partner -> clients -> devices: every query is scoped (FEATURES MT-01, MT-02, MT-12)."""

from __future__ import annotations

import uuid

import pytest
from test_agent_api import scan_body


@pytest.fixture
def two_clients(api, clock):
    a_id, a_token = api.new_client("Acme")
    b_id, b_token = api.new_client("Globex")
    a_dev, a_cred = api.enroll(a_token, "acme-01")
    b_dev, b_cred = api.enroll(b_token, "globex-01")
    for cred in (a_cred, b_cred):
        assert (
            api.http.post(
                "/agent/v1/scans", json=scan_body(clock), headers=cred
            ).status_code
            == 204
        )
    r = api.http.post(
        "/api/v1/users",
        json={
            "username": "acme-tech",
            "password": "acme-password-1",
            "client_id": a_id,
            "role": "operator",
        },
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    return {
        "a": (a_id, a_dev),
        "b": (b_id, b_dev),
        "acme_user": api.login("acme-tech", "acme-password-1"),
    }


def hostnames(page):
    return sorted(d["hostname"] for d in page["items"])


def test_partner_level_aggregates_all_clients(api, two_clients):
    page = api.http.get("/api/v1/devices", headers=api.admin).json()
    assert hostnames(page) == ["acme-01", "globex-01"]
    by_patch = api.http.get(
        "/api/v1/missing-patches/by-patch", headers=api.admin
    ).json()["items"]
    demo = next(p for p in by_patch if p["name"] == "demo-tool")
    assert demo["devices"] == 2


def test_partner_user_can_narrow_to_one_client(api, two_clients):
    a_id, _ = two_clients["a"]
    page = api.http.get(f"/api/v1/devices?client_id={a_id}", headers=api.admin).json()
    assert hostnames(page) == ["acme-01"]
    by_patch = api.http.get(
        f"/api/v1/missing-patches/by-patch?client_id={a_id}", headers=api.admin
    ).json()
    assert (
        next(p for p in by_patch["items"] if p["name"] == "demo-tool")["devices"] == 1
    )


def test_client_user_sees_only_its_client(api, two_clients):
    user = two_clients["acme_user"]
    b_id, b_dev = two_clients["b"]
    assert hostnames(api.http.get("/api/v1/devices", headers=user).json()) == [
        "acme-01"
    ]
    assert api.http.get(f"/api/v1/devices/{b_dev}", headers=user).status_code == 404
    assert (
        api.http.get(f"/api/v1/devices/{b_dev}/patches", headers=user).status_code
        == 404
    )
    assert (
        api.http.get(f"/api/v1/devices/{b_dev}/packages", headers=user).status_code
        == 404
    )
    assert (
        api.http.get(f"/api/v1/devices?client_id={b_id}", headers=user).status_code
        == 404
    )
    assert (
        api.http.post(f"/api/v1/devices/{b_dev}/scan", headers=user).status_code == 404
    )
    patches = api.http.get("/api/v1/missing-patches/by-patch", headers=user).json()[
        "items"
    ]
    assert next(p for p in patches if p["name"] == "demo-tool")["devices"] == 1
    devices = api.http.get(
        "/api/v1/missing-patches/by-patch/devices",
        params={"backend": "apt", "name": "demo-tool", "version": "1.0-2"},
        headers=user,
    ).json()
    assert [d["hostname"] for d in devices] == ["acme-01"]
    assert [
        c["name"] for c in api.http.get("/api/v1/clients", headers=user).json()
    ] == ["Acme"]


def test_client_user_cannot_create_clients_or_users(api, two_clients):
    user = two_clients["acme_user"]
    assert (
        api.http.post(
            "/api/v1/clients", json={"name": "Evil"}, headers=user
        ).status_code
        == 403
    )
    r = api.http.post(
        "/api/v1/users", json={"username": "x", "password": "0123456789"}, headers=user
    )
    assert r.status_code == 403


def test_viewer_cannot_order_scans(api, two_clients):
    a_id, a_dev = two_clients["a"]
    api.http.post(
        "/api/v1/users",
        json={
            "username": "viewer",
            "password": "viewer-password",
            "client_id": a_id,
            "role": "viewer",
        },
        headers=api.admin,
    )
    viewer = api.login("viewer", "viewer-password")
    assert api.http.get(f"/api/v1/devices/{a_dev}", headers=viewer).status_code == 200
    assert (
        api.http.post(f"/api/v1/devices/{a_dev}/scan", headers=viewer).status_code
        == 403
    )


def test_unknown_device_is_404_not_500(api):
    assert (
        api.http.get(f"/api/v1/devices/{uuid.uuid4()}", headers=api.admin).status_code
        == 404
    )
    assert (
        api.http.get("/api/v1/devices/not-a-uuid", headers=api.admin).status_code == 422
    )


def test_multi_arch_patch_counts_one_device(api, clock):
    _, dev = api.enroll(api.enrollment_token, "multiarch-01")
    both = [
        {
            "name": "libc6",
            "installed_version": "2.36-9",
            "candidate_version": "2.36-9+deb12u4",
            "arch": arch,
            "classification": "security",
        }
        for arch in ("amd64", "i386")
    ]
    assert (
        api.http.post(
            "/agent/v1/scans", json=scan_body(clock, updates=both), headers=dev
        ).status_code
        == 204
    )
    rows = api.http.get("/api/v1/missing-patches/by-patch", headers=api.admin).json()[
        "items"
    ]
    libc = next(r for r in rows if r["name"] == "libc6")
    assert (libc["devices"], libc["installable_now"]) == (1, 1)
    hosts = api.http.get(
        "/api/v1/missing-patches/by-patch/devices",
        params={"backend": "apt", "name": "libc6", "version": "2.36-9+deb12u4"},
        headers=api.admin,
    )
    assert [h["hostname"] for h in hosts.json()] == ["multiarch-01"]


def test_search_treats_wildcards_literally(api):
    api.enroll(api.enrollment_token, "web_01")
    api.enroll(api.enrollment_token, "webx01")
    found = api.http.get(
        "/api/v1/devices", params={"search": "web_"}, headers=api.admin
    ).json()
    assert hostnames(found) == ["web_01"]
    assert (
        hostnames(
            api.http.get(
                "/api/v1/devices", params={"search": "%"}, headers=api.admin
            ).json()
        )
        == []
    )
