"""Install jobs: orders of kind ``install`` with their patches and reports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patchfleet.core.jobs import JobStatus, PatchOutcome, PatchStatus
from patchfleet.server.db.rows import (
    ClientRow,
    DeviceRow,
    JobPatchRow,
    JobReportRow,
    OrderRow,
)


def add_patches(
    session: Session, order_id: uuid.UUID, patches: Sequence[dict[str, Any]]
) -> None:
    """Insert the patches of a new job."""
    session.add_all(JobPatchRow(order_id=order_id, **p) for p in patches)


def targets(
    session: Session, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[JobPatchRow]]:
    """The pending patches of each order (what the agent must install)."""
    rows = session.scalars(
        select(JobPatchRow)
        .where(
            JobPatchRow.order_id.in_(order_ids),
            JobPatchRow.status == str(PatchStatus.PENDING),
        )
        .order_by(JobPatchRow.name)
    )
    found: dict[uuid.UUID, list[JobPatchRow]] = {}
    for r in rows:
        found.setdefault(r.order_id, []).append(r)
    return found


def reboot_policies(
    session: Session, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The reboot policy of each order."""
    rows = session.execute(
        select(OrderRow.id, OrderRow.reboot).where(OrderRow.id.in_(order_ids))
    )
    return {r[0]: r[1] for r in rows}


def job_for_device(
    session: Session, *, order_id: uuid.UUID, device_id: int
) -> OrderRow | None:
    """An install order of this device, locked for update where the database can."""
    return session.scalar(
        select(OrderRow)
        .where(
            OrderRow.id == order_id,
            OrderRow.device_id == device_id,
            OrderRow.kind == "install",
        )
        .with_for_update()
    )


def outcomes(session: Session, order_id: uuid.UUID) -> list[PatchOutcome]:
    """The patches of a job as core outcomes."""
    rows = session.scalars(select(JobPatchRow).where(JobPatchRow.order_id == order_id))
    return [
        PatchOutcome(r.name, r.version, r.arch, PatchStatus(r.status), r.message)
        for r in rows
    ]


def save_outcomes(
    session: Session, order_id: uuid.UUID, items: Sequence[PatchOutcome], now: datetime
) -> None:
    """Store outcomes of patches that belong to the job (others are ignored)."""
    for o in items:
        session.execute(
            update(JobPatchRow)
            .where(
                JobPatchRow.order_id == order_id,
                JobPatchRow.name == o.name,
                JobPatchRow.arch == o.arch,
                JobPatchRow.version == o.version,
            )
            .values(status=str(o.status), message=o.message[:8000], updated_at=now)
        )


def report_seen(session: Session, report_id: uuid.UUID) -> bool:
    """Whether this job report was applied already."""
    return session.get(JobReportRow, report_id) is not None


def add_report(
    session: Session, *, report_id: uuid.UUID, order_id: uuid.UUID, now: datetime
) -> None:
    """Remember an applied report."""
    session.add(JobReportRow(id=report_id, order_id=order_id, received_at=now))


def overdue(session: Session, now: datetime) -> list[OrderRow]:
    """Unfinished install jobs past their deadline."""
    finals = [str(s) for s in JobStatus if s.is_final]
    return list(
        session.scalars(
            select(OrderRow).where(
                OrderRow.kind == "install",
                OrderRow.status.not_in(finals),
                OrderRow.deadline_at <= now,
            )
        )
    )


def jobs(session: Session, *, client_ids: tuple[int, ...], limit: int) -> list[Any]:
    """Latest install jobs in scope with device and client names."""
    return list(
        session.execute(
            select(
                OrderRow,
                DeviceRow.uuid,
                DeviceRow.hostname,
                ClientRow.name.label("client_name"),
            )
            .join(DeviceRow, DeviceRow.id == OrderRow.device_id)
            .join(ClientRow, ClientRow.id == DeviceRow.client_id)
            .where(OrderRow.kind == "install", DeviceRow.client_id.in_(client_ids))
            .order_by(OrderRow.created_at.desc())
            .limit(limit)
        )
    )


def job(session: Session, *, client_ids: tuple[int, ...], order_id: uuid.UUID) -> Any:
    """One install job in scope, or None."""
    return session.execute(
        select(
            OrderRow,
            DeviceRow.uuid,
            DeviceRow.hostname,
            ClientRow.name.label("client_name"),
        )
        .join(DeviceRow, DeviceRow.id == OrderRow.device_id)
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .where(
            OrderRow.id == order_id,
            OrderRow.kind == "install",
            DeviceRow.client_id.in_(client_ids),
        )
    ).first()


def patches_of(session: Session, order_id: uuid.UUID) -> list[JobPatchRow]:
    """All patches of one job."""
    return list(
        session.scalars(
            select(JobPatchRow)
            .where(JobPatchRow.order_id == order_id)
            .order_by(JobPatchRow.name)
        )
    )


def patches_of_many(
    session: Session, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[JobPatchRow]]:
    """The patches of several jobs in one query."""
    found: dict[uuid.UUID, list[JobPatchRow]] = {}
    rows = session.scalars(
        select(JobPatchRow)
        .where(JobPatchRow.order_id.in_(order_ids))
        .order_by(JobPatchRow.name)
    )
    for r in rows:
        found.setdefault(r.order_id, []).append(r)
    return found
