"""Scan schedules and the automatic daily scan of unassigned devices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from patchfleet.server.db.rows import DeviceRow, PartnerRow, ScanRunRow, ScanScheduleRow


def add(session: Session, **values: Any) -> ScanScheduleRow:
    """Insert a scan schedule."""
    row = ScanScheduleRow(**values)
    session.add(row)
    session.flush()
    return row


def in_scope(
    session: Session,
    *,
    partner_id: int,
    client_ids: tuple[int, ...],
    partner_level: bool,
) -> list[ScanScheduleRow]:
    """Scan schedules visible in a scope."""
    cond: ColumnElement[bool] = ScanScheduleRow.client_id.in_(client_ids)
    if partner_level:
        cond = or_(cond, ScanScheduleRow.client_id.is_(None))
    return list(
        session.scalars(
            select(ScanScheduleRow)
            .where(ScanScheduleRow.partner_id == partner_id, cond)
            .order_by(ScanScheduleRow.name)
        )
    )


def of_partner(session: Session, partner_id: int) -> list[ScanScheduleRow]:
    """Every enabled scan schedule of a partner."""
    return list(
        session.scalars(
            select(ScanScheduleRow).where(
                ScanScheduleRow.partner_id == partner_id,
                ScanScheduleRow.enabled.is_(True),
            )
        )
    )


def by_uuid(
    session: Session, *, partner_id: int, schedule_uuid: uuid.UUID
) -> ScanScheduleRow | None:
    """One scan schedule of a partner."""
    return session.scalar(
        select(ScanScheduleRow).where(
            ScanScheduleRow.partner_id == partner_id,
            ScanScheduleRow.uuid == schedule_uuid,
        )
    )


def due(session: Session, now: datetime) -> list[ScanScheduleRow]:
    """Enabled scan schedules whose next run has come."""
    return list(
        session.scalars(
            select(ScanScheduleRow).where(
                ScanScheduleRow.enabled.is_(True), ScanScheduleRow.next_run_at <= now
            )
        )
    )


def remove(session: Session, row: ScanScheduleRow) -> None:
    """Delete a scan schedule."""
    session.execute(delete(ScanScheduleRow).where(ScanScheduleRow.id == row.id))


def auto_scan_partners(session: Session) -> list[int]:
    """Partners with Auto Patch Scan on."""
    return list(
        session.scalars(select(PartnerRow.id).where(PartnerRow.auto_scan.is_(True)))
    )


def add_run(session: Session, **values: Any) -> None:
    """Record a scan-schedule run."""
    session.add(ScanRunRow(**values))


def summaries_due(session: Session, now: datetime) -> list[ScanRunRow]:
    """Scan runs whose summary is due and not sent."""
    return list(
        session.scalars(
            select(ScanRunRow).where(
                ScanRunRow.summary_sent_at.is_(None), ScanRunRow.summary_due_at <= now
            )
        )
    )


def run_devices(session: Session, device_ids: list[int]) -> list[DeviceRow]:
    """The devices of a run, by hostname."""
    return list(
        session.scalars(
            select(DeviceRow)
            .where(DeviceRow.id.in_(device_ids))
            .order_by(DeviceRow.hostname)
        )
    )
