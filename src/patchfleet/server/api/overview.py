"""The Overview: tiles and charts, each tile's list, and its CSV export (OV-01..OV-14)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from patchfleet.server.api.deps import (
    NowDep,
    PageDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.services import overview
from patchfleet.server.services.overview_views import Drilldown, OverviewView, Tile

router = APIRouter(
    prefix="/api/v1/overview",
    tags=["overview"],
    dependencies=[Depends(reject_unknown_query)],
)


@router.get("")
def get_overview(scope: ScopeDep, session: SessionDep, now: NowDep) -> OverviewView:
    """Tiles, missing patches by severity and classification, runs ±24 h, clients."""
    return overview.overview(session, scope=scope, now=now)


# Declared before ``/{tile}``, which would otherwise take "failed.csv" as a tile.
@router.get(
    "/{tile}.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_tile(
    tile: Tile, scope: ScopeDep, session: SessionDep, now: NowDep
) -> StreamingResponse:
    """The whole list behind a tile as CSV (header line, then one line per row)."""
    chunks = overview.drilldown_csv(session, scope=scope, tile=tile, now=now)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{tile}.csv"'},
    )


@router.get("/{tile}")
def get_tile(
    tile: Tile, scope: ScopeDep, session: SessionDep, now: NowDep, paging: PageDep
) -> Drilldown:
    """One page of the list behind a tile; ``total`` equals the tile's count."""
    page, size = paging
    return overview.drilldown(
        session, scope=scope, tile=tile, now=now, page=page, page_size=size
    )
