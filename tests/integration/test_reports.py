"""Reports: CSV streamed from the database, printable PDFs with charts, and scheduled
reports e-mailed as attachments (issue "Compliance, Overview dashboard and reports",
item 4), through the real API on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import importlib.util
import io
import subprocess
import sys
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import insert
from test_agent_api import scan_body

from patchfleet.core.tenancy import Scope
from patchfleet.server.db.rows import (
    CveRow,
    DeviceCveRow,
    DeviceRow,
    DeviceUpdateRow,
    JobPatchRow,
    KevRow,
    OrderRow,
)
from patchfleet.server.notify.mail import SmtpMailer
from patchfleet.server.scheduler.tick import tick
from patchfleet.server.services import reports
from patchfleet.server.services.reports import ReportKind
from patchfleet.server.services.summaries import Outlets
from patchfleet.server.settings import Settings

OPENSSL = {
    "name": "openssl",
    "installed_version": "3.0.11-1",
    "candidate_version": "3.0.15-1",
    "arch": "amd64",
    "classification": "security",
    "severity": "critical",
    # A comma, quotes and a line break must survive CSV quoting.
    "source": 'Debian "bookworm", security\nmain',
    "advisory_id": "DSA-5532-1",
    "cves": ["CVE-2024-0001", "CVE-2024-0002"],
}
CURL = {
    "name": "curl",
    "installed_version": "7.88.1-10",
    "candidate_version": "7.88.1-10+deb12u8",
    "arch": "amd64",
    "classification": "security",
    "severity": "high",
    "advisory_id": "=HYPERLINK(1)",  # would run as a formula in a spreadsheet
}
TZDATA = {
    "name": "tzdata",
    "installed_version": "2024a-0",
    "candidate_version": "2024b-0",
    "arch": "all",
    "classification": "bugfix",
    "severity": "low",
}
WEEKLY_MONDAY_7 = {
    "frequency": "weekly",
    "weekdays": [0],
    "time_of_day": "07:00",
    "timezone": "UTC",
}


def scan(api, clock, cred, updates):
    r = api.http.post(
        "/agent/v1/scans", json=scan_body(clock, updates=updates), headers=cred
    )
    assert r.status_code == 204, r.text


@pytest.fixture
def fleet(api, clock):
    """Acme (web-01 with three missing patches, db-01 with one) and Globex (app-01)."""
    acme, acme_token = api.new_client("Acme Corp")
    globex, globex_token = api.new_client("Globex")
    _, web = api.enroll(acme_token, "web-01", os_name="Debian GNU/Linux 12")
    _, db = api.enroll(acme_token, "db-01", os_name="Debian GNU/Linux 12")
    _, app = api.enroll(globex_token, "app-01", os_name="Debian GNU/Linux 12")
    scan(api, clock, web, [OPENSSL, CURL, TZDATA])
    scan(api, clock, db, [OPENSSL])
    scan(api, clock, app, [TZDATA])
    return {"acme": acme, "globex": globex}


def get(api, path, **params):
    return api.http.get(path, params=params, headers=api.admin)


def parsed(text):
    return list(csv.reader(io.StringIO(text, newline="")))


# --- catalogue and CSV ----------------------------------------------------------


def test_catalogue_lists_every_kind_with_its_columns(api):
    r = get(api, "/api/v1/reports")

    assert r.status_code == 200, r.text
    found = {k["kind"]: k for k in r.json()}
    assert list(found) == [str(k) for k in ReportKind]
    assert found["missing-patches"]["columns"] == list(reports.MISSING_COLUMNS)
    for kind in ("missing-patches", "installed-patches", "cve-exposure"):
        assert found[kind]["available"] is True
    for kind, module in (("compliance", "compliance"), ("sla", "sla")):
        installed = importlib.util.find_spec(f"patchfleet.server.services.{module}")
        assert found[kind]["available"] is (installed is not None)


def test_missing_patches_csv_streams_quoted_rows_of_the_client_only(api, fleet):
    r = get(api, "/api/v1/reports/missing-patches.csv", client_id=fleet["acme"])

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == (
        'attachment; filename="missing-patches-acme-corp-20261127-1200.csv"'
    )
    header, *rows = parsed(r.text)
    assert header == list(reports.MISSING_COLUMNS)
    assert [(row[0], row[1], row[3]) for row in rows] == [
        ("Acme Corp", "db-01", "openssl"),
        ("Acme Corp", "web-01", "curl"),
        ("Acme Corp", "web-01", "openssl"),
        ("Acme Corp", "web-01", "tzdata"),
    ]
    openssl = rows[0]
    assert openssl[12] == OPENSSL["source"]  # round-trips through quoting
    assert openssl[11] == "CVE-2024-0001 CVE-2024-0002"
    assert openssl[13] == "2026-11-27T12:00:00Z"
    assert rows[1][10] == "'=HYPERLINK(1)"  # CSV injection defused
    assert "\r\n" in r.text  # RFC 4180 line ends


def test_all_clients_csv_covers_every_client_and_a_client_user_is_pinned(api, fleet):
    everything = parsed(get(api, "/api/v1/reports/missing-patches.csv").text)
    assert sorted({row[0] for row in everything[1:]}) == ["Acme Corp", "Globex"]
    assert len(everything) == 1 + 5

    r = api.http.post(
        "/api/v1/users",
        json={
            "username": "globex-viewer",
            "password": "globex-password-1",
            "client_id": fleet["globex"],
            "role": "viewer",
        },
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    viewer = api.login("globex-viewer", "globex-password-1")
    own = api.http.get("/api/v1/reports/missing-patches.csv", headers=viewer)
    assert [row[1] for row in parsed(own.text)[1:]] == ["app-01"]
    other = api.http.get(
        "/api/v1/reports/missing-patches.pdf",
        params={"client_id": fleet["acme"]},
        headers=viewer,
    )
    assert other.status_code == 404


def test_unknown_kind_and_unknown_query_parameters_are_refused(api):
    assert get(api, "/api/v1/reports/patch-love.csv").status_code == 422
    r = get(api, "/api/v1/reports/missing-patches.csv", colour="red")
    assert r.status_code == 422
    assert "colour" in str(r.json()["detail"])
    assert api.http.get("/api/v1/reports/missing-patches.csv").status_code == 401


def test_a_kind_whose_service_is_not_installed_answers_422(api, monkeypatch):
    # As on a server without the SLA service: its module cannot be imported.
    monkeypatch.setitem(sys.modules, "patchfleet.server.services.sla", None)

    r = get(api, "/api/v1/reports/sla.csv")

    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == (
        "the sla report is not available: the sla service is not installed on this "
        "server"
    )
    listed = {k["kind"]: k for k in get(api, "/api/v1/reports").json()}
    assert listed["sla"]["available"] is False
    assert "not installed" in listed["sla"]["reason"]
    assert listed["compliance"]["available"] is (
        importlib.util.find_spec("patchfleet.server.services.compliance") is not None
    )


def _add_job(session, device_id, patches, at):
    order_id = uuid.uuid4()
    session.add(
        OrderRow(
            id=order_id,
            device_id=device_id,
            kind="install",
            status="completed",
            created_at=at,
            completed_at=at,
        )
    )
    session.flush()
    for name, status in patches:
        session.add(
            JobPatchRow(
                order_id=order_id,
                name=name,
                arch="amd64",
                version="2.0-1",
                patch_id=f"apt:{name}@2.0-1",
                advisory_id="DSA-1-1",
                status=status,
                updated_at=at,
            )
        )
    return order_id


def _device_id(api, hostname):
    with api.http.app.state.sessionmaker() as session:
        return session.query(DeviceRow.id).filter_by(hostname=hostname).scalar()


def test_installed_patches_lists_installed_job_patches_only(api, fleet, clock):
    web, app = _device_id(api, "web-01"), _device_id(api, "app-01")
    with api.http.app.state.sessionmaker.begin() as session:
        job = _add_job(
            session,
            web,
            [("openssl", "installed"), ("curl", "failed")],
            clock() - timedelta(days=2),
        )
        _add_job(session, app, [("tzdata", "installed")], clock())

    text = get(api, "/api/v1/reports/installed-patches.csv", client_id=fleet["acme"])
    header, *rows = parsed(text.text)

    assert header == list(reports.INSTALLED_COLUMNS)
    assert rows == [
        [
            "Acme Corp",
            "web-01",
            "openssl",
            "amd64",
            "2.0-1",
            "DSA-1-1",
            "2026-11-25T12:00:00Z",
            str(job),
        ]
    ]
    pdf = get(api, "/api/v1/reports/installed-patches.pdf")
    first = pdf_text(pdf.content, first_page_only=True)
    assert "Patches installed per week (last 8 weeks)" in first
    assert "My MSP" in first  # the partner's name at All Clients


def test_cve_exposure_rows_carry_the_cve_facts(api, fleet, clock):
    web, app = _device_id(api, "web-01"), _device_id(api, "app-01")
    with api.http.app.state.sessionmaker.begin() as session:
        session.add(CveRow(id="CVE-2024-0001", cvss_score=9.8, cvss_severity=""))
        session.add(KevRow(cve="CVE-2024-0001", date_added=clock().date()))
        for device in (web, app):
            session.add(
                DeviceCveRow(
                    device_id=device,
                    cve="CVE-2024-0001",
                    package="openssl",
                    version="3.0.11-1",
                    fixed="3.0.15-1",
                    state="fixed-installable",
                    first_seen_at=clock(),
                )
            )

    r = get(api, "/api/v1/reports/cve-exposure.csv", client_id=fleet["acme"])
    header, *rows = parsed(r.text)

    assert header == list(reports.CVE_COLUMNS)
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert (row["Device"], row["CVE"], row["Severity"], row["CVSS"]) == (
        "web-01",
        "CVE-2024-0001",
        "critical",
        "9.8",
    )
    assert (row["KEV"], row["Fix state"], row["Fixed version"]) == (
        "yes",
        "fixed-installable",
        "3.0.15-1",
    )
    assert int(row["Priority"]) > 0
    first = pdf_text(
        get(api, "/api/v1/reports/cve-exposure.pdf", client_id=fleet["acme"]).content,
        first_page_only=True,
    )
    assert "CVEs by severity" in first
    assert "Known exploited (KEV)" in first


# --- 100,000 rows in bounded memory -----------------------------------------------

ROWS = 100_000
DEVICES = 100
CVES = " ".join(f"CVE-2024-{n:05d}" for n in range(10, 22))  # ~170 bytes a row


def test_a_hundred_thousand_row_csv_streams_in_bounded_memory(api, fleet, clock):
    sessions = api.http.app.state.sessionmaker
    with sessions.begin() as session:
        device_ids = list(
            session.scalars(
                insert(DeviceRow).returning(DeviceRow.id),
                [
                    {
                        "uuid": uuid.uuid4(),
                        "client_id": fleet["globex"],
                        "credential_hash": uuid.uuid4().hex,
                        "hostname": f"bulk-{n:03d}",
                        "enrolled_at": clock(),
                        "last_seen_at": clock(),
                    }
                    for n in range(DEVICES)
                ],
            )
        )
    per_device = ROWS // DEVICES
    with sessions.begin() as session:
        for device_id in device_ids:  # one bulk INSERT of 1,000 rows per device
            session.execute(
                insert(DeviceUpdateRow),
                [
                    {
                        "device_id": device_id,
                        "name": f"package-{n:04d}",
                        "arch": "amd64",
                        "backend": "apt",
                        "installed_version": "1.0-1",
                        "candidate_version": "1.0-2",
                        "classification": "security",
                        "severity": "high",
                        "advisory_id": f"DSA-{n:04d}-1",
                        "cves": CVES,
                        "state": "installable",
                        "patch_id": f"apt:package-{n:04d}@1.0-2",
                        "first_seen_at": clock(),
                    }
                    for n in range(per_device)
                ],
            )
    scope = Scope(api_partner_id(api), (fleet["globex"],), fleet["globex"])

    tracemalloc.start()
    try:
        with sessions() as session:
            found = reports.csv_report(
                session, scope=scope, kind=ReportKind.MISSING_PATCHES, now=clock()
            )
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            rows, size = 0, 0
            for chunk in found.chunks:
                size += len(chunk)
                rows += chunk.count(b"\r\n")  # no value here holds a line break
            peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()

    assert rows == 1 + ROWS + 1  # the header, the bulk rows and app-01's tzdata
    # The file is far bigger than what was ever held: nothing was buffered whole.
    assert size > 25_000_000
    assert peak < 10_000_000, f"peak memory growth {peak:,} bytes"


def api_partner_id(api):
    return api.http.get("/api/v1/me", headers=api.admin).json()["partner_id"]


# --- PDF ---------------------------------------------------------------------------


def pdf_text(content, *, first_page_only=False):
    pages = ["-f", "1", "-l", "1"] if first_page_only else []
    done = subprocess.run(
        ["pdftotext", "-layout", *pages, "-", "-"],
        input=content,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()


def render_first_page(content, tmp_path: Path) -> Path:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-png", "-f", "1", "-l", "1", "-r", "50", str(pdf), str(pdf)],
        check=True,
        capture_output=True,
    )
    [png] = tmp_path.glob("report.pdf*.png")
    return png


def assert_not_blank(png: Path):
    with Image.open(png) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width > 300
        assert height > 200
        darkest, lightest = image.convert("L").getextrema()
    assert lightest == 255  # a white page ...
    assert darkest < 100  # ... with dark text and a chart on it


def test_missing_patches_pdf_opens_with_the_client_figures_and_a_chart(
    api, fleet, tmp_path
):
    r = get(api, "/api/v1/reports/missing-patches.pdf", client_id=fleet["acme"])

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].endswith('-20261127-1200.pdf"')
    assert r.content.startswith(b"%PDF-")
    assert_not_blank(render_first_page(r.content, tmp_path))
    first = pdf_text(r.content, first_page_only=True)
    assert "Missing patches" in first
    assert "Acme Corp" in first
    assert "Globex" not in first
    assert "Client report · generated 2026-11-27 12:00 UTC" in first
    # Headline figures: 4 missing (device-patch pairs), 2 of 2 devices affected,
    # 3 distinct patches, 3 security + critical.
    assert "2 of 2" in first
    figures = first.split()
    assert {"4", "3"} <= set(figures)
    # The chart: its title, a bar label per severity.
    assert "Missing patches by severity" in first
    for label in ("Critical", "High", "Medium", "Low", "None"):
        assert label in figures
    everything = pdf_text(r.content)
    assert "Missing patches: details" in everything
    assert "DSA-5532-1" in everything


def test_pdf_table_is_capped_with_a_note_pointing_to_the_csv(api, fleet, clock):
    scope = Scope(api_partner_id(api), (fleet["acme"],), fleet["acme"])
    with api.http.app.state.sessionmaker() as session:
        found = reports.pdf_report(
            session,
            scope=scope,
            kind=ReportKind.MISSING_PATCHES,
            now=clock(),
            row_limit=2,
        )

    text = pdf_text(found.content)
    assert "Showing the first 2 of 4 rows; full list in the CSV." in text
    assert "db-01" in text
    assert "tzdata" not in text


def _compliance_installed():
    return importlib.util.find_spec("patchfleet.server.services.compliance")


@pytest.mark.skipif(
    _compliance_installed() is None,
    reason="patchfleet.server.services.compliance cannot be imported",
)
def test_compliance_pdf_has_the_client_the_percentage_and_a_chart(
    api, fleet, clock, tmp_path
):
    token = api.http.post(
        f"/api/v1/clients/{fleet['acme']}/enrollment-tokens",
        json={"label": "web-02"},
        headers=api.admin,
    ).json()["token"]
    _, web2 = api.enroll(token, "web-02", os_name="Debian GNU/Linux 12")
    scan(api, clock, web2, [TZDATA])  # misses none of the selected patches
    r = api.http.post(
        "/api/v1/compliance",
        params={"client_id": fleet["acme"]},
        json={
            "name": "OpenSSL baseline",
            "os_type": "linux",
            "schedule": {"frequency": "on_demand"},
            "device_query": "hostname = web-*",
            "patch_selection": "select",
            "selected_patches": ["apt:openssl@3.0.15-1"],
        },
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    summary = get(api, "/api/v1/compliance/summary", client_id=fleet["acme"]).json()
    [item] = summary["items"]
    assert (item["compliant"], item["non_compliant"]) == (1, 1)

    pdf = get(api, "/api/v1/reports/compliance.pdf", client_id=fleet["acme"])

    assert pdf.status_code == 200, pdf.text
    assert_not_blank(render_first_page(pdf.content, tmp_path))
    first = pdf_text(pdf.content, first_page_only=True)
    assert "Acme Corp" in first
    assert reports.percent_text(item["percent"]) == "50.0 %"
    assert "50.0 %" in first
    assert "Compliance by configuration (%)" in first
    assert "OpenSSL baseline" in first  # the chart's bar label
    rows = parsed(
        get(api, "/api/v1/reports/compliance.csv", client_id=fleet["acme"]).text
    )
    assert rows[0] == list(reports.COMPLIANCE_COLUMNS)
    assert sorted((r[2], r[4]) for r in rows[1:]) == [
        ("web-01", "non_compliant"),
        ("web-02", "compliant"),
    ]


# --- scheduled reports ---------------------------------------------------------------


def create_schedule(api, client_id=None, **body):
    params = {"client_id": client_id} if client_id else {}
    return api.http.post(
        "/api/v1/report-schedules",
        params=params,
        json={
            "kind": "missing-patches",
            "recipients": ["ops@acme.example"],
            "schedule": WEEKLY_MONDAY_7,
            **body,
        },
        headers=api.admin,
    )


def test_report_schedules_crud_and_scope(api, fleet):
    r = create_schedule(api, fleet["acme"], recipients=["Ops <ops@acme.example>"])
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["level"], made["format"], made["recipients"]) == (
        "client",
        "pdf",
        ["ops@acme.example"],
    )
    assert made["next_run_at"] == "2026-11-30T07:00:00Z"  # the next Monday
    partner = create_schedule(api, kind="cve-exposure", format="both")
    assert partner.status_code == 201, partner.text
    assert partner.json()["level"] == "partner"

    at_acme = get(api, "/api/v1/report-schedules", client_id=fleet["acme"]).json()
    assert [s["id"] for s in at_acme] == [made["id"]]
    everywhere = {s["id"] for s in get(api, "/api/v1/report-schedules").json()}
    assert everywhere == {made["id"], partner.json()["id"]}
    path = f"/api/v1/report-schedules/{made['id']}"
    assert get(api, path, client_id=fleet["globex"]).status_code == 404

    changed = api.http.put(
        path,
        params={"client_id": fleet["acme"]},
        json={
            "kind": "installed-patches",
            "format": "csv",
            "recipients": ["cio@acme.example", "ops@acme.example"],
            "schedule": {"frequency": "daily", "time_of_day": "18:00"},
        },
        headers=api.admin,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["kind"], changed.json()["next_run_at"]) == (
        "installed-patches",
        "2026-11-27T18:00:00Z",
    )
    assert api.http.delete(path, headers=api.admin).status_code == 204
    assert get(api, path).status_code == 404
    actions = [
        e["action"]
        for e in get(api, "/api/v1/activity", object_type="Report").json()["items"]
    ]
    assert actions == [
        "delete schedule",
        "update schedule",
        "create schedule",
        "create schedule",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recipients": ["not an address"]}, "recipients"),
        ({"recipients": []}, "recipients"),
        ({"schedule": {"frequency": "weekly", "weekdays": []}}, "weekdays"),
        ({"format": "docx"}, "format"),
    ],
    ids=["bad-address", "nobody", "weekly-without-days", "unknown-format"],
)
def test_invalid_report_schedules_are_refused_at_the_field(api, fleet, body, field):
    r = create_schedule(api, fleet["acme"], **body)

    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field


def test_a_viewer_may_download_but_not_schedule(api, fleet):
    r = api.http.post(
        "/api/v1/users",
        json={
            "username": "acme-viewer",
            "password": "acme-password-1",
            "client_id": fleet["acme"],
            "role": "viewer",
        },
        headers=api.admin,
    )
    assert r.status_code == 201, r.text
    viewer = api.login("acme-viewer", "acme-password-1")

    pdf = api.http.get("/api/v1/reports/missing-patches.pdf", headers=viewer)
    refused = api.http.post(
        "/api/v1/report-schedules",
        json={
            "kind": "missing-patches",
            "recipients": ["ops@acme.example"],
            "schedule": WEEKLY_MONDAY_7,
        },
        headers=viewer,
    )

    assert pdf.status_code == 200
    assert refused.status_code == 403
    assert api.http.get("/api/v1/report-schedules", headers=viewer).json() == []


def smtp_outlets(sink):
    return Outlets(
        SmtpMailer(
            Settings(
                smtp_host=sink.host,
                smtp_port=sink.port,
                smtp_from="patchfleet@msp.example",
                smtp_timeout_seconds=5,
            )
        )
    )


def attachments(message):
    return {
        part.get_filename(): part.get_content() for part in message.iter_attachments()
    }


def test_due_report_is_mailed_as_pdf_and_the_next_run_scheduled(
    api, fleet, clock, smtp_sink
):
    made = create_schedule(api, fleet["acme"]).json()
    sessions = api.http.app.state.sessionmaker
    outlets = smtp_outlets(smtp_sink)

    assert tick(sessions, clock(), outlets=outlets)["reports"] == 0
    clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert tick(sessions, clock(), outlets=outlets)["reports"] == 1
    assert tick(sessions, clock.advance(minutes=1), outlets=outlets)["reports"] == 0

    [got] = smtp_sink.received
    assert got.rcpt_tos == ("ops@acme.example",)
    assert got.message["Subject"] == "[patchfleet] Acme Corp: Missing patches report"
    assert "Missing patches: 4" in got.message.get_body(("plain",)).get_content()
    files = attachments(got.message)
    assert list(files) == ["missing-patches-acme-corp-20261130-0700.pdf"]
    assert files["missing-patches-acme-corp-20261130-0700.pdf"].startswith(b"%PDF-")
    after = get(api, f"/api/v1/report-schedules/{made['id']}").json()
    assert after["last_run_at"] == "2026-11-30T07:00:00Z"
    assert after["next_run_at"] == "2026-12-07T07:00:00Z"
    assert after["last_error"] == ""
    [entry] = [
        e
        for e in get(api, "/api/v1/activity", object_type="Report").json()["items"]
        if e["action"].startswith("send")
    ]
    assert (entry["action"], entry["actor"]) == ("send (schedule)", "patchfleet")
    assert entry["details"]["files"] == list(files)


def test_a_refused_delivery_is_kept_and_retried_sooner(api, fleet, clock, smtp_sink):
    made = create_schedule(api, fleet["acme"], format="csv").json()
    sessions = api.http.app.state.sessionmaker
    outlets = smtp_outlets(smtp_sink)
    smtp_sink.data_reply = "451 4.3.0 Try again later"

    clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert tick(sessions, clock(), outlets=outlets)["reports"] == 0
    failed = get(api, f"/api/v1/report-schedules/{made['id']}").json()
    assert failed["last_error"] == "451 4.3.0 Try again later"
    assert failed["last_run_at"] is None
    assert failed["next_run_at"] == "2026-11-30T07:15:00Z"

    smtp_sink.data_reply = None
    assert tick(sessions, clock.advance(minutes=15), outlets=outlets)["reports"] == 1
    done = get(api, f"/api/v1/report-schedules/{made['id']}").json()
    assert (done["last_error"], done["next_run_at"]) == ("", "2026-12-07T07:00:00Z")
    [got] = smtp_sink.received
    [(name, content)] = attachments(got.message).items()
    assert name.endswith(".csv")
    rows = parsed(content if isinstance(content, str) else content.decode())
    assert rows[0] == list(reports.MISSING_COLUMNS)
    assert len(rows) == 1 + 4


def test_send_now_mails_both_formats_and_keeps_the_schedule(
    api, fleet, clock, smtp_sink
):
    made = create_schedule(
        api, None, format="both", schedule={"frequency": "on_demand"}
    ).json()
    api.http.app.state.outlets = smtp_outlets(smtp_sink)

    r = api.http.post(f"/api/v1/report-schedules/{made['id']}/send", headers=api.admin)

    assert r.status_code == 200, r.text
    assert r.json() == {
        "sent": True,
        "files": [
            "missing-patches-my-msp-20261127-1200.pdf",
            "missing-patches-my-msp-20261127-1200.csv",
        ],
        "error": "",
    }
    [got] = smtp_sink.received
    assert got.message["Subject"] == "[patchfleet] My MSP: Missing patches report"
    assert got.message.get_content_type() == "multipart/mixed"
    assert sorted(attachments(got.message)) == sorted(r.json()["files"])
    after = get(api, f"/api/v1/report-schedules/{made['id']}").json()
    assert (after["last_run_at"], after["next_run_at"]) == (
        "2026-11-27T12:00:00Z",
        None,
    )


@pytest.mark.skipif(
    importlib.util.find_spec("patchfleet.server.services.sla") is None,
    reason="patchfleet.server.services.sla cannot be imported",
)
def test_sla_report_lists_open_items_with_their_deadlines(api, fleet):
    csv_text = get(api, "/api/v1/reports/sla.csv", client_id=fleet["acme"]).text
    header, *rows = parsed(csv_text)
    expected = get(api, "/api/v1/sla/items", client_id=fleet["acme"]).json()

    assert header == list(reports.SLA_COLUMNS)
    assert len(rows) == expected["total"] > 0
    assert {r[1] for r in rows} == {"web-01", "db-01"}
    assert {r[10] for r in rows} <= {"within", "due-soon", "overdue", "met", "missed"}
    first = pdf_text(
        get(api, "/api/v1/reports/sla.pdf", client_id=fleet["acme"]).content,
        first_page_only=True,
    )
    assert "Remediation SLA" in first
    assert "Items by SLA status" in first
    assert "Open items" in first


def test_a_partly_refused_delivery_is_not_sent_twice(api, fleet, clock, smtp_sink):
    made = create_schedule(
        api, fleet["acme"], recipients=["ops@acme.example", "gone@acme.example"]
    ).json()
    smtp_sink.refuse = {"gone@acme.example": "550 5.1.1 No such user"}
    sessions = api.http.app.state.sessionmaker

    clock.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert tick(sessions, clock(), outlets=smtp_outlets(smtp_sink))["reports"] == 1

    [got] = smtp_sink.received
    assert got.rcpt_tos == ("ops@acme.example",)
    after = get(api, f"/api/v1/report-schedules/{made['id']}").json()
    assert after["last_error"] == (
        "550 recipients refused: gone@acme.example: 550 5.1.1 No such user"
    )
    assert after["last_run_at"] == "2026-11-30T07:00:00Z"
    assert after["next_run_at"] == "2026-12-07T07:00:00Z"
