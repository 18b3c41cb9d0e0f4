"""Issue acceptance: CVE fix states on real dpkg endpoints (BP-06, BP-07).

Three apt lab endpoints and an OSV feed file in the Debian format saying the lab's
``demo-tool`` is fixed in ``1.0-1+deb12u1`` (a backport-style version between the
vulnerable ``1.0-1`` and the lab's ``1.0-2``) and ``demo-held`` in ``1.0-2``:

* ``vuln``: demo-tool 1.0-1, candidate 1.0-2 offered → ``fixed-installable``; after a
  real install the CVE disappears from the device;
* ``held``: demo-held 1.0-1 on hold (apt-mark) → ``fixed-not-installable``;
* ``above``: demo-tool 1.0-2, above the fixed version → ``not-affected``.
"""

from __future__ import annotations

import json

import httpx
import pytest

from patchfleet.server.feeds.load import FeedKind, import_file
from patchfleet.server.scheduler.tick import tick
from support.agents import apt_agent

pytestmark = [pytest.mark.apt]

OSV_FEED = [
    {
        "schema_version": "1.6.0",
        "id": "DEBIAN-CVE-2024-0001",
        "modified": "2026-11-01T00:00:00Z",
        "published": "2026-10-01T00:00:00Z",
        "summary": "demo-tool: buffer overflow in parser",
        "aliases": ["CVE-2024-0001"],
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "demo-tool"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "1.0-1+deb12u1"}],
                    }
                ],
            }
        ],
    },
    {
        "schema_version": "1.6.0",
        "id": "DEBIAN-CVE-2024-0002",
        "modified": "2026-11-01T00:00:00Z",
        "published": "2026-10-01T00:00:00Z",
        "summary": "demo-held: path traversal",
        "aliases": ["CVE-2024-0002"],
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "demo-held"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": "1.0-2"}],
                    }
                ],
            }
        ],
    },
]


def _state(url: str, headers: dict[str, str], device: str, cve: str) -> str:
    r = httpx.get(f"{url}/api/v1/devices/{device}/cves/{cve}", headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["state"])


def test_fix_states_follow_the_real_package_manager(
    live_server, apt_endpoint, tmp_path, clock
):
    url = live_server.url
    admin = {"Authorization": f"Bearer {live_server.admin_token()}"}
    enroll = httpx.post(
        f"{url}/api/v1/clients/1/enrollment-tokens", json={}, headers=admin
    ).json()["token"]
    setups = {
        "vuln": ["demo-tool=1.0-1"],
        "held": ["demo-tool=1.0-2", "demo-held=1.0-1"],
        "above": ["demo-tool=1.0-2"],
    }
    endpoints, agents = {}, {}
    for host, specs in setups.items():
        ep = apt_endpoint(host)
        ep.update()
        ep.install(*specs)
        endpoints[host], agents[host] = ep, apt_agent(tmp_path, host, ep.apt_config)
    endpoints["held"].run("apt-mark", "hold", "demo-held")
    for agent in agents.values():
        agent.enroll(url, enroll)
        agent.run("run", "--once")
    devices = {
        d["hostname"]: d["id"]
        for d in httpx.get(f"{url}/api/v1/devices", headers=admin).json()["items"]
    }

    feed = tmp_path / "debian-osv.json"
    feed.write_text(json.dumps(OSV_FEED))
    sessions = live_server.app.state.sessionmaker
    with sessions() as session:
        result = import_file(session, FeedKind.OSV, feed, now=clock())
    assert (result.status, result.changed) == ("ok", 2)
    assert tick(sessions, clock())["cve_devices"] == 3

    assert _state(url, admin, devices["vuln"], "CVE-2024-0001") == "fixed-installable"
    assert _state(url, admin, devices["held"], "CVE-2024-0002") == (
        "fixed-not-installable"
    )
    assert _state(url, admin, devices["above"], "CVE-2024-0001") == "not-affected"
    assert _state(url, admin, devices["held"], "CVE-2024-0001") == "not-affected"

    detail = httpx.get(f"{url}/api/v1/cves/CVE-2024-0001", headers=admin).json()
    assert [
        (d["hostname"], d["version"], d["fixed"], d["state"]) for d in detail["devices"]
    ] == [("vuln", "1.0-1", "1.0-1+deb12u1", "fixed-installable")]
    assert detail["patches"] == [{"patch_id": "apt:demo-tool@1.0-2", "devices": 1}]
    assert "on 1 device" in detail["summary"]["explanation"]

    r = httpx.post(
        f"{url}/api/v1/patches/approve",
        json={"patch_ids": ["apt:demo-tool@1.0-2"]},
        headers=admin,
    )
    assert r.status_code == 204
    r = httpx.post(
        f"{url}/api/v1/install-now",
        json={"device_ids": [devices["vuln"]], "patch_ids": ["apt:demo-tool@1.0-2"]},
        headers=admin,
    )
    assert r.status_code == 202, r.text
    agents["vuln"].run("run", "--once")
    assert endpoints["vuln"].installed()["demo-tool"] == "1.0-2"
    agents["vuln"].run("run", "--once")  # reports the changed inventory

    clock.advance(minutes=1)
    assert tick(sessions, clock())["cve_devices"] >= 1
    assert _state(url, admin, devices["vuln"], "CVE-2024-0001") == "not-affected"
    cves = httpx.get(f"{url}/api/v1/devices/{devices['vuln']}/cves", headers=admin)
    assert [c["cve"] for c in cves.json()] == []
    listed = httpx.get(f"{url}/api/v1/cves", headers=admin).json()
    assert [(c["cve"], c["devices"]) for c in listed["items"]] == [("CVE-2024-0002", 1)]
