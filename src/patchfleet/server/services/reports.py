"""Reports: a registry of kinds, each as streamed CSV and as printable PDF.

Every kind has a title, column headers, a row generator that streams from the
database (never all rows in memory) and a summary: headline figures and a chart.
Missing patches, installed patches and CVE exposure read their rows here; compliance
and SLA come from their services, imported when asked for, and answer "not
available" (422) on a server without them. One module because it is one registry;
the PDF layout lives in ``report_pdf`` and the e-mailed schedules in
``report_schedules``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import islice

from sqlalchemy.orm import Session

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.tenancy import Scope
from patchfleet.core.updates import Severity
from patchfleet.server.db.queries import reports as q
from patchfleet.server.services import cves
from patchfleet.server.services.report_pdf import (
    Chart,
    Figure,
    ReportDocument,
    build_pdf,
    cell_text,
)

PDF_ROW_LIMIT = 5_000  # rows in a PDF's table; the CSV has them all
CSV_CHUNK_ROWS = 500  # rows per chunk of a streamed CSV
_FORMULA_START = frozenset("=+-@\t\r")  # first characters a spreadsheet runs
_SEVERITY_COLOURS = ("#b42318", "#e8590c", "#f0b400", "#2f5d9b", "#7a869a")


class ReportKind(StrEnum):
    """What a report lists."""

    MISSING_PATCHES = "missing-patches"
    INSTALLED_PATCHES = "installed-patches"
    CVE_EXPOSURE = "cve-exposure"
    COMPLIANCE = "compliance"
    SLA = "sla"


class ReportFormat(StrEnum):
    """What a scheduled report attaches."""

    PDF = "pdf"
    CSV = "csv"
    BOTH = "both"


class ReportUnavailableError(InvalidInputError):
    """A report kind whose service is not installed on this server (422)."""


Row = Sequence[object]


@dataclass(frozen=True)
class ReportSummary:
    """Headline figures, the chart, and how many rows the full report has."""

    figures: tuple[Figure, ...]
    chart: Chart
    rows: int


@dataclass(frozen=True)
class ReportDefinition:
    """One kind of report.

    ``rows`` and ``summary`` take ``(session, scope, now)`` and open their own
    transactions; ``rows`` yields one sequence per row, in ``columns`` order, while
    it streams from the database.
    """

    kind: ReportKind
    title: str
    columns: tuple[str, ...]
    rows: Callable[[Session, Scope, datetime], Generator[Row]]
    summary: Callable[[Session, Scope, datetime], ReportSummary]


@dataclass(frozen=True)
class ReportInfo:
    """A kind as listed to users: available or why not."""

    kind: ReportKind
    title: str
    columns: tuple[str, ...]
    available: bool
    reason: str = ""


@dataclass(frozen=True)
class ReportFile:
    """A finished report file."""

    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class ReportStream:
    """A CSV report as it streams: UTF-8 chunks of whole rows, header first."""

    filename: str
    media_type: str
    chunks: Iterator[bytes]


# Missing patches ---------------------------------------------------------------------

MISSING_COLUMNS = (
    "Client",
    "Device",
    "OS",
    "Package",
    "Arch",
    "Installed version",
    "Available version",
    "Classification",
    "Severity",
    "State",
    "Advisory",
    "CVEs",
    "Source",
    "First seen",
)


def _missing_rows(session: Session, scope: Scope, _now: datetime) -> Generator[Row]:
    with (
        session.begin(),
        closing(q.missing_patch_rows(session, scope.client_ids)) as rs,
    ):
        yield from rs


def _severity_chart(title: str, counts: dict[str, int]) -> Chart:
    return Chart(
        title=title,
        labels=tuple(s.value.capitalize() for s in Severity),
        values=tuple(float(counts.get(s.value, 0)) for s in Severity),
        colours=_SEVERITY_COLOURS,
    )


def _missing_summary(session: Session, scope: Scope, _now: datetime) -> ReportSummary:
    with session.begin():
        totals = q.missing_patch_totals(session, scope.client_ids)
        by_severity = q.missing_by_severity(session, scope.client_ids)
        devices = q.device_count(session, scope.client_ids)
    return ReportSummary(
        figures=(
            Figure("Missing patches", f"{totals.rows:,}"),
            Figure("Devices affected", f"{totals.devices:,} of {devices:,}"),
            Figure("Distinct patches", f"{totals.patches:,}"),
            Figure("Security + critical", f"{int(totals.security):,}"),
        ),
        chart=_severity_chart("Missing patches by severity", by_severity),
        rows=int(totals.rows),
    )


# Installed patches -------------------------------------------------------------------

INSTALLED_COLUMNS = (
    "Client",
    "Device",
    "Package",
    "Arch",
    "Version",
    "Advisory",
    "Installed at",
    "Job",
)
WEEKS = 8  # bars of the installed-patches chart


def _installed_rows(session: Session, scope: Scope, _now: datetime) -> Generator[Row]:
    with (
        session.begin(),
        closing(q.installed_patch_rows(session, scope.client_ids)) as rs,
    ):
        yield from rs


def _installed_summary(session: Session, scope: Scope, now: datetime) -> ReportSummary:
    edges = [now - timedelta(weeks=WEEKS - i) for i in range(WEEKS + 1)]
    with session.begin():
        totals = q.installed_totals(session, scope.client_ids)
        weekly = q.installed_between(session, scope.client_ids, edges)
    return ReportSummary(
        figures=(
            Figure("Patches installed", f"{totals.rows:,}"),
            Figure("Devices patched", f"{totals.devices:,}"),
            Figure("Packages", f"{totals.packages:,}"),
            Figure("Last 7 days", f"{weekly[-1]:,}"),
        ),
        chart=Chart(
            title=f"Patches installed per week (last {WEEKS} weeks)",
            labels=tuple(f"{e:%d %b}" for e in edges[:-1]),
            values=tuple(float(n) for n in weekly),
        ),
        rows=int(totals.rows),
    )


# CVE exposure ------------------------------------------------------------------------

CVE_COLUMNS = (
    "Client",
    "Device",
    "CVE",
    "Severity",
    "CVSS",
    "KEV",
    "EPSS",
    "Priority",
    "Package",
    "Installed version",
    "Fixed version",
    "Fix state",
    "First seen",
)
_ALL = 1_000_000_000  # a page size meaning "every item"


def _cve_rows(session: Session, scope: Scope, now: datetime) -> Generator[Row]:
    """Device-CVE rows; the per-CVE facts (one entry per CVE) are ranked first."""
    facts = {
        c.cve: (c.severity, c.cvss, c.kev, c.epss, c.priority)
        for c in cves.list_cves(session, scope=scope, now=now, page_size=_ALL).items
    }
    unknown = ("none", None, False, None, None)
    with session.begin(), closing(q.cve_exposure_rows(session, scope.client_ids)) as rs:
        for client, host, cve, package, version, fixed, state, seen in rs:
            yield (
                client,
                host,
                cve,
                *facts.get(cve, unknown),
                package,
                version,
                fixed,
                state,
                seen,
            )


def _cve_summary(session: Session, scope: Scope, now: datetime) -> ReportSummary:
    found = cves.insights(session, scope=scope, now=now)
    with session.begin():
        rows = q.cve_exposure_count(session, scope.client_ids)
    return ReportSummary(
        figures=(
            Figure("CVEs", f"{found.cves:,}"),
            Figure(
                "Devices affected", f"{found.impacted_devices:,} of {found.devices:,}"
            ),
            Figure("Known exploited (KEV)", f"{found.kev:,}"),
            Figure("Fix installable now", f"{found.installable:,}"),
        ),
        chart=_severity_chart("CVEs by severity", found.by_severity),
        rows=rows,
    )


# Compliance and SLA: from their services, imported when a report asks -------------

COMPLIANCE_COLUMNS = (
    "Configuration",
    "Client",
    "Device",
    "OS",
    "Status",
    "Missing patches",
    "Missing patch ids",
    "Last scan",
)
SLA_COLUMNS = (
    "Client",
    "Device",
    "Kind",
    "Item",
    "Title",
    "Priority",
    "KEV",
    "Fix state",
    "First seen",
    "Due",
    "Status",
    "Days left",
    "Installed at",
    "Days to patch",
)
CHART_BARS = 12  # configurations in the compliance chart (the least compliant)
_STATUS_COLOURS = ("#2b8a3e", "#f0b400", "#b42318", "#2f5d9b", "#7a869a")


def percent_text(value: float | None) -> str:
    """A percentage as shown on reports (``87.5 %``; ``n/a`` without data)."""
    return "n/a" if value is None else f"{value:.1f} %"


def _unavailable(name: str, exc: ModuleNotFoundError) -> ReportUnavailableError:
    """The 422 of a kind whose service module is not installed (other import errors
    are bugs and re-raised)."""
    if exc.name != f"patchfleet.server.services.{name}":
        raise exc
    return ReportUnavailableError(
        f"the {name} report is not available: the {name} service is not installed "
        "on this server",
        loc=("path", "kind"),
    )


def _compliance() -> ReportDefinition:
    """Compliance (CMP-*): each selected device per enabled configuration."""
    try:
        import patchfleet.server.services.compliance as compliance
    except ModuleNotFoundError as exc:
        raise _unavailable("compliance", exc) from None

    def rows(session: Session, scope: Scope, now: datetime) -> Generator[Row]:
        for config in compliance.list_in_scope(session, scope=scope, now=now):
            if not config.enabled:
                continue
            for d in compliance.devices(
                session, scope=scope, config_id=config.id, now=now
            ):
                yield (
                    config.name,
                    d.client_name,
                    d.hostname,
                    d.os_family,
                    d.status,
                    d.missing_count,
                    " ".join(d.missing),
                    d.last_scan_at,
                )

    def summary(session: Session, scope: Scope, now: datetime) -> ReportSummary:
        found = compliance.compliance_summary(session, scope=scope, now=now)
        compliant = sum(i.compliant for i in found.items)
        checked = sum(i.compliant + i.non_compliant + i.unknown for i in found.items)
        shown = sorted(found.items, key=lambda i: (i.percent or 0.0, i.name))
        return ReportSummary(
            figures=(
                Figure(
                    "Compliance",
                    percent_text(
                        round(100 * compliant / checked, 1) if checked else None
                    ),
                ),
                Figure("Configurations", f"{len(found.items):,}"),
                Figure("Compliant device checks", f"{compliant:,} of {checked:,}"),
                Figure("Non-compliant devices", f"{found.non_compliant_devices:,}"),
            ),
            chart=Chart(
                title="Compliance by configuration (%)"
                if len(shown) <= CHART_BARS
                else f"Compliance by configuration (%), the {CHART_BARS} lowest",
                labels=tuple(i.name[:24] for i in shown[:CHART_BARS]),
                values=tuple(i.percent or 0.0 for i in shown[:CHART_BARS]),
                label_format="%.1f",
                colours=("#2f5d9b",) * len(shown[:CHART_BARS]),
                value_max=100.0,
            ),
            rows=checked,
        )

    return ReportDefinition(
        ReportKind.COMPLIANCE, "Compliance", COMPLIANCE_COLUMNS, rows, summary
    )


def _sla() -> ReportDefinition:
    """Remediation SLA (BP-08): open items and recent remediations, most urgent first."""
    try:
        import patchfleet.server.services.sla as sla
    except ModuleNotFoundError as exc:
        raise _unavailable("sla", exc) from None

    def rows(session: Session, scope: Scope, now: datetime) -> Generator[Row]:
        for i in sla.sla_items(session, scope=scope, now=now, page_size=_ALL).items:
            yield (
                i.client_name,
                i.hostname,
                str(i.kind),
                i.key,
                i.title,
                i.band,
                i.kev,
                i.fix_state,
                i.first_seen_at,
                i.due_at,
                str(i.status),
                i.days_left,
                i.installed_at,
                i.time_to_patch_days,
            )

    def summary(session: Session, scope: Scope, now: datetime) -> ReportSummary:
        t = sla.sla_summary(session, scope=scope, now=now).totals
        counts = (t.within, t.due_soon, t.overdue, t.met, t.missed)
        median = "n/a" if t.median_days is None else f"{t.median_days:.1f}"
        return ReportSummary(
            figures=(
                Figure("Remediated within SLA", percent_text(t.within_sla_percent)),
                Figure("Open items", f"{t.open:,}"),
                Figure("Overdue", f"{t.overdue:,}"),
                Figure("Median days to patch", median),
            ),
            chart=Chart(
                title="Items by SLA status",
                labels=("Within SLA", "Due soon", "Overdue", "Met", "Missed"),
                values=tuple(float(n) for n in counts),
                colours=_STATUS_COLOURS,
            ),
            rows=t.open + t.remediated,
        )

    return ReportDefinition(
        ReportKind.SLA, "Remediation SLA", SLA_COLUMNS, rows, summary
    )


# The registry ------------------------------------------------------------------------

_BUILT_IN = {
    d.kind: d
    for d in (
        ReportDefinition(
            ReportKind.MISSING_PATCHES,
            "Missing patches",
            MISSING_COLUMNS,
            _missing_rows,
            _missing_summary,
        ),
        ReportDefinition(
            ReportKind.INSTALLED_PATCHES,
            "Installed patches",
            INSTALLED_COLUMNS,
            _installed_rows,
            _installed_summary,
        ),
        ReportDefinition(
            ReportKind.CVE_EXPOSURE,
            "CVE exposure",
            CVE_COLUMNS,
            _cve_rows,
            _cve_summary,
        ),
    )
}
_OPTIONAL: dict[ReportKind, tuple[str, Callable[[], ReportDefinition]]] = {
    ReportKind.COMPLIANCE: ("Compliance", _compliance),
    ReportKind.SLA: ("Remediation SLA", _sla),
}


def definition(kind: ReportKind) -> ReportDefinition:
    """The definition of ``kind``; raises ``ReportUnavailableError`` when missing."""
    if kind in _BUILT_IN:
        return _BUILT_IN[kind]
    return _OPTIONAL[kind][1]()


def title_of(kind: ReportKind) -> str:
    """The title of a kind, available or not."""
    return _BUILT_IN[kind].title if kind in _BUILT_IN else _OPTIONAL[kind][0]


def catalogue() -> list[ReportInfo]:
    """Every kind, with whether this server can produce it."""
    found = []
    for kind in ReportKind:
        try:
            d = definition(kind)
        except ReportUnavailableError as exc:
            found.append(ReportInfo(kind, title_of(kind), (), False, str(exc)))
        else:
            found.append(ReportInfo(kind, d.title, d.columns, True))
    return found


# Files -------------------------------------------------------------------------------


def csv_cell(value: object) -> str:
    """A CSV cell: ISO 8601 UTC times, and text a spreadsheet would run as a formula
    prefixed with ``'`` (CSV injection). Text, by far the most common, goes first."""
    if type(value) is str:
        return f"'{value}" if value[:1] in _FORMULA_START else value
    if value is None:
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return cell_text(value)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


def _csv_chunks(columns: Sequence[str], rows: Generator[Row]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: CRLF, quotes doubled where needed
    writer.writerow(columns)
    with closing(rows):
        for n, row in enumerate(rows, 1):
            writer.writerow(map(csv_cell, row))
            if n % CSV_CHUNK_ROWS == 0:
                yield _drain(buffer)
    yield _drain(buffer)


def tenant_of(session: Session, scope: Scope) -> str:
    """The client's name, or the partner's at All Clients (the report's cover)."""
    with session.begin():
        name = q.tenant_name(
            session, partner_id=scope.partner_id, client_id=scope.client_id
        )
    return name or ("All Clients" if scope.is_partner_level else "Client")


def _filename(kind: ReportKind, tenant: str, now: datetime, ext: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", tenant).encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.decode().lower()).strip("-")
    return f"{kind}-{slug or 'report'}-{now.astimezone(UTC):%Y%m%d-%H%M}.{ext}"


def csv_report(
    session: Session, *, scope: Scope, kind: ReportKind, now: datetime
) -> ReportStream:
    """A report as CSV, streamed: rows are read in chunks while the file is sent.

    Raises ``ReportUnavailableError`` before anything streams.
    """
    spec = definition(kind)
    tenant = tenant_of(session, scope)
    return ReportStream(
        filename=_filename(kind, tenant, now, "csv"),
        media_type="text/csv; charset=utf-8",
        chunks=_csv_chunks(spec.columns, spec.rows(session, scope, now)),
    )


def render_pdf(
    session: Session,
    *,
    scope: Scope,
    spec: ReportDefinition,
    now: datetime,
    summary: ReportSummary,
    row_limit: int = PDF_ROW_LIMIT,
) -> ReportFile:
    """The PDF of ``spec`` with ``summary`` (computed by the caller)."""
    tenant = tenant_of(session, scope)
    with closing(spec.rows(session, scope, now)) as rows:
        shown = list(islice(rows, row_limit))  # the transaction ends here
    document = ReportDocument(
        title=spec.title,
        tenant=tenant,
        scope_label="All Clients" if scope.is_partner_level else "Client report",
        generated_at=now,
        figures=summary.figures,
        chart=summary.chart,
        columns=spec.columns,
        total_rows=max(summary.rows, len(shown)),
    )
    return ReportFile(
        filename=_filename(spec.kind, tenant, now, "pdf"),
        media_type="application/pdf",
        content=build_pdf(document, shown, row_limit=row_limit),
    )


def pdf_report(
    session: Session,
    *,
    scope: Scope,
    kind: ReportKind,
    now: datetime,
    row_limit: int = PDF_ROW_LIMIT,
) -> ReportFile:
    """A report as a printable PDF: cover, figures, chart, then up to ``row_limit`` rows."""
    spec = definition(kind)
    summary = spec.summary(session, scope, now)
    return render_pdf(
        session, scope=scope, spec=spec, now=now, summary=summary, row_limit=row_limit
    )
