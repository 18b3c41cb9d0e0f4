"""Report rows, streamed in chunks, with their totals; and the scheduled reports.

Row functions return iterators over a streamed result (``yield_per``: a server-side
cursor on PostgreSQL, stepwise fetches on SQLite), so a report of any size holds at
most ``STREAM_BATCH`` rows in memory. They must be consumed inside the caller's
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, distinct, func, or_, select
from sqlalchemy.orm import Session

from patchfleet.core.jobs import PatchStatus
from patchfleet.server.db.report_rows import ReportScheduleRow
from patchfleet.server.db.rows import (
    ClientRow,
    DeviceCveRow,
    DeviceRow,
    DeviceUpdateRow,
    JobPatchRow,
    OrderRow,
    PartnerRow,
)

AnySelect = Select[*tuple[Any, ...]]
STREAM_BATCH = 1000
SECURITY_CLASSES = ("security", "critical")
_INSTALLED = str(PatchStatus.INSTALLED)


def _stream(session: Session, stmt: AnySelect) -> Generator[Any]:
    result = session.execute(stmt.execution_options(yield_per=STREAM_BATCH))
    try:
        yield from result
    finally:
        result.close()


def tenant_name(session: Session, *, partner_id: int, client_id: int | None) -> str:
    """The client's name, or the partner's when ``client_id`` is None."""
    if client_id is None:
        stmt = select(PartnerRow.name).where(PartnerRow.id == partner_id)
    else:
        stmt = select(ClientRow.name).where(ClientRow.id == client_id)
    return session.scalar(stmt) or ""


def device_count(session: Session, client_ids: Sequence[int]) -> int:
    """Devices in scope."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(DeviceRow)
            .where(DeviceRow.client_id.in_(client_ids))
        )
        or 0
    )


# Missing patches ---------------------------------------------------------------------


def missing_patch_rows(session: Session, client_ids: Sequence[int]) -> Generator[Any]:
    """Every missing patch of every device in scope, by client, device and package."""
    return _stream(
        session,
        select(
            ClientRow.name,
            DeviceRow.hostname,
            DeviceRow.os_name,
            DeviceUpdateRow.name,
            DeviceUpdateRow.arch,
            DeviceUpdateRow.installed_version,
            DeviceUpdateRow.candidate_version,
            DeviceUpdateRow.classification,
            DeviceUpdateRow.severity,
            DeviceUpdateRow.state,
            DeviceUpdateRow.advisory_id,
            DeviceUpdateRow.cves,
            DeviceUpdateRow.source,
            DeviceUpdateRow.first_seen_at,
        )
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .where(DeviceRow.client_id.in_(client_ids))
        .order_by(
            ClientRow.name,
            DeviceRow.hostname,
            DeviceRow.id,
            DeviceUpdateRow.name,
            DeviceUpdateRow.arch,
        ),
    )


def missing_patch_totals(session: Session, client_ids: Sequence[int]) -> Any:
    """(rows, devices, patches, security) of the missing patches in scope."""
    return session.execute(
        select(
            func.count().label("rows"),
            func.count(distinct(DeviceUpdateRow.device_id)).label("devices"),
            func.count(distinct(DeviceUpdateRow.patch_id)).label("patches"),
            func.coalesce(
                func.sum(
                    case(
                        (DeviceUpdateRow.classification.in_(SECURITY_CLASSES), 1),
                        else_=0,
                    )
                ),
                0,
            ).label("security"),
        )
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .where(DeviceRow.client_id.in_(client_ids))
    ).one()


def missing_by_severity(session: Session, client_ids: Sequence[int]) -> dict[str, int]:
    """Missing patches (device-patch pairs) per severity, in scope."""
    rows = session.execute(
        select(DeviceUpdateRow.severity, func.count())
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .where(DeviceRow.client_id.in_(client_ids))
        .group_by(DeviceUpdateRow.severity)
    )
    return {r[0]: int(r[1]) for r in rows}


# Installed patches -------------------------------------------------------------------


def _installed(stmt: AnySelect, client_ids: Sequence[int]) -> AnySelect:
    return (
        stmt.join(OrderRow, OrderRow.id == JobPatchRow.order_id)
        .join(DeviceRow, DeviceRow.id == OrderRow.device_id)
        .where(
            OrderRow.kind == "install",
            JobPatchRow.status == _INSTALLED,
            DeviceRow.client_id.in_(client_ids),
        )
    )


def installed_patch_rows(session: Session, client_ids: Sequence[int]) -> Generator[Any]:
    """Every patch installed by a job on a device in scope, newest first per device."""
    stmt = _installed(
        select(
            ClientRow.name,
            DeviceRow.hostname,
            JobPatchRow.name,
            JobPatchRow.arch,
            JobPatchRow.version,
            JobPatchRow.advisory_id,
            JobPatchRow.updated_at,
            JobPatchRow.order_id,
        ),
        client_ids,
    ).join(ClientRow, ClientRow.id == DeviceRow.client_id)
    return _stream(
        session,
        stmt.order_by(
            ClientRow.name,
            DeviceRow.hostname,
            DeviceRow.id,
            JobPatchRow.updated_at.desc(),
            JobPatchRow.name,
            JobPatchRow.arch,
        ),
    )


def installed_totals(session: Session, client_ids: Sequence[int]) -> Any:
    """(rows, devices, packages) of the patches installed in scope."""
    return session.execute(
        _installed(
            select(
                func.count().label("rows"),
                func.count(distinct(OrderRow.device_id)).label("devices"),
                func.count(distinct(JobPatchRow.name)).label("packages"),
            ),
            client_ids,
        )
    ).one()


def installed_between(
    session: Session, client_ids: Sequence[int], edges: Sequence[datetime]
) -> list[int]:
    """Patches installed in each period ``[edges[i], edges[i + 1])``, in one query."""
    periods = list(pairwise(edges))
    if not periods:
        return []
    stmt = _installed(
        select(
            *(
                func.coalesce(
                    func.sum(
                        case(
                            (
                                (JobPatchRow.updated_at >= start)
                                & (JobPatchRow.updated_at < end),
                                1,
                            ),
                            else_=0,
                        )
                    ),
                    0,
                )
                for start, end in periods
            )
        ),
        client_ids,
    )
    return [int(v) for v in session.execute(stmt).one()]


# CVE exposure ------------------------------------------------------------------------


def cve_exposure_rows(session: Session, client_ids: Sequence[int]) -> Generator[Any]:
    """Every (device, CVE, package) in scope, by client, device and CVE."""
    return _stream(
        session,
        select(
            ClientRow.name,
            DeviceRow.hostname,
            DeviceCveRow.cve,
            DeviceCveRow.package,
            DeviceCveRow.version,
            DeviceCveRow.fixed,
            DeviceCveRow.state,
            DeviceCveRow.first_seen_at,
        )
        .join(DeviceRow, DeviceRow.id == DeviceCveRow.device_id)
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .where(DeviceRow.client_id.in_(client_ids))
        .order_by(
            ClientRow.name,
            DeviceRow.hostname,
            DeviceRow.id,
            DeviceCveRow.cve,
            DeviceCveRow.package,
        ),
    )


def cve_exposure_count(session: Session, client_ids: Sequence[int]) -> int:
    """Rows of the CVE exposure report: (device, CVE, package) pairs in scope."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(DeviceCveRow)
            .join(DeviceRow, DeviceRow.id == DeviceCveRow.device_id)
            .where(DeviceRow.client_id.in_(client_ids))
        )
        or 0
    )


# Scheduled reports -------------------------------------------------------------------


def add_schedule(session: Session, row: ReportScheduleRow) -> None:
    """Insert a report schedule."""
    session.add(row)
    session.flush()


def schedules_in_scope(
    session: Session,
    *,
    partner_id: int,
    client_ids: tuple[int, ...],
    partner_level: bool,
) -> list[ReportScheduleRow]:
    """Report schedules visible in a scope (partner-level ones at All Clients only)."""
    cond: ColumnElement[bool] = ReportScheduleRow.client_id.in_(client_ids)
    if partner_level:
        cond = or_(cond, ReportScheduleRow.client_id.is_(None))
    return list(
        session.scalars(
            select(ReportScheduleRow)
            .where(ReportScheduleRow.partner_id == partner_id, cond)
            .order_by(ReportScheduleRow.kind, ReportScheduleRow.created_at)
        )
    )


def schedule_by_uuid(
    session: Session, *, partner_id: int, schedule_uuid: uuid.UUID
) -> ReportScheduleRow | None:
    """One report schedule of a partner."""
    return session.scalar(
        select(ReportScheduleRow).where(
            ReportScheduleRow.partner_id == partner_id,
            ReportScheduleRow.uuid == schedule_uuid,
        )
    )


def schedule_by_id(session: Session, schedule_id: int) -> ReportScheduleRow | None:
    """One report schedule, locked for update where the database can."""
    return session.scalar(
        select(ReportScheduleRow)
        .where(ReportScheduleRow.id == schedule_id)
        .with_for_update()
    )


def due_schedule_ids(session: Session, now: datetime) -> list[int]:
    """Enabled report schedules whose next run has come, oldest due first."""
    return list(
        session.scalars(
            select(ReportScheduleRow.id)
            .where(
                ReportScheduleRow.enabled.is_(True),
                ReportScheduleRow.next_run_at <= now,
            )
            .order_by(ReportScheduleRow.next_run_at, ReportScheduleRow.id)
        )
    )


def remove_schedule(session: Session, row: ReportScheduleRow) -> None:
    """Delete a report schedule."""
    session.execute(delete(ReportScheduleRow).where(ReportScheduleRow.id == row.id))
