"""Paged, sorted, scoped device listings."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from patchfleet.server.db.queries.patches import devices_with_counts
from patchfleet.server.db.rows import ClientRow, DevicePackageRow, DeviceRow


def _sort_columns(stmt: Any) -> dict[str, Any]:
    cols = stmt.selected_columns
    return {
        "hostname": DeviceRow.hostname,
        "client": ClientRow.name,
        "os": DeviceRow.os_name,
        "last_seen": DeviceRow.last_seen_at,
        "last_scan": DeviceRow.last_scan_at,
        "missing": cols.missing,
        "missing_security": cols.missing_security,
    }


def device_page(
    session: Session,
    *,
    client_ids: tuple[int, ...],
    page: int,
    page_size: int,
    sort: str,
    descending: bool,
    search: str,
) -> tuple[list[Any], int]:
    """One page of devices with counts, and the total."""
    stmt = devices_with_counts(client_ids)
    if search:
        escaped = (
            search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        )
        like = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                func.lower(DeviceRow.hostname).like(like, escape="\\"),
                func.lower(DeviceRow.os_name).like(like, escape="\\"),
                func.lower(ClientRow.name).like(like, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    column = _sort_columns(stmt)[sort]
    order = column.desc() if descending else column.asc()
    rows = session.execute(
        stmt.order_by(order, DeviceRow.hostname, DeviceRow.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return list(rows), total


def device_detail(
    session: Session, *, client_ids: tuple[int, ...], device_uuid: uuid.UUID
) -> Any:
    """One device with counts and its package count, or None."""
    count = (
        select(func.count())
        .select_from(DevicePackageRow)
        .where(DevicePackageRow.device_id == DeviceRow.id)
        .scalar_subquery()
    )
    stmt = (
        devices_with_counts(client_ids)
        .add_columns(count.label("package_count"))
        .where(DeviceRow.uuid == device_uuid)
    )
    return session.execute(stmt).first()
