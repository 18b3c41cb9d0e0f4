"""The Overview (OV-01..OV-15): tiles, charts, Client Overview and drill-downs.

Every figure is a SQL aggregate (``db/queries/overview``); each tile drills down to a
list built from the same rows and filter, so tile, list and CSV export always agree
(OV-12, OV-14). Compliance (OV-04/05) comes from ``services.compliance`` once it is
installed; until then its tile is shown as not available.
"""

from __future__ import annotations

import csv
import importlib
import io
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.tenancy import Scope
from patchfleet.core.updates import CLASSIFICATION_ORDER, Severity
from patchfleet.server.db.queries import overview as q
from patchfleet.server.services.overview_views import (
    COLUMNS,
    ClassificationCount,
    ClientOverviewRow,
    ComplianceConfiguration,
    Drilldown,
    NonCompliantDevice,
    OverviewCve,
    OverviewDevice,
    OverviewMissing,
    OverviewResult,
    OverviewRow,
    OverviewRun,
    OverviewView,
    SeverityCount,
    Tile,
    TileView,
    TrendPoint,
)

RUN_PREVIEW = 10  # runs listed on the Overview itself; the drill-down has them all
CSV_BATCH = 500  # rows per streamed chunk


@dataclass(frozen=True)
class TileSpec:
    """What a tile is called, what it counts and the row type of its drill-down."""

    label: str
    unit: str
    definition: str
    row: type[OverviewRow]


TILES: Mapping[Tile, TileSpec] = {
    Tile.DEVICES: TileSpec("Devices", "devices", "Devices in scope.", OverviewDevice),
    Tile.SCANNED: TileSpec(
        "Scanned",
        "devices",
        "Devices with a latest missing-patch scan (OV-09).",
        OverviewDevice,
    ),
    Tile.UNSCANNED: TileSpec(
        "Unscanned", "devices", "Devices never scanned (OV-10).", OverviewDevice
    ),
    Tile.SECURITY: TileSpec(
        "Missing Critical & Security",
        "missing patches",
        "Security and critical patches missing in each device's latest scan, one per"
        " device, patch and architecture (OV-03).",
        OverviewMissing,
    ),
    Tile.SECURITY_INSTALLABLE: TileSpec(
        "Critical & Security installable now",
        "missing patches",
        "The missing security and critical patches whose state is installable now"
        " (BP-10).",
        OverviewMissing,
    ),
    Tile.FAILED: TileSpec(
        "Failed",
        "patch installs",
        "Patches whose latest install result on a device (newest job with a result)"
        " is a failure: one per device, patch and architecture (OV-01).",
        OverviewResult,
    ),
    Tile.INSTALLED: TileSpec(
        "Installed",
        "patch installs",
        "Patches whose latest install result on a device (newest job with a result)"
        " is a success: one per device, patch and architecture (OV-02).",
        OverviewResult,
    ),
    Tile.REBOOT: TileSpec(
        "Reboot Required",
        "devices",
        "Devices whose latest scan, check-in or job report says installed patches"
        " still need a reboot (OV-08).",
        OverviewDevice,
    ),
    Tile.REBOOTED: TileSpec(
        "Rebooted",
        "devices",
        "Devices an install job has rebooted.",
        OverviewDevice,
    ),
    Tile.NON_COMPLIANT: TileSpec(
        "Non-Compliance",
        "devices",
        "Devices missing at least one patch their compliance selects (OV-04, CMP-13).",
        NonCompliantDevice,
    ),
    Tile.RUNS: TileSpec(
        "Configurations & scans ±24 h",
        "runs",
        "Configuration and scan schedule runs of the last 24 h and next runs in the"
        " next 24 h (OV-06, OV-07).",
        OverviewRun,
    ),
    Tile.CVE_DEVICES: TileSpec(
        "CVE-impacted devices",
        "devices",
        "Devices with at least one known CVE (as on CVE Insights).",
        OverviewDevice,
    ),
    Tile.KEV: TileSpec(
        "Known exploited CVEs",
        "CVEs",
        "CVEs in CISA's KEV catalog that affect a device in scope.",
        OverviewCve,
    ),
}

DEVICE_TILES: Mapping[Tile, q.DeviceFilter] = {
    Tile.DEVICES: q.DeviceFilter.ALL,
    Tile.SCANNED: q.DeviceFilter.SCANNED,
    Tile.UNSCANNED: q.DeviceFilter.UNSCANNED,
    Tile.REBOOT: q.DeviceFilter.REBOOT_REQUIRED,
    Tile.REBOOTED: q.DeviceFilter.REBOOTED,
    Tile.CVE_DEVICES: q.DeviceFilter.CVE_IMPACTED,
}
MISSING_TILES: Mapping[Tile, q.MissingFilter] = {
    Tile.SECURITY: q.MissingFilter.SECURITY,
    Tile.SECURITY_INSTALLABLE: q.MissingFilter.SECURITY_INSTALLABLE,
}
RESULT_TILES: Mapping[Tile, q.ResultFilter] = {
    Tile.FAILED: q.ResultFilter.FAILED,
    Tile.INSTALLED: q.ResultFilter.INSTALLED,
}
# The tiles of a Client Overview row (OV-11): those that add up across clients.
CLIENT_TILES: tuple[Tile, ...] = (
    Tile.DEVICES,
    Tile.SCANNED,
    Tile.UNSCANNED,
    Tile.SECURITY,
    Tile.SECURITY_INSTALLABLE,
    Tile.FAILED,
    Tile.INSTALLED,
    Tile.REBOOT,
    Tile.NON_COMPLIANT,
    Tile.CVE_DEVICES,
)
SEVERITIES: tuple[str, ...] = tuple(str(s) for s in Severity)


def overview(session: Session, *, scope: Scope, now: datetime) -> OverviewView:
    """Every tile, both charts, the ±24 h runs and (at All Clients) the Client Overview."""
    window = _window(scope, now)
    with session.begin():
        clients = q.clients(session, scope.client_ids)
        covers_all = q.covers_all_devices(session, scope.client_ids)
        per_client = _client_counts(session, scope.client_ids, covers_all=covers_all)
        chart = q.missing_chart(session, scope.client_ids, is_filtered=not covers_all)
        run_list = q.run_rows(window)
        runs_total = q.count(session, run_list)
        runs = [
            OverviewRun.model_validate(r._mapping)
            for r in q.page(session, run_list, page=1, size=RUN_PREVIEW)
        ]
        kev_total = q.count(session, q.kev_rows(scope.client_ids))
    compliance = load_compliance(session, scope=scope, now=now)
    _add_non_compliant(per_client, compliance)
    totals: dict[Tile, int | None] = {
        tile: sum(c.get(tile, 0) for c in per_client.values()) for tile in Tile
    }
    totals[Tile.RUNS] = runs_total
    totals[Tile.KEV] = kev_total
    totals[Tile.NON_COMPLIANT] = (
        len(compliance.devices) if compliance.is_available else None
    )
    return OverviewView(
        generated_at=now,
        is_partner_level=scope.is_partner_level,
        tiles=[_tile(t, totals[t]) for t in Tile],
        missing_by_severity=_by_severity(chart),
        missing_by_classification=_by_classification(chart),
        runs=runs,
        clients=_client_rows(clients, per_client, compliance)
        if scope.is_partner_level
        else [],
        compliance=compliance.configurations,
        compliance_trend=compliance.trend,
    )


def _window(scope: Scope, now: datetime) -> q.Window:
    return q.Window(
        scope.partner_id, scope.client_ids, scope.is_partner_level, now.astimezone(UTC)
    )


def _tile(key: Tile, count: int | None) -> TileView:
    spec = TILES[key]
    return TileView(
        key=key,
        label=spec.label,
        unit=spec.unit,
        definition=spec.definition,
        count=count,
    )


def _client_counts(
    session: Session, client_ids: Sequence[int], *, covers_all: bool
) -> dict[int, dict[Tile, int]]:
    """The tiles that add up across clients, per client (each row has one client)."""
    found: dict[int, dict[Tile, int]] = {c: {} for c in client_ids}
    security = q.security_counts(session, client_ids, is_filtered=not covers_all)
    sources: list[tuple[Mapping[Tile, Any], Mapping[int, Mapping[Any, int]]]] = [
        (DEVICE_TILES, q.device_counts(session, client_ids)),
        (MISSING_TILES, security),
        (RESULT_TILES, q.result_counts(session, client_ids)),
    ]
    for tiles, counts in sources:
        for client_id, by_filter in counts.items():
            for tile, which in tiles.items():
                found.setdefault(client_id, {})[tile] = by_filter[which]
    return found


def _add_non_compliant(
    per_client: dict[int, dict[Tile, int]], compliance: Compliance
) -> None:
    for device in compliance.devices:
        counts = per_client.setdefault(device.client_id, {})
        counts[Tile.NON_COMPLIANT] = counts.get(Tile.NON_COMPLIANT, 0) + 1


def _client_rows(
    clients: Sequence[tuple[int, str]],
    per_client: Mapping[int, Mapping[Tile, int]],
    compliance: Compliance,
) -> list[ClientOverviewRow]:
    return [
        ClientOverviewRow(
            client_id=client_id,
            client_name=name,
            counts={
                t: None
                if t is Tile.NON_COMPLIANT and not compliance.is_available
                else per_client.get(client_id, {}).get(t, 0)
                for t in CLIENT_TILES
            },
        )
        for client_id, name in clients
    ]


Chart = Sequence[tuple[str, str, int, int, int]]


def _by_severity(chart: Chart) -> list[SeverityCount]:
    counts = {s: [0, 0, 0] for s in SEVERITIES}
    for _classification, severity, missing, installable, patches in chart:
        row = counts.setdefault(severity, [0, 0, 0])
        row[0] += missing
        row[1] += installable
        row[2] += patches
    return [
        SeverityCount(severity=s, missing=m, installable=i, patches=p)
        for s, (m, i, p) in counts.items()
    ]


def _by_classification(chart: Chart) -> list[ClassificationCount]:
    counts = {str(c): [0, 0] for c in CLASSIFICATION_ORDER}
    for classification, _severity, missing, _installable, patches in chart:
        row = counts.setdefault(classification, [0, 0])
        row[0] += missing
        row[1] += patches
    return [
        ClassificationCount(classification=c, missing=m, patches=p)
        for c, (m, p) in counts.items()
    ]


# Drill-downs -------------------------------------------------------------------


def _rows(scope: Scope, tile: Tile, now: datetime) -> q.Rows:
    """The statement listing the rows a tile counts."""
    if tile in DEVICE_TILES:
        return q.device_rows(scope.client_ids, DEVICE_TILES[tile])
    if tile in MISSING_TILES:
        return q.missing_rows(scope.client_ids, MISSING_TILES[tile])
    if tile in RESULT_TILES:
        return q.result_rows(scope.client_ids, RESULT_TILES[tile])
    if tile is Tile.RUNS:
        return q.run_rows(_window(scope, now))
    if tile is Tile.KEV:
        return q.kev_rows(scope.client_ids)
    raise InvalidInputError(f"no list for tile {tile}", loc=("path", "tile"))


def _total(session: Session, scope: Scope, tile: Tile, rows: q.Rows) -> int:
    """How long a tile's list is: the rows counted, or (where counting the listed
    rows would be slower) the very aggregate that computes the tile."""
    ids = scope.client_ids
    by_client: Mapping[int, Mapping[Any, int]]
    which: Any
    if tile in MISSING_TILES:
        is_filtered = not q.covers_all_devices(session, ids)
        by_client = q.security_counts(session, ids, is_filtered=is_filtered)
        which = MISSING_TILES[tile]
    elif tile in RESULT_TILES:
        by_client, which = q.result_counts(session, ids), RESULT_TILES[tile]
    else:
        return q.count(session, rows)
    return sum(counts.get(which, 0) for counts in by_client.values())


def _page(
    session: Session, scope: Scope, tile: Tile, rows: q.Rows, page: int, size: int
) -> list[Any]:
    if tile in RESULT_TILES:  # paged before the join (see q.result_rows)
        paged = q.result_rows(
            scope.client_ids, RESULT_TILES[tile], page=page, size=size
        )
        return list(session.execute(paged))
    return q.page(session, rows, page=page, size=size)


def drilldown(
    session: Session,
    *,
    scope: Scope,
    tile: Tile,
    now: datetime,
    page: int,
    page_size: int,
) -> Drilldown:
    """One page of the list behind a tile; its total equals the tile (OV-12)."""
    spec = TILES[tile]
    items: list[OverviewRow]
    if tile is Tile.NON_COMPLIANT:
        found = non_compliant(session, scope=scope, now=now)
        total = len(found)
        start = (page - 1) * page_size
        items = list(found[start : start + page_size])
    else:
        with session.begin():
            rows = _rows(scope, tile, now)
            total = _total(session, scope, tile, rows)
            items = [
                spec.row.model_validate(r._mapping)
                for r in _page(session, scope, tile, rows, page, page_size)
            ]
    return Drilldown(
        tile=tile,
        label=spec.label,
        definition=spec.definition,
        items=items,
        total=total,
        page=page,
        page_size=page_size,
    )


def drilldown_csv(
    session: Session, *, scope: Scope, tile: Tile, now: datetime
) -> Iterator[str]:
    """The whole list behind a tile as CSV text, streamed in chunks (OV-14).

    A generator: rows are read from a server-side cursor inside one transaction that
    lasts as long as the caller iterates; the list is never held in memory.
    """
    fields = [name for name, _title in COLUMNS[TILES[tile].row]]
    yield _csv_lines([fields])
    if tile is Tile.NON_COMPLIANT:
        found = non_compliant(session, scope=scope, now=now)
        for start in range(0, len(found), CSV_BATCH):
            chunk = found[start : start + CSV_BATCH]
            yield _csv_lines([[getattr(d, f) for f in fields] for d in chunk])
        return
    with session.begin():
        batch: list[list[object]] = []
        for row in q.stream(session, _rows(scope, tile, now)):
            values = row._mapping
            batch.append([values[f] for f in fields])
            if len(batch) == CSV_BATCH:
                yield _csv_lines(batch)
                batch = []
        if batch:
            yield _csv_lines(batch)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: object) -> str:
    """One CSV cell: UTC timestamps, lower-case booleans, no spreadsheet formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return (
            value.astimezone(UTC)
            .replace(microsecond=0)
            .isoformat()
            .replace("+00:00", "Z")
        )
    if isinstance(value, date | uuid.UUID | int | float):
        return str(value)
    text = str(value)
    # Agent-supplied text (hostnames, messages) must not run as a formula (CWE-1236).
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_lines(rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([csv_value(v) for v in row] for row in rows)
    return out.getvalue()


# Compliance, once services.compliance is installed (OV-04, OV-05) ----------------

COMPLIANCE_MODULE = "patchfleet.server.services.compliance"
TREND_DAYS = 30


@dataclass(frozen=True)
class Compliance:
    """What the compliance service says about a scope; empty while it is missing."""

    is_available: bool
    devices: list[NonCompliantDevice]
    configurations: list[ComplianceConfiguration]
    trend: list[TrendPoint] | None


NO_COMPLIANCE = Compliance(False, [], [], None)


def _compliance_module() -> ModuleType | None:
    """``services.compliance`` if it is installed (it is built separately)."""
    try:
        return importlib.import_module(COMPLIANCE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != COMPLIANCE_MODULE:
            raise  # the module exists but is broken: let that surface
        return None


def load_compliance(session: Session, *, scope: Scope, now: datetime) -> Compliance:
    """Compliance configurations, non-compliant devices and the 30-day trend.

    Each compliance function runs its own transaction, after the Overview's.
    """
    module = _compliance_module()
    if module is None:
        return NO_COMPLIANCE
    summary = module.compliance_summary(session, scope=scope, now=now)
    trend = module.trend(session, scope=scope, days=TREND_DAYS, now=now)
    return Compliance(
        True,
        # No enabled configuration in scope: no device can be non-compliant.
        _non_compliant_of(module, session, scope, now) if summary.items else [],
        [ComplianceConfiguration.model_validate(c) for c in summary.items],
        [
            TrendPoint(day=p.day, value=p.percent)
            for p in trend
            if p.percent is not None
        ],
    )


def non_compliant(
    session: Session, *, scope: Scope, now: datetime
) -> list[NonCompliantDevice]:
    """The Non-Compliance list (empty while compliance is not installed)."""
    module = _compliance_module()
    return [] if module is None else _non_compliant_of(module, session, scope, now)


def _non_compliant_of(
    module: ModuleType, session: Session, scope: Scope, now: datetime
) -> list[NonCompliantDevice]:
    return [
        NonCompliantDevice(
            device_id=d.id,
            hostname=d.hostname,
            client_id=d.client_id,
            client_name=d.client_name,
            configurations="; ".join(d.configurations),
            missing=len(d.missing),
        )
        for d in module.non_compliant_devices(session, scope=scope, now=now)
    ]
