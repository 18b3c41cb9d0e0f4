"""Device pages: the list, one device with its tabs, and Scan Now."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request, Response

from patchfleet.core.errors import InvalidInputError
from patchfleet.server.services import cves, devices, patches
from patchfleet.server.services.devices import DeviceSort
from patchfleet.server.services.views import PackageView
from patchfleet.server.web.deps import (
    ListQuery,
    NowDep,
    PageNumber,
    Search,
    SessionDep,
    ViewerDep,
)
from patchfleet.server.web.rendering import PageRoute, is_htmx, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

PAGE_SIZE = 50

DeviceTab = Literal["patches", "installed", "scans", "cves"]


def device_query(
    search: Search = "",
    sort: DeviceSort = DeviceSort.HOSTNAME,
    descending: bool = False,
    page: PageNumber = 1,
) -> ListQuery:
    """Search, sort and page of the devices list."""
    return ListQuery(search=search, sort=str(sort), descending=descending, page=page)


DeviceQuery = Annotated[ListQuery, Depends(device_query)]


@router.get("/devices")
def device_list(
    request: Request, viewer: ViewerDep, session: SessionDep, q: DeviceQuery
) -> Response:
    """Devices in scope; htmx live search gets the results fragment only."""
    found = devices.list_devices(
        session,
        scope=viewer.scope,
        page=q.page,
        page_size=PAGE_SIZE,
        sort=DeviceSort(q.sort),
        descending=q.descending,
        search=q.search,
    )
    template = "_device_results.html" if is_htmx(request) else "devices.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="devices",
        found=found,
        q=q,
        path="/devices",
    )


@router.post("/devices/scan")
def scan(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    device_id: Annotated[list[uuid.UUID], Form(default_factory=list)],
) -> Response:
    """Scan Now for one device or the checked ones; answers with feedback."""
    if not device_id:
        raise InvalidInputError("select at least one device")
    ordered = devices.scan_now(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        device_ids=device_id,
        now=now,
    )
    pending = len(set(device_id)) - len(ordered)
    return render(request, "_scan_feedback.html", ordered=len(ordered), pending=pending)


@router.get("/devices/{device_id}")
def device_page(
    request: Request,
    device_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    tab: DeviceTab = "patches",
) -> Response:
    """One device: facts, Scan Now, and the tabs (loaded by htmx; ``tab`` first)."""
    device = devices.get_device(session, scope=viewer.scope, device_id=device_id)
    return render(
        request, "device.html", viewer=viewer, section="devices", device=device, tab=tab
    )


@router.get("/devices/{device_id}/patches")
def patches_tab(
    request: Request, device_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    """The Patches tab: missing patches of the latest scan."""
    missing = patches.device_patches(session, scope=viewer.scope, device_id=device_id)
    return render(
        request,
        "_tab_patches.html",
        viewer=viewer,
        device_id=device_id,
        tab="patches",
        missing=missing,
    )


def matching(packages: list[PackageView], search: str) -> list[PackageView]:
    """Packages whose name, version or source name contain ``search`` (any case)."""
    needle = search.strip().lower()
    if not needle:
        return packages
    return [
        p
        for p in packages
        if needle in p.name.lower()
        or needle in p.version.lower()
        or needle in p.source_name.lower()
    ]


@router.get("/devices/{device_id}/installed")
def installed_tab(
    request: Request,
    device_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    search: Search = "",
) -> Response:
    """The Installed tab: packages, filtered by the filter box."""
    packages = devices.device_packages(session, scope=viewer.scope, device_id=device_id)
    return render(
        request,
        "_tab_installed.html",
        viewer=viewer,
        device_id=device_id,
        tab="installed",
        packages=matching(packages, search),
        total=len(packages),
        search=search,
    )


@router.get("/devices/{device_id}/scans")
def scans_tab(
    request: Request, device_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    """The Scans tab: the device's latest scans."""
    scans = devices.device_scans(session, scope=viewer.scope, device_id=device_id)
    return render(
        request,
        "_tab_scans.html",
        viewer=viewer,
        device_id=device_id,
        tab="scans",
        scans=scans,
    )


@router.get("/devices/{device_id}/cves")
def cves_tab(
    request: Request,
    device_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """The CVEs tab: the device's CVEs with fix state and priority (CVE-08)."""
    found = cves.device_cves(session, scope=viewer.scope, device_id=device_id, now=now)
    return render(
        request,
        "_tab_cves.html",
        viewer=viewer,
        device_id=device_id,
        tab="cves",
        found=found,
    )
