"""The web UI in a real Chromium against a real uvicorn server, seeded over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from support.live import ADMIN_PASSWORD, LiveServer
from support.seeded import Device, SeededFleet

pytestmark = pytest.mark.browser

DEMO_UPDATE: dict[str, object] = {
    "name": "demo-tool",
    "installed_version": "1.0-1",
    "candidate_version": "1.0-2",
    "arch": "amd64",
    "classification": "security",
    "severity": "high",
    "source": "bookworm-security",
    "advisory_id": "DSA-0001-1",
    "cves": ["CVE-2024-0001"],
}
BUGFIX_UPDATE: dict[str, object] = {
    "name": "libexample1",
    "installed_version": "2.0-1",
    "candidate_version": "2.0-3",
    "arch": "amd64",
    "classification": "bugfix",
    "source": "bookworm-updates",
}
PACKAGES = [
    {
        "name": "demo-tool",
        "version": "1.0-1",
        "arch": "amd64",
        "source_name": "demo-tool",
        "source_version": "1.0-1",
    },
    {
        "name": "libexample1",
        "version": "2.0-1",
        "arch": "amd64",
        "source_name": "libexample",
        "source_version": "2.0-1",
    },
    {
        "name": "openssl",
        "version": "3.0.15-1",
        "arch": "amd64",
        "source_name": "openssl",
        "source_version": "3.0.15-1",
    },
]
DEC_02 = [
    "Device",
    "Client",
    "OS",
    "IP",
    "Missing",
    "Missing security+critical",
    "Approved",
    "Installable now",
    "Last scan",
    "Reboot pending",
]


@pytest.fixture
def engine(sqlite_engine):
    """Browser tests run on SQLite only; the API suites cover PostgreSQL."""
    return sqlite_engine


class Fleet(SeededFleet):
    """Two clients with devices, enrolled and scanned through the agent API."""

    def orders(self, device: Device) -> list[dict[str, object]]:
        r = self.http.post("/agent/v1/checkin", json={}, headers=device.auth)
        assert r.status_code == 200, r.text
        return list(r.json()["orders"])


@pytest.fixture
def fleet(live_server: LiveServer) -> Iterator[Fleet]:
    """Acme (two devices, one with a bugfix and a pending reboot) and Globex (one device)."""
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
        fleet.scan(web, [DEMO_UPDATE])
        fleet.scan(db, [DEMO_UPDATE, BUGFIX_UPDATE], reboot=True)
        fleet.scan(app, [DEMO_UPDATE])
        fleet.inventory(web, PACKAGES)
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
    """The DOM texts (not CSS-transformed) of matching elements, whitespace collapsed."""
    return [" ".join(t.split()) for t in page.locator(selector).all_text_contents()]


def column(page: Page, rows: str, index: int) -> list[str]:
    """The texts of one column of a table body (1-based ``nth-child``)."""
    return texts(page, f"{rows} tr td:nth-child({index})")


def headers(page: Page, table: str) -> list[str]:
    """Column titles of a table without sort arrows."""
    return [re.sub(r"[▲▼]", "", t).strip() for t in texts(page, f"{table} thead th")]


def test_login_rejects_a_wrong_password_and_guards_pages(
    page: Page, live_server: LiveServer, tmp_path: Path
):
    url = live_server.url
    page.goto(f"{url}/devices")
    assert page.url == f"{url}/login?next=%2Fdevices"
    expect(page.locator("h1")).to_contain_text("patchfleet")
    page.screenshot(path=tmp_path / "login.png")

    page.fill("#username", "admin")
    page.fill("#password", "not-the-password")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401
    expect(page.locator("#login-error")).to_have_text("Unknown user or wrong password.")
    assert page.input_value("#username") == "admin"

    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/devices")
    expect(page.locator("h1")).to_contain_text("Devices")
    (cookie,) = page.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
        "pf_session",
        True,
        "Lax",
    )

    page.click("text=Sign out")
    page.wait_for_url(f"{url}/login")
    assert page.context.cookies() == []
    page.context.add_cookies([cookie])  # the old token was revoked, not just forgotten
    page.goto(f"{url}/devices")
    assert page.url == f"{url}/login?next=%2Fdevices"


def test_devices_list_follows_the_client_switcher(
    page: Page, fleet: Fleet, tmp_path: Path
):
    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=Devices")
    assert column(page, "#device-rows", 2) == fleet.hosts()
    assert "Client" in headers(page, "#device-table")
    page.screenshot(path=tmp_path / "devices.png", full_page=True)

    page.click("#client-switcher summary")
    page.click("#client-switcher >> text=Acme")
    page.wait_for_url(f"{fleet.url}/devices?client_id={fleet.clients['Acme']}")
    assert column(page, "#device-rows", 2) == fleet.hosts("Acme")
    assert "Client" not in headers(page, "#device-table")
    expect(page.locator("#client-switcher summary")).to_contain_text("Acme")

    page.fill("input[name=search]", "db")
    expect(page.locator("#device-rows tr")).to_have_count(1)
    assert column(page, "#device-rows", 2) == ["acme-db-01"]
    assert "search=db" in page.url
    assert f"client_id={fleet.clients['Acme']}" in page.url

    page.click("#client-switcher summary")
    page.click("#client-switcher >> text=All Clients")
    # Sorted by hostname ascending already: a click on the header turns it around.
    page.click("#device-table >> text=Hostname")
    assert column(page, "#device-rows", 2) == fleet.hosts()[::-1]


def test_device_page_shows_patches_installed_and_scans(
    page: Page, fleet: Fleet, tmp_path: Path
):
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/devices")
    page.click("#device-rows >> text=acme-web-01")
    page.wait_for_url(f"{fleet.url}/devices/{fleet.devices['acme-web-01'].id}")
    facts = page.locator("#device-facts").inner_text()
    for fact in ("Debian GNU/Linux 12", "6.1.0-28-amd64", "10.1.0.11", "apt"):
        assert fact in facts

    row = page.locator("#device-patches tbody tr")
    expect(row).to_have_count(1)
    cells = texts(page, "#device-patches tbody tr td")
    assert cells[:7] == [
        "demo-tool amd64",
        "1.0-1 → 1.0-2",
        "security",
        "high",
        "DSA-0001-1",
        "CVE-2024-0001",
        "installable",
    ]
    page.screenshot(path=tmp_path / "device.png", full_page=True)

    settled(page)
    page.click("#tab-installed")
    expect(page.locator("#package-rows tr")).to_have_count(len(PACKAGES))
    settled(page)
    page.fill("input[aria-label='Filter packages']", "demo")
    expect(page.locator("#package-rows tr")).to_have_count(1)
    assert column(page, "#package-rows", 1) == ["demo-tool"]

    settled(page)
    page.click("#tab-scans")
    expect(page.locator("#device-scans tbody tr")).to_have_count(1)
    assert column(page, "#device-scans tbody", 5) == ["ok"]
    assert column(page, "#device-scans tbody", 6) == ["1"]


def test_by_patch_has_one_row_per_patch_and_lists_its_devices(
    page: Page, fleet: Fleet, tmp_path: Path
):
    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=By patch")
    demo = page.locator("#patch-rows tr", has_text="demo-tool")
    expect(demo).to_have_count(1)
    count = demo.locator("button.count")
    assert count.inner_text() == str(len(fleet.devices))

    count.click()
    expect(page.locator("#pane-devices li")).to_have_count(len(fleet.devices))
    assert texts(page, "#pane-devices a.host") == fleet.hosts()
    assert page.inner_text("#pane-count") == str(len(fleet.devices))
    page.screenshot(path=tmp_path / "by-patch.png", full_page=True)

    page.select_option("select[name=classification]", "bugfix")
    expect(page.locator("#patch-rows tr")).to_have_count(1)
    expect(page.locator("#patch-rows tr")).to_contain_text("libexample1")


def test_by_device_shows_the_dec02_columns(page: Page, fleet: Fleet, tmp_path: Path):
    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=By device")
    assert headers(page, "#by-device-table") == DEC_02
    first = texts(page, "#by-device-rows tr:first-child td")
    assert first[0] == "acme-db-01"  # most security+critical first, then hostname
    assert first[1:] == [
        "Acme",
        "Debian GNU/Linux 12",
        "10.1.0.12",
        "2",
        "1",
        "0",
        "2",
        "2026-11-27T11:55:00Z",
        "pending",
    ]
    page.screenshot(path=tmp_path / "by-device.png", full_page=True)

    page.click("#client-switcher summary")
    page.click("#client-switcher >> text=Globex")
    assert "Client" not in headers(page, "#by-device-table")
    assert column(page, "#by-device-rows", 1) == fleet.hosts("Globex")


def test_client_user_sees_only_its_client(page: Page, fleet: Fleet):
    body = {
        "username": "acme-viewer",
        "password": "acme-password-1",
        "client_id": fleet.clients["Acme"],
    }
    r = fleet.http.post("/api/v1/users", json=body, headers=fleet.admin)
    assert r.status_code == 201, r.text

    sign_in(page, fleet.url, "acme-viewer", "acme-password-1")
    page.goto(f"{fleet.url}/devices")
    assert column(page, "#device-rows", 2) == fleet.hosts("Acme")
    assert texts(page, "#client-switcher li") == ["Acme"]
    assert page.locator("#client-switcher >> text=All Clients").count() == 0

    globex = fleet.clients["Globex"]
    for path in (
        f"/devices?client_id={globex}",
        f"/devices/{fleet.devices['globex-app-01'].id}",
    ):
        answer = page.goto(f"{fleet.url}{path}")
        assert answer is not None
        assert answer.status == 404
        expect(page.locator("h1")).to_have_text("Not found")
        assert "globex-app-01" not in page.content()

    page.goto(f"{fleet.url}/devices")
    page.locator("#device-rows tr", has_text="acme-web-01").locator(
        "button", has_text="Scan Now"
    ).click()
    expect(page.locator("#scan-feedback")).to_contain_text("operator needed")
    assert fleet.orders(fleet.devices["acme-web-01"]) == []


def test_scan_now_gives_feedback_and_orders_a_scan(page: Page, fleet: Fleet):
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/devices")
    page.locator("#device-rows tr", has_text="globex-app-01").locator(
        "button", has_text="Scan Now"
    ).click()
    expect(page.locator("#scan-feedback")).to_have_text(
        re.compile(r"^Scan ordered for 1 device;")
    )
    (order,) = fleet.orders(fleet.devices["globex-app-01"])
    assert order["kind"] == "scan"

    for host in ("acme-web-01", "acme-db-01"):
        page.check(f"#device-rows input[aria-label='Select {host}']")
    page.click("#scan-selected")
    expect(page.locator("#scan-feedback")).to_have_text(
        re.compile(r"^Scan ordered for 2 devices;")
    )
    assert [
        o["kind"]
        for h in ("acme-web-01", "acme-db-01")
        for o in fleet.orders(fleet.devices[h])
    ] == ["scan"] * 2

    page.goto(f"{fleet.url}/devices/{fleet.devices['acme-web-01'].id}")
    page.click("#scan-now")
    expect(page.locator("#scan-feedback")).to_contain_text("already ordered")


def test_overview_tiles_chart_and_escaping(page: Page, fleet: Fleet, tmp_path: Path):
    # One device never scanned, whose name is markup that must stay text.
    fleet.enroll("Globex", "fresh-<b>01</b>", "10.2.0.99")
    sign_in(page, fleet.url)
    tiles = {
        name: page.inner_text(f"#tile-{name} .value")
        for name in ("devices", "scanned", "never-scanned", "security", "reboot")
    }
    assert tiles == {
        "devices": "4",
        "scanned": "3",
        "never-scanned": "1",
        "security": "3",
        "reboot": "1",
    }
    bars = dict(
        zip(
            texts(page, "#classification-chart .bar-label"),
            texts(page, "#classification-chart .bar-value"),
            strict=True,
        )
    )
    assert (bars["security"], bars["bugfix"], bars["other"]) == (
        "3 (1)",
        "1 (1)",
        "0 (0)",
    )
    page.screenshot(path=tmp_path / "overview.png", full_page=True)

    page.goto(f"{fleet.url}/devices?search=fresh")
    assert column(page, "#device-rows", 2) == ["fresh-<b>01</b>"]
    assert page.locator("#device-rows b").count() == 0
