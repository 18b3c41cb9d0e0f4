"""Devices, their installed packages and orders.

The check-in path uses Core statements and bulk inserts: no per-package ORM round
trips (FEATURES BP-14).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from patchfleet.core.packages import Package, PackageKey
from patchfleet.server.db.rows import DevicePackageRow, DeviceRow, OrderRow

BATCH = 1000


def add_device(session: Session, **values: Any) -> DeviceRow:
    """Insert a device."""
    row = DeviceRow(**values)
    session.add(row)
    session.flush()
    return row


# Written out because SQLAlchemy's SQLite compiler renders RETURNING columns without
# their table, which would make a correlated subquery compare orders.id to itself.
_OPEN_ORDERS: ColumnClause[Any] = literal_column(
    "EXISTS (SELECT 1 FROM orders AS o WHERE o.device_id = devices.id"
    " AND o.status IN ('pending', 'delivered'))"
)


def check_in(
    session: Session, credential_hash: str, *, now: datetime, **values: Any
) -> tuple[int, str, bool] | None:
    """Record a heartbeat in ONE statement; (id, inventory hash, has open orders).

    The check-in hot path (BP-14): no separate lookup, and the order query runs only
    when this says there is something open.
    """
    table = DeviceRow.__table__
    row = session.execute(
        update(table)  # type: ignore[arg-type]
        .where(table.c.credential_hash == credential_hash)
        .values(last_seen_at=now, **values)
        .returning(table.c.id, table.c.inventory_hash, _OPEN_ORDERS)
    ).first()
    return (row[0], row[1], bool(row[2])) if row else None


def device_by_credential(
    session: Session, credential_hash: str
) -> tuple[int, str] | None:
    """(device id, inventory hash) for a credential hash, in one indexed lookup."""
    row = session.execute(
        select(DeviceRow.id, DeviceRow.inventory_hash).where(
            DeviceRow.credential_hash == credential_hash
        )
    ).first()
    return (row[0], row[1]) if row else None


def last_scan_at(session: Session, device_id: int) -> datetime | None:
    """When the device's latest stored scan finished."""
    return session.scalar(
        select(DeviceRow.last_scan_at).where(DeviceRow.id == device_id)
    )


def set_values(session: Session, device_id: int, **values: Any) -> None:
    """Update columns of one device."""
    session.execute(update(DeviceRow).where(DeviceRow.id == device_id).values(**values))


def _package_values(
    device_id: int, packages: Sequence[Package]
) -> list[dict[str, Any]]:
    return [
        {
            "device_id": device_id,
            "name": p.name,
            "arch": p.arch,
            "version": p.version,
            "source_name": p.source_name,
            "source_version": p.source_version,
        }
        for p in packages
    ]


def insert_packages(
    session: Session, device_id: int, packages: Sequence[Package]
) -> None:
    """Insert packages in batches of ``BATCH`` rows."""
    values = _package_values(device_id, packages)
    for start in range(0, len(values), BATCH):
        # Core insert on the table: a plain executemany, no ORM bookkeeping.
        session.execute(
            insert(DevicePackageRow.__table__),  # type: ignore[arg-type]
            values[start : start + BATCH],
        )


def delete_packages(
    session: Session, device_id: int, keys: Sequence[PackageKey]
) -> None:
    """Delete the given packages of a device."""
    for start in range(0, len(keys), BATCH):
        chunk = [(k.name, k.arch) for k in keys[start : start + BATCH]]
        session.execute(
            delete(DevicePackageRow).where(
                DevicePackageRow.device_id == device_id,
                tuple_(DevicePackageRow.name, DevicePackageRow.arch).in_(chunk),
            )
        )


def packages(session: Session, device_id: int) -> list[Package]:
    """A device's installed packages, by name."""
    rows = session.execute(
        select(
            DevicePackageRow.name,
            DevicePackageRow.version,
            DevicePackageRow.arch,
            DevicePackageRow.source_name,
            DevicePackageRow.source_version,
        )
        .where(DevicePackageRow.device_id == device_id)
        .order_by(DevicePackageRow.name, DevicePackageRow.arch)
    )
    return [Package(*r) for r in rows]


def device_in(
    session: Session, device_uuid: uuid.UUID, client_ids: tuple[int, ...]
) -> DeviceRow | None:
    """A device by uuid, only if it belongs to one of ``client_ids``."""
    return session.scalar(
        select(DeviceRow).where(
            DeviceRow.uuid == device_uuid, DeviceRow.client_id.in_(client_ids)
        )
    )


def devices_in(
    session: Session, uuids: Sequence[uuid.UUID], client_ids: tuple[int, ...]
) -> list[DeviceRow]:
    """Devices by uuid within ``client_ids``."""
    return list(
        session.scalars(
            select(DeviceRow).where(
                DeviceRow.uuid.in_(uuids), DeviceRow.client_id.in_(client_ids)
            )
        )
    )


def add_order(session: Session, **values: Any) -> None:
    """Insert an order."""
    session.add(OrderRow(**values))


def due_orders(
    session: Session, device_id: int, *, redeliver_before: datetime
) -> list[tuple[uuid.UUID, str, datetime]]:
    """Pending orders, and delivered ones not completed since ``redeliver_before``."""
    rows = session.execute(
        select(OrderRow.id, OrderRow.kind, OrderRow.created_at)
        .where(
            OrderRow.device_id == device_id,
            or_(
                OrderRow.status == "pending",
                and_(
                    OrderRow.status == "delivered",
                    OrderRow.delivered_at < redeliver_before,
                ),
            ),
        )
        .order_by(OrderRow.created_at)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def mark_delivered(
    session: Session, order_ids: Sequence[uuid.UUID], *, now: datetime
) -> None:
    """Mark orders delivered."""
    session.execute(
        update(OrderRow)
        .where(OrderRow.id.in_(order_ids))
        .values(status="delivered", delivered_at=now)
    )


def complete_order(
    session: Session, *, order_id: uuid.UUID, device_id: int, status: str, now: datetime
) -> None:
    """Mark an order of this device done (idempotent)."""
    session.execute(
        update(OrderRow)
        .where(
            OrderRow.id == order_id,
            OrderRow.device_id == device_id,
            OrderRow.completed_at.is_(None),
        )
        .values(status=status, completed_at=now)
    )


def open_order_exists(session: Session, device_id: int, kind: str) -> bool:
    """Whether the device already has an unfinished order of ``kind``."""
    n = session.scalar(
        select(func.count())
        .select_from(OrderRow)
        .where(
            OrderRow.device_id == device_id,
            OrderRow.kind == kind,
            OrderRow.status.in_(("pending", "delivered")),
        )
    )
    return bool(n)
