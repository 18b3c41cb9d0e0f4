"""Patch configurations, their runs and the scheduler lease."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from patchfleet.server.db.rows import (
    ClientRow,
    ConfigurationRow,
    ConfigurationRunRow,
    DeviceRow,
    LeaseRow,
    OrderRow,
)


def add(session: Session, **values: Any) -> ConfigurationRow:
    """Insert a configuration."""
    row = ConfigurationRow(**values)
    session.add(row)
    session.flush()
    return row


def in_scope(
    session: Session,
    *,
    partner_id: int,
    client_ids: tuple[int, ...],
    partner_level: bool,
) -> list[ConfigurationRow]:
    """Configurations visible in a scope: the clients' own, plus the partner's at All Clients."""
    cond: ColumnElement[bool] = ConfigurationRow.client_id.in_(client_ids)
    if partner_level:
        cond = or_(cond, ConfigurationRow.client_id.is_(None))
    return list(
        session.scalars(
            select(ConfigurationRow)
            .where(ConfigurationRow.partner_id == partner_id, cond)
            .order_by(
                ConfigurationRow.precedence,
                ConfigurationRow.created_at,
                ConfigurationRow.id,
            )
        )
    )


def by_uuid(
    session: Session, *, partner_id: int, config_uuid: uuid.UUID
) -> ConfigurationRow | None:
    """One configuration of a partner."""
    return session.scalar(
        select(ConfigurationRow).where(
            ConfigurationRow.partner_id == partner_id,
            ConfigurationRow.uuid == config_uuid,
        )
    )


def of_partner(session: Session, partner_id: int) -> list[ConfigurationRow]:
    """Every configuration of a partner (allocation needs them all)."""
    return list(
        session.scalars(
            select(ConfigurationRow).where(ConfigurationRow.partner_id == partner_id)
        )
    )


def due(session: Session, now: datetime) -> list[ConfigurationRow]:
    """Enabled configurations whose next run has come."""
    return list(
        session.scalars(
            select(ConfigurationRow).where(
                ConfigurationRow.enabled.is_(True), ConfigurationRow.next_run_at <= now
            )
        )
    )


def remove(session: Session, row: ConfigurationRow) -> None:
    """Delete a configuration (its runs go with it; jobs stay, unlinked)."""
    session.execute(delete(ConfigurationRow).where(ConfigurationRow.id == row.id))


def partner_devices(session: Session, partner_id: int) -> list[Any]:
    """Every device of a partner with its client's name."""
    return list(
        session.execute(
            select(DeviceRow, ClientRow.name)
            .join(ClientRow, ClientRow.id == DeviceRow.client_id)
            .where(ClientRow.partner_id == partner_id)
        )
    )


def add_run(session: Session, **values: Any) -> ConfigurationRunRow:
    """Insert a run."""
    row = ConfigurationRunRow(**values)
    session.add(row)
    session.flush()
    return row


def summaries_due(session: Session, now: datetime) -> list[ConfigurationRunRow]:
    """Runs whose summary e-mail is due and not sent."""
    return list(
        session.scalars(
            select(ConfigurationRunRow).where(
                ConfigurationRunRow.summary_sent_at.is_(None),
                ConfigurationRunRow.summary_due_at <= now,
            )
        )
    )


def run_jobs(session: Session, run_id: uuid.UUID) -> list[Any]:
    """The jobs of a run with their device names."""
    return list(
        session.execute(
            select(OrderRow, DeviceRow.hostname)
            .join(DeviceRow, DeviceRow.id == OrderRow.device_id)
            .where(OrderRow.run_id == run_id)
            .order_by(DeviceRow.hostname)
        )
    )


def take_lease(
    session: Session, *, name: str, holder: str, now: datetime, until: datetime
) -> bool:
    """Claim a lease if free, expired or already ours (one conditional statement)."""
    claimed = session.execute(
        update(LeaseRow)
        .where(
            LeaseRow.name == name,
            or_(LeaseRow.expires_at <= now, LeaseRow.holder == holder),
        )
        .values(holder=holder, expires_at=until)
    )
    if claimed.rowcount:  # type: ignore[attr-defined]
        return True
    try:
        with session.begin_nested():
            session.execute(
                insert(LeaseRow).values(name=name, holder=holder, expires_at=until)
            )
    except IntegrityError:
        return False
    return True


def marker(session: Session, name: str) -> datetime | None:
    """When a named periodic task last ran (kept in the lease table)."""
    return session.scalar(select(LeaseRow.expires_at).where(LeaseRow.name == name))


def set_marker(session: Session, name: str, at: datetime) -> None:
    """Record when a named periodic task ran."""
    updated = session.execute(
        update(LeaseRow).where(LeaseRow.name == name).values(expires_at=at)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.add(LeaseRow(name=name, holder="task", expires_at=at))
