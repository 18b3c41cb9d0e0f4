"""Issue acceptance: compliance follows a real deployment on the apt lab (CMP-13, CMP-19).

Three apt endpoints run demo-tool 1.0-1 and a fourth is enrolled but never scanned. A
compliance configuration checks ``apt:demo-tool@1.0-2`` on all of them: before the
deployment three are Non-Compliant and one Unknown. A configuration then installs
the update with real apt/dpkg on two endpoints; their fresh scans make them Compliant
while the third stays Non-Compliant, and Run Now records exactly that.
"""

from __future__ import annotations

import httpx
import pytest

from support.agents import apt_agent

pytestmark = pytest.mark.apt

DEMO = "apt:demo-tool@1.0-2"
ON_DEMAND = {"frequency": "on_demand"}


def statuses(url: str, admin: dict[str, str], config_id: str) -> dict[str, str]:
    found = httpx.get(
        f"{url}/api/v1/compliance/{config_id}/devices", headers=admin
    ).json()
    return {d["hostname"]: d["status"] for d in found}


def test_compliance_follows_a_deployment_on_real_endpoints(
    live_server, apt_endpoint, tmp_path
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
    for host in ("apt-1", "apt-2", "apt-3", "apt-4"):
        ep = apt_endpoint(host)
        ep.update()
        ep.install("demo-tool=1.0-1")
        endpoints[host], agents[host] = ep, apt_agent(tmp_path, host, ep.apt_config)
        agents[host].enroll(url, enroll)
    for host in ("apt-1", "apt-2", "apt-3"):  # apt-4 never reports a scan
        agents[host].run("run", "--once")

    compliance = httpx.post(
        f"{url}/api/v1/compliance",
        params={"client_id": 1},
        headers=admin,
        json={
            "name": "demo-tool 1.0-2 everywhere",
            "os_type": "linux",
            "device_query": "hostname = apt-*",
            "selected_patches": [DEMO],
            "schedule": ON_DEMAND,
        },
    )
    assert compliance.status_code == 201, compliance.text
    config_id = compliance.json()["id"]
    assert statuses(url, admin, config_id) == {
        "apt-1": "non_compliant",
        "apt-2": "non_compliant",
        "apt-3": "non_compliant",
        "apt-4": "unknown",
    }

    # The deployment: approve, then a configuration for two of the three endpoints.
    r = httpx.post(
        f"{url}/api/v1/patches/approve", json={"patch_ids": [DEMO]}, headers=admin
    )
    assert r.status_code == 204
    deployment = httpx.post(
        f"{url}/api/v1/configurations",
        params={"client_id": 1},
        headers=admin,
        json={
            "name": "Deploy demo-tool",
            "device_query": "hostname in (apt-1, apt-2)",
            "schedule": ON_DEMAND,
        },
    ).json()
    r = httpx.post(f"{url}/api/v1/configurations/{deployment['id']}/run", headers=admin)
    assert r.status_code == 202
    for host in ("apt-1", "apt-2", "apt-3"):
        agents[host].run("run", "--once")  # installs (1, 2) and reports a fresh scan

    installed = {h: endpoints[h].installed()["demo-tool"] for h in endpoints}
    assert installed == {
        "apt-1": "1.0-2",
        "apt-2": "1.0-2",
        "apt-3": "1.0-1",
        "apt-4": "1.0-1",
    }
    assert statuses(url, admin, config_id) == {
        "apt-1": "compliant",
        "apt-2": "compliant",
        "apt-3": "non_compliant",
        "apt-4": "unknown",
    }

    run = httpx.post(f"{url}/api/v1/compliance/{config_id}/run", headers=admin)
    assert run.status_code == 202, run.text
    counts = {k: run.json()[k] for k in ("compliant", "non_compliant", "unknown")}
    assert counts == {"compliant": 2, "non_compliant": 1, "unknown": 1}
    devices = httpx.get(
        f"{url}/api/v1/compliance/{config_id}/devices", headers=admin
    ).json()
    assert {d["hostname"]: d["missing"] for d in devices}["apt-3"] == [DEMO]
    summary = httpx.get(f"{url}/api/v1/compliance/summary", headers=admin).json()
    assert summary["items"][0]["percent"] == 50.0
    non_compliant = httpx.get(
        f"{url}/api/v1/compliance/non-compliant-devices", headers=admin
    ).json()
    assert [d["hostname"] for d in non_compliant] == ["apt-3"]
    assert summary["non_compliant_devices"] == len(non_compliant)
