"""Devices in scope: list, detail, installed packages, scans, Scan Now."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.errors import BulkLimitError, NotFoundError
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.server.db.queries import devices, listing, patches
from patchfleet.server.services.views import (
    DeviceDetail,
    DeviceSummary,
    PackageView,
    Page,
    ScanView,
)

BULK_LIMIT = 100


class DeviceSort(StrEnum):
    """Sortable columns of device lists."""

    HOSTNAME = "hostname"
    CLIENT = "client"
    OS = "os"
    LAST_SEEN = "last_seen"
    LAST_SCAN = "last_scan"
    MISSING = "missing"
    MISSING_SECURITY = "missing_security"


def summary(row: Any) -> dict[str, Any]:
    """Fields of a device summary from a ``devices_with_counts`` row."""
    d = row[0]
    return {
        "id": d.uuid,
        "hostname": d.hostname,
        "client_id": d.client_id,
        "client_name": row.client_name,
        "os_family": d.os_family,
        "os_name": d.os_name,
        "os_version": d.os_version,
        "ips": list(d.ips or []),
        "package_manager": d.package_manager,
        "agent_version": d.agent_version,
        "last_seen_at": d.last_seen_at,
        "last_scan_at": d.last_scan_at,
        "last_scan_status": d.last_scan_status,
        "reboot_required": d.reboot_required,
        "missing": int(row.missing),
        "missing_security": int(row.missing_security),
        "installable_now": int(row.installable),
    }


def list_devices(
    session: Session,
    *,
    scope: Scope,
    page: int,
    page_size: int,
    sort: DeviceSort = DeviceSort.HOSTNAME,
    descending: bool = False,
    search: str = "",
) -> Page[DeviceSummary]:
    """Devices in scope with missing-patch counts (also Missing Patches BY DEVICE)."""
    with session.begin():
        rows, total = listing.device_page(
            session,
            client_ids=scope.client_ids,
            page=page,
            page_size=page_size,
            sort=str(sort),
            descending=descending,
            search=search,
        )
        items = [DeviceSummary(**summary(r)) for r in rows]
    return Page[DeviceSummary](items=items, total=total, page=page, page_size=page_size)


def get_device(session: Session, *, scope: Scope, device_id: uuid.UUID) -> DeviceDetail:
    """One device in scope with its facts."""
    with session.begin():
        row = listing.device_detail(
            session, client_ids=scope.client_ids, device_uuid=device_id
        )
        if row is None:
            raise NotFoundError(f"device {device_id} not found")
        d = row[0]
        return DeviceDetail(
            **summary(row),
            kernel=d.kernel,
            arch=d.arch,
            enrolled_at=d.enrolled_at,
            inventory_at=d.inventory_at,
            package_count=int(row.package_count),
            last_scan_error=d.last_scan_error,
        )


def device_packages(
    session: Session, *, scope: Scope, device_id: uuid.UUID
) -> list[PackageView]:
    """A device's installed packages."""
    with session.begin():
        device = devices.device_in(session, device_id, scope.client_ids)
        if device is None:
            raise NotFoundError(f"device {device_id} not found")
        return [
            PackageView.model_validate(p) for p in devices.packages(session, device.id)
        ]


def device_scans(
    session: Session, *, scope: Scope, device_id: uuid.UUID
) -> list[ScanView]:
    """A device's latest scans."""
    with session.begin():
        device = devices.device_in(session, device_id, scope.client_ids)
        if device is None:
            raise NotFoundError(f"device {device_id} not found")
        return [
            ScanView.model_validate(s) for s in patches.recent_scans(session, device.id)
        ]


def scan_now(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    device_ids: Sequence[uuid.UUID],
    now: datetime,
) -> list[uuid.UUID]:
    """Order a scan on each device (SCN Run Now); at most 100 at once (DEC-12).

    A device that already has an unfinished scan order gets no second one. Returns the
    devices that got an order.
    """
    require_role(principal, Role.OPERATOR)
    if len(device_ids) > BULK_LIMIT:
        raise BulkLimitError(
            f"{len(device_ids)} devices named; at most {BULK_LIMIT} per request",
            loc=("body", "device_ids"),
        )
    with session.begin():
        found = devices.devices_in(session, list(set(device_ids)), scope.client_ids)
        missing = set(device_ids) - {d.uuid for d in found}
        if missing:
            raise NotFoundError(f"device {sorted(map(str, missing))[0]} not found")
        ordered = []
        for d in found:
            if devices.open_order_exists(session, d.id, "scan"):
                continue
            devices.add_order(
                session,
                id=uuid.uuid4(),
                device_id=d.id,
                kind="scan",
                status="pending",
                created_at=now,
                created_by=principal.user_id,
                delivered_at=None,
                completed_at=None,
            )
            ordered.append(d.uuid)
    return ordered
