"""The Overview in a real Chromium against a real uvicorn server (OV-01..OV-15).

The fleet is seeded over real HTTP the way agents and operators do it: enrollment,
scans, Install Now with agent job reports (a failure, a success, a reboot), a
configuration run and a scan schedule due soon, a compliance configuration. Every
tile is then followed to its list in the browser, which must be exactly as long.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from support.clock import START
from support.live import ADMIN_PASSWORD, LiveServer

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

OPENSSL = {
    "name": "openssl",
    "installed_version": "3.0.15-1~deb12u1",
    "candidate_version": "3.0.16-1~deb12u1",
    "arch": "amd64",
    "classification": "security",
    "severity": "high",
    "advisory_id": "DSA-5900-1",
}
KERNEL = {
    "name": "linux-image-amd64",
    "installed_version": "6.1.128-1",
    "candidate_version": "6.1.129-1",
    "arch": "amd64",
    "classification": "critical",
    "severity": "critical",
    "state": "held",
}
TZDATA = {
    "name": "tzdata",
    "installed_version": "2024a-0+deb12u1",
    "candidate_version": "2025b-0+deb12u1",
    "arch": "all",
    "classification": "bugfix",
    "severity": "none",
}


@pytest.fixture
def engine(sqlite_engine):
    """Browser tests run on SQLite only; the API suite covers PostgreSQL."""
    return sqlite_engine


@dataclass
class Seeder:
    """Drives the live server's API as agents and an operator would."""

    http: httpx.Client
    admin: dict[str, str]
    clients: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    devices: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)

    def ok(
        self, method: str, path: str, body: object = None, **params
    ) -> httpx.Response:
        r = self.http.request(
            method, path, json=body, params=params, headers=self.admin
        )
        assert r.status_code < 300, r.text
        return r

    def client(self, name: str) -> int:
        self.clients[name] = self.ok("POST", "/api/v1/clients", {"name": name}).json()[
            "id"
        ]
        self.tokens[name] = self.ok(
            "POST", f"/api/v1/clients/{self.clients[name]}/enrollment-tokens", {}
        ).json()["token"]
        return self.clients[name]

    def enroll(self, client: str, hostname: str) -> str:
        facts = {
            "hostname": hostname,
            "os_family": "debian",
            "os_name": "Debian GNU/Linux",
            "os_version": "12",
            "package_manager": "apt",
        }
        r = self.http.post(
            "/agent/v1/enroll",
            json={"enrollment_token": self.tokens[client], "facts": facts},
        )
        assert r.status_code == 201, r.text
        auth = {"Authorization": f"Bearer {r.json()['credential']}"}
        self.devices[hostname] = (r.json()["device_id"], auth)
        return r.json()["device_id"]

    def scan(self, hostname: str, updates: list[dict], *, reboot: bool = False) -> None:
        report = {
            "scan_id": str(uuid.uuid4()),
            "started_at": (START - timedelta(minutes=6)).isoformat(),
            "finished_at": (START - timedelta(minutes=5)).isoformat(),
            "backend": "apt",
            "reboot_required": reboot,
            "updates": updates,
        }
        r = self.http.post(
            "/agent/v1/scans", json=report, headers=self.devices[hostname][1]
        )
        assert r.status_code == 204, r.text

    def install(self, hostname: str, outcomes: dict[str, str], **report) -> None:
        """Install Now, then the agent's final report with one outcome per package."""
        device_id, auth = self.devices[hostname]
        (job,) = self.ok(
            "POST", "/api/v1/install-now", {"device_ids": [device_id]}
        ).json()["jobs"]
        patches = self.ok("GET", f"/api/v1/jobs/{job}").json()["patches"]
        body = {
            "report_id": str(uuid.uuid4()),
            "order_id": job,
            "sent_at": START.isoformat(),
            "final": True,
            "patches": [
                {
                    "name": p["name"],
                    "version": p["version"],
                    "arch": p["arch"],
                    "status": outcomes[p["name"]],
                }
                for p in patches
                if p["name"] in outcomes
            ],
            **report,
        }
        r = self.http.post("/agent/v1/jobs", json=body, headers=auth)
        assert r.status_code == 204, r.text


@pytest.fixture
def seeded(live_server: LiveServer) -> Iterator[Seeder]:
    """Acme (three devices, one never scanned, markup in a name) and Globex (one)."""
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        s = Seeder(http, {"Authorization": f"Bearer {live_server.admin_token()}"})
        s.client("Acme")
        s.client("Globex")
        acme_web = s.enroll("Acme", "acme-web-01")
        acme_db = s.enroll("Acme", "acme-db-01")
        s.enroll("Acme", "fresh-<b>01</b>")  # never scanned
        s.enroll("Globex", "globex-app-01")
        s.scan("acme-web-01", [OPENSSL, KERNEL, TZDATA])
        s.scan("acme-db-01", [OPENSSL, TZDATA], reboot=True)
        s.scan("globex-app-01", [OPENSSL, KERNEL])
        patch_ids = ["apt:openssl@3.0.16-1~deb12u1", "apt:linux-image-amd64@6.1.129-1"]
        s.ok("POST", "/api/v1/patches/approve", {"patch_ids": patch_ids})
        s.install(
            "acme-web-01", {"openssl": "installed", "linux-image-amd64": "failed"}
        )
        s.install(
            "globex-app-01",
            {"openssl": "installed", "linux-image-amd64": "installed"},
            reboot_required=True,
            rebooted=True,
        )
        acme = s.clients["Acme"]
        nobody = "hostname = nobody-*"
        config = s.ok(
            "POST",
            "/api/v1/configurations",
            {
                "name": "Nightly <i>",
                "device_query": nobody,
                "schedule": {"frequency": "on_demand"},
            },
            client_id=acme,
        ).json()["id"]
        s.ok("POST", f"/api/v1/configurations/{config}/run")
        soon = START + timedelta(hours=3)
        once = {
            "frequency": "once",
            "time_of_day": soon.strftime("%H:%M"),
            "timezone": "UTC",
            "start_date": soon.date().isoformat(),
        }
        s.ok(
            "POST",
            "/api/v1/scan-schedules",
            {"name": "Afternoon scan", "device_query": nobody, "schedule": once},
            client_id=acme,
        )
        s.ok(
            "POST",
            "/api/v1/compliance",
            {
                "name": "Baseline",
                "os_type": "linux",
                "schedule": {"frequency": "on_demand"},
                "static_devices": [acme_web, acme_db],
                "selected_patches": ["apt:openssl@3.0.16-1~deb12u1"],
            },
            client_id=acme,
        )
        yield s


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def tile_values(page: Page) -> dict[str, tuple[str, str]]:
    """Each tile's (shown value, link), by tile key."""
    found = {}
    for tile in page.locator("#overview-tiles a.stat").all():
        key = (tile.get_attribute("id") or "").removeprefix("tile-")
        found[key] = (
            tile.locator(".value").inner_text(),
            tile.get_attribute("href") or "",
        )
    return found


def listed(page: Page, url: str) -> int:
    """Open a drill-down; the rows it lists (checked against its total)."""
    page.goto(url)
    rows = page.locator("#drilldown-rows tr:not(.empty)").count()
    assert int(page.inner_text("#drilldown-total")) == rows
    if not rows:
        expect(page.locator("#drilldown-rows tr.empty")).to_have_text("No rows to show")
    return rows


def test_every_tile_equals_its_list_in_the_browser(
    page: Page, seeded: Seeder, live_server: LiveServer
):
    url = live_server.url
    sign_in(page, url)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "overview.png", full_page=True)
    tiles = tile_values(page)
    assert {k: v for k, (v, _) in tiles.items()} == {
        "devices": "4",
        "scanned": "3",
        "never-scanned": "1",
        "security": "5",
        "security-installable": "3",
        "failed": "1",
        "installed": "3",
        "reboot": "2",
        "rebooted": "1",
        "non-compliant": "2",
        "runs": "2",
        "cve-devices": "0",
        "kev": "0",
    }
    for key, (value, href) in tiles.items():
        assert listed(page, f"{url}{href}") == int(value), key
        csv_link = page.locator("#csv-export").get_attribute("href")
        exported = page.request.get(f"{url}{csv_link}")
        assert exported.ok
        assert len(list(csv.DictReader(io.StringIO(exported.text())))) == int(value), (
            key
        )
    page.goto(f"{url}/overview/never-scanned")
    expect(page.locator("#drilldown-rows a.host")).to_have_text(["fresh-<b>01</b>"])
    assert page.locator("#drilldown-rows b").count() == 0  # markup stays text
    page.screenshot(path=ARTIFACTS / "overview-drilldown.png", full_page=True)


def test_client_overview_rows_drill_down_per_client(
    page: Page, seeded: Seeder, live_server: LiveServer
):
    url = live_server.url
    sign_in(page, url)
    rows = page.locator("#client-rows tr")
    expect(rows).to_have_count(3)  # the bootstrap client has no devices: zeros
    names = rows.locator("td:first-child").all_inner_texts()
    assert names == ["Acme", "Default Client", "Globex"]
    for cell in page.locator("#client-rows td[data-tile] a").all():
        value, href = cell.inner_text(), cell.get_attribute("href") or ""
        assert "client_id=" in href
        sub = page.context.new_page()
        assert listed(sub, f"{url}{href}") == int(value), href
        sub.close()

    page.click("#client-switcher summary")
    page.click("#client-switcher >> text=Globex")
    page.wait_for_url(f"{url}/?client_id={seeded.clients['Globex']}")
    assert page.locator("#client-overview").count() == 0
    assert page.inner_text("#tile-devices .value") == "1"


def test_runs_chart_and_compliance_show_their_rows(
    page: Page, seeded: Seeder, live_server: LiveServer
):
    sign_in(page, live_server.url)
    marks = page.locator("#runs-timeline circle")
    assert sorted(m.get_attribute("data-timing") or "" for m in marks.all()) == [
        "next",
        "ran",
    ]
    expect(page.locator("#run-rows tr")).to_have_count(2)
    expect(page.locator("#run-rows")).to_contain_text("Nightly <i>")
    expect(page.locator("#compliance-rows tr")).to_have_count(1)
    expect(page.locator("#compliance-rows")).to_contain_text("Baseline")
    bars = page.locator("#severity-chart [data-missing]")
    assert sum(int(b.get_attribute("data-missing") or 0) for b in bars.all()) == 7


def test_a_new_client_shows_no_rows_never_an_error(
    page: Page, seeded: Seeder, live_server: LiveServer
):
    """OV-15."""
    new = seeded.client("New Co")
    sign_in(page, live_server.url)
    answer = page.goto(f"{live_server.url}/?client_id={new}")
    assert answer is not None
    assert answer.status == 200
    assert {v for v, _ in tile_values(page).values()} <= {"0", "—"}
    for empty in ("#severity-empty", "#run-rows tr.empty", "#trend-empty"):
        expect(page.locator(empty)).to_have_text("No rows to show")
    assert listed(page, f"{live_server.url}/overview/devices?client_id={new}") == 0
    page.screenshot(path=ARTIFACTS / "overview-empty.png", full_page=True)
