"""Compliance pages in a real Chromium: wizard, list, detail tabs, Run Now, keyboard.

The server runs under uvicorn and is seeded over real HTTP (agent enrollment and
scans); every action goes through the pages as a user would click or type it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from test_web_ui import (
    BUGFIX_UPDATE,
    DEMO_UPDATE,
    Fleet,
    column,
    settled,
    sign_in,
    texts,
)

from support.live import LiveServer

pytestmark = pytest.mark.browser

DEMO = "apt:demo-tool@1.0-2"


@pytest.fixture
def engine(sqlite_engine):
    """Browser tests run on SQLite only; the API suites cover PostgreSQL."""
    return sqlite_engine


@pytest.fixture
def fleet(live_server: LiveServer) -> Iterator[Fleet]:
    """Acme: web-1 and db-1 miss demo-tool, web-2 only a bugfix, db-2 never scanned."""
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
            ("db-2", "10.1.0.22"),
        ):
            fleet.enroll("Acme", host, ip)
        fleet.scan(fleet.devices["web-1"], [DEMO_UPDATE, BUGFIX_UPDATE])
        fleet.scan(fleet.devices["web-2"], [BUGFIX_UPDATE])
        fleet.scan(fleet.devices["db-1"], [DEMO_UPDATE])
        yield fleet


def press(page: Page, selector: str, key: str = "Enter") -> None:
    """Focus an element and press a key on it, as a keyboard user would (once htmx
    has wired up the content it swapped in)."""
    settled(page)
    page.focus(selector)
    page.keyboard.press(key)


def test_wizard_detail_tabs_and_run_now_by_keyboard(
    page: Page, fleet: Fleet, tmp_path: Path
):
    acme = fleet.clients["Acme"]
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/?client_id={acme}")
    page.click("nav.sidemenu >> text=Compliance")
    expect(page.locator("h1")).to_contain_text("Compliance")
    expect(page.locator("#compliance-rows tr.empty")).to_contain_text("No compliance")
    page.click("#add-compliance")
    expect(page.locator("h1")).to_contain_text("New compliance")
    for absent in ("#reboot-no", "#notify", "#precedence", "#sel-approved"):
        expect(page.locator(absent)).to_have_count(0)  # CMP-07, CMP-11

    # Step 1 by keyboard: the query, then "Next" with Enter.
    page.focus("#device_query")
    page.keyboard.type("hostname = *")
    page.screenshot(path=tmp_path / "compliance-wizard-1.png", full_page=True)
    press(page, "#next-2")
    expect(page.locator("#wizard-step-2")).to_be_visible()
    expect(page.locator("#sel-select")).to_be_checked()
    demo = page.locator(f"#pick-patches input[value='{DEMO}']")
    expect(demo).to_be_visible()
    press(page, f"#pick-patches input[value='{DEMO}']", " ")
    expect(demo).to_be_checked()
    page.screenshot(path=tmp_path / "compliance-wizard-2.png", full_page=True)
    press(page, "#next-3")
    expect(page.locator("#wizard-step-3")).to_be_visible()
    expect(page.locator("#freq-yearly")).to_have_count(0)  # CMP-08
    page.check("#freq-on_demand")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        press(page, "#wizard-save")
    assert answer.value.status == 422  # no name yet: back on the first step
    expect(page.locator("#error-name")).to_be_visible()
    expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
    assert page.input_value("#device_query") == "hostname = *"
    page.fill("#name", "Demo tool fixed")
    press(page, "#next-2")
    press(page, "#next-3")
    expect(page.locator(f"#pick-patches input[value='{DEMO}']")).to_be_checked()
    page.screenshot(path=tmp_path / "compliance-wizard-3.png", full_page=True)
    press(page, "#wizard-save")
    page.wait_for_url(re.compile(r"/compliance/[0-9a-f-]{36}\?client_id="))

    # Detail: counts now, Properties first, then each tab by keyboard.
    expect(page.locator("#count-compliant")).to_have_text("1")
    expect(page.locator("#count-non-compliant")).to_have_text("2")
    expect(page.locator("#count-unknown")).to_have_text("1")
    expect(page.locator("#trend-empty")).to_be_visible()
    facts = page.locator("#compliance-facts")
    expect(facts).to_contain_text(f"1 selected: {DEMO}")
    expect(facts).to_contain_text("Linux")
    expect(page.locator("#tab-properties")).to_have_attribute("aria-selected", "true")
    press(page, "#tab-devices")
    expect(page.locator("#compliance-device-rows tr")).to_have_count(4)
    statuses = dict(
        zip(
            column(page, "#compliance-device-rows", 2),
            column(page, "#compliance-device-rows", 4),
            strict=True,
        )
    )
    assert statuses == {
        "db-1": "Non-Compliant",
        "db-2": "Unknown",
        "web-1": "Non-Compliant",
        "web-2": "Compliant",
    }
    page.screenshot(path=tmp_path / "compliance-devices.png", full_page=True)
    press(page, "#tab-patches")
    expect(page.locator("#compliance-patch-rows tr")).to_have_count(1)
    assert texts(page, "#compliance-patch-rows td")[-1] == "2"
    press(page, "#tab-logs")
    expect(page.locator("#compliance-log-rows")).to_contain_text("create")

    press(page, "#run-now")
    expect(page.locator("#toast")).to_contain_text(
        "Compliance evaluated: 1 compliant, 2 non-compliant, 1 unknown."
    )
    expect(page.locator("#compliance-trend circle.trend-point")).to_have_count(1)
    press(page, "#tab-logs")
    expect(page.locator("#compliance-run-rows tr")).to_have_count(1)
    expect(page.locator("#compliance-log-rows")).to_contain_text("run (run now)")

    # Run Now for one checked device (CMP-15): a partial run, left out of the chart.
    press(page, "#tab-devices")
    press(page, "#compliance-device-rows input[aria-label='Select web-1']", " ")
    page.click("#run-checked-devices")
    expect(page.locator("#toast")).to_contain_text(
        "Compliance evaluated on 1 checked device(s): 0 compliant, 1 non-compliant"
    )
    press(page, "#tab-logs")
    expect(page.locator("#compliance-run-rows tr")).to_have_count(2)
    expect(page.locator("#compliance-run-rows")).to_contain_text("chosen devices")
    expect(page.locator("#compliance-trend circle.trend-point")).to_have_count(1)

    press(page, "#approve-missing-now")  # CMP-15 Approve
    expect(page.locator("#toast")).to_contain_text("1 patch approval added.")
    press(page, "#tab-logs")
    expect(page.locator("#compliance-log-rows")).to_contain_text(f"patch_ids: {DEMO}")
    page.screenshot(path=tmp_path / "compliance.png", full_page=True)


def test_list_search_edit_run_and_remove(page: Page, fleet: Fleet, tmp_path: Path):
    acme = fleet.clients["Acme"]
    for name, query in (
        ("Web servers", "hostname = web-*"),
        ("Databases", "hostname = db-*"),
    ):
        r = fleet.http.post(
            "/api/v1/compliance",
            params={"client_id": acme},
            headers=fleet.admin,
            json={
                "name": name,
                "os_type": "linux",
                "device_query": query,
                "selected_patches": [DEMO],
                "schedule": {"frequency": "daily", "time_of_day": "06:00"},
            },
        )
        assert r.status_code == 201, r.text
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/compliance?client_id={acme}")
    expect(page.locator("#compliance-rows tr")).to_have_count(2)
    assert column(page, "#compliance-rows", 2) == ["Databases", "Web servers"]
    assert column(page, "#compliance-rows", 3) == ["Linux", "Linux"]
    assert column(page, "#compliance-rows", 6) == ["Acme", "Acme"]
    web = page.locator("#compliance-rows tr", has_text="Web servers")
    expect(web.locator("td.counts")).to_contain_text("1 compliant")
    expect(web.locator("td.counts")).to_contain_text("1 non-compliant")
    expect(web.locator("td.counts")).to_contain_text("50.0 %")
    page.screenshot(path=tmp_path / "compliance-list.png", full_page=True)

    page.fill("#compliance-search", "web")
    expect(page.locator("#compliance-rows tr")).to_have_count(1)
    assert column(page, "#compliance-rows", 6) == ["Acme"]  # names kept after search
    assert "search=web" in page.url
    page.fill("#compliance-search", "")
    expect(page.locator("#compliance-rows tr")).to_have_count(2)

    page.check("#select-all-compliance")
    page.click("#bulk-run")
    expect(page.locator("#toast")).to_contain_text(
        "Compliance evaluated for 2 configurations."
    )
    expect(page.locator("#compliance-rows td.last-run .muted")).to_have_count(0)

    web.locator("a.host").click()
    page.click("#edit-compliance")
    expect(page.locator("h1")).to_contain_text("Edit compliance")
    assert page.input_value("#device_query") == "hostname = web-*"
    page.fill("#name", "Web tier")
    press(page, "#next-2")
    press(page, "#next-3")
    expect(page.locator("#freq-daily")).to_be_checked()
    page.click("#wizard-save")
    page.wait_for_url(re.compile(r"/compliance/[0-9a-f-]{36}\?client_id="))
    expect(page.locator("h1")).to_contain_text("Web tier")
    press(page, "#tab-logs")
    expect(page.locator("#compliance-log-rows")).to_contain_text("update")

    page.click("nav.sidemenu >> text=Compliance")
    page.check("#compliance-rows input[aria-label='Select Web tier']")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#bulk-remove")
    expect(page.locator("#toast")).to_contain_text("Removed 1 configuration.")
    expect(page.locator("#compliance-rows tr")).to_have_count(1)
    assert column(page, "#compliance-rows", 2) == ["Databases"]


def test_partner_level_wizard_selects_clients_by_query_only(page: Page, fleet: Fleet):
    fleet.add_client("Globex")
    fleet.enroll("Globex", "gx-1", "10.2.0.11")
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/compliance/new")  # All Clients: partner level (CMP-12)
    expect(page.locator("h1")).to_contain_text("partner level")
    expect(page.locator("#mode-static")).to_have_count(0)  # static lists: client only
    page.fill("#name", "Acme security")
    page.check("#clients-select")
    page.fill("#device_query", "hostname = *")
    press(page, "#next-2")
    page.check(f"#pick-patches input[value='{DEMO}']")
    press(page, "#next-3")
    page.check("#freq-on_demand")
    page.click("#wizard-save")
    error = page.locator("#error-clients")
    expect(error).to_have_text("select at least one client")
    expect(error).to_be_visible()  # reopened on the Devices step
    page.locator("#client-choice label", has_text="Acme").locator("input").check()
    press(page, "#next-2")
    press(page, "#next-3")
    page.click("#wizard-save")
    page.wait_for_url(re.compile(r"/compliance/[0-9a-f-]{36}$"))
    facts = page.locator("#compliance-facts")
    expect(facts.locator("dt:text-is('Level') + dd")).to_have_text("Partner")
    expect(facts.locator("dt:text-is('Device group') + dd")).to_have_text("Acme")
    press(page, "#tab-devices")
    expect(page.locator("#compliance-device-rows tr")).to_have_count(4)
    assert "gx-1" not in column(page, "#compliance-device-rows", 2)
    acme = fleet.clients["Acme"]
    page.goto(f"{fleet.url}/compliance?client_id={acme}")  # partner objects: not here
    expect(page.locator("#compliance-rows tr.empty")).to_be_visible()
