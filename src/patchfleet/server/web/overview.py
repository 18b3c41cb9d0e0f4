"""The Overview page and the list behind each tile (OV-01..OV-15), with CSV export.

Figures come from ``services.overview``; this module only lays them out. The charts
are inline SVG or plain HTML bars drawn from geometry computed here: no script, no
network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from patchfleet.server.services import overview
from patchfleet.server.services.overview_views import (
    COLUMNS,
    OverviewRun,
    OverviewView,
    Tile,
    TrendPoint,
)
from patchfleet.server.web.deps import NowDep, PageNumber, SessionDep, ViewerDep
from patchfleet.server.web.rendering import PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

# Geometry of the inline SVG charts, in SVG user units.
BAR_MAX = 200
TIMELINE_WIDTH = 300
TREND_WIDTH = 600
TREND_HEIGHT = 60
WINDOW_HOURS = 24


# The fixed tile layout (OV-13): one labelled row per group, in this order.
TILE_GROUPS: tuple[tuple[str, tuple[Tile, ...]], ...] = (
    (
        "Devices",
        (Tile.DEVICES, Tile.SCANNED, Tile.UNSCANNED, Tile.REBOOT, Tile.REBOOTED),
    ),
    (
        "Patches",
        (Tile.SECURITY, Tile.SECURITY_INSTALLABLE, Tile.FAILED, Tile.INSTALLED),
    ),
    ("Compliance and risk", (Tile.NON_COMPLIANT, Tile.CVE_DEVICES, Tile.KEV)),
    ("Schedules", (Tile.RUNS,)),
)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its figures and its length (SVG units, or percent)."""

    key: str
    missing: int
    patches: int
    installable: int
    size: float


@dataclass(frozen=True)
class RunMark:
    """A run on the ±24 h timeline; ``x`` in SVG units from the left (-24 h)."""

    run: OverviewRun
    x: float


def severity_bars(data: OverviewView) -> list[Bar]:
    """Missing patches by severity, scaled to the longest bar."""
    top = max((s.missing for s in data.missing_by_severity), default=0) or 1
    return [
        Bar(s.severity, s.missing, s.patches, s.installable, BAR_MAX * s.missing / top)
        for s in data.missing_by_severity
    ]


def classification_bars(data: OverviewView) -> list[Bar]:
    """Missing patches by classification; ``size`` in percent of the longest bar."""
    top = max((c.missing for c in data.missing_by_classification), default=0) or 1
    return [
        Bar(c.classification, c.missing, c.patches, 0, round(100 * c.missing / top, 1))
        for c in data.missing_by_classification
    ]


def run_marks(runs: list[OverviewRun], now: datetime) -> list[RunMark]:
    """Where each run sits between -24 h (x = 0) and +24 h (x = width)."""
    span = 2 * WINDOW_HOURS * 3600
    marks = []
    for run in runs:
        offset = (run.at - now).total_seconds() + WINDOW_HOURS * 3600
        x = min(max(offset / span, 0.0), 1.0) * TIMELINE_WIDTH
        marks.append(RunMark(run, round(x, 1)))
    return marks


def trend_line(points: list[TrendPoint] | None) -> str:
    """The compliance trend as SVG polyline points (percent 0..100 upwards)."""
    if not points:
        return ""
    step = TREND_WIDTH / max(len(points) - 1, 1)
    return " ".join(
        f"{round(i * step, 1)},{round(TREND_HEIGHT * (1 - p.value / 100), 1)}"
        for i, p in enumerate(points)
    )


@router.get("/")
def overview_page(
    request: Request, viewer: ViewerDep, session: SessionDep, now: NowDep
) -> Response:
    """Tiles, charts, runs ±24 h and, at All Clients, the Client Overview."""
    data = overview.overview(session, scope=viewer.scope, now=now)
    return render(
        request,
        "overview.html",
        viewer=viewer,
        section="overview",
        data=data,
        severity=severity_bars(data),
        classes=classification_bars(data),
        marks=run_marks(data.runs, data.generated_at),
        trend=trend_line(data.compliance_trend),
        groups=TILE_GROUPS,
        geometry={"bar": BAR_MAX, "timeline": TIMELINE_WIDTH, "trend": TREND_WIDTH},
    )


# Declared before ``/overview/{tile}``, which would otherwise take "x.csv" as a tile.
@router.get("/overview/{tile}.csv")
def export_tile(
    tile: Tile, viewer: ViewerDep, session: SessionDep, now: NowDep
) -> StreamingResponse:
    """The whole list behind a tile as a CSV download (OV-14)."""
    chunks = overview.drilldown_csv(session, scope=viewer.scope, tile=tile, now=now)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{tile}.csv"'},
    )


@router.get("/overview/{tile}")
def tile_page(
    request: Request,
    tile: Tile,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    page: PageNumber = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> Response:
    """One page of the list a tile counts (OV-12), with its CSV export link."""
    found = overview.drilldown(
        session, scope=viewer.scope, tile=tile, now=now, page=page, page_size=page_size
    )
    row_type = overview.TILES[tile].row
    return render(
        request,
        "overview_drilldown.html",
        viewer=viewer,
        section="overview",
        found=found,
        columns=COLUMNS[row_type],
        row_kind=row_type.__name__,
        last_page=max((found.total + page_size - 1) // page_size, 1),
        page_size=page_size if page_size != PAGE_SIZE else None,
    )
