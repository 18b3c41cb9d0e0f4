"""Approval rules (BP-11): partner rules for all clients, client rules, reject wins, deferral."""

from __future__ import annotations

from test_agent_api import scan_body

DEMO = "apt:demo-tool@1.0-2"
LIB = "apt:demo-lib@1.1-1"


def decisions(api, client_id):
    rows = api.http.get(
        "/api/v1/missing-patches/by-patch",
        params={"client_id": client_id},
        headers=api.admin,
    ).json()["items"]
    return {r["name"]: r["approval"] for r in rows}


def rule(api, client_id=None, **body):
    params = {"client_id": client_id} if client_id else {}
    r = api.http.post(
        "/api/v1/approval-rules", json=body, params=params, headers=api.admin
    )
    assert r.status_code == 201, r.text
    return r.json()


def seeded(api, clock, *names):
    ids = []
    for name in names:
        cid, token = api.new_client(name)
        _, cred = api.enroll(token, f"{name.lower()}-01")
        api.http.post("/agent/v1/scans", json=scan_body(clock), headers=cred)
        ids.append(cid)
    return ids


def test_partner_rule_applies_to_every_client_including_later_ones(api, clock):
    (acme,) = seeded(api, clock, "Acme")
    created = rule(
        api, name="Security first", query="category = security", action="approve"
    )
    assert created["level"] == "partner"
    (globex,) = seeded(api, clock, "Globex")  # created after the rule (MT-05)
    for client in (acme, globex):
        assert decisions(api, client) == {
            "demo-tool": "approved",
            "demo-lib": "not_approved",
        }


def test_reject_wins_and_client_rules_beat_partner_rules(api, clock):
    acme, globex = seeded(api, clock, "Acme", "Globex")
    rule(api, name="Approve all demo", query="name ^= demo", action="approve")
    rule(api, acme, name="Acme rejects lib", query="name = demo-lib", action="reject")
    assert decisions(api, acme) == {"demo-tool": "approved", "demo-lib": "rejected"}
    assert decisions(api, globex) == {"demo-tool": "approved", "demo-lib": "approved"}


def test_select_clients_and_deferral(api, clock):
    acme, globex = seeded(api, clock, "Acme", "Globex")
    rule(
        api,
        name="Defer bugfixes a week",
        query="category = bugfix",
        action="defer",
        defer_days=7,
        clients=[acme],
    )
    assert decisions(api, acme)["demo-lib"] == "deferred_until"
    assert decisions(api, globex)["demo-lib"] == "not_approved"
    clock.advance(days=8)
    assert decisions(api, acme)["demo-lib"] == "approved"


def test_rules_for_one_os_family_only(api, clock):
    (acme,) = seeded(api, clock, "Acme")
    rule(
        api,
        name="RHEL security",
        query="category = security",
        action="approve",
        os_families=["rhel"],
    )
    assert decisions(api, acme)["demo-tool"] == "not_approved"  # an apt (debian) patch


def test_rule_approval_drives_install_now_but_never_a_blocklisted_patch(api, clock):
    (acme,) = seeded(api, clock, "Acme")
    rule(api, name="Approve all", query="name ^= demo", action="approve")
    api.http.post(
        "/api/v1/patches/rate",
        json={"patch_ids": [LIB], "rating": "blocklisted"},
        headers=api.admin,
    )
    device = api.http.get(
        "/api/v1/devices", params={"client_id": acme}, headers=api.admin
    ).json()["items"][0]
    r = api.http.post(
        "/api/v1/install-now", json={"device_ids": [device["id"]]}, headers=api.admin
    )
    job = api.http.get(f"/api/v1/jobs/{r.json()['jobs'][0]}", headers=api.admin).json()
    assert {p["name"]: p["status"] for p in job["patches"]} == {
        "demo-tool": "pending",
        "demo-lib": "skipped",
    }


def test_bad_rules_are_refused(api):
    bad_query = api.http.post(
        "/api/v1/approval-rules",
        json={"name": "x", "query": "categry = security", "action": "approve"},
        headers=api.admin,
    )
    assert bad_query.status_code == 422
    assert "categry" in str(bad_query.json()["detail"])
    defer_without_days = api.http.post(
        "/api/v1/approval-rules",
        json={"name": "x", "query": "category = bugfix", "action": "defer"},
        headers=api.admin,
    )
    assert defer_without_days.status_code == 422


def test_rules_are_listed_logged_and_deleted(api):
    created = rule(api, name="KEV first", query="kev = true", action="approve")
    assert [
        r["name"]
        for r in api.http.get("/api/v1/approval-rules", headers=api.admin).json()
    ] == ["KEV first"]
    assert (
        api.http.delete(
            f"/api/v1/approval-rules/{created['id']}", headers=api.admin
        ).status_code
        == 204
    )
    assert api.http.get("/api/v1/approval-rules", headers=api.admin).json() == []
    log = api.http.get(
        "/api/v1/activity", params={"object_type": "Approval Rule"}, headers=api.admin
    ).json()
    assert [e["action"] for e in log["items"]] == ["delete", "create"]
