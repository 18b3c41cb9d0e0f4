"""Issue acceptance: a weekly configuration installs the approved security update for real.

Three apt endpoints and one dnf endpoint; the configuration targets two apt endpoints
and the dnf one. At the scheduled instant (injected clock) the scheduler creates the
jobs, the real agents install with real apt/dpkg and dnf/rpm, the third apt endpoint
is untouched, every step is visible in the job and the activity log, and the SMTP sink
receives the summary two hours later.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from patchfleet.server.notify.mail import SmtpMailer
from patchfleet.server.scheduler.tick import tick
from patchfleet.server.services.summaries import Outlets
from patchfleet.server.settings import Settings
from support.agents import apt_agent, dnf_agent

pytestmark = [pytest.mark.apt, pytest.mark.dnf]

FRIDAY_0300_BERLIN = {
    "frequency": "weekly",
    "time_of_day": "03:00",
    "timezone": "Europe/Berlin",
    "start_date": "2026-11-01",
    "weekdays": [4],
}


def test_weekly_configuration_installs_on_selected_endpoints(
    live_server, apt_endpoint, dnf_endpoint, tmp_path, clock, smtp_sink
):
    url = live_server.url
    login = {"Authorization": f"Bearer {live_server.admin_token()}"}
    token = httpx.post(
        f"{url}/api/v1/tokens", json={"name": "e2e"}, headers=login
    ).json()["token"]
    admin = {"Authorization": f"Bearer {token}"}
    enroll = httpx.post(
        f"{url}/api/v1/clients/1/enrollment-tokens", json={}, headers=admin
    ).json()["token"]

    endpoints, agents = {}, {}
    for host in ("apt-1", "apt-2", "apt-3"):
        ep = apt_endpoint(host)
        ep.update()
        ep.install("demo-tool=1.0-1")
        endpoints[host], agents[host] = ep, apt_agent(tmp_path, host, ep.apt_config)
    rpm = dnf_endpoint("rpm-1")
    rpm.install("demo-tool")
    rpm.enable_updates()
    endpoints["rpm-1"], agents["rpm-1"] = rpm, dnf_agent(tmp_path, "rpm-1", rpm.root)
    for agent in agents.values():
        agent.enroll(url, enroll)
        agent.run("run", "--once")

    r = httpx.post(
        f"{url}/api/v1/patches/approve",
        json={"patch_ids": ["apt:demo-tool@1.0-2", "dnf:demo-tool@1.0-2"]},
        headers=admin,
    )
    assert r.status_code == 204
    config = httpx.post(
        f"{url}/api/v1/configurations",
        params={"client_id": 1},
        headers=admin,
        json={
            "name": "Weekly security",
            "device_query": "hostname in (apt-1, apt-2, rpm-1)",
            "schedule": FRIDAY_0300_BERLIN,
            "notify": ["ops@example.com"],
        },
    ).json()
    assert config["next_run_at"] == "2026-12-04T02:00:00Z"

    mailer = SmtpMailer(Settings(smtp_host=smtp_sink.host, smtp_port=smtp_sink.port))
    clock.now = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    assert (
        tick(live_server.app.state.sessionmaker, clock(), outlets=Outlets(mailer))[
            "configuration_runs"
        ]
        == 1
    )
    for agent in agents.values():
        agent.run("run", "--once")

    installed = {host: ep.installed()["demo-tool"] for host, ep in endpoints.items()}
    assert installed == {
        "apt-1": "1.0-2",
        "apt-2": "1.0-2",
        "apt-3": "1.0-1",
        "rpm-1": "1.0-2",
    }
    jobs = httpx.get(f"{url}/api/v1/jobs", headers=admin).json()
    assert sorted(j["hostname"] for j in jobs) == ["apt-1", "apt-2", "rpm-1"]
    for job in jobs:
        detail = httpx.get(f"{url}/api/v1/jobs/{job['id']}", headers=admin).json()
        assert detail["status"] == "completed", detail
        assert [
            (p["name"], p["version"], p["status"])
            for p in detail["patches"]
            if p["name"] == "demo-tool"
        ] == [("demo-tool", "1.0-2", "installed")]
    log = httpx.get(f"{url}/api/v1/activity", headers=admin).json()["items"]
    assert {"approve", "create", "run (schedule)"} <= {e["action"] for e in log}

    clock.now = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
    assert (
        tick(live_server.app.state.sessionmaker, clock(), outlets=Outlets(mailer))[
            "summaries"
        ]
        == 1
    )
    (mail,) = smtp_sink.messages
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Weekly security" in mail["Subject"]
    for host in ("apt-1", "apt-2", "rpm-1"):
        assert host in text
    assert "apt-3" not in text
