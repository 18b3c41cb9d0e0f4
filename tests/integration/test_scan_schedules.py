"""Scan schedules (SCN-*) and Auto Patch Scan (SCN-20) with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime

from patchfleet.server.scheduler.tick import tick

DAILY_0600_NY = {
    "frequency": "daily",
    "time_of_day": "06:00",
    "timezone": "America/New_York",
}


def orders(api, cred):
    return [
        o["kind"]
        for o in api.http.post("/agent/v1/checkin", json={}, headers=cred).json()[
            "orders"
        ]
    ]


def create(api, client_id=None, **body):
    params = {"client_id": client_id} if client_id else {}
    r = api.http.post(
        "/api/v1/scan-schedules", json=body, params=params, headers=api.admin
    )
    return r


def test_query_schedule_scans_matching_devices_including_later_ones(api, clock):
    _, web1 = api.enroll(api.enrollment_token, "web-1")
    _, db1 = api.enroll(api.enrollment_token, "db-1")
    r = create(
        api,
        api.client_id,
        name="Web daily",
        device_query="hostname = web-*",
        schedule=DAILY_0600_NY,
    )
    assert r.status_code == 201, r.text
    assert r.json()["next_run_at"] == "2026-11-28T11:00:00Z"  # 06:00 EST
    _, web2 = api.enroll(
        api.enrollment_token, "web-2"
    )  # enrolled after the schedule (SCN-04)
    sessions = api.http.app.state.sessionmaker
    clock.now = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    assert tick(sessions, clock())["scan_schedules"] == 1
    assert orders(api, web1) == ["scan"]
    assert orders(api, web2) == ["scan"]
    assert orders(api, db1) == []


def test_static_schedule_and_run_now(api):
    web1_id, web1 = api.enroll(api.enrollment_token, "web-1")
    _, web2 = api.enroll(api.enrollment_token, "web-2")
    r = create(
        api,
        api.client_id,
        name="Pinned",
        static_devices=[web1_id],
        schedule={"frequency": "on_demand"},
    )
    assert r.status_code == 201
    run = api.http.post(
        f"/api/v1/scan-schedules/{r.json()['id']}/run", headers=api.admin
    )
    assert run.json() == {"ordered": 1}
    assert orders(api, web1) == ["scan"]
    assert orders(api, web2) == []


def test_names_are_unique_and_yearly_is_not_for_scans(api):
    assert (
        create(
            api,
            api.client_id,
            name="Nightly",
            device_query="os_family = debian",
            schedule=DAILY_0600_NY,
        ).status_code
        == 201
    )
    dup = create(
        api,
        api.client_id,
        name="Nightly",
        device_query="os_family = debian",
        schedule=DAILY_0600_NY,
    )
    assert dup.status_code == 409
    yearly = create(
        api,
        api.client_id,
        name="Yearly",
        device_query="os_family = debian",
        schedule={
            "frequency": "yearly",
            "time_of_day": "01:00",
            "timezone": "UTC",
            "start_date": "2026-01-15",
            "months": [1],
        },
    )
    assert yearly.status_code == 422
    assert "yearly" in str(yearly.json()["detail"])


def test_auto_patch_scan_covers_unassigned_devices_daily_at_midnight_utc(api, clock):
    _, web1 = api.enroll(api.enrollment_token, "web-1")
    _, lonely = api.enroll(api.enrollment_token, "lonely-1")
    create(
        api,
        api.client_id,
        name="Web",
        device_query="hostname = web-*",
        schedule={"frequency": "on_demand"},
    )
    sessions = api.http.app.state.sessionmaker
    clock.now = datetime(2026, 11, 27, 23, 59, tzinfo=UTC)
    tick(sessions, clock())
    clock.now = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert tick(sessions, clock())["auto_scans"] == 1
    assert orders(api, lonely) == ["scan"]
    assert orders(api, web1) == []  # covered by a schedule
    assert tick(sessions, clock.advance(minutes=30))["auto_scans"] == 0  # once a day


def test_scan_summary_mail_two_hours_after_the_run(api, clock, smtp_sink):
    from test_agent_api import scan_body

    from patchfleet.server.notify.mail import SmtpMailer
    from patchfleet.server.services.summaries import Outlets
    from patchfleet.server.settings import Settings

    _, web1 = api.enroll(api.enrollment_token, "web-1")
    api.enroll(api.enrollment_token, "web-2")
    r = create(
        api,
        api.client_id,
        name="Web scan",
        device_query="hostname = web-*",
        schedule={"frequency": "on_demand"},
        notify=["ops@example.com"],
    )
    assert r.status_code == 201, r.text
    api.http.post(f"/api/v1/scan-schedules/{r.json()['id']}/run", headers=api.admin)
    clock.advance(minutes=5)
    assert (
        api.http.post(
            "/agent/v1/scans", json=scan_body(clock), headers=web1
        ).status_code
        == 204
    )
    outlets = Outlets(
        SmtpMailer(Settings(smtp_host=smtp_sink.host, smtp_port=smtp_sink.port))
    )
    sessions = api.http.app.state.sessionmaker
    assert tick(sessions, clock.advance(minutes=100), outlets=outlets)["summaries"] == 0
    assert tick(sessions, clock.advance(minutes=20), outlets=outlets)["summaries"] == 1
    (mail,) = smtp_sink.messages
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Web scan" in mail["Subject"]
    assert "web-1" in text
    assert "web-2" in text
    assert tick(sessions, clock.advance(minutes=5), outlets=outlets)["summaries"] == 0
