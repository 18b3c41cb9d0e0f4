"""Issue acceptance: remediation SLAs on real dpkg endpoints and real agents (BP-08).

Three apt lab endpoints with the vulnerable ``demo-tool`` 1.0-1, an OSV feed in the
Debian format saying ``CVE-2024-0001`` is fixed in ``1.0-1+deb12u1`` (so the lab's
1.0-2 fixes it), and a KEV catalog file in CISA's exact format listing the CVE, due
2026-12-04.  The clock is injected: the devices are first seen at 2026-11-27 12:00
UTC, Install Now runs on two of them two days later, then the clock moves past the
due date.

* before the due date the unpatched device's KEV-linked patch is ``within``;
* after it (2026-12-05 00:00 UTC, the end of the due date) it is ``overdue``;
* the patched devices' items are ``met`` with a time to patch of exactly two days,
  and stay so after the rescan that removed their missing-patch rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from patchfleet.server.feeds.load import FeedKind, import_file
from patchfleet.server.services import vulns
from support.agents import apt_agent
from support.clock import START
from support.live import LiveServer

pytestmark = [pytest.mark.apt]

CVE = "CVE-2024-0001"
PATCH = "apt:demo-tool@1.0-2"
KEV_DUE = "2026-12-04"
DUE_AT = datetime(2026, 12, 5, tzinfo=UTC)  # the end of the due date, UTC
TO_PATCH = timedelta(days=2)
OSV_FEED = [
    {
        "schema_version": "1.6.0",
        "id": "DEBIAN-CVE-2024-0001",
        "modified": "2026-11-01T00:00:00Z",
        "published": "2026-10-01T00:00:00Z",
        "summary": "demo-tool: buffer overflow in parser",
        "aliases": [CVE],
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
    }
]
# One entry in the structure of CISA's known_exploited_vulnerabilities.json.
KEV_CATALOG = {
    "title": "CISA Catalog of Known Exploited Vulnerabilities",
    "catalogVersion": "2026.11.20",
    "dateReleased": "2026-11-20T17:00:00.0000Z",
    "count": 1,
    "vulnerabilities": [
        {
            "cveID": CVE,
            "vendorProject": "patchfleet lab",
            "product": "demo-tool",
            "vulnerabilityName": "demo-tool Parser Buffer Overflow Vulnerability",
            "dateAdded": "2026-11-20",
            "shortDescription": "demo-tool contains a buffer overflow in its parser "
            "that allows remote code execution.",
            "requiredAction": "Apply mitigations per vendor instructions, follow "
            "applicable BOD 22-01 guidance for cloud services, or discontinue use "
            "of the product if mitigations are unavailable.",
            "dueDate": KEV_DUE,
            "knownRansomwareCampaignUse": "Unknown",
            "notes": "https://example.invalid/demo-tool/CVE-2024-0001",
            "cwes": ["CWE-120"],
        }
    ],
}
HOSTS = ("sla-1", "sla-2", "sla-3")
PATCHED, UNPATCHED = ("sla-1", "sla-2"), "sla-3"


def import_feeds(live_server: LiveServer, folder: Path, now: datetime) -> None:
    """The OSV and KEV files imported as an operator would, then CVE states derived."""
    osv = folder / "debian-osv.json"
    osv.write_text(json.dumps(OSV_FEED))
    kev = folder / "known_exploited_vulnerabilities.json"
    kev.write_text(json.dumps(KEV_CATALOG, indent=2))
    sessions = live_server.app.state.sessionmaker
    for kind, path in ((FeedKind.OSV, osv), (FeedKind.KEV, kev)):
        with sessions() as session:
            result = import_file(session, kind, path, now=now)
            assert (result.status, result.changed) == ("ok", 1), kind
    with sessions() as session:
        assert vulns.refresh(session, now=now).devices == len(HOSTS)


def sla_items(http: httpx.Client, **params: object) -> list[dict[str, object]]:
    r = http.get("/api/v1/sla/items", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def by_host(items: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {i["hostname"]: i for i in items}


def test_kev_patch_sla_on_real_agents(live_server, apt_endpoint, tmp_path, clock):
    url = live_server.url
    login = {"Authorization": f"Bearer {live_server.admin_token()}"}
    # An API token without expiry: the clock moves by days.
    token = httpx.post(f"{url}/api/v1/tokens", json={"name": "sla"}, headers=login)
    assert token.status_code == 201, token.text
    admin = {"Authorization": f"Bearer {token.json()['token']}"}
    enroll = httpx.post(
        f"{url}/api/v1/clients/1/enrollment-tokens", json={}, headers=admin
    ).json()["token"]
    endpoints, agents = {}, {}
    for host in HOSTS:
        ep = apt_endpoint(host)
        ep.update()
        ep.install("demo-tool=1.0-1")
        endpoints[host], agents[host] = ep, apt_agent(tmp_path, host, ep.apt_config)
        agents[host].enroll(url, enroll)
        agents[host].run("run", "--once")  # inventory and scan: first seen now
    import_feeds(live_server, tmp_path, clock())

    with httpx.Client(base_url=url, headers=admin, timeout=30) as http:
        devices = {
            d["hostname"]: d["id"] for d in http.get("/api/v1/devices").json()["items"]
        }
        before = by_host(sla_items(http, kind="patch"))
        assert sorted(before) == sorted(HOSTS)
        for item in before.values():
            assert (item["key"], item["band"], item["kev"], item["cves"]) == (
                PATCH,
                "critical",
                True,
                [CVE],
            )
            assert (item["kev_due_date"], item["rule"]) == (KEV_DUE, "kev-due-date")
            assert item["first_seen_at"] == START.isoformat().replace("+00:00", "Z")
            assert item["due_at"] == DUE_AT.isoformat().replace("+00:00", "Z")
            assert item["status"] == "within"

        # Two days later: Install Now on two of the three devices.
        clock.advance(days=2)
        r = http.post("/api/v1/patches/approve", json={"patch_ids": [PATCH]})
        assert r.status_code == 204, r.text
        r = http.post(
            "/api/v1/install-now",
            json={"device_ids": [devices[h] for h in PATCHED], "patch_ids": [PATCH]},
        )
        assert r.status_code == 202, r.text
        assert len(r.json()["jobs"]) == len(PATCHED)
        for host in PATCHED:
            agents[host].run("run", "--once")  # installs, reports, rescans
            assert endpoints[host].installed()["demo-tool"] == "1.0-2"
            agents[host].run("run", "--once")  # the changed inventory
        assert endpoints[UNPATCHED].installed()["demo-tool"] == "1.0-1"
        with live_server.app.state.sessionmaker() as session:
            vulns.refresh(session, now=clock())

        # The patched devices have nothing missing any more; history keeps the install.
        for host in PATCHED:
            missing = http.get(f"/api/v1/devices/{devices[host]}/patches")
            assert missing.status_code == 200, missing.text
            assert PATCH not in {p["patch_id"] for p in missing.json()}
        met = by_host(sla_items(http, status="met"))
        assert sorted(met) == list(PATCHED)
        for item in met.values():
            assert (item["key"], item["kind"], item["kev"]) == (PATCH, "patch", True)
            assert item["time_to_patch_days"] == TO_PATCH / timedelta(days=1)
            assert item["installed_at"] == (START + TO_PATCH).isoformat().replace(
                "+00:00", "Z"
            )
        still = by_host(sla_items(http, status="open"))
        assert list(still) == [UNPATCHED]  # its patch and its CVE
        assert {i["key"] for i in sla_items(http, status="open")} == {PATCH, CVE}
        assert still[UNPATCHED]["status"] == "within"

        # Past the end of the KEV due date, UTC.
        clock.now = DUE_AT + timedelta(seconds=1)
        overdue = sla_items(http, status="overdue", kind="patch")
        assert [(i["hostname"], i["key"]) for i in overdue] == [(UNPATCHED, PATCH)]
        assert sorted(by_host(sla_items(http, status="met"))) == list(PATCHED)
        totals = http.get("/api/v1/sla/summary", params={"kind": "patch"}).json()[
            "totals"
        ]
        assert (totals["overdue"], totals["met"], totals["missed"]) == (1, 2, 0)
        assert totals["mean_days"] == totals["median_days"] == 2.0
        assert totals["within_sla_percent"] == 100.0
