"""Patch configurations through the API: allocation, schedules, Run Now, blocklist, lease."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from test_agent_api import scan_body

from patchfleet.server.scheduler.tick import tick

DEMO = "apt:demo-tool@1.0-2"
LIB = "apt:demo-lib@1.1-1"
WEEKLY_FRIDAY_0300_BERLIN = {
    "frequency": "weekly",
    "time_of_day": "03:00",
    "timezone": "Europe/Berlin",
    "start_date": "2026-11-01",
    "weekdays": [4],
}


@pytest.fixture
def fleet(api, clock):
    hosts = {}
    for name in ("web-1", "web-2", "db-1"):
        device_id, cred = api.enroll(api.enrollment_token, name)
        assert (
            api.http.post(
                "/agent/v1/scans", json=scan_body(clock), headers=cred
            ).status_code
            == 204
        )
        hosts[name] = (device_id, cred)
    return hosts


def create(api, client_id=None, **body):
    params = {"client_id": client_id} if client_id else {}
    body.setdefault("schedule", {"frequency": "on_demand"})
    r = api.http.post(
        "/api/v1/configurations", json=body, params=params, headers=api.admin
    )
    assert r.status_code == 201, r.text
    return r.json()


def jobs_by_host(api):
    return {
        j["hostname"]: j for j in api.http.get("/api/v1/jobs", headers=api.admin).json()
    }


def test_weekly_configuration_runs_at_its_instant(api, fleet, clock):
    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    config = create(
        api,
        api.client_id,
        name="Weekly web",
        device_query="hostname = web-*",
        schedule=WEEKLY_FRIDAY_0300_BERLIN,
        reboot="yes",
    )
    # Friday 2026-11-27 03:00 Berlin (CET, UTC+1) has passed at 12:00 UTC: next Friday
    assert config["next_run_at"] == "2026-12-04T02:00:00Z"
    sessions = api.http.app.state.sessionmaker
    clock.now = datetime(2026, 12, 4, 1, 59, tzinfo=UTC)
    assert tick(sessions, clock())["configuration_runs"] == 0
    assert jobs_by_host(api) == {}
    clock.now = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    assert tick(sessions, clock())["configuration_runs"] == 1
    jobs = jobs_by_host(api)
    assert sorted(jobs) == ["web-1", "web-2"]  # db-1 does not match the query
    assert all(j["reboot"] == "yes" for j in jobs.values())
    assert tick(sessions, clock())["configuration_runs"] == 0  # once per instant
    again = api.http.get(
        f"/api/v1/configurations/{config['id']}", headers=api.admin
    ).json()
    assert (again["last_run_at"], again["next_run_at"]) == (
        "2026-12-04T02:00:00Z",
        "2026-12-11T02:00:00Z",
    )
    log = api.http.get(
        "/api/v1/activity", params={"object_type": "Configuration"}, headers=api.admin
    ).json()
    assert [e["action"] for e in log["items"]] == ["run (schedule)", "create"]


def test_device_belongs_to_one_dynamic_configuration(api, fleet):
    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    broad = create(
        api,
        api.client_id,
        name="Everything",
        device_query="os_family = debian",
        precedence=5,
    )
    narrow = create(
        api,
        api.client_id,
        name="Web first",
        device_query="hostname = web-*",
        precedence=1,
    )
    r = api.http.post(f"/api/v1/configurations/{broad['id']}/run", headers=api.admin)
    assert r.status_code == 202
    assert sorted(jobs_by_host(api)) == ["db-1"]  # web-* went to the higher precedence
    api.http.post(f"/api/v1/configurations/{narrow['id']}/run", headers=api.admin)
    assert sorted(jobs_by_host(api)) == ["db-1", "web-1", "web-2"]


def test_client_level_beats_partner_level(api, fleet):
    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    partner = create(
        api, name="Partner wide", device_query="os_family = debian", precedence=1
    )
    assert partner["level"] == "partner"
    create(
        api,
        api.client_id,
        name="Client db",
        device_query="hostname = db-*",
        precedence=50,
    )
    api.http.post(f"/api/v1/configurations/{partner['id']}/run", headers=api.admin)
    assert sorted(jobs_by_host(api)) == ["web-1", "web-2"]


def test_static_configuration_and_selected_patches(api, fleet):
    web1 = fleet["web-1"][0]
    config = create(
        api,
        api.client_id,
        name="Pinned",
        static_devices=[web1],
        patch_selection="select",
        selected_patches=[LIB],
    )
    api.http.post(f"/api/v1/configurations/{config['id']}/run", headers=api.admin)
    jobs = jobs_by_host(api)
    assert sorted(jobs) == ["web-1"]
    detail = api.http.get(
        f"/api/v1/jobs/{jobs['web-1']['id']}", headers=api.admin
    ).json()
    assert {p["name"]: p["status"] for p in detail["patches"]} == {
        "demo-lib": "pending"
    }


def test_blocklisted_patch_is_not_installed_by_any_configuration(api, fleet):
    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO, LIB]}, headers=api.admin
    )
    api.http.post(
        "/api/v1/patches/rate",
        json={"patch_ids": [DEMO], "rating": "blocklisted"},
        headers=api.admin,
    )
    approved = create(
        api, api.client_id, name="Approved", device_query="hostname = web-1"
    )
    selected = create(
        api,
        api.client_id,
        name="Selected",
        device_query="hostname = web-2",
        patch_selection="select",
        selected_patches=[DEMO, LIB],
    )
    dynamic = create(
        api,
        api.client_id,
        name="Dynamic",
        device_query="hostname = db-1",
        patch_selection="dynamic",
        patch_query="name ^= demo",
    )
    for config in (approved, selected, dynamic):
        api.http.post(f"/api/v1/configurations/{config['id']}/run", headers=api.admin)
    for host, job in jobs_by_host(api).items():
        detail = api.http.get(f"/api/v1/jobs/{job['id']}", headers=api.admin).json()
        statuses = {p["name"]: p["status"] for p in detail["patches"]}
        assert statuses["demo-tool"] == "skipped", host
        assert statuses["demo-lib"] == "pending", host


def test_query_errors_point_at_the_field(api):
    r = api.http.post(
        "/api/v1/configurations",
        json={
            "name": "x",
            "device_query": "hostname = web",
            "patch_selection": "dynamic",
            "patch_query": "nme = x",
            "schedule": {"frequency": "on_demand"},
        },
        params={"client_id": api.client_id},
        headers=api.admin,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "patch_query"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"name": "x", "device_query": "hostnme = a"},
            "unknown field",
            id="bad-query",
        ),
        pytest.param(
            {"name": "x", "static_devices": []}, "select devices", id="no-devices"
        ),
        pytest.param(
            {"name": "x", "device_query": "hostname = a", "notify": ["not an address"]},
            "notify",
            id="bad-cc-address",
        ),
        pytest.param(
            {
                "name": "x",
                "device_query": "hostname = a",
                "schedule": {
                    "frequency": "weekly",
                    "time_of_day": "03:00",
                    "timezone": "UTC",
                },
            },
            "weekday",
            id="weekly-without-days",
        ),
        pytest.param(
            {
                "name": "x",
                "device_query": "hostname = a",
                "schedule": {
                    "frequency": "daily",
                    "time_of_day": "03:00",
                    "timezone": "Mars/Olympus",
                },
            },
            "Mars/Olympus",
            id="unknown-zone",
        ),
    ],
)
def test_bad_configurations_are_refused_clearly(api, body, message):
    r = api.http.post(
        "/api/v1/configurations",
        json={"schedule": {"frequency": "on_demand"}, **body},
        params={"client_id": api.client_id},
        headers=api.admin,
    )
    assert r.status_code == 422, r.text
    assert message.lower() in str(r.json()["detail"]).lower()


def test_only_the_lease_holder_runs_schedules(api, fleet, clock):
    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    create(
        api,
        api.client_id,
        name="Daily",
        device_query="hostname = web-1",
        schedule={"frequency": "daily", "time_of_day": "12:01", "timezone": "UTC"},
    )
    sessions = api.http.app.state.sessionmaker
    assert (
        tick(sessions, clock(), holder="a")["configuration_runs"] == 0
    )  # a takes the lease
    clock.advance(seconds=61)  # the run is due; a's 90 s lease still holds
    assert (
        tick(sessions, clock(), holder="b")["configuration_runs"] == 0
    )  # b is refused
    assert tick(sessions, clock(), holder="a")["configuration_runs"] == 1
    clock.advance(minutes=10)  # a's lease lapsed: b may take over
    assert tick(sessions, clock(), holder="b")["configuration_runs"] == 0


def test_summary_mail_two_hours_after_the_run(api, fleet, clock, smtp_sink):
    from patchfleet.server.notify.mail import SmtpMailer
    from patchfleet.server.services.summaries import Outlets
    from patchfleet.server.settings import Settings

    mailer = SmtpMailer(Settings(smtp_host=smtp_sink.host, smtp_port=smtp_sink.port))
    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    config = create(
        api,
        api.client_id,
        name="Weekly web",
        device_query="hostname = web-*",
        notify=["ops@example.com"],
    )
    api.http.post(f"/api/v1/configurations/{config['id']}/run", headers=api.admin)
    sessions = api.http.app.state.sessionmaker
    assert (
        tick(sessions, clock.advance(minutes=119), outlets=Outlets(mailer))["summaries"]
        == 0
    )
    assert smtp_sink.messages == []
    assert (
        tick(sessions, clock.advance(minutes=1), outlets=Outlets(mailer))["summaries"]
        == 1
    )
    (mail,) = smtp_sink.messages
    assert mail["To"] == "ops@example.com"
    assert "Weekly web" in mail["Subject"]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "web-1" in body
    assert "web-2" in body
    assert (
        tick(sessions, clock.advance(minutes=1), outlets=Outlets(mailer))["summaries"]
        == 0
    )  # sent once


def test_run_summary_is_posted_to_the_signed_webhook(api, fleet, clock, hook_receiver):
    import httpx

    from patchfleet.server.notify.mail import NullMailer
    from patchfleet.server.notify.webhooks import (
        HttpWebhookSender,
        Webhook,
        verify_signature,
    )
    from patchfleet.server.services.summaries import Outlets

    api.http.post(
        "/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=api.admin
    )
    config = create(api, api.client_id, name="Hooked", device_query="hostname = web-1")
    api.http.post(f"/api/v1/configurations/{config['id']}/run", headers=api.admin)
    with httpx.Client() as client:
        outlets = Outlets(
            NullMailer(),
            HttpWebhookSender(client),
            Webhook(url=hook_receiver.url, secret="s3cret"),
        )
        assert (
            tick(
                api.http.app.state.sessionmaker, clock.advance(hours=2), outlets=outlets
            )["summaries"]
            == 1
        )
    (request,) = hook_receiver.requests
    assert verify_signature(
        "s3cret", request.body, request.headers["x-patchfleet-signature"]
    )
    payload = httpx.Response(200, content=request.body).json()
    assert payload["event"] in ("job.finished", "job.failed")
    assert "web-1" in request.body.decode()
