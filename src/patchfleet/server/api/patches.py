"""Missing Patches BY PATCH and BY DEVICE (FEATURES MP-01..MP-04, MP-16)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from patchfleet.core.updates import Classification
from patchfleet.server.api.deps import (
    NowDep,
    PageDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.services import devices, patches
from patchfleet.server.services.devices import DeviceSort
from patchfleet.server.services.patches import PatchSort
from patchfleet.server.services.views import (
    DeviceSummary,
    Page,
    PatchDevice,
    PatchSummary,
)

router = APIRouter(
    prefix="/api/v1/missing-patches",
    tags=["missing patches"],
    dependencies=[Depends(reject_unknown_query)],
)


@router.get("/by-patch")
def by_patch(
    now: NowDep,
    scope: ScopeDep,
    session: SessionDep,
    paging: PageDep,
    sort: PatchSort = PatchSort.CLASSIFICATION,
    descending: bool = False,
    search: Annotated[str, Query(max_length=200)] = "",
    classification: Classification | None = None,
) -> Page[PatchSummary]:
    """One row per missing patch with its affected-device count."""
    page, size = paging
    return patches.by_patch(
        session,
        scope=scope,
        page=page,
        page_size=size,
        sort=sort,
        descending=descending,
        search=search,
        classification=str(classification or ""),
        now=now,
    )


@router.get("/by-patch/devices")
def patch_devices(
    scope: ScopeDep,
    session: SessionDep,
    backend: Annotated[str, Query(max_length=32)],
    name: Annotated[str, Query(max_length=256)],
    version: Annotated[str, Query(max_length=256)],
) -> list[PatchDevice]:
    """The devices missing one patch (its device count is this list's length)."""
    return patches.patch_devices(
        session, scope=scope, backend=backend, name=name, version=version
    )


@router.get("/by-device")
def by_device(
    scope: ScopeDep,
    session: SessionDep,
    paging: PageDep,
    sort: DeviceSort = DeviceSort.MISSING_SECURITY,
    descending: bool = True,
    search: Annotated[str, Query(max_length=200)] = "",
) -> Page[DeviceSummary]:
    """One row per device: missing, security+critical, installable now, last scan, reboot."""
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
