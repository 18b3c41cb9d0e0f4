"""The real agent loop against the real app in-process (FakePackageManager: unit of the loop)."""

from __future__ import annotations

import httpx
import pytest

from patchfleet.agent.client import ServerClient
from patchfleet.agent.loop import Agent, run_once
from patchfleet.agent.managers.fake import FakePackageManager
from patchfleet.agent.outbox import Outbox
from patchfleet.core.packages import Package
from patchfleet.core.updates import Classification, Update
from patchfleet.protocol import v1


class Switch(httpx.BaseTransport):
    """Forwards to the app, or fails like a stopped server."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


@pytest.fixture
def agent_factory(api, tmp_path, clock):
    made = []

    def make(hostname: str = "loop-01"):
        transport = Switch(api.http._transport)
        http = httpx.Client(transport=transport, base_url="http://testserver")
        enrolled = ServerClient(http).enroll(
            v1.EnrollRequest(
                enrollment_token=api.enrollment_token, facts=v1.Facts(hostname=hostname)
            )
        )
        manager = FakePackageManager(
            name="apt",
            packages=[
                Package("demo-tool", "1.0-1", "all"),
                Package("bash", "5.2", "amd64"),
            ],
            updates=[
                Update(
                    "demo-tool",
                    "1.0-1",
                    "1.0-2",
                    "all",
                    Classification.SECURITY,
                    cves=("CVE-2024-0001",),
                )
            ],
        )
        outbox = Outbox(tmp_path / f"{hostname}.sqlite3")
        agent = Agent(
            client=ServerClient(http, enrolled.credential),
            manager=manager,
            outbox=outbox,
            facts=lambda: v1.Facts(hostname=hostname, package_manager="apt"),
            clock=clock,
            interval=60,
            jitter_fraction=0.0,
        )
        made.append(outbox)
        return agent, transport, str(enrolled.device_id)

    yield make
    for o in made:
        o.close()


def patches(api, device_id):
    return api.http.get(
        f"/api/v1/devices/{device_id}/patches", headers=api.admin
    ).json()


def test_first_cycle_sends_inventory_and_scan(api, agent_factory):
    agent, _, device_id = agent_factory()
    assert run_once(agent, random_unit=0.5) == 1  # the server's interval (1 s in tests)
    assert [p["name"] for p in patches(api, device_id)] == ["demo-tool"]
    pkgs = api.http.get(
        f"/api/v1/devices/{device_id}/packages", headers=api.admin
    ).json()
    assert {p["name"] for p in pkgs} == {"demo-tool", "bash"}
    assert agent.manager.refreshes == 1


def test_changed_inventory_goes_as_delta(api, agent_factory):
    agent, _, device_id = agent_factory()
    run_once(agent, random_unit=0.5)
    agent.manager.packages = [
        Package("demo-tool", "1.0-2", "all"),
        Package("curl", "7.88", "amd64"),
    ]
    run_once(agent, random_unit=0.5)
    pkgs = api.http.get(
        f"/api/v1/devices/{device_id}/packages", headers=api.admin
    ).json()
    assert {(p["name"], p["version"]) for p in pkgs} == {
        ("demo-tool", "1.0-2"),
        ("curl", "7.88"),
    }


def test_scan_now_reaches_the_agent(api, agent_factory, clock):
    agent, _, device_id = agent_factory()
    run_once(agent, random_unit=0.5)
    agent.manager.updates = []
    api.http.post(f"/api/v1/devices/{device_id}/scan", headers=api.admin)
    run_once(agent, random_unit=0.5)
    assert patches(api, device_id) == []
    scans = api.http.get(f"/api/v1/devices/{device_id}/scans", headers=api.admin).json()
    assert len(scans) == 2


def test_results_are_spooled_while_the_server_is_down(api, agent_factory, clock):
    agent, transport, device_id = agent_factory()
    run_once(agent, random_unit=0.5)
    api.http.post(f"/api/v1/devices/{device_id}/scan", headers=api.admin)
    # the agent gets the order, then the server goes away before the result is sent
    order = agent.client.checkin(v1.CheckIn()).orders[0]
    transport.down = True
    from patchfleet.agent.loop import run_scan

    agent.manager.updates = []
    with pytest.raises(Exception, match="connection refused"):
        run_scan(agent, order.id)
    assert len(agent.outbox.pending()) == 1
    delays = [run_once(agent, random_unit=0.5) for _ in range(3)]
    assert delays == sorted(delays)  # exponential backoff
    assert delays[-1] > delays[0]
    transport.down = False
    run_once(agent, random_unit=0.5)
    assert agent.outbox.pending() == []
    assert patches(api, device_id) == []
    assert agent.failures == 0


def test_refused_results_are_kept_aside_not_retried_forever(api, agent_factory, clock):
    agent, _, _ = agent_factory()
    bad = v1.ScanReport.model_construct(
        scan_id="not-a-uuid", started_at=clock(), finished_at=clock(), backend="apt"
    )
    agent.outbox.put("scan", bad.model_dump_json(warnings=False), clock().isoformat())
    run_once(agent, random_unit=0.5)
    assert agent.outbox.pending() == []
    assert agent.outbox.dead_count() == 1


def test_failing_package_manager_reports_a_failed_scan(api, agent_factory):
    from patchfleet.agent.managers.base import CommandFailedError

    agent, _, device_id = agent_factory()

    def broken():
        raise CommandFailedError(
            ["apt-get", "update"], 100, "E: The repository is not signed."
        )

    agent.manager.refresh = broken
    run_once(agent, random_unit=0.5)
    detail = api.http.get(f"/api/v1/devices/{device_id}", headers=api.admin).json()
    assert detail["last_scan_status"] == "failed"
    assert "not signed" in detail["last_scan_error"]
