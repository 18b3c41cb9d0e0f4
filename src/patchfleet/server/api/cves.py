"""CVE Insights, CVE Details (BY CVE / BY DEVICE) and a device's CVEs (CVE-04..08)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from patchfleet.core.advisories import FixState
from patchfleet.server.api.deps import (
    NowDep,
    PageDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.services import cves
from patchfleet.server.services.cves import CveSort
from patchfleet.server.services.views import (
    CveDetail,
    CveInsights,
    CveSummary,
    DeviceCve,
    DeviceCveCount,
    Page,
)

router = APIRouter(
    prefix="/api/v1", tags=["cves"], dependencies=[Depends(reject_unknown_query)]
)


@router.get("/cves/insights")
def cve_insights(scope: ScopeDep, session: SessionDep, now: NowDep) -> CveInsights:
    """Widgets: devices, impacted devices, severity split, KEV, top CVEs, OS, trend."""
    return cves.insights(session, scope=scope, now=now)


@router.get("/cves")
def list_cves(
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
    paging: PageDep,
    sort: CveSort = CveSort.PRIORITY,
    descending: bool = True,
    search: Annotated[str, Query(max_length=200)] = "",
    severity: Annotated[str, Query(max_length=20)] = "",
    state: FixState | None = None,
    kev: bool | None = None,
    os_name: Annotated[str, Query(max_length=256)] = "",
) -> Page[CveSummary]:
    """BY CVE: CVEs affecting devices in scope, ranked by KEV, EPSS, CVSS, exposure."""
    page, size = paging
    return cves.list_cves(
        session,
        scope=scope,
        now=now,
        page=page,
        page_size=size,
        sort=sort,
        descending=descending,
        search=search,
        severity=severity,
        state=state,
        kev=kev,
        os_name=os_name,
    )


@router.get("/cves/devices")
def devices_by_cves(
    scope: ScopeDep,
    session: SessionDep,
    paging: PageDep,
    search: Annotated[str, Query(max_length=200)] = "",
) -> Page[DeviceCveCount]:
    """BY DEVICE: devices with their CVE counts."""
    page, size = paging
    return cves.devices_by_cves(
        session, scope=scope, page=page, page_size=size, search=search
    )


@router.get("/cves/{cve}")
def cve_detail(
    cve: str,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> CveDetail:
    """One CVE: facts, priority explained, devices and their fix state, fixing patches."""
    return cves.cve_detail(session, scope=scope, cve=cve, now=now)


@router.get("/devices/{device_id}/cves")
def device_cves(
    device_id: uuid.UUID, scope: ScopeDep, session: SessionDep, now: NowDep
) -> list[DeviceCve]:
    """A device's CVEs with their fix state and priority."""
    return cves.device_cves(session, scope=scope, device_id=device_id, now=now)


@router.get("/devices/{device_id}/cves/{cve}")
def device_cve_state(
    device_id: uuid.UUID, cve: str, scope: ScopeDep, session: SessionDep
) -> dict[str, str]:
    """Where one device stands with one CVE (``not-affected`` when nothing flags it)."""
    state = cves.device_cve_state(session, scope=scope, device_id=device_id, cve=cve)
    return {"cve": cve.upper(), "state": str(state)}
