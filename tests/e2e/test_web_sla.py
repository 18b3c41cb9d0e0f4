"""The SLA pages in a real Chromium (BP-08): tiles equal their lists, the chart and the
roll-up drill down, and the policy form works from the keyboard.

A live server on an injected clock is seeded over real HTTP (agent enrollment, scans
and job reports in the protocol's format).  ``demo-tool`` 1.0-2 fixes no known CVE, so
its items have no priority band and the "low and none" window applies: 180 days by
default, 30 days for Globex (its own policy).

==========  =======  ===============================================  ==========
device      client   history (days after the start)                   status
==========  =======  ===============================================  ==========
acme-1      Acme     missing since 0                                  due soon
acme-2      Acme     missing since 0, installed at 177                met
acme-3      Acme     missing since 177                                within
globex-1    Globex   missing since 0, installed at 100 (due at 30)    missed
globex-2    Globex   missing since 0                                  overdue
globex-3    Globex   missing since 0                                  overdue
==========  =======  ===============================================  ==========

The pages are opened at day 177.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Page, expect
from test_web_cves import pager_total, rows, sign_in

from support.clock import FakeClock
from support.live import LiveServer

pytestmark = pytest.mark.browser

PATCH = "apt:demo-tool@1.0-2"
MISSING = {
    "name": "demo-tool",
    "installed_version": "1.0-1",
    "candidate_version": "1.0-2",
    "arch": "all",
    "classification": "bugfix",
}
TILES = {"open": 4, "within": 1, "due-soon": 1, "overdue": 2, "met": 1, "missed": 1}


@pytest.fixture
def engine(sqlite_engine):
    """Browser tests run on SQLite only; the API suites cover PostgreSQL."""
    return sqlite_engine


@dataclass
class Fleet:
    """Clients and devices driven through the agent and management APIs."""

    url: str
    http: httpx.Client
    clock: FakeClock
    clients: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    devices: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)

    def add_client(self, name: str) -> None:
        r = self.http.post("/api/v1/clients", json={"name": name})
        assert r.status_code == 201, r.text
        self.clients[name] = r.json()["id"]
        r = self.http.post(
            f"/api/v1/clients/{self.clients[name]}/enrollment-tokens", json={}
        )
        assert r.status_code == 201, r.text
        self.tokens[name] = r.json()["token"]

    def enroll_missing(self, client: str, hostname: str) -> None:
        """Enroll a device whose scan reports demo-tool 1.0-2 missing (first seen now)."""
        facts = {"hostname": hostname, "os_family": "debian", "os_version": "12"}
        r = self.http.post(
            "/agent/v1/enroll",
            json={"enrollment_token": self.tokens[client], "facts": facts},
        )
        assert r.status_code == 201, r.text
        auth = {"Authorization": f"Bearer {r.json()['credential']}"}
        self.devices[hostname] = (r.json()["device_id"], auth)
        self.scan(hostname, [MISSING])

    def scan(self, hostname: str, updates: list[dict[str, str]]) -> None:
        now = self.clock().isoformat()
        body = {
            "scan_id": str(uuid.uuid4()),
            "started_at": now,
            "finished_at": now,
            "backend": "apt",
            "updates": updates,
        }
        r = self.http.post(
            "/agent/v1/scans", json=body, headers=self.devices[hostname][1]
        )
        assert r.status_code == 204, r.text

    def install(self, hostname: str) -> None:
        """Install Now, the agent's reports, and its rescan with nothing missing."""
        device_id, auth = self.devices[hostname]
        r = self.http.post(
            "/api/v1/install-now",
            json={"device_ids": [device_id], "patch_ids": [PATCH]},
        )
        assert r.status_code == 202, r.text
        [job] = r.json()["jobs"]
        target = {"name": "demo-tool", "version": "1.0-2", "arch": "all"}
        for status, final in (("installing", False), ("installed", True)):
            body = {
                "report_id": str(uuid.uuid4()),
                "order_id": job,
                "sent_at": self.clock().isoformat(),
                "final": final,
                "patches": [{**target, "status": status}],
            }
            r = self.http.post("/agent/v1/jobs", json=body, headers=auth)
            assert r.status_code == 204, r.text
        self.scan(hostname, [])


@pytest.fixture
def fleet(live_server: LiveServer, clock: FakeClock) -> Iterator[Fleet]:
    """The devices and history of the module docstring, at day 177."""
    login = httpx.post(
        f"{live_server.url}/api/v1/tokens",
        json={"name": "sla"},
        headers={"Authorization": f"Bearer {live_server.admin_token()}"},
    )
    assert login.status_code == 201, login.text
    admin = {"Authorization": f"Bearer {login.json()['token']}"}
    with httpx.Client(base_url=live_server.url, headers=admin, timeout=10) as http:
        fleet = Fleet(live_server.url, http, clock)
        fleet.add_client("Acme")
        fleet.add_client("Globex")
        r = http.put(
            "/api/v1/sla/policy",
            params={"client_id": fleet.clients["Globex"]},
            json={
                "kev_days": 7,
                "critical_days": 7,
                "high_days": 30,
                "medium_days": 30,
                "low_days": 30,
            },
        )
        assert r.status_code == 200, r.text
        for client, host in (
            ("Acme", "acme-1"),
            ("Acme", "acme-2"),
            ("Globex", "globex-1"),
            ("Globex", "globex-2"),
            ("Globex", "globex-3"),
        ):
            fleet.enroll_missing(client, host)
        assert http.post(
            "/api/v1/patches/approve", json={"patch_ids": [PATCH]}
        ).is_success
        clock.advance(days=100)
        fleet.install("globex-1")
        clock.advance(days=77)
        fleet.install("acme-2")
        fleet.enroll_missing("Acme", "acme-3")
        yield fleet


def tile(page: Page, name: str) -> int:
    return int(page.inner_text(f"#tile-{name} .value"))


def listed(page: Page) -> int:
    """Rows of the SLA item list, checked against the pager's total."""
    count = rows(page, "#sla-rows")
    assert count == pager_total(page, "#sla-rows-pager")
    return count


def test_tiles_chart_and_roll_up_drill_down_to_lists_of_their_length(
    page: Page, fleet: Fleet, tmp_path
):
    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=SLA")
    page.wait_for_url(f"{fleet.url}/sla")
    expect(page.locator("nav.sidemenu a[aria-current=page]")).to_have_text("SLA")
    assert {name: tile(page, name) for name in TILES} == TILES
    expect(page.locator("#stat-median .value")).to_have_text("138.5")  # 100 and 177
    expect(page.locator("#stat-within-percent .value")).to_have_text("50%")
    page.screenshot(path=tmp_path / "sla.png", full_page=True)

    for name, count in TILES.items():
        page.goto(f"{fleet.url}/sla")
        page.click(f"#tile-{name}")
        page.wait_for_url(re.compile(r"/sla/items\?"))
        assert listed(page) == count, name
        if name != "open":
            statuses = page.locator("#sla-rows tr").evaluate_all(
                "rows => rows.map(r => r.dataset.status)"
            )
            assert set(statuses) == {name}

    # The chart: one row per client, each status segment a link to its list.
    page.goto(f"{fleet.url}/sla")
    segments = page.locator("#sla-chart rect[data-status]")
    drawn = {
        (s.get_attribute("data-status"), int(s.get_attribute("data-count") or 0))
        for s in segments.all()
    }
    assert drawn == {("due-soon", 1), ("within", 1), ("overdue", 2)}
    globex = fleet.clients["Globex"]
    page.click(f"#chart-{globex}-overdue")
    page.wait_for_url(re.compile(rf"client_id={globex}.*status=overdue"))
    assert listed(page) == 2
    expect(page.locator("#sla-rows td a", has_text="globex-2")).to_be_visible()

    # The roll-up: one row per client; every count opens a list of that length.
    page.goto(f"{fleet.url}/sla")
    rollup = page.locator("#sla-rollup-rows tr")
    expect(rollup).to_have_count(3)
    expect(rollup.locator("td:first-child")).to_have_text(
        ["Acme", "Default Client", "Globex"]
    )
    expect(
        page.locator(f"#sla-rollup-rows tr[data-client='{globex}'] td").nth(1)
    ).to_have_text("own policy")
    for status, count in (("missed", 1), ("overdue", 2), ("within", 0)):
        page.goto(f"{fleet.url}/sla")
        cell = page.locator(
            f"#sla-rollup-rows tr[data-client='{globex}'] td[data-status='{status}'] a"
        )
        expect(cell).to_have_text(str(count))
        cell.click()
        page.wait_for_url(re.compile(rf"status={status}"))
        assert listed(page) == count


def test_item_list_filters_and_client_scope(page: Page, fleet: Fleet):
    sign_in(page, fleet.url)
    acme = fleet.clients["Acme"]
    page.goto(f"{fleet.url}/sla")
    page.click("#client-switcher summary")  # the switcher keeps the SLA page
    page.click("#client-switcher a >> text=Acme")
    page.wait_for_url(f"{fleet.url}/sla?client_id={acme}")
    assert {name: tile(page, name) for name in TILES} == {
        "open": 2,
        "within": 1,
        "due-soon": 1,
        "overdue": 0,
        "met": 1,
        "missed": 0,
    }
    expect(page.locator("#sla-rollup-rows tr")).to_have_count(1)
    page.click("#tile-met")
    page.wait_for_url(re.compile(r"status=met"))
    row = page.locator("#sla-rows tr").first
    expect(row).to_have_attribute("data-host", "acme-2")
    expect(row.locator("td.time-to-patch")).to_have_text("177.0")
    # Narrow the whole list from the filter form (htmx swaps the rows).
    page.goto(f"{fleet.url}/sla/items?client_id={acme}")
    assert listed(page) == 3
    page.select_option("#sla-filters select[name=status]", "open")
    expect(page.locator("#sla-rows tr")).to_have_count(2)
    page.fill("#sla-search", "acme-3")
    expect(page.locator("#sla-rows tr")).to_have_count(1)
    expect(page.locator("#sla-rows tr").first).to_have_attribute(
        "data-status", "within"
    )
    assert "search=acme-3" in page.url


def test_policy_form_from_the_keyboard(page: Page, fleet: Fleet):
    sign_in(page, fleet.url)
    acme = fleet.clients["Acme"]
    page.goto(f"{fleet.url}/sla?client_id={acme}")
    parent = page.locator("#sla-policy-form").get_by_label("Use Parent Level")
    expect(parent).to_be_checked()
    for label in ("Critical", "High", "Medium", "Low and none"):
        expect(
            page.locator("#sla-policy-form").get_by_label(label, exact=True)
        ).to_be_editable()

    # Untick Use Parent Level, Tab through the fields, type, Enter submits.
    parent.focus()
    page.keyboard.press("Space")
    expect(parent).not_to_be_checked()
    page.keyboard.press("Tab")
    expect(page.locator("#kev_days")).to_be_focused()
    for _ in range(4):
        page.keyboard.press("Tab")
    expect(page.locator("#low_days")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("0")  # out of range: refused at the field
    page.keyboard.press("Enter")
    expect(page.locator("#policy-errors")).to_be_visible()
    expect(page.locator("#low_days")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-low_days")).to_contain_text("1 to 3650")
    expect(parent).not_to_be_checked()  # what was typed stays

    page.locator("#low_days").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("1")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"saved=true"))
    expect(page.locator("#sla-saved")).to_be_visible()
    expect(page.locator("#low_days")).to_have_value("1")
    expect(
        page.locator("#sla-policy-form").get_by_label("Use Parent Level")
    ).not_to_be_checked()
    # A 1-day window: acme-1 (177 days old) is overdue, acme-3 (new) due soon.
    assert (tile(page, "overdue"), tile(page, "due-soon"), tile(page, "within")) == (
        1,
        1,
        0,
    )
    r = fleet.http.get("/api/v1/sla/policy", params={"client_id": acme})
    assert (r.json()["source"], r.json()["effective"]["low_days"]) == ("client", 1)

    # Back to the parent level with the keyboard: the default applies again.
    page.locator("#sla-policy-form").get_by_label("Use Parent Level").focus()
    page.keyboard.press("Space")
    page.locator("#save-policy").focus()
    with page.expect_navigation():  # the same URL again: wait for the new page
        page.keyboard.press("Enter")
    assert tile(page, "overdue") == 0
    r = fleet.http.get("/api/v1/sla/policy", params={"client_id": acme})
    assert (r.json()["source"], r.json()["own"]["low_days"]) == ("default", 1)
