"""The Overview page: tiles and a chart of missing patches by classification."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request, Response

from patchfleet.core.updates import CLASSIFICATION_ORDER
from patchfleet.server.services import devices, patches
from patchfleet.server.services.views import DeviceSummary, Page, PatchSummary
from patchfleet.server.web.deps import SessionDep, ViewerDep
from patchfleet.server.web.rendering import PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

# The overview folds at most this many devices and patches; beyond it tiles say so.
OVERVIEW_LIMIT = 10_000


@dataclass(frozen=True)
class Bar:
    """One classification in the chart: missing installs and distinct patches."""

    classification: str
    missing: int
    patches: int
    percent: float


@dataclass(frozen=True)
class Overview:
    """What the Overview tiles and chart show."""

    devices: int
    scanned: int
    never_scanned: int
    missing_security: int
    devices_at_risk: int
    reboot_required: int
    bars: list[Bar]
    is_partial: bool


def summarize(found: Page[DeviceSummary], missing: Page[PatchSummary]) -> Overview:
    """Fold a device page and a BY PATCH page into the overview figures."""
    items = found.items
    scanned = sum(1 for d in items if d.last_scan_at is not None)
    counts = {str(c): [0, 0] for c in CLASSIFICATION_ORDER}
    for p in missing.items:
        pair = counts.setdefault(p.classification, [0, 0])
        pair[0] += p.devices
        pair[1] += 1
    top = max((m for m, _ in counts.values()), default=0) or 1
    return Overview(
        devices=found.total,
        scanned=scanned,
        never_scanned=len(items) - scanned,
        missing_security=sum(d.missing_security for d in items),
        devices_at_risk=sum(1 for d in items if d.missing_security),
        reboot_required=sum(1 for d in items if d.reboot_required),
        bars=[Bar(c, m, n, round(100 * m / top, 1)) for c, (m, n) in counts.items()],
        is_partial=found.total > len(items) or missing.total > len(missing.items),
    )


@router.get("/")
def overview(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    """Tiles (devices, scanned, never scanned, security+critical, reboot) and a chart."""
    scope = viewer.scope
    found = devices.list_devices(session, scope=scope, page=1, page_size=OVERVIEW_LIMIT)
    missing = patches.by_patch(session, scope=scope, page=1, page_size=OVERVIEW_LIMIT)
    return render(
        request,
        "overview.html",
        viewer=viewer,
        section="overview",
        data=summarize(found, missing),
    )
