"""End to end: real agents on 3 apt and 1 dnf lab endpoints, a live server, the API."""

from __future__ import annotations

import httpx
import pytest

from support.agents import apt_agent, dnf_agent

pytestmark = [pytest.mark.apt, pytest.mark.dnf]


def api_get(url, path, headers, **params):
    r = httpx.get(f"{url}{path}", headers=headers, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def fleet(live_server, apt_endpoint, dnf_endpoint, tmp_path):
    admin = {"Authorization": f"Bearer {live_server.admin_token()}"}
    tokens = {}
    for name in ("Acme", "Globex"):
        c = httpx.post(
            f"{live_server.url}/api/v1/clients", json={"name": name}, headers=admin
        ).json()
        t = httpx.post(
            f"{live_server.url}/api/v1/clients/{c['id']}/enrollment-tokens",
            json={},
            headers=admin,
        )
        tokens[name] = (c["id"], t.json()["token"])
    agents = []
    for host, client in (("apt-1", "Acme"), ("apt-2", "Acme"), ("apt-3", "Globex")):
        ep = apt_endpoint(host)
        ep.update()
        ep.install("demo-tool=1.0-1")
        agents.append((apt_agent(tmp_path, host, ep.apt_config), client))
    rpm = dnf_endpoint("rpm-1")
    rpm.install("demo-tool")
    rpm.enable_updates()
    agents.append((dnf_agent(tmp_path, "rpm-1", rpm.root), "Acme"))
    for agent, client in agents:
        agent.enroll(live_server.url, tokens[client][1])
        agent.run("run", "--once")
    return {"admin": admin, "tokens": tokens, "url": live_server.url}


def test_missing_patches_by_patch_and_by_device(fleet):
    url, admin = fleet["url"], fleet["admin"]
    rows = api_get(url, "/api/v1/missing-patches/by-patch", admin, page_size=1000)[
        "items"
    ]
    demo = {r["backend"]: r for r in rows if r["name"] == "demo-tool"}
    apt, dnf = demo["apt"], demo["dnf"]
    assert (apt["installed_versions"], apt["candidate_version"]) == (["1.0-1"], "1.0-2")
    assert apt["classification"] == "security"
    assert apt["devices"] == 3
    assert "Lab-Security" in apt["source"]
    assert (dnf["installed_versions"], dnf["candidate_version"]) == (["1.0-1"], "1.0-2")
    assert dnf["advisory_id"] == "LAB-2024-0001"
    assert (dnf["raw_severity"], dnf["severity"]) == ("Important", "high")
    assert dnf["cves"] == ["CVE-2024-0001"]
    assert dnf["classification"] == "security"
    assert dnf["devices"] == 1
    hosts = api_get(
        url,
        "/api/v1/missing-patches/by-patch/devices",
        admin,
        backend="apt",
        name="demo-tool",
        version="1.0-2",
    )
    assert sorted(h["hostname"] for h in hosts) == ["apt-1", "apt-2", "apt-3"]

    by_device = api_get(url, "/api/v1/missing-patches/by-device", admin)["items"]
    assert sorted(d["hostname"] for d in by_device) == [
        "apt-1",
        "apt-2",
        "apt-3",
        "rpm-1",
    ]
    for d in by_device:
        assert d["missing_security"] >= 1
        assert d["last_scan_at"] is not None
        patches = api_get(url, f"/api/v1/devices/{d['id']}/patches", admin)
        assert "demo-tool" in {p["name"] for p in patches}
        assert len(patches) == d["missing"]
    assert_client_user_sees_only_its_client(fleet)


def assert_client_user_sees_only_its_client(fleet):
    url, admin = fleet["url"], fleet["admin"]
    globex_id = fleet["tokens"]["Globex"][0]
    r = httpx.post(
        f"{url}/api/v1/users",
        json={
            "username": "globex",
            "password": "globex-password",
            "client_id": globex_id,
        },
        headers=admin,
    )
    assert r.status_code == 201
    token = httpx.post(
        f"{url}/api/v1/auth/login",
        json={"username": "globex", "password": "globex-password"},
    )
    user = {"Authorization": f"Bearer {token.json()['token']}"}
    assert [d["hostname"] for d in api_get(url, "/api/v1/devices", user)["items"]] == [
        "apt-3"
    ]
    rows = api_get(url, "/api/v1/missing-patches/by-patch", user)["items"]
    assert {r["backend"] for r in rows if r["name"] == "demo-tool"} == {"apt"}
    assert next(r for r in rows if r["name"] == "demo-tool")["devices"] == 1
