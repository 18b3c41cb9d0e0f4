"""CVE Insights, CVE Details and the device CVEs tab in a real Chromium (CVE-04..08).

A live server is seeded over real HTTP (agent enrollment, inventories and scans in the
protocol's format), then given CVE data the way an operator would: an OSV feed in the
Debian format written here, the real CISA KEV catalog and real NVD records from the
shared data, and a small EPSS file; ``vulns.refresh`` derives the device CVE states.

Four Debian 12 devices in two clients:

========================  ===============================================  =======
device                    affected (state)                                 client
========================  ===============================================  =======
acme-web-01               git, glibc (fix installable), curl (fix not      Acme
                          installable), coreutils (no fix yet)
acme-db-01                git (fix not installable), coreutils (no fix)    Acme
globex-app-01             git, curl (fix installable)                      Globex
globex-spare-01           nothing                                          Globex
========================  ===============================================  =======

CVE-2025-48384 (git) and CVE-2023-4911 (glibc) are in KEV; CVE-2023-38545 (curl) is
CVSS 9.8 with an EPSS of 27 %; CVE-2016-2781 (coreutils) is medium and unfixed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from patchfleet.server.feeds.load import FeedKind, import_file
from patchfleet.server.services import vulns
from support.clock import START, FakeClock
from support.live import ADMIN_PASSWORD, LiveServer
from support.seeded import SeededFleet

pytestmark = pytest.mark.browser

GIT_CVE = "CVE-2025-48384"  # KEV, NVD CNA CVSS 8.0
GLIBC_CVE = "CVE-2023-4911"  # KEV, no NVD record here
CURL_CVE = "CVE-2023-38545"  # NVD CVSS 9.8, EPSS written below
COREUTILS_CVE = "CVE-2016-2781"  # NVD CVSS 4.6, no fix in Debian
# Priority order: KEV first (both overdue; git has a CVSS score and more devices),
# then EPSS ≥ 10 % (curl), then CVSS alone (coreutils).
BY_PRIORITY = [GIT_CVE, GLIBC_CVE, CURL_CVE, COREUTILS_CVE]

GIT_OLD, GIT_FIXED = "1:2.39.2-1.1", "1:2.39.5-0+deb12u2"
CURL_OLD, CURL_FIXED = "7.88.1-10+deb12u1", "7.88.1-10+deb12u4"
GLIBC_OLD, GLIBC_FIXED = "2.36-9+deb12u1", "2.36-9+deb12u3"


def osv_record(cve: str, package: str, fixed: str, summary: str) -> dict[str, object]:
    """One Debian OSV record (DEBIAN-CVE-…) for bookworm, fixed in ``fixed``."""
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "schema_version": "1.6.0",
        "id": f"DEBIAN-{cve}",
        "modified": "2026-11-01T00:00:00Z",
        "published": "2026-10-01T00:00:00Z",
        "summary": summary,
        "aliases": [cve],
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }


OSV_FEED = [
    osv_record(GIT_CVE, "git", GIT_FIXED, "git: CRLF confusion in config"),
    osv_record(GLIBC_CVE, "glibc", GLIBC_FIXED, "glibc: GLIBC_TUNABLES overflow"),
    osv_record(CURL_CVE, "curl", CURL_FIXED, "curl: SOCKS5 heap overflow"),
    osv_record(COREUTILS_CVE, "coreutils", "", "coreutils: chroot --userspec"),
]
EPSS_CSV = (
    "#model_version:v2023.03.01,score_date:2026-11-26T00:00:00+0000\n"
    "cve,epss,percentile\n"
    f"{CURL_CVE},0.27000,0.96500\n"
)


def package(name: str, version: str, source: str = "") -> dict[str, str]:
    """An installed Debian package as the agent reports it."""
    return {
        "name": name,
        "version": version,
        "arch": "amd64",
        "source_name": source or name,
        "source_version": version,
    }


def update(name: str, old: str, new: str, source: str = "") -> dict[str, object]:
    """A pending security update as the agent's apt backend reports it."""
    return {
        "name": name,
        "installed_version": old,
        "candidate_version": new,
        "arch": "amd64",
        "classification": "security",
        "severity": "high",
        "source": "bookworm-security",
        "source_package": source or name,
    }


GIT = package("git", GIT_OLD)
CURL = [package("curl", CURL_OLD), package("libcurl4", CURL_OLD, "curl")]
COREUTILS = package("coreutils", "9.1-1")
LIBC = package("libc6", GLIBC_OLD, "glibc")
BASH = package("bash", "5.2.15-2+b2")


@pytest.fixture
def engine(sqlite_engine):
    """Browser tests run on SQLite only; the API suites cover PostgreSQL."""
    return sqlite_engine


class Fleet(SeededFleet):
    """Clients and devices enrolled, inventoried and scanned through the agent API."""

    def device_url(self, hostname: str) -> str:
        return f"{self.url}/devices/{self.devices[hostname].id}"


def import_cve_data(
    live_server: LiveServer, clock: FakeClock, shared_data: Path, tmp_path: Path
) -> None:
    """Feeds as an operator imports them, then the device CVE states derived."""
    osv = tmp_path / "debian-osv.json"
    osv.write_text(json.dumps(OSV_FEED))
    epss = tmp_path / "epss.csv"
    epss.write_text(EPSS_CSV)
    nvd = shared_data / "nvd"
    feeds = [
        (FeedKind.OSV, osv),
        (FeedKind.KEV, shared_data / "kev" / "known_exploited_vulnerabilities.json"),
        (FeedKind.NVD, nvd / f"{GIT_CVE}.json"),
        (FeedKind.NVD, nvd / f"{CURL_CVE}.json"),
        (FeedKind.NVD, nvd / "claircore-nvd-api2-feed.json"),  # CVE-2016-2781
        (FeedKind.EPSS, epss),
    ]
    sessions = live_server.app.state.sessionmaker
    for kind, path in feeds:
        with sessions() as session:
            assert import_file(session, kind, path, now=clock()).status == "ok"
    with sessions() as session:
        vulns.refresh(session, now=clock())


@pytest.fixture
def fleet(
    live_server: LiveServer, clock: FakeClock, shared_data: Path, tmp_path: Path
) -> Iterator[Fleet]:
    """The four devices of the module docstring, with CVE data imported."""
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        fleet = Fleet(
            live_server.url,
            http,
            {"Authorization": f"Bearer {live_server.admin_token()}"},
        )
        fleet.add_client("Acme")
        fleet.add_client("Globex")
        web = fleet.enroll("Acme", "acme-web-01", "10.1.0.11")
        db = fleet.enroll("Acme", "acme-db-01", "10.1.0.12")
        app = fleet.enroll("Globex", "globex-app-01", "10.2.0.21")
        spare = fleet.enroll("Globex", "globex-spare-01", "10.2.0.22")
        fleet.inventory(web, [GIT, *CURL, COREUTILS, LIBC, BASH])
        fleet.inventory(db, [GIT, COREUTILS, BASH])
        fleet.inventory(app, [GIT, *CURL, BASH])
        fleet.inventory(spare, [BASH])
        fleet.scan(
            web,
            [
                update("git", GIT_OLD, GIT_FIXED),
                update("libc6", GLIBC_OLD, GLIBC_FIXED, "glibc"),
            ],
        )
        fleet.scan(db, [])
        fleet.scan(
            app,
            [update("git", GIT_OLD, GIT_FIXED), update("curl", CURL_OLD, CURL_FIXED)],
        )
        fleet.scan(spare, [])
        import_cve_data(live_server, clock, shared_data, tmp_path)
        yield fleet


def sign_in(
    page: Page, url: str, username: str = "admin", password: str = ADMIN_PASSWORD
) -> None:
    """Sign in through the login form and land on the overview."""
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def settled(page: Page) -> None:
    """Wait until htmx has swapped and processed new content (hx-* wired up)."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def texts(page: Page, selector: str) -> list[str]:
    """The DOM texts of matching elements, whitespace collapsed."""
    return [" ".join(t.split()) for t in page.locator(selector).all_text_contents()]


def headers(page: Page, table: str) -> list[str]:
    """Column titles of a table without sort arrows."""
    return [re.sub(r"[▲▼]", "", t).strip() for t in texts(page, f"{table} thead th")]


def listed_cves(page: Page) -> list[str]:
    """The CVE ids of the BY CVE rows, in order."""
    return texts(page, "#cve-rows a.cve-id")


def expect_cves(page: Page, cves: list[str]) -> None:
    """Wait until BY CVE lists exactly ``cves``, in order (htmx swaps after input)."""
    expect(page.locator("#cve-rows a.cve-id")).to_have_text(cves)


def rows(page: Page, body: str) -> int:
    """Data rows of a table body (the "nothing here" row does not count)."""
    return page.locator(f"{body} tr:not(.empty)").count()


def pager_total(page: Page, pager: str) -> int:
    """The total the pager under a list announces."""
    match = re.match(r"(\d+) ", page.inner_text(pager))
    assert match is not None
    return int(match.group(1))


def status_of(page: Page, url: str) -> int:
    """The HTTP status of a page the browser opens."""
    answer = page.goto(url)
    assert answer is not None
    return answer.status


def tile(page: Page, name: str) -> int:
    return int(page.inner_text(f"#tile-{name} .value"))


def test_insights_numbers_drill_down_to_the_lists_they_count(
    page: Page, fleet: Fleet, tmp_path: Path
):
    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=CVE Insights")
    page.wait_for_url(f"{fleet.url}/cves/insights")
    expect(page.locator("nav.sidemenu a[aria-current=page]")).to_have_text(
        "CVE Insights"
    )
    tiles = {
        name: tile(page, name)
        for name in ("devices", "impacted", "cves", "kev", "installable")
    }
    assert tiles == {"devices": 4, "impacted": 3, "cves": 4, "kev": 2, "installable": 3}
    page.screenshot(path=tmp_path / "cve-insights.png", full_page=True)

    # Top CVEs: KEV-listed first, its priority explained in words.
    top = page.locator("#top-cve-rows tr").first
    expect(top.locator("a.cve-id")).to_have_text(GIT_CVE)
    expect(top.locator("td.explanation")).to_contain_text("known exploited since")
    expect(top.locator(".band")).to_have_attribute(
        "title", re.compile("known exploited since")
    )
    assert texts(page, "#top-cve-rows a.cve-id") == BY_PRIORITY
    assert texts(page, "#top-cve-rows td.num") == ["3", "1", "2", "2"]

    # Severity by CVE: one bar per severity, counts summing to the CVE tile.
    severity = {
        s: int(page.locator(f"#sev-bar-{s} .bar-count").text_content() or "")
        for s in ("critical", "high", "medium", "low", "none")
    }
    assert severity == {"critical": 1, "high": 1, "medium": 1, "low": 0, "none": 1}
    # By OS: all devices run Debian 12, so its bar counts every CVE.
    assert texts(page, "#os-chart .bar-label") == ["Debian GNU/Linux"]
    assert texts(page, "#os-chart .bar-value") == ["4"]
    # Eight device-CVE pairs were all first seen today.
    assert page.inner_text("#trend-total") == "8"
    today = page.locator(f"#trend-chart rect[data-day='{START.date().isoformat()}']")
    expect(today).to_have_attribute("data-count", "8")

    def drill(selector: str, body: str, pager: str) -> int:
        page.goto(f"{fleet.url}/cves/insights")
        page.click(selector)
        page.wait_for_url(lambda url: "/cves/insights" not in url)
        count = rows(page, body)
        assert count == pager_total(page, pager)
        return count

    assert drill("#tile-devices", "#device-rows", ".pager") == tiles["devices"]
    assert (
        drill("#tile-impacted", "#cve-device-rows", "#cve-device-rows-pager")
        == (tiles["impacted"])
    )
    assert drill("#tile-cves", "#cve-rows", "#cve-rows-pager") == tiles["cves"]
    assert drill("#tile-kev", "#cve-rows", "#cve-rows-pager") == tiles["kev"]
    assert page.url.endswith("/cves?kev=true")
    assert sorted(listed_cves(page)) == sorted([GIT_CVE, GLIBC_CVE])
    expect(page.locator("#cve-rows .badge.kev")).to_have_count(2)
    expect(page.locator("select[name=kev]")).to_have_value("true")
    assert (
        drill("#tile-installable", "#cve-rows", "#cve-rows-pager")
        == (tiles["installable"])
    )
    assert COREUTILS_CVE not in listed_cves(page)
    for name, count in severity.items():
        assert drill(f"#sev-bar-{name}", "#cve-rows", "#cve-rows-pager") == count
        assert page.url.endswith(f"/cves?severity={name}")
        assert set(texts(page, "#cve-rows td:nth-child(3)")) <= {name, "—"}


def test_by_cve_sorts_searches_and_filters(page: Page, fleet: Fleet, tmp_path: Path):
    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=CVE Details")
    page.wait_for_url(f"{fleet.url}/cves")
    assert headers(page, "#cve-table") == [
        "CVE",
        "Priority",
        "Severity",
        "CVSS",
        "KEV",
        "EPSS",
        "Description",
        "Devices",
        "Fix installable",
        "Fix not installable",
        "No fix yet",
    ]
    expect_cves(page, BY_PRIORITY)
    curl = texts(page, f"#cve-rows tr[data-cve={CURL_CVE}] td")
    assert curl[2:6] == ["critical", "9.8", "—", "27.0%"]
    assert curl[7:] == ["2", "1", "1", "0"]
    assert "EPSS 27" in curl[0]  # the explanation is shown under the id
    git = page.locator(f"#cve-rows tr[data-cve={GIT_CVE}]")
    expect(git.locator("td.kev-cell")).to_have_text(re.compile(r"KEV due \d{4}-"))
    expect(git.locator(".band")).to_have_text(re.compile(r"critical \d+"))
    coreutils = texts(page, f"#cve-rows tr[data-cve={COREUTILS_CVE}] td")
    assert coreutils[7:] == ["2", "0", "0", "2"]
    page.screenshot(path=tmp_path / "cves-by-cve.png", full_page=True)

    # Sorting: CVSS ascending (unknown first), then descending.
    page.click("#cve-table >> text=CVSS")
    expect_cves(page, [GLIBC_CVE, COREUTILS_CVE, GIT_CVE, CURL_CVE])
    expect(page.locator("#cve-table th[aria-sort=ascending]")).to_contain_text("CVSS")
    page.click("#cve-table >> text=CVSS")
    expect_cves(page, [CURL_CVE, GIT_CVE, COREUTILS_CVE, GLIBC_CVE])
    page.click("#cve-table >> text=Devices")
    expect_cves(page, [GLIBC_CVE, COREUTILS_CVE, CURL_CVE, GIT_CVE])  # 1, 2, 2, 3

    # Keyboard: the search field is reachable with Tab and Enter submits it.
    page.goto(f"{fleet.url}/cves")
    settled(page)
    for _ in range(60):
        if page.evaluate("document.activeElement.id") == "cve-search":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the search field is not reachable with Tab")
    page.keyboard.type("socks5")
    page.keyboard.press("Enter")
    expect_cves(page, [CURL_CVE])  # found by its NVD description
    page.wait_for_url(re.compile(r"search=socks5"))

    page.fill("#cve-search", "cve-2016")
    expect_cves(page, [COREUTILS_CVE])
    page.fill("#cve-search", "no-such-cve")
    expect(page.locator("#cve-rows tr.empty")).to_have_text("No CVEs match the filter.")
    expect(page.locator("#cve-rows-pager")).to_contain_text("0 CVEs")

    # Filters, combined with the search and kept in the URL.
    page.goto(f"{fleet.url}/cves")
    page.select_option("select[name=state]", "no-fix-yet")
    expect_cves(page, [COREUTILS_CVE])
    page.select_option("select[name=state]", "fixed-not-installable")
    expect_cves(page, [GIT_CVE, CURL_CVE])
    page.select_option("select[name=kev]", "false")
    expect_cves(page, [CURL_CVE])
    page.wait_for_url(re.compile(r"state=fixed-not-installable.*kev=false"))
    page.reload()
    expect_cves(page, [CURL_CVE])
    page.click("#cve-filters >> text=Reset")
    expect_cves(page, BY_PRIORITY)
    page.select_option("select[name=severity]", "critical")
    expect_cves(page, [CURL_CVE])

    assert status_of(page, f"{fleet.url}/cves?severity=bogus") == 422


def test_cve_detail_lists_affected_devices_and_fixing_patches(
    page: Page, fleet: Fleet, tmp_path: Path
):
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/cves")
    page.click(f"#cve-rows >> text={GIT_CVE}")
    page.wait_for_url(f"{fleet.url}/cves/{GIT_CVE}")
    expect(page.locator("h1")).to_contain_text(GIT_CVE)
    facts = page.inner_text("#cve-facts")
    assert "CVSS\n8.0" in facts or "8.0" in facts
    expect(page.locator("#cve-kev")).to_contain_text("in CISA's catalog")
    expect(page.locator("#cve-kev")).to_contain_text("overdue")
    expect(page.locator("#cve-explanation")).to_contain_text("known exploited since")
    expect(page.locator("#cve-explanation")).to_contain_text("on 3 devices")

    assert headers(page, "#cve-devices") == [
        "Device",
        "Client",
        "OS",
        "Package",
        "Installed",
        "Fixed in",
        "State",
        "First seen",
    ]
    assert texts(page, "#cve-device-rows a.host") == fleet.hosts()[:3]  # not spare
    states = page.locator("#cve-device-rows .badge[data-state]")
    assert [states.nth(i).get_attribute("data-state") for i in range(3)] == [
        "fixed-not-installable",  # acme-db-01: no update offered
        "fixed-installable",
        "fixed-installable",
    ]
    assert texts(page, "#cve-device-rows .badge[data-state]") == [
        "fix not installable",
        "fix installable",
        "fix installable",
    ]
    first = texts(page, "#cve-device-rows tr:first-child td")
    assert first[1:6] == ["Acme", "Debian GNU/Linux", "git", GIT_OLD, GIT_FIXED]
    page.screenshot(path=tmp_path / "cve-detail.png", full_page=True)

    # The fixing patch links to BY PATCH, filtered to that patch.
    patch = page.locator("#cve-patches tbody tr")
    expect(patch).to_have_count(1)
    assert texts(page, "#cve-patches tbody td") == ["git", GIT_FIXED, "2"]
    patch.locator("a").click()
    page.wait_for_url(re.compile(r"/patches/by-patch\?search="))
    expect(page.locator("#patch-rows tr")).to_have_count(1)
    expect(page.locator("#patch-rows tr")).to_contain_text("git")
    # The missing patch shows the CVE it fixes and its priority, explained.
    badge = page.locator("#patch-rows .patch-priority .band")
    expect(badge).to_contain_text("critical")
    assert "known exploited since" in (badge.get_attribute("title") or "")
    expect(page.locator("#patch-rows .patch-priority .kev")).to_have_text("KEV")
    expect(page.locator("#patch-rows .cves")).to_contain_text(GIT_CVE)

    # A CVE no feed knows is a 404 page; a malformed id is rejected.
    assert status_of(page, f"{fleet.url}/cves/CVE-2099-0001") == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator(".flash.error")).to_contain_text("CVE-2099-0001")
    assert status_of(page, f"{fleet.url}/cves/not-a-cve") == 422


def test_by_device_leads_to_the_device_cves_tab(
    page: Page, fleet: Fleet, tmp_path: Path
):
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/cves")
    page.click("#cve-view-switch >> text=By device")
    page.wait_for_url(f"{fleet.url}/cves/devices")
    assert headers(page, "#cve-device-table") == [
        "Device",
        "Client",
        "IP",
        "OS",
        "CVEs",
        "Known exploited (KEV)",
    ]
    assert texts(page, "#cve-device-rows tr td:first-child") == [
        "acme-web-01",
        "acme-db-01",
        "globex-app-01",
    ]
    assert texts(page, "#cve-device-rows tr:first-child td") == [
        "acme-web-01",
        "Acme",
        "10.1.0.11",
        "Debian GNU/Linux",
        "4",
        "2",
    ]
    page.screenshot(path=tmp_path / "cves-by-device.png", full_page=True)

    page.fill("#cve-search", "globex")
    expect(page.locator("#cve-device-rows tr")).to_have_count(1)
    expect(page.locator("#cve-device-rows-pager")).to_contain_text("1 devices")
    page.fill("#cve-search", "")
    expect(page.locator("#cve-device-rows tr")).to_have_count(3)

    page.click("#cve-device-rows >> text=acme-web-01")
    page.wait_for_url(f"{fleet.device_url('acme-web-01')}?tab=cves")
    expect(page.locator("#tab-cves")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#device-cve-rows tr")).to_have_count(4)
    assert texts(page, "#device-cve-rows a.cve-id") == BY_PRIORITY
    assert texts(page, "#device-cve-rows .badge[data-state]") == [
        "fix installable",  # git: 1:2.39.5-0+deb12u2 offered
        "fix installable",  # glibc through libc6
        "fix not installable",  # curl: nothing offered
        "no fix yet",  # coreutils
    ]
    expect(page.locator("#device-cve-rows tr").first).to_contain_text(
        "known exploited since"
    )
    page.screenshot(path=tmp_path / "device-cves.png", full_page=True)

    # The tab is one of the device tabs: away and back.
    settled(page)
    page.click("#tab-patches")
    expect(page.locator("#device-patches tbody tr")).to_have_count(2)
    settled(page)
    page.click("#tab-cves")
    expect(page.locator("#device-cve-rows tr")).to_have_count(4)

    page.goto(fleet.device_url("globex-spare-01") + "?tab=cves")
    expect(page.locator("#device-cve-rows tr.empty")).to_contain_text("No known CVE")


def test_client_level_hides_other_clients(page: Page, fleet: Fleet):
    acme, globex = fleet.clients["Acme"], fleet.clients["Globex"]
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/cves/insights")
    page.click("#client-switcher summary")
    page.click("#client-switcher >> text=Acme")
    page.wait_for_url(f"{fleet.url}/cves/insights?client_id={acme}")
    assert {n: tile(page, n) for n in ("devices", "impacted", "cves", "kev")} == {
        "devices": 2,
        "impacted": 2,
        "cves": 4,
        "kev": 2,
    }
    assert texts(page, "#top-cve-rows td.num") == ["2", "1", "1", "2"]

    page.click("#tile-impacted")
    page.wait_for_url(f"{fleet.url}/cves/devices?client_id={acme}")
    assert texts(page, "#cve-device-rows a.host") == ["acme-web-01", "acme-db-01"]
    assert "Client" not in headers(page, "#cve-device-table")

    page.goto(f"{fleet.url}/cves/{GIT_CVE}?client_id={acme}")
    assert texts(page, "#cve-device-rows a.host") == fleet.hosts("Acme")
    assert "globex-app-01" not in page.content()
    assert "Client" not in headers(page, "#cve-devices")
    expect(page.locator("#cve-explanation")).to_contain_text("on 2 devices")
    # The nav and the client switcher keep the client.
    page.click("nav.sidemenu >> text=CVE Details")
    page.wait_for_url(f"{fleet.url}/cves?client_id={acme}")
    expect_cves(page, BY_PRIORITY)

    page.click("#client-switcher summary")
    page.click("#client-switcher >> text=Globex")
    page.wait_for_url(f"{fleet.url}/cves?client_id={globex}")
    expect_cves(page, [GIT_CVE, CURL_CVE])
    page.goto(f"{fleet.url}/cves/{COREUTILS_CVE}?client_id={globex}")
    expect(page.locator("#cve-unaffected")).to_contain_text("no device in Globex")
    expect(page.locator("#cve-device-rows tr.empty")).to_have_count(1)

    other_client = f"{fleet.device_url('globex-app-01')}/cves?client_id={acme}"
    assert status_of(page, other_client) == 404


def test_empty_state_on_a_fresh_server(page: Page, live_server: LiveServer):
    sign_in(page, live_server.url)
    page.click("nav.sidemenu >> text=CVE Insights")
    page.wait_for_url(f"{live_server.url}/cves/insights")
    empty = page.locator("#cve-empty")
    expect(empty).to_contain_text("No CVE data")
    expect(empty).to_contain_text("patchfleet feeds import osv")
    expect(empty).to_contain_text("after each scan")
    assert page.locator("#severity-chart").count() == 0
    for name in ("devices", "impacted", "cves", "kev", "installable"):
        assert tile(page, name) == 0
    page.click("#tile-cves")
    expect(page.locator("#cve-rows tr.empty")).to_have_text(
        "No known CVE affects the devices in scope."
    )
    page.goto(f"{live_server.url}/cves/devices")
    expect(page.locator("#cve-device-rows tr.empty")).to_contain_text(
        "No device has a known CVE"
    )
