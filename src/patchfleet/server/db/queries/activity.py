"""The append-only activity log: insert and filtered reads, never updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from patchfleet.server.db.rows import ActivityRow


def record(session: Session, **values: Any) -> None:
    """Append one entry."""
    session.add(ActivityRow(**values))


def entries(
    session: Session,
    *,
    partner_id: int,
    client_ids: tuple[int, ...] | None,
    since: datetime | None,
    until: datetime | None,
    object_type: str,
    action: str,
    search: str,
    page: int,
    page_size: int,
) -> tuple[list[ActivityRow], int]:
    """One page of entries, newest first, and the total."""
    stmt = select(ActivityRow).where(ActivityRow.partner_id == partner_id)
    if client_ids is not None:
        stmt = stmt.where(ActivityRow.client_id.in_(client_ids))
    if since is not None:
        stmt = stmt.where(ActivityRow.at >= since)
    if until is not None:
        stmt = stmt.where(ActivityRow.at < until)
    if object_type:
        stmt = stmt.where(ActivityRow.object_type == object_type)
    if action:
        stmt = stmt.where(ActivityRow.action == action)
    if search:
        like = (
            "%"
            + search.lower()
            .replace("\\", "\\\\")
            .replace("%", "\\%")
            .replace("_", "\\_")
            + "%"
        )
        stmt = stmt.where(
            or_(
                func.lower(ActivityRow.object_name).like(like, escape="\\"),
                func.lower(ActivityRow.actor).like(like, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(ActivityRow.at.desc(), ActivityRow.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), total
