"""Missing Patches pages: BY PATCH with its device side pane, and BY DEVICE (DEC-02)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from patchfleet.core.updates import Classification
from patchfleet.server.services import devices, patches
from patchfleet.server.services.devices import DeviceSort
from patchfleet.server.services.patches import PatchSort
from patchfleet.server.web.deps import (
    ListQuery,
    PageNumber,
    Search,
    SessionDep,
    ViewerDep,
)
from patchfleet.server.web.rendering import PageRoute, is_htmx, render

router = APIRouter(prefix="/patches", include_in_schema=False, route_class=PageRoute)

PAGE_SIZE = 50


def patch_query(
    search: Search = "",
    classification: Classification | None = None,
    sort: PatchSort = PatchSort.CLASSIFICATION,
    descending: bool = False,
    page: PageNumber = 1,
) -> ListQuery:
    """Filters, sort and page of BY PATCH."""
    return ListQuery(
        search, str(sort), descending, page, classification=str(classification or "")
    )


def by_device_query(
    search: Search = "",
    sort: DeviceSort = DeviceSort.MISSING_SECURITY,
    descending: bool = True,
    page: PageNumber = 1,
) -> ListQuery:
    """Search, sort and page of BY DEVICE (most security+critical first)."""
    return ListQuery(search=search, sort=str(sort), descending=descending, page=page)


PatchQuery = Annotated[ListQuery, Depends(patch_query)]
ByDeviceQuery = Annotated[ListQuery, Depends(by_device_query)]


@router.get("/by-patch")
def by_patch(
    request: Request, viewer: ViewerDep, session: SessionDep, q: PatchQuery
) -> Response:
    """One row per missing patch with its device count (MP-02, MP-04)."""
    found = patches.by_patch(
        session,
        scope=viewer.scope,
        page=q.page,
        page_size=PAGE_SIZE,
        sort=PatchSort(q.sort),
        descending=q.descending,
        search=q.search,
        classification=q.classification,
    )
    template = "_patch_results.html" if is_htmx(request) else "by_patch.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="by-patch",
        found=found,
        q=q,
        path="/patches/by-patch",
    )


@router.get("/by-patch/devices")
def patch_devices(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    backend: Annotated[str, Query(max_length=32)],
    name: Annotated[str, Query(max_length=256)],
    version: Annotated[str, Query(max_length=256)],
) -> Response:
    """The side pane: devices missing one patch (MP-16: the count is this list)."""
    found = patches.patch_devices(
        session, scope=viewer.scope, backend=backend, name=name, version=version
    )
    return render(
        request,
        "_patch_devices.html",
        viewer=viewer,
        name=name,
        version=version,
        found=found,
    )


@router.get("/by-device")
def by_device(
    request: Request, viewer: ViewerDep, session: SessionDep, q: ByDeviceQuery
) -> Response:
    """One row per device with the DEC-02 columns."""
    found = devices.list_devices(
        session,
        scope=viewer.scope,
        page=q.page,
        page_size=PAGE_SIZE,
        sort=DeviceSort(q.sort),
        descending=q.descending,
        search=q.search,
    )
    template = "_by_device_results.html" if is_htmx(request) else "by_device.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="by-device",
        found=found,
        q=q,
        path="/patches/by-device",
    )
