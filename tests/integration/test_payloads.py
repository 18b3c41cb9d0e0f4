"""Malformed agent payloads get a clear 4xx and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from test_agent_api import scan_body

from patchfleet.server.db.rows import DevicePackageRow, DeviceUpdateRow, ScanRow


def counts(engine):
    with engine.connect() as c:
        return tuple(
            c.scalar(select(func.count()).select_from(t))
            for t in (ScanRow, DeviceUpdateRow, DevicePackageRow)
        )


@pytest.fixture
def device(api):
    return api.enroll(api.enrollment_token, "payload-01")[1]


def test_bad_json(api, device, engine):
    before = counts(engine)
    r = api.http.post(
        "/agent/v1/scans",
        content=b"{not json",
        headers={**device, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert "json" in r.text.lower()
    assert counts(engine) == before


def test_wrong_types(api, device, engine, clock):
    before = counts(engine)
    body = scan_body(clock)
    body["updates"][0]["cves"] = "CVE-2024-0001"
    r = api.http.post("/agent/v1/scans", json=body, headers=device)
    assert r.status_code == 422
    assert any(e["loc"][-1] == "cves" for e in r.json()["detail"])
    bad_class = scan_body(clock)
    bad_class["updates"][0]["classification"] = "urgent-ish"
    assert (
        api.http.post("/agent/v1/scans", json=bad_class, headers=device).status_code
        == 422
    )
    assert (
        api.http.post(
            "/agent/v1/inventory",
            json={"kind": "full", "hash": "x", "packages": [{"name": 1}]},
            headers=device,
        ).status_code
        == 422
    )
    assert counts(engine) == before


def test_inventory_hash_must_match_packages(api, device, engine):
    body = {
        "kind": "full",
        "hash": "0" * 64,
        "packages": [{"name": "a", "version": "1"}],
    }
    r = api.http.post("/agent/v1/inventory", json=body, headers=device)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "hash"]
    assert counts(engine)[2] == 0


def test_fifty_megabyte_body_is_refused(api, device, engine):
    before = counts(engine)
    huge = b'{"x": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    r = api.http.post(
        "/agent/v1/scans",
        content=huge,
        headers={**device, "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert "larger than" in r.json()["detail"]
    assert counts(engine) == before


def test_streamed_body_without_length_is_cut_off(api, device):
    def chunks():
        for _ in range(40):
            yield b"a" * (1024 * 1024)

    r = api.http.post(
        "/agent/v1/scans",
        content=chunks(),
        headers={**device, "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_unknown_device_credential(api, engine, clock):
    before = counts(engine)
    r = api.http.post(
        "/agent/v1/scans",
        json=scan_body(clock),
        headers={"Authorization": "Bearer nope"},
    )
    assert r.status_code == 401
    assert r.json()["detail"] == "unknown device credential"
    assert api.http.post("/agent/v1/checkin", json={}).status_code == 401
    assert counts(engine) == before


def test_unsupported_protocol_version(api, device):
    r = api.http.post(
        "/agent/v1/checkin", json={"protocol_version": 99}, headers=device
    )
    assert r.status_code == 422
    assert "protocol version 99" in r.json()["detail"][0]["msg"]


def test_unknown_fields_are_ignored_for_forward_compatibility(api, device):
    r = api.http.post(
        "/agent/v1/checkin",
        json={"inventory_hash": "", "future_field": {"a": 1}},
        headers=device,
    )
    assert r.status_code == 200
