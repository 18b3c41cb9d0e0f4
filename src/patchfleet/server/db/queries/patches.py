"""Scans and the missing patches of each device's latest scan."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, delete, func, insert, select
from sqlalchemy.orm import Session

from patchfleet.core.updates import Update, patch_id
from patchfleet.server.db.rows import ClientRow, DeviceRow, DeviceUpdateRow, ScanRow

BATCH = 1000

SECURITY_CLASSES = ("security", "critical")


def scan_exists(session: Session, scan_id: uuid.UUID) -> bool:
    """Whether a scan with this id was already stored."""
    return session.get(ScanRow, scan_id) is not None


def add_scan(session: Session, **values: Any) -> None:
    """Insert a scan record."""
    session.add(ScanRow(**values))
    session.flush()


def first_seen(
    session: Session, device_id: int
) -> dict[tuple[str, str, str], datetime]:
    """When each (name, arch, candidate) currently missing was first seen."""
    rows = session.execute(
        select(
            DeviceUpdateRow.name,
            DeviceUpdateRow.arch,
            DeviceUpdateRow.candidate_version,
            DeviceUpdateRow.first_seen_at,
        ).where(DeviceUpdateRow.device_id == device_id)
    )
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def replace_updates(
    session: Session,
    *,
    device_id: int,
    backend: str,
    updates: Sequence[Update],
    first_seen_at: dict[tuple[str, str, str], datetime],
    now: datetime,
) -> None:
    """Replace a device's missing patches with those of its latest scan."""
    session.execute(
        delete(DeviceUpdateRow).where(DeviceUpdateRow.device_id == device_id)
    )
    values = [
        {
            "device_id": device_id,
            "name": u.name,
            "arch": u.arch,
            "backend": backend,
            "installed_version": u.installed_version,
            "candidate_version": u.candidate_version,
            "classification": str(u.classification),
            "severity": str(u.severity),
            "raw_severity": u.raw_severity,
            "source": u.source,
            "advisory_id": u.advisory_id,
            "cves": " ".join(u.cves),
            "state": str(u.state),
            "source_package": u.source_package,
            "patch_id": patch_id(backend, u.name, u.candidate_version),
            "first_seen_at": first_seen_at.get(
                (u.name, u.arch, u.candidate_version), now
            ),
        }
        for u in updates
    ]
    for start in range(0, len(values), BATCH):
        session.execute(insert(DeviceUpdateRow), values[start : start + BATCH])


PATCH_KEY = (
    DeviceUpdateRow.backend,
    DeviceUpdateRow.name,
    DeviceUpdateRow.candidate_version,
)


def by_patch(session: Session, client_ids: tuple[int, ...]) -> list[Any]:
    """One row per (backend, name, target version, classification...) in scope."""
    stmt = (
        select(
            *PATCH_KEY,
            DeviceUpdateRow.classification,
            DeviceUpdateRow.severity,
            DeviceUpdateRow.raw_severity,
            DeviceUpdateRow.advisory_id,
            DeviceUpdateRow.cves,
            DeviceUpdateRow.source,
            func.count(DeviceUpdateRow.device_id.distinct()).label("devices"),
            func.count(
                case(
                    (DeviceUpdateRow.state == "installable", DeviceUpdateRow.device_id)
                ).distinct()
            ).label("installable"),
            func.min(DeviceUpdateRow.installed_version).label("installed_min"),
            func.max(DeviceUpdateRow.installed_version).label("installed_max"),
            func.min(DeviceUpdateRow.first_seen_at).label("first_seen_at"),
        )
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .where(DeviceRow.client_id.in_(client_ids))
        .group_by(
            *PATCH_KEY,
            DeviceUpdateRow.classification,
            DeviceUpdateRow.severity,
            DeviceUpdateRow.raw_severity,
            DeviceUpdateRow.advisory_id,
            DeviceUpdateRow.cves,
            DeviceUpdateRow.source,
        )
    )
    return list(session.execute(stmt))


def patch_devices(
    session: Session,
    *,
    client_ids: tuple[int, ...],
    backend: str,
    name: str,
    version: str,
) -> list[Any]:
    """Devices in scope missing one patch, with their installed version and state."""
    stmt = (
        select(
            DeviceRow.uuid,
            DeviceRow.hostname,
            ClientRow.name.label("client_name"),
            DeviceUpdateRow.installed_version,
            DeviceUpdateRow.state,
        )
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .where(
            DeviceRow.client_id.in_(client_ids),
            DeviceUpdateRow.backend == backend,
            DeviceUpdateRow.name == name,
            DeviceUpdateRow.candidate_version == version,
        )
        .distinct()
        .order_by(DeviceRow.hostname)
    )
    return list(session.execute(stmt))


def _counts_subquery() -> Any:
    return (
        select(
            DeviceUpdateRow.device_id.label("device_id"),
            func.count().label("missing"),
            func.sum(
                case((DeviceUpdateRow.classification.in_(SECURITY_CLASSES), 1), else_=0)
            ).label("missing_security"),
            func.sum(case((DeviceUpdateRow.state == "installable", 1), else_=0)).label(
                "installable"
            ),
        )
        .group_by(DeviceUpdateRow.device_id)
        .subquery()
    )


def devices_with_counts(client_ids: tuple[int, ...]) -> Select[Any]:
    """A statement listing devices in scope with their missing-patch counts."""
    counts = _counts_subquery()
    return (
        select(
            DeviceRow,
            ClientRow.name.label("client_name"),
            func.coalesce(counts.c.missing, 0).label("missing"),
            func.coalesce(counts.c.missing_security, 0).label("missing_security"),
            func.coalesce(counts.c.installable, 0).label("installable"),
        )
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .outerjoin(counts, counts.c.device_id == DeviceRow.id)
        .where(DeviceRow.client_id.in_(client_ids))
    )


def device_updates(session: Session, device_id: int) -> list[DeviceUpdateRow]:
    """A device's missing patches, security first then by name."""
    order = case(
        (DeviceUpdateRow.classification == "security", 0),
        (DeviceUpdateRow.classification == "critical", 1),
        else_=2,
    )
    return list(
        session.scalars(
            select(DeviceUpdateRow)
            .where(DeviceUpdateRow.device_id == device_id)
            .order_by(order, DeviceUpdateRow.name)
        )
    )


def recent_scans(session: Session, device_id: int, limit: int = 20) -> list[ScanRow]:
    """A device's latest scans, newest first."""
    return list(
        session.scalars(
            select(ScanRow)
            .where(ScanRow.device_id == device_id)
            .order_by(ScanRow.received_at.desc())
            .limit(limit)
        )
    )
