"""Read side of the Overview (OV-01..OV-14): tile counts and drill-down lists in SQL.

Every tile is a *source* (devices, missing patches, latest install results, runs,
KEV CVEs) narrowed by a named *filter*. The count and the drill-down read the same
rows with the same (or an equivalent, index-shy) condition, so a tile equals the
length of its list (OV-12) and of its CSV export (OV-14); the integration tests
check it for every tile on both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from patchfleet.server.db.queries.patches import SECURITY_CLASSES
from patchfleet.server.db.rows import (
    ClientRow,
    ConfigurationRow,
    ConfigurationRunRow,
    CveRow,
    DeviceCveRow,
    DeviceRow,
    DeviceUpdateRow,
    JobPatchRow,
    KevRow,
    OrderRow,
    ScanRunRow,
    ScanScheduleRow,
)

# ``ix_device_updates_overview`` on device_updates (rows.py, migration 0012): the
# missing-patch chart and the security tiles read it alone, in order.

# A drill-down statement: any columns, one row per counted item.
Rows: TypeAlias = Select[*tuple[Any, ...]]

WINDOW = timedelta(hours=24)  # OV-06/OV-07: the last and the next 24 hours
STREAM_BATCH = 1000

# Outcomes of an attempted install; a skipped or pending patch is not a result.
RESULT_STATUSES = ("installed", "failed", "not_applicable")


class DeviceFilter(StrEnum):
    """Which devices a device tile counts."""

    ALL = "all"
    SCANNED = "scanned"
    UNSCANNED = "unscanned"
    REBOOT_REQUIRED = "reboot_required"
    REBOOTED = "rebooted"
    CVE_IMPACTED = "cve_impacted"


class MissingFilter(StrEnum):
    """Which missing patches (device x patch of the latest scan) a tile counts."""

    SECURITY = "security"
    SECURITY_INSTALLABLE = "security_installable"


class ResultFilter(StrEnum):
    """Which latest install results (device x patch) a tile counts."""

    FAILED = "failed"
    INSTALLED = "installed"


@dataclass(frozen=True)
class Window:
    """The scope and instant the run list (OV-06/07) is computed for."""

    partner_id: int
    client_ids: tuple[int, ...]
    is_partner_level: bool
    now: datetime


# Devices ---------------------------------------------------------------------------


def _rebooted() -> ColumnElement[bool]:
    return exists().where(
        OrderRow.device_id == DeviceRow.id,
        OrderRow.kind == "install",
        OrderRow.rebooted.is_(True),
    )


def _cve_impacted() -> ColumnElement[bool]:
    # The same devices CVE Insights counts as impacted (any device_cves row).
    return exists().where(DeviceCveRow.device_id == DeviceRow.id)


DEVICE_TESTS: Mapping[DeviceFilter, Callable[[], ColumnElement[bool]]] = {
    DeviceFilter.ALL: true,
    DeviceFilter.SCANNED: lambda: DeviceRow.last_scan_at.is_not(None),
    DeviceFilter.UNSCANNED: lambda: DeviceRow.last_scan_at.is_(None),
    DeviceFilter.REBOOT_REQUIRED: lambda: DeviceRow.reboot_required.is_(True),
    DeviceFilter.REBOOTED: _rebooted,
    DeviceFilter.CVE_IMPACTED: _cve_impacted,
}


def _count_if(test: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((test, 1), else_=0)), 0)


def device_counts(
    session: Session, client_ids: Sequence[int]
) -> dict[int, dict[DeviceFilter, int]]:
    """Per client in scope: how many devices each device filter selects."""
    keys = list(DEVICE_TESTS)
    stmt = (
        select(DeviceRow.client_id, *(_count_if(DEVICE_TESTS[k]()) for k in keys))
        .where(DeviceRow.client_id.in_(client_ids))
        .group_by(DeviceRow.client_id)
    )
    return {
        r[0]: {k: int(v) for k, v in zip(keys, r[1:], strict=True)}
        for r in session.execute(stmt)
    }


def device_rows(client_ids: Sequence[int], which: DeviceFilter) -> Rows:
    """The devices a device filter selects, by hostname."""
    return (
        select(
            DeviceRow.uuid.label("device_id"),
            DeviceRow.hostname,
            ClientRow.name.label("client_name"),
            DeviceRow.os_name,
            DeviceRow.last_seen_at,
            DeviceRow.last_scan_at,
            DeviceRow.last_scan_status,
            DeviceRow.reboot_required,
        )
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .where(DeviceRow.client_id.in_(client_ids), DEVICE_TESTS[which]())
        .order_by(DeviceRow.hostname, DeviceRow.id)
    )


# Missing patches (each device's latest scan) ---------------------------------------


def _is_security() -> ColumnElement[bool]:
    return DeviceUpdateRow.classification.in_(SECURITY_CLASSES)


def _is_installable() -> ColumnElement[bool]:
    return DeviceUpdateRow.state == "installable"


def _is_security_unindexed() -> ColumnElement[bool]:
    """``_is_security`` that no index can serve (the column is NOT NULL).

    For lists in primary-key order: SQLite would otherwise range-scan
    ``ix_device_updates_overview`` and sort every match to show one page.
    """
    return func.coalesce(DeviceUpdateRow.classification, "").in_(SECURITY_CLASSES)


MISSING_TESTS: Mapping[MissingFilter, Callable[[], ColumnElement[bool]]] = {
    MissingFilter.SECURITY: _is_security_unindexed,
    MissingFilter.SECURITY_INSTALLABLE: lambda: and_(
        _is_security_unindexed(), _is_installable()
    ),
}


def covers_all_devices(session: Session, client_ids: Sequence[int]) -> bool:
    """Whether no device outside these clients exists (so a scope filter is a no-op).

    Lets the chart read ``ix_device_updates_overview`` alone at All Clients on a one-partner
    server, instead of checking each of a million rows against the scope.
    """
    outside = exists().where(DeviceRow.client_id.not_in(client_ids))
    return not session.scalar(select(outside))


def missing_chart(
    session: Session, client_ids: Sequence[int], *, is_filtered: bool = True
) -> list[tuple[str, str, int, int, int]]:
    """(classification, severity, missing, installable now, distinct patches).

    One ordered pass over ``ix_device_updates_overview``: rows are grouped per patch first (no
    sort needed), then per classification and severity.
    """
    u = DeviceUpdateRow
    per_patch = select(
        u.classification,
        u.severity,
        u.patch_id,
        func.count().label("missing"),
        _count_if(_is_installable()).label("installable"),
    ).group_by(u.classification, u.severity, u.patch_id)
    if is_filtered:
        per_patch = per_patch.where(_in_scope(client_ids))
    sub = per_patch.subquery("per_patch")
    stmt = select(
        sub.c.classification,
        sub.c.severity,
        func.sum(sub.c.missing),
        func.sum(sub.c.installable),
        func.count(),
    ).group_by(sub.c.classification, sub.c.severity)
    return [
        (r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in session.execute(stmt)
    ]


def _in_scope(client_ids: Sequence[int]) -> ColumnElement[bool]:
    in_scope = select(DeviceRow.id).where(DeviceRow.client_id.in_(client_ids))
    return DeviceUpdateRow.device_id.in_(in_scope)


def security_counts(
    session: Session, client_ids: Sequence[int], *, is_filtered: bool = True
) -> dict[int, dict[MissingFilter, int]]:
    """Per client: missing security+critical patches, and those installable now.

    Counted per device first, from ``ix_device_updates_overview``; ``is_filtered=False`` (the
    scope covers every device) skips checking each row against the scope.
    """
    u = DeviceUpdateRow
    per_device = (
        select(
            u.device_id,
            func.count().label("missing"),
            _count_if(_is_installable()).label("installable"),
        )
        .where(_is_security(), _in_scope(client_ids) if is_filtered else true())
        .group_by(u.device_id)
        .subquery("per_device")
    )
    stmt = (
        select(
            DeviceRow.client_id,
            func.sum(per_device.c.missing),
            func.sum(per_device.c.installable),
        )
        .join(DeviceRow, DeviceRow.id == per_device.c.device_id)
        .where(DeviceRow.client_id.in_(client_ids))
        .group_by(DeviceRow.client_id)
    )
    return {
        r[0]: {
            MissingFilter.SECURITY: int(r[1]),
            MissingFilter.SECURITY_INSTALLABLE: int(r[2]),
        }
        for r in session.execute(stmt)
    }


def missing_rows(client_ids: Sequence[int], which: MissingFilter) -> Rows:
    """The missing patches a missing filter selects, by device then package.

    In primary-key order (devices in enrolment order), so a page reads only the
    rows it shows instead of sorting every match.
    """
    return (
        select(
            DeviceRow.uuid.label("device_id"),
            DeviceRow.hostname,
            ClientRow.name.label("client_name"),
            DeviceUpdateRow.patch_id,
            DeviceUpdateRow.name,
            DeviceUpdateRow.arch,
            DeviceUpdateRow.installed_version,
            DeviceUpdateRow.candidate_version,
            DeviceUpdateRow.classification,
            DeviceUpdateRow.severity,
            DeviceUpdateRow.state,
            DeviceUpdateRow.first_seen_at,
        )
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .where(DeviceRow.client_id.in_(client_ids), MISSING_TESTS[which]())
        .order_by(DeviceUpdateRow.device_id, DeviceUpdateRow.name, DeviceUpdateRow.arch)
    )


# Latest install result per device and patch (OV-01, OV-02) ------------------------


def _latest_results(client_ids: Sequence[int]) -> Any:
    """Each (device, package, arch, version)'s result in the newest job with one.

    Only the key columns are ranked (narrow rows sort in memory); the drill-down
    joins the few listed rows back to ``job_patches`` for their message and time.
    """
    jp = JobPatchRow
    newest_first = func.row_number().over(
        partition_by=(OrderRow.device_id, jp.name, jp.arch, jp.version),
        order_by=(OrderRow.created_at.desc(), OrderRow.id.desc()),
    )
    ranked = (
        select(
            OrderRow.device_id,
            DeviceRow.client_id,
            jp.order_id,
            jp.name,
            jp.arch,
            jp.version,
            jp.status,
            OrderRow.created_at,
            newest_first.label("rank"),
        )
        .join(OrderRow, OrderRow.id == jp.order_id)
        .join(DeviceRow, DeviceRow.id == OrderRow.device_id)
        .where(
            OrderRow.kind == "install",
            jp.status.in_(RESULT_STATUSES),
            DeviceRow.client_id.in_(client_ids),
        )
        .subquery("ranked")
    )
    return (
        select(*(c for c in ranked.c if c.key != "rank"))
        .where(ranked.c.rank == 1)
        .subquery("latest")
    )


def result_counts(
    session: Session, client_ids: Sequence[int]
) -> dict[int, dict[ResultFilter, int]]:
    """Per client: latest results that are failures and successful installs."""
    latest = _latest_results(client_ids)
    keys = list(ResultFilter)
    stmt = select(
        latest.c.client_id,
        *(_count_if(latest.c.status == str(k)) for k in keys),
    ).group_by(latest.c.client_id)
    return {
        r[0]: {k: int(v) for k, v in zip(keys, r[1:], strict=True)}
        for r in session.execute(stmt)
    }


def result_rows(
    client_ids: Sequence[int],
    which: ResultFilter,
    *,
    page: int | None = None,
    size: int = 50,
) -> Rows:
    """Latest results of one status, newest job first.

    With ``page``, the paging happens on the ranked rows before anything is joined
    back (the planner cannot know how few rows survive the ranking); without, the
    statement lists every row.
    """
    latest = _latest_results(client_ids)
    chosen = select(latest).where(latest.c.status == str(which))
    order = (
        latest.c.created_at.desc(),
        latest.c.device_id,
        latest.c.name,
        latest.c.arch,
        latest.c.version,
    )
    if page is not None:
        chosen = chosen.order_by(*order).offset((page - 1) * size).limit(size)
    shown = chosen.subquery("shown")
    jp = JobPatchRow
    return (
        select(
            shown.c.order_id.label("job_id"),
            DeviceRow.uuid.label("device_id"),
            DeviceRow.hostname,
            ClientRow.name.label("client_name"),
            jp.patch_id,
            jp.name,
            jp.arch,
            jp.version,
            jp.status,
            jp.message,
            jp.updated_at,
        )
        .join(
            jp,
            and_(
                jp.order_id == shown.c.order_id,
                jp.name == shown.c.name,
                jp.arch == shown.c.arch,
                jp.version == shown.c.version,
            ),
        )
        .join(DeviceRow, DeviceRow.id == shown.c.device_id)
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .order_by(
            shown.c.created_at.desc(),
            shown.c.device_id,
            shown.c.name,
            shown.c.arch,
            shown.c.version,
        )
    )


# Configurations and scan schedules, last and next 24 h (OV-06, OV-07) -------------


def _owned(column: Any, window: Window) -> ColumnElement[bool]:
    """Objects of the scope's clients; partner-level ones at All Clients only."""
    own: ColumnElement[bool] = column.in_(window.client_ids)
    return or_(own, column.is_(None)) if window.is_partner_level else own


def _runs(window: Window) -> Any:
    since, until = window.now - WINDOW, window.now + WINDOW
    c, s = ConfigurationRow, ScanScheduleRow
    ran_configs = (
        select(
            literal("configuration").label("kind"),
            c.uuid.label("id"),
            c.name,
            c.client_id,
            ConfigurationRunRow.started_at.label("at"),
            literal("ran").label("timing"),
            ConfigurationRunRow.trigger,
        )
        .join(c, c.id == ConfigurationRunRow.configuration_id)
        .where(
            c.partner_id == window.partner_id,
            _owned(c.client_id, window),
            ConfigurationRunRow.started_at.between(since, window.now),
        )
    )
    next_configs = select(
        literal("configuration"),
        c.uuid,
        c.name,
        c.client_id,
        c.next_run_at,
        literal("next"),
        literal("schedule"),
    ).where(
        c.partner_id == window.partner_id,
        _owned(c.client_id, window),
        c.enabled.is_(True),
        c.next_run_at > window.now,
        c.next_run_at <= until,
    )
    ran_scans = (
        select(
            literal("scan schedule"),
            s.uuid,
            s.name,
            s.client_id,
            ScanRunRow.started_at,
            literal("ran"),
            ScanRunRow.trigger,
        )
        .join(s, s.id == ScanRunRow.schedule_id)
        .where(
            s.partner_id == window.partner_id,
            _owned(s.client_id, window),
            ScanRunRow.started_at.between(since, window.now),
        )
    )
    next_scans = select(
        literal("scan schedule"),
        s.uuid,
        s.name,
        s.client_id,
        s.next_run_at,
        literal("next"),
        literal("schedule"),
    ).where(
        s.partner_id == window.partner_id,
        _owned(s.client_id, window),
        s.enabled.is_(True),
        s.next_run_at > window.now,
        s.next_run_at <= until,
    )
    return union_all(ran_configs, next_configs, ran_scans, next_scans).subquery("runs")


def run_rows(window: Window) -> Rows:
    """Runs of the last 24 h and next runs of the next 24 h, in time order."""
    runs = _runs(window)
    return (
        select(
            runs.c.kind,
            runs.c.id,
            runs.c.name,
            func.coalesce(ClientRow.name, "").label("client_name"),
            runs.c.at,
            runs.c.timing,
            runs.c.trigger,
        )
        .outerjoin(ClientRow, ClientRow.id == runs.c.client_id)
        .order_by(runs.c.at, runs.c.kind, runs.c.name, runs.c.id)
    )


# Known exploited CVEs in scope -----------------------------------------------------


def kev_rows(client_ids: Sequence[int]) -> Rows:
    """KEV CVEs affecting devices in scope, with how many devices, newest KEV first."""
    per_cve = (
        select(
            DeviceCveRow.cve,
            func.count(distinct(DeviceCveRow.device_id)).label("devices"),
        )
        .join(DeviceRow, DeviceRow.id == DeviceCveRow.device_id)
        .join(KevRow, KevRow.cve == DeviceCveRow.cve)
        .where(DeviceRow.client_id.in_(client_ids))
        .group_by(DeviceCveRow.cve)
        .subquery("per_cve")
    )
    return (
        select(
            per_cve.c.cve,
            per_cve.c.devices,
            CveRow.cvss_score.label("cvss"),
            KevRow.date_added,
            KevRow.due_date,
            func.coalesce(CveRow.description, "").label("description"),
        )
        .join(KevRow, KevRow.cve == per_cve.c.cve)
        .outerjoin(CveRow, CveRow.id == per_cve.c.cve)
        .order_by(KevRow.date_added.desc(), per_cve.c.cve)
    )


# Paging and streaming --------------------------------------------------------------


def count(session: Session, rows: Rows) -> int:
    """How many rows a drill-down statement yields."""
    return int(
        session.scalar(select(func.count()).select_from(rows.order_by(None).subquery()))
        or 0
    )


def page(session: Session, rows: Rows, *, page: int, size: int) -> list[Any]:
    """One page of a drill-down statement."""
    return list(session.execute(rows.offset((page - 1) * size).limit(size)))


def stream(session: Session, rows: Rows) -> Iterator[Any]:
    """Every row of a drill-down statement, fetched in batches (server-side cursor)."""
    result = session.execute(rows.execution_options(yield_per=STREAM_BATCH))
    yield from result


def clients(session: Session, client_ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, name) of the clients in scope, by name."""
    rows = session.execute(
        select(ClientRow.id, ClientRow.name)
        .where(ClientRow.id.in_(client_ids) if client_ids else false())
        .order_by(ClientRow.name, ClientRow.id)
    )
    return [(r[0], r[1]) for r in rows]
