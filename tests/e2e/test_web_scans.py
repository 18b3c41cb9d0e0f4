"""Scan Schedules in a real Chromium: create through the form, Run Now, Delete (SCN-*).

The server runs under uvicorn and is seeded over real HTTP (agent enrollment); the
scan orders a Run Now creates are read back through agent check-ins.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from test_web_ui import Fleet, sign_in, texts

from support.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def engine(sqlite_engine):
    """Browser tests run on SQLite only; the API suites cover PostgreSQL."""
    return sqlite_engine


@pytest.fixture
def fleet(live_server: LiveServer) -> Iterator[Fleet]:
    """Acme with web-1, web-2 and db-1, enrolled and not yet ordered to scan."""
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        fleet = Fleet(
            live_server.url,
            http,
            {"Authorization": f"Bearer {live_server.admin_token()}"},
        )
        fleet.add_client("Acme")
        for host, ip in (
            ("web-1", "10.1.0.11"),
            ("web-2", "10.1.0.12"),
            ("db-1", "10.1.0.21"),
        ):
            fleet.enroll("Acme", host, ip)
        yield fleet


def scan_orders(fleet: Fleet, host: str) -> list[object]:
    """The kinds of the orders the agent of ``host`` gets at its check-in."""
    return [o["kind"] for o in fleet.orders(fleet.devices[host])]


def test_scan_schedule_form_list_run_now_and_delete(
    page: Page, fleet: Fleet, tmp_path: Path
):
    acme = fleet.clients["Acme"]
    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=Scan Schedules")
    expect(page.locator("h1")).to_contain_text("Scan Schedules")
    page.goto(f"{fleet.url}/scan-schedules?client_id={acme}")
    expect(page.locator("#scan-rows")).to_contain_text("No scan schedules yet")
    page.click("#add-scan-schedule")
    expect(page.locator("h1")).to_contain_text("New scan schedule")

    page.fill("#name", "Web at dawn")
    page.fill("#device_query", "hostnme = web-*")
    page.click("text=Next: Schedule")
    expect(page.locator("#device_query")).to_be_hidden()
    # Yearly and Patch Tuesday are not offered for scans (SCN-07).
    expect(page.locator("#freq-yearly")).to_have_count(0)
    expect(page.locator("#freq-patch_tuesday")).to_have_count(0)
    page.check("#freq-daily")
    page.fill("#time_of_day", "06:00")
    page.fill("#timezone", "America/New_York")
    page.screenshot(path=tmp_path / "scan-schedule-step-2.png", full_page=True)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#wizard-save")
    assert answer.value.status == 422

    # Back on step 1, the parser's message next to the query; the rest kept.
    error = page.locator("#error-device_query")
    expect(error).to_be_visible()
    expect(error).to_contain_text('unknown field "hostnme"')
    expect(page.locator("#device_query")).to_have_attribute("aria-invalid", "true")
    assert page.input_value("#name") == "Web at dawn"
    page.fill("#device_query", "hostname = web-*")
    page.click("text=Next: Schedule")
    expect(page.locator("#freq-daily")).to_be_checked()
    assert page.input_value("#timezone") == "America/New_York"
    page.click("#wizard-save")
    page.wait_for_url(f"{fleet.url}/scan-schedules?client_id={acme}")

    row = page.locator("#scan-rows tr", has_text="Web at dawn")
    expect(row).to_have_count(1)
    assert texts(page, "#scan-rows tr:first-child td")[:5] == [
        "Web at dawn",
        "query hostname = web-*",
        "Every day at 06:00 (America/New_York)",
        "2026-11-28 06:00 America/New_York",
        "never",
    ]
    page.screenshot(path=tmp_path / "scan-schedules.png", full_page=True)

    row.get_by_role("button", name="Run Web at dawn now").click()
    expect(page.locator("#toast")).to_contain_text("Scan ordered on 2 devices.")
    # The list reloads: 12:00 UTC is 07:00 in New York.
    expect(row.locator("td.last-run")).to_have_text("2026-11-27 07:00 America/New_York")
    assert scan_orders(fleet, "web-1") == ["scan"]
    assert scan_orders(fleet, "web-2") == ["scan"]
    assert scan_orders(fleet, "db-1") == []

    row.get_by_role("button", name="Delete Web at dawn").click()
    page.wait_for_url(f"{fleet.url}/scan-schedules?client_id={acme}")
    expect(page.locator("#scan-rows tr", has_text="Web at dawn")).to_have_count(0)
    listed = fleet.http.get("/api/v1/scan-schedules", headers=fleet.admin).json()
    assert listed == []


def test_static_scan_schedule_needs_picked_devices(page: Page, fleet: Fleet):
    acme, db1 = fleet.clients["Acme"], fleet.devices["db-1"]
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/scan-schedules/new?client_id={acme}")
    page.fill("#name", "Pinned db")
    page.check("#mode-static")
    expect(page.locator("#pick-devices li")).to_have_count(3)
    page.click("text=Next: Schedule")
    page.check("#freq-on_demand")
    page.click("#wizard-save")
    error = page.locator("#error-static_devices")
    expect(error).to_be_visible()  # the form reopened on step 1
    expect(error).to_contain_text("select devices by query")

    page.check(f"#pick-devices input[value='{db1.id}']")
    page.click("text=Next: Schedule")
    page.click("#wizard-save")
    page.wait_for_url(f"{fleet.url}/scan-schedules?client_id={acme}")
    row = page.locator("#scan-rows tr", has_text="Pinned db")
    expect(row.locator("td.devices")).to_have_text("1 device")
    expect(row.locator("td.next-run")).to_have_text("on demand")
    row.get_by_role("button", name="Run Pinned db now").click()
    expect(page.locator("#toast")).to_contain_text("Scan ordered on 1 device.")
    assert scan_orders(fleet, "db-1") == ["scan"]
    assert scan_orders(fleet, "web-1") == []
