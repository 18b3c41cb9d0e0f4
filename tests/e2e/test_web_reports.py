"""The Reports page in a real Chromium: downloads in the client switcher's scope, a
scheduled report through the form, Send Now, and a screenshot for reviewers.

The server runs under uvicorn and is seeded over real HTTP (agent scans).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from test_web_ui import BUGFIX_UPDATE, DEMO_UPDATE, Fleet, settled, sign_in, texts

from support.live import LiveServer

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def engine(sqlite_engine):
    """Browser tests run on SQLite only; the API suites cover PostgreSQL."""
    return sqlite_engine


@pytest.fixture
def fleet(live_server: LiveServer) -> Iterator[Fleet]:
    """Acme (web-01 missing one patch, db-01 two) and Globex (app-01 one)."""
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
        fleet.scan(db, [DEMO_UPDATE, BUGFIX_UPDATE])
        fleet.scan(app, [DEMO_UPDATE])
        yield fleet


def download(page: Page, button: str, folder: Path) -> Path:
    """Click a download button; the saved file, under its suggested name."""
    with page.expect_download() as started:
        page.click(button)
    done = started.value
    target = folder / done.suggested_filename
    done.save_as(target)
    return target


def test_reports_page_downloads_schedules_and_sends(
    page: Page, fleet: Fleet, tmp_path: Path
):
    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=Reports")
    expect(page.locator("h1")).to_contain_text("Reports")
    expect(page.locator("h1")).to_contain_text("All Clients")
    expect(page.locator("nav.sidemenu a[aria-current=page]")).to_have_text("Reports")
    kinds = texts(page, "#report-kind option")
    assert kinds[:3] == ["Missing patches", "Installed patches", "CVE exposure"]

    # The client switcher keeps the page and narrows the scope.
    page.click("#client-switcher summary")
    page.click("#client-switcher >> text=Acme")
    expect(page).to_have_url(re.compile(r"/reports\?client_id=\d+$"))
    expect(page.locator("h1")).to_contain_text("Acme")

    page.select_option("#report-kind", "missing-patches")
    saved = download(page, "#download-csv", tmp_path)
    assert saved.name == "missing-patches-acme-20261127-1200.csv"
    with saved.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header[:4] == ["Client", "Device", "OS", "Package"]
    assert sorted((r[1], r[3]) for r in rows) == [
        ("acme-db-01", "demo-tool"),
        ("acme-db-01", "libexample1"),
        ("acme-web-01", "demo-tool"),
    ]
    pdf = download(page, "#download-pdf", tmp_path)
    assert pdf.name == "missing-patches-acme-20261127-1200.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")

    # A wrong address is shown at its field; the rest of the form is kept.
    expect(page.locator("#report-schedule-rows")).to_contain_text(
        "No scheduled reports yet"
    )
    page.select_option("#schedule-kind", "cve-exposure")
    page.check("#format-both")
    page.fill("#recipients", "ops@acme.example, not-an-address")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#schedule-save")
    assert answer.value.status == 422
    expect(page.locator("#error-recipients")).to_contain_text("not-an-address")
    assert page.input_value("#schedule-kind") == "cve-exposure"

    page.fill("#recipients", "ops@acme.example, cio@acme.example")
    page.check("#freq-weekly")
    page.fill("#time_of_day", "07:30")
    page.click("#schedule-save")
    expect(page).to_have_url(re.compile(r"/reports\?client_id=\d+$"))
    row = page.locator("#report-schedule-rows tr").first
    expect(row).to_contain_text("CVE exposure")
    expect(row).to_contain_text("PDF and CSV")
    expect(row).to_contain_text("ops@acme.example, cio@acme.example")
    expect(row).to_contain_text("Weekly on Monday at 07:30 (UTC)")
    expect(row.locator(".last-run")).to_contain_text("never")

    page.click("#report-schedule-rows >> text=Send Now")
    expect(page.locator("#toast")).to_contain_text("Report e-mailed")
    expect(page.locator("#toast")).to_contain_text(
        "cve-exposure-acme-20261127-1200.pdf"
    )
    settled(page)
    expect(row.locator(".last-run")).not_to_contain_text("never")

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "reports.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")
