"""Devices, their facts, packages, scans and Scan Now."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    PageDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import ScanNowIn, ScanNowOut
from patchfleet.server.services import devices, patches
from patchfleet.server.services.devices import DeviceSort
from patchfleet.server.services.views import (
    DeviceDetail,
    DeviceSummary,
    MissingPatch,
    PackageView,
    Page,
    ScanView,
)

router = APIRouter(
    prefix="/api/v1", tags=["devices"], dependencies=[Depends(reject_unknown_query)]
)


@router.get("/devices")
def list_devices(
    scope: ScopeDep,
    session: SessionDep,
    paging: PageDep,
    sort: DeviceSort = DeviceSort.HOSTNAME,
    descending: bool = False,
    search: Annotated[str, Query(max_length=200)] = "",
) -> Page[DeviceSummary]:
    """Devices in scope with missing-patch counts."""
    page, size = paging
    return devices.list_devices(
        session,
        scope=scope,
        page=page,
        page_size=size,
        sort=sort,
        descending=descending,
        search=search,
    )


@router.get("/devices/{device_id}")
def get_device(
    device_id: uuid.UUID, scope: ScopeDep, session: SessionDep
) -> DeviceDetail:
    """One device and its facts."""
    return devices.get_device(session, scope=scope, device_id=device_id)


@router.get("/devices/{device_id}/packages")
def device_packages(
    device_id: uuid.UUID, scope: ScopeDep, session: SessionDep
) -> list[PackageView]:
    """Installed packages of a device."""
    return devices.device_packages(session, scope=scope, device_id=device_id)


@router.get("/devices/{device_id}/patches")
def device_patches(
    device_id: uuid.UUID, scope: ScopeDep, session: SessionDep
) -> list[MissingPatch]:
    """Missing patches of a device from its latest scan (the device's Patches tab)."""
    return patches.device_patches(session, scope=scope, device_id=device_id)


@router.get("/devices/{device_id}/scans")
def device_scans(
    device_id: uuid.UUID, scope: ScopeDep, session: SessionDep
) -> list[ScanView]:
    """Latest scans of a device."""
    return devices.device_scans(session, scope=scope, device_id=device_id)


@router.post("/devices/{device_id}/scan", status_code=status.HTTP_202_ACCEPTED)
def scan_device(
    device_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ScanNowOut:
    """Scan Now for one device: the agent runs it at its next check-in."""
    ordered = devices.scan_now(
        session, principal=principal, scope=scope, device_ids=[device_id], now=now
    )
    return ScanNowOut(ordered=ordered)


@router.post("/scan-now", status_code=status.HTTP_202_ACCEPTED)
def scan_now(
    body: ScanNowIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ScanNowOut:
    """Scan Now for up to 100 devices."""
    ordered = devices.scan_now(
        session, principal=principal, scope=scope, device_ids=body.device_ids, now=now
    )
    return ScanNowOut(ordered=ordered)
