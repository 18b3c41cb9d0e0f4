"""Ratings, approvals, Install Now, job progress and lost jobs through the real API."""

from __future__ import annotations

import uuid

import pytest
from test_agent_api import scan_body

DEMO = "apt:demo-tool@1.0-2"
LIB = "apt:demo-lib@1.1-1"


@pytest.fixture
def device(api, clock):
    device_id, cred = api.enroll(api.enrollment_token, "job-01")
    assert (
        api.http.post(
            "/agent/v1/scans", json=scan_body(clock), headers=cred
        ).status_code
        == 204
    )
    return device_id, cred


def post(api, path, body, headers=None):
    return api.http.post(path, json=body, headers=headers or api.admin)


def install(api, device_id, **extra):
    r = post(api, "/api/v1/install-now", {"device_ids": [device_id], **extra})
    assert r.status_code == 202, r.text
    return r.json()["jobs"]


def checkin_orders(api, cred):
    return api.http.post("/agent/v1/checkin", json={}, headers=cred).json()["orders"]


def report(api, cred, order_id, clock, patches, final=False, **extra):
    body = {
        "report_id": str(uuid.uuid4()),
        "order_id": order_id,
        "sent_at": clock().isoformat(),
        "final": final,
        "patches": patches,
        **extra,
    }
    r = api.http.post("/agent/v1/jobs", json=body, headers=cred)
    assert r.status_code == 204, r.text
    return body


def test_unapproved_patches_are_not_installed(api, device):
    device_id, _ = device
    assert install(api, device_id) == []


def test_install_now_sends_exact_versions_of_approved_patches(api, device, clock):
    device_id, cred = device
    assert (
        post(api, "/api/v1/patches/approve", {"patch_ids": [DEMO]}).status_code == 204
    )
    job_ids = install(api, device_id, reboot="yes")
    assert len(job_ids) == 1
    orders = [o for o in checkin_orders(api, cred) if o["kind"] == "install"]
    assert orders[0]["patches"] == [
        {"name": "demo-tool", "version": "1.0-2", "arch": "all", "advisory_id": ""}
    ]
    assert orders[0]["reboot"] == "yes"
    job = api.http.get(f"/api/v1/jobs/{job_ids[0]}", headers=api.admin).json()
    assert {p["name"]: p["status"] for p in job["patches"]} == {
        "demo-tool": "pending",
        "demo-lib": "skipped",
    }
    assert (
        next(p for p in job["patches"] if p["name"] == "demo-lib")["message"]
        == "not approved"
    )


def test_progress_then_final_report(api, device, clock):
    device_id, cred = device
    post(api, "/api/v1/patches/approve", {"patch_ids": [DEMO, LIB]})
    job_id = install(api, device_id)[0]
    checkin_orders(api, cred)
    tool = {"name": "demo-tool", "version": "1.0-2", "arch": "all"}
    lib = {"name": "demo-lib", "version": "1.1-1", "arch": "all"}
    report(api, cred, job_id, clock, [{**tool, "status": "installing"}])
    running = api.http.get(f"/api/v1/jobs/{job_id}", headers=api.admin).json()
    assert running["status"] == "running"
    assert {p["name"]: p["status"] for p in running["patches"]}[
        "demo-tool"
    ] == "installing"
    body = report(
        api,
        cred,
        job_id,
        clock,
        [
            {**tool, "status": "installed"},
            {
                **lib,
                "status": "failed",
                "message": "E: Sub-process /usr/bin/dpkg returned an error code (1)",
            },
        ],
        final=True,
    )
    done = api.http.get(f"/api/v1/jobs/{job_id}", headers=api.admin).json()
    assert done["status"] == "failed"
    assert {p["name"]: p["status"] for p in done["patches"]} == {
        "demo-tool": "installed",
        "demo-lib": "failed",
    }
    assert (
        "dpkg returned an error"
        in next(p for p in done["patches"] if p["name"] == "demo-lib")["message"]
    )
    # a repeated report (at-least-once delivery) changes nothing
    assert api.http.post("/agent/v1/jobs", json=body, headers=cred).status_code == 204
    late = report(
        api, cred, job_id, clock, [{**lib, "status": "installed"}], final=True
    )
    assert late
    assert (
        api.http.get(f"/api/v1/jobs/{job_id}", headers=api.admin).json()["status"]
        == "failed"
    )


def test_blocklisted_patch_is_never_installed(api, device):
    device_id, cred = device
    post(api, "/api/v1/patches/approve", {"patch_ids": [DEMO, LIB]})
    assert (
        post(
            api, "/api/v1/patches/rate", {"patch_ids": [DEMO], "rating": "blocklisted"}
        ).status_code
        == 204
    )
    job_id = install(api, device_id, patch_ids=[DEMO, LIB])[0]
    orders = [o for o in checkin_orders(api, cred) if o["kind"] == "install"]
    assert [p["name"] for p in orders[0]["patches"]] == ["demo-lib"]
    job = api.http.get(f"/api/v1/jobs/{job_id}", headers=api.admin).json()
    skipped = next(p for p in job["patches"] if p["name"] == "demo-tool")
    assert (skipped["status"], skipped["message"]) == (
        "skipped",
        "blocklisted: never approved",
    )
    # blocklisted alone: no job at all
    assert install(api, device_id, patch_ids=[DEMO]) == []


def test_automatic_approval_takes_allowlisted_security_only(api, device):
    device_id, cred = device
    r = api.http.put(
        f"/api/v1/clients/{api.client_id}/settings",
        json={"use_parent_level": False, "approval_type": "automatic"},
        headers=api.admin,
    )
    assert r.status_code == 204
    post(
        api, "/api/v1/patches/rate", {"patch_ids": [DEMO, LIB], "rating": "allowlisted"}
    )
    install(api, device_id)
    orders = [o for o in checkin_orders(api, cred) if o["kind"] == "install"]
    assert [p["name"] for p in orders[0]["patches"]] == [
        "demo-tool"
    ]  # demo-lib is a bugfix


def test_use_parent_level_refuses_client_ratings(api, device):
    api.http.put(
        f"/api/v1/clients/{api.client_id}/settings",
        json={"use_parent_level": True, "approval_type": "manual"},
        headers=api.admin,
    )
    r = api.http.post(
        f"/api/v1/patches/rate?client_id={api.client_id}",
        json={"patch_ids": [DEMO], "rating": "allowlisted"},
        headers=api.admin,
    )
    assert r.status_code == 403
    assert "Use Parent Level" in r.json()["detail"]


def test_bulk_actions_are_capped_and_logged(api, device):
    ids = [f"apt:pkg{i}@1.0" for i in range(101)]
    r = post(api, "/api/v1/patches/approve", {"patch_ids": ids})
    assert r.status_code == 422
    assert "at most 100" in r.json()["detail"][0]["msg"]
    assert (
        post(api, "/api/v1/patches/approve", {"patch_ids": ids[:100]}).status_code
        == 204
    )
    bad = post(api, "/api/v1/patches/approve", {"patch_ids": ["not-a-patch"]})
    assert bad.status_code == 422
    log = api.http.get(
        "/api/v1/activity", params={"object_type": "Bulk Actions"}, headers=api.admin
    ).json()
    assert log["total"] == 1
    assert (
        log["items"][0]["action"],
        len(log["items"][0]["details"]["patch_ids"]),
    ) == ("approve", 100)
    assert log["items"][0]["actor"] == "admin"


def test_lost_job_ends_failed_not_running_forever(api, device, clock):
    from patchfleet.server.services import jobs

    device_id, cred = device
    post(api, "/api/v1/patches/approve", {"patch_ids": [DEMO]})
    job_id = install(api, device_id)[0]
    checkin_orders(api, cred)
    sessions = api.http.app.state.sessionmaker
    assert jobs.expire_lost(sessions(), now=clock.advance(minutes=29)) == 0
    assert jobs.expire_lost(sessions(), now=clock.advance(minutes=2)) == 1
    job = api.http.get(f"/api/v1/jobs/{job_id}", headers=api.admin).json()
    assert job["status"] == "lost"
    statuses = {p["name"]: (p["status"], p["message"]) for p in job["patches"]}
    assert statuses["demo-tool"] == (
        "failed",
        "the agent stopped reporting before the deadline",
    )
    assert statuses["demo-lib"] == ("skipped", "not approved")


def test_reports_for_other_devices_jobs_are_refused(api, device, clock):
    device_id, _ = device
    post(api, "/api/v1/patches/approve", {"patch_ids": [DEMO]})
    job_id = install(api, device_id)[0]
    _, other = api.enroll(api.enrollment_token, "job-02")
    body = {
        "report_id": str(uuid.uuid4()),
        "order_id": job_id,
        "sent_at": clock().isoformat(),
        "patches": [],
    }
    assert api.http.post("/agent/v1/jobs", json=body, headers=other).status_code == 404


def test_scheduler_tick_expires_lost_jobs(api, device, clock):
    from patchfleet.server.scheduler.tick import tick

    device_id, _ = device
    post(api, "/api/v1/patches/approve", {"patch_ids": [DEMO]})
    install(api, device_id)
    sessions = api.http.app.state.sessionmaker
    assert tick(sessions, clock())["lost_jobs"] == 0
    assert tick(sessions, clock.advance(hours=1))["lost_jobs"] == 1
    assert tick(sessions, clock.advance(hours=1))["lost_jobs"] == 0


def test_by_patch_shows_ratings_and_the_client_decision(api, device):
    post(api, "/api/v1/patches/rate", {"patch_ids": [DEMO], "rating": "blocklisted"})
    post(api, "/api/v1/patches/approve", {"patch_ids": [LIB]})
    partner = api.http.get(
        "/api/v1/missing-patches/by-patch", headers=api.admin
    ).json()["items"]
    assert {p["name"]: (p["rating"], p["approval"]) for p in partner} == {
        "demo-tool": ("blocklisted", ""),
        "demo-lib": ("not_rated", ""),
    }
    client = api.http.get(
        "/api/v1/missing-patches/by-patch",
        params={"client_id": api.client_id},
        headers=api.admin,
    ).json()["items"]
    assert {p["name"]: (p["rating"], p["approval"]) for p in client} == {
        "demo-tool": ("blocklisted", "rejected"),
        "demo-lib": ("not_rated", "approved"),
    }


def test_job_list_carries_each_jobs_patches(api, device):
    device_id, _ = device
    post(api, "/api/v1/patches/approve", {"patch_ids": [DEMO]})
    install(api, device_id)
    (job,) = api.http.get("/api/v1/jobs", headers=api.admin).json()
    assert {p["name"]: p["status"] for p in job["patches"]} == {
        "demo-tool": "pending",
        "demo-lib": "skipped",
    }


def test_dollar_search_uses_the_query_language(api, device):
    def names(search):
        r = api.http.get(
            "/api/v1/missing-patches/by-patch",
            params={"search": search},
            headers=api.admin,
        )
        assert r.status_code == 200, r.text
        return sorted(p["name"] for p in r.json()["items"])

    assert names("$ category = security") == ["demo-tool"]
    assert names("$ cve = CVE-2024-0001 or name ^= demo-l") == ["demo-lib", "demo-tool"]
    assert names("lib") == ["demo-lib"]
    bad = api.http.get(
        "/api/v1/missing-patches/by-patch",
        params={"search": "$ categry = x"},
        headers=api.admin,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "search"]
    assert "categry" in bad.json()["detail"][0]["msg"]
