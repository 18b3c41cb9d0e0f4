"""Approvals, Install Now, configurations, job progress and logs in a real Chromium.

The server runs under uvicorn and is seeded over real HTTP (agent enrollment, scans,
job reports); every action goes through the pages as a user would click it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from test_web_ui import BUGFIX_UPDATE, DEMO_UPDATE, Fleet, column, sign_in, texts

from support.clock import FakeClock
from support.live import LiveServer

pytestmark = pytest.mark.browser

DEMO = "apt:demo-tool@1.0-2"
LIB = "apt:libexample1@2.0-3"
POLL_WAIT = 10_000  # ms: the page polls every 2 s; room for a busy machine
PM_ERROR = "E: Sub-process /usr/bin/dpkg returned an error code (1)"


@pytest.fixture
def engine(sqlite_engine):
    """Browser tests run on SQLite only; the API suites cover PostgreSQL."""
    return sqlite_engine


@pytest.fixture
def fleet(live_server: LiveServer) -> Iterator[Fleet]:
    """Acme with web-1 and db-1 (demo-tool and libexample1 missing), web-2 (demo-tool)."""
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        fleet = Fleet(
            live_server.url,
            http,
            {"Authorization": f"Bearer {live_server.admin_token()}"},
        )
        fleet.add_client("Acme")
        for host, ip in (("web-1", "10.1.0.11"), ("web-2", "10.1.0.12")):
            fleet.enroll("Acme", host, ip)
        fleet.enroll("Acme", "db-1", "10.1.0.21")
        fleet.scan(fleet.devices["web-1"], [DEMO_UPDATE, BUGFIX_UPDATE])
        fleet.scan(fleet.devices["web-2"], [DEMO_UPDATE])
        fleet.scan(fleet.devices["db-1"], [DEMO_UPDATE, BUGFIX_UPDATE])
        yield fleet


def api_post(fleet: Fleet, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST to the admin API at the Acme client level."""
    params = {"client_id": fleet.clients["Acme"]}
    return fleet.http.post(path, json=body, params=params, headers=fleet.admin)


def job_details(fleet: Fleet) -> list[dict[str, Any]]:
    """Every job in scope with its patches, through the admin API."""
    listed = fleet.http.get("/api/v1/jobs", headers=fleet.admin).json()
    return [
        fleet.http.get(f"/api/v1/jobs/{j['id']}", headers=fleet.admin).json()
        for j in listed
    ]


def report(
    fleet: Fleet,
    host: str,
    job_id: str,
    clock: FakeClock,
    patches: list[dict[str, Any]],
    *,
    final: bool = False,
) -> None:
    """The agent of ``host`` reports progress of a job (CFG-37)."""
    body = {
        "report_id": str(uuid.uuid4()),
        "order_id": job_id,
        "sent_at": clock().isoformat(),
        "final": final,
        "patches": patches,
    }
    device = fleet.devices[host]
    r = fleet.http.post("/agent/v1/jobs", json=body, headers=device.auth)
    assert r.status_code == 204, r.text


def test_bulk_approve_blocklist_and_install_now(
    page: Page, fleet: Fleet, tmp_path: Path
):
    acme = fleet.clients["Acme"]
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/patches/by-patch?client_id={acme}")
    rows = page.locator("#patch-rows tr")
    expect(rows).to_have_count(2)
    select_all = page.locator("#select-all-patches")
    bar = page.locator("#bulk-bar")
    toast = page.locator("#toast")

    select_all.check()
    bar.get_by_role("button", name="Approve", exact=True).click()
    expect(toast).to_contain_text("Approved 2 patches.")
    # The rows reload by themselves: each now shows its approval, none is checked.
    expect(page.locator("#patch-rows .approval")).to_have_text(["approved", "approved"])
    expect(select_all).not_to_be_checked()
    expect(page.locator("#patch-rows input[name=patch_id]:checked")).to_have_count(0)

    lib = page.locator("#patch-rows tr", has_text="libexample1")
    lib.locator("summary").click()
    page.screenshot(path=tmp_path / "by-patch-menu.png")
    lib.get_by_role("menuitem", name="Blocklist").click()
    expect(toast).to_contain_text(f"Blocklisted {LIB}.")
    expect(lib.locator(".rating")).to_have_text("blocklisted")
    page.screenshot(path=tmp_path / "by-patch-actions.png", full_page=True)

    for name in ("Select demo-tool 1.0-2", "Select libexample1 2.0-3"):
        page.check(f"#patch-rows input[aria-label='{name}']")
    page.click("#bulk-install-menu summary")
    page.check("#bulk-reboot input[value=yes]")
    page.screenshot(path=tmp_path / "by-patch-install.png")
    page.click("#bulk-install")
    expect(toast).to_contain_text("Install Now: 3 jobs created (reboot if required).")

    page.click("nav.sidemenu >> text=Logs")
    expect(page.locator("#log-rows tr").first).to_be_visible()
    page.screenshot(path=tmp_path / "logs.png", full_page=True)
    types = column(page, "#log-rows", 3)
    assert types.count("Bulk Actions") == 1
    assert types.count("Patch") == 1  # the single blocklisting
    assert types.count("Install") == 3  # one entry per job

    page.click("nav.sidemenu >> text=Installed")
    expect(page.locator("#job-rows tr")).to_have_count(3)
    assert sorted(column(page, "#job-rows", 1)) == ["db-1", "web-1", "web-2"]
    assert column(page, "#job-rows", 2) == ["pending"] * 3
    page.screenshot(path=tmp_path / "jobs.png", full_page=True)

    page.click("#job-rows a[aria-label='Details of the job on web-1']")
    expect(page.locator("#job-patch-rows tr")).to_have_count(2)
    statuses = dict(
        zip(
            column(page, "#job-patch-rows", 1),
            column(page, "#job-patch-rows", 5),
            strict=True,
        )
    )
    assert statuses == {"demo-tool": "pending", "libexample1": "skipped"}
    expect(page.locator("#job-patch-rows tr", has_text="libexample1")).to_contain_text(
        "blocklisted"
    )
    page.screenshot(path=tmp_path / "job.png", full_page=True)

    jobs = job_details(fleet)
    assert len(jobs) == 3
    assert {j["reboot"] for j in jobs} == {"yes"}
    pending = {
        p["name"] for j in jobs for p in j["patches"] if p["status"] == "pending"
    }
    assert pending == {"demo-tool"}  # the blocklisted patch is never pending


def test_more_than_100_checked_patches_show_the_service_error(page: Page, fleet: Fleet):
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/patches/by-patch")
    expect(page.locator("#patch-rows tr")).to_have_count(2)
    page.check("#select-all-patches")
    # 99 more checked rows, as a page of more than 100 patches would hold.
    page.evaluate(
        """() => {
          const rows = document.querySelector('#patch-rows');
          for (let i = 0; i < 99; i++) {
            const box = document.createElement('input');
            box.type = 'checkbox'; box.name = 'patch_id'; box.checked = true;
            box.value = 'apt:pkg' + i + '@1.0';
            rows.appendChild(box);
          }
        }"""
    )
    page.locator("#bulk-bar").get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator("#toast [role=alert]")).to_contain_text(
        "bulk actions take at most 100 items; got 101"
    )
    log = fleet.http.get("/api/v1/activity", headers=fleet.admin).json()
    assert log["total"] == 0  # nothing was approved


def test_configuration_wizard_validates_saves_and_runs(
    page: Page, fleet: Fleet, tmp_path: Path
):
    assert api_post(fleet, "/api/v1/patches/approve", {"patch_ids": [DEMO]}).is_success
    acme = fleet.clients["Acme"]
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/configurations?client_id={acme}")
    page.click("#add-configuration")
    expect(page.locator("h1")).to_contain_text("New configuration")

    page.fill("#name", "Weekly web")
    page.fill("#precedence", "5")
    page.fill("#device_query", "hostnme = web-*")
    page.screenshot(path=tmp_path / "wizard-1-devices.png", full_page=True)
    page.click("text=Next: Patches")
    expect(page.locator("#sel-approved")).to_be_checked()
    expect(page.locator("#device_query")).to_be_hidden()
    page.screenshot(path=tmp_path / "wizard-2-patches.png", full_page=True)
    page.click("text=Next: Schedule")
    page.check("#freq-weekly")
    page.check("#weekday-4")  # Friday
    page.fill("#time_of_day", "03:00")
    page.fill("#timezone", "Europe/Berlin")
    page.check("#reboot-yes")
    page.screenshot(path=tmp_path / "wizard-3-schedule.png", full_page=True)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#wizard-save")
    assert answer.value.status == 422

    # Back on step 1, the parser's message next to the query; the rest kept.
    error = page.locator("#error-device_query")
    expect(error).to_be_visible()
    expect(error).to_contain_text('unknown field "hostnme"')
    expect(error).to_contain_text('did you mean "hostname"')
    expect(page.locator("#device_query")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=tmp_path / "wizard-error.png", full_page=True)
    assert page.input_value("#name") == "Weekly web"
    help_path = page.locator("#wizard-step-1 a", has_text="Query language help")
    answer = page.request.get(f"{fleet.url}{help_path.get_attribute('href')}")
    assert answer.ok
    assert "last_seen" in answer.text()
    page.fill("#device_query", "hostname = web-*")
    page.click("text=Next: Patches")
    page.click("text=Next: Schedule")
    expect(page.locator("#weekday-4")).to_be_checked()
    assert page.input_value("#timezone") == "Europe/Berlin"
    page.click("#wizard-save")
    page.wait_for_url(re.compile(r"/configurations/[0-9a-f-]{36}\?client_id="))
    expect(page.locator("#next-run")).to_have_text("2026-12-04 03:00 Europe/Berlin")
    expect(page.locator("#config-logs")).to_contain_text("create")
    page.screenshot(path=tmp_path / "configuration.png", full_page=True)

    page.click("nav.sidemenu >> text=Configurations")
    row = page.locator("#config-rows tr", has_text="Weekly web")
    cells = texts(page, "#config-rows tr:first-child td")
    assert cells[:8] == [
        "Weekly web",
        "Weekly on Friday at 03:00 (Europe/Berlin)",
        "query hostname = web-*",
        "approved",
        "5",
        "2026-12-04 03:00 Europe/Berlin",
        "never",
        "yes",
    ]
    page.screenshot(path=tmp_path / "configurations.png", full_page=True)

    row.get_by_role("button", name="Run Weekly web now").click()
    expect(page.locator("#toast")).to_contain_text("Run started")
    # The list reloads: 12:00 UTC is 13:00 in Berlin.
    expect(row.locator("td.last-run")).to_have_text("2026-11-27 13:00 Europe/Berlin")
    page.click("nav.sidemenu >> text=Installed")
    expect(page.locator("#job-rows tr")).to_have_count(2)
    assert sorted(column(page, "#job-rows", 1)) == ["web-1", "web-2"]  # not db-1


def test_wizard_with_static_devices_and_selected_patches(page: Page, fleet: Fleet):
    acme, db1 = fleet.clients["Acme"], fleet.devices["db-1"]
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/configurations/new?client_id={acme}")
    page.fill("#name", "Pinned db")
    page.check("#mode-static")
    expect(page.locator("#device_query")).to_be_hidden()
    expect(page.locator("#pick-devices li")).to_have_count(3)
    page.click("text=Next: Patches")
    page.click("text=Next: Schedule")
    page.check("#freq-on_demand")
    page.click("#wizard-save")
    error = page.locator("#error-static_devices")
    expect(error).to_have_text("select devices by query or by list")
    expect(error).to_be_visible()  # the wizard reopened on step 1

    page.check(f"#pick-devices input[value='{db1.id}']")
    page.click("text=Next: Patches")
    page.check("#sel-select")
    expect(page.locator("#pick-patches li")).to_have_count(2)
    page.check(f"#pick-patches input[value='{LIB}']")
    page.click("text=Next: Schedule")
    expect(page.locator("#freq-on_demand")).to_be_checked()
    page.click("#wizard-save")
    page.wait_for_url(re.compile(r"/configurations/[0-9a-f-]{36}\?client_id="))
    facts = page.locator("#config-facts")
    expect(facts).to_contain_text("1 static device")
    expect(facts).to_contain_text(f"1 selected: {LIB}")
    expect(page.locator("#next-run")).to_have_text("on demand")

    page.click("#run-now")
    expect(page.locator("#toast")).to_contain_text("Run started")
    expect(page.locator("#config-logs")).to_contain_text("run (run now)")
    (job,) = job_details(fleet)
    assert job["hostname"] == "db-1"
    # A hand-picked patch stands for the approval (CFG-12); nothing else is added.
    assert [(p["name"], p["status"]) for p in job["patches"]] == [
        ("libexample1", "pending")
    ]


def test_device_tab_installs_on_that_device_only(page: Page, fleet: Fleet):
    web2 = fleet.devices["web-2"]
    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/devices/{web2.id}")
    row = page.locator("#device-patches tbody tr", has_text="demo-tool")
    row.locator("summary").click()
    row.get_by_role("menuitem", name="Approve", exact=True).click()
    expect(page.locator("#toast")).to_contain_text(f"Approved {DEMO}.")

    row.locator("summary").click()
    row.get_by_label("Reboot for demo-tool 1.0-2").select_option("force")
    row.get_by_role("menuitem", name="Install now").click()
    expect(page.locator("#toast")).to_contain_text(
        "Install Now: 1 job created (forced reboot)."
    )
    (job,) = job_details(fleet)  # web-1 and db-1 miss demo-tool too: no job there
    assert (job["hostname"], job["reboot"]) == ("web-2", "force")


def test_job_detail_refreshes_itself_when_the_agent_reports(
    page: Page, fleet: Fleet, clock: FakeClock
):
    assert api_post(fleet, "/api/v1/patches/approve", {"patch_ids": [DEMO]}).is_success
    web1 = fleet.devices["web-1"]
    r = api_post(fleet, "/api/v1/install-now", {"device_ids": [web1.id]})
    assert r.status_code == 202, r.text
    (job_id,) = r.json()["jobs"]
    assert [o["kind"] for o in fleet.orders(web1)] == ["install"]

    sign_in(page, fleet.url)
    page.goto(f"{fleet.url}/jobs/{job_id}")
    live = page.locator("#job-live")
    expect(live).to_have_attribute("hx-trigger", "every 2s")
    demo = page.locator("#job-patch-rows tr", has_text="demo-tool")
    expect(demo.locator("td.status")).to_have_text("pending")
    expect(page.locator("#job-patch-rows tr", has_text="libexample1")).to_contain_text(
        "not approved"
    )

    target = {"name": "demo-tool", "version": "1.0-2", "arch": "amd64"}
    report(fleet, "web-1", job_id, clock, [{**target, "status": "installing"}])
    expect(demo.locator("td.status")).to_have_text("installing", timeout=POLL_WAIT)
    expect(live.locator(".job-state")).to_contain_text("running")

    failed = {**target, "status": "failed", "message": PM_ERROR}
    report(fleet, "web-1", job_id, clock, [failed], final=True)
    expect(demo.locator("td.status")).to_have_text("failed", timeout=POLL_WAIT)
    expect(demo.locator("td.msg")).to_have_text(PM_ERROR)
    expect(live).to_have_attribute("data-final", "true")
    assert live.get_attribute("hx-trigger") is None  # polling stops when final
    assert page.inner_text("#job-tally").startswith("2 of 2 patches done")


def test_logs_filter_by_object_type_and_date(page: Page, fleet: Fleet):
    assert api_post(fleet, "/api/v1/patches/approve", {"patch_ids": [DEMO]}).is_success
    body = {"patch_ids": [LIB], "rating": "allowlisted"}
    assert api_post(fleet, "/api/v1/patches/rate", body).is_success
    config = {
        "name": "Nightly <b>db</b>",
        "device_query": "hostname = db-*",
        "schedule": {"frequency": "daily", "time_of_day": "01:00"},
    }
    assert api_post(fleet, "/api/v1/configurations", config).status_code == 201

    sign_in(page, fleet.url)
    page.click("nav.sidemenu >> text=Logs")
    expect(page.locator("#log-rows tr")).to_have_count(3)
    page.select_option("#log-object-type", "Configuration")
    page.click("#log-filters >> text=Apply")
    expect(page.locator("#log-rows tr")).to_have_count(1)
    assert column(page, "#log-rows", 2) == ["Nightly <b>db</b>"]  # text, not markup
    assert column(page, "#log-rows", 3) == ["Configuration"]
    assert column(page, "#log-rows", 4) == ["create"]
    assert "object_type=Configuration" in page.url

    page.fill("#log-filters input[name=until]", "2026-11-26")
    page.click("#log-filters >> text=Apply")
    expect(page.locator("#log-rows")).to_have_text("No activity matches the filters.")
    page.click("#log-filters >> text=Reset")
    expect(page.locator("#log-rows tr")).to_have_count(3)
    assert sorted(column(page, "#log-rows", 3)) == ["Configuration", "Patch", "Patch"]
