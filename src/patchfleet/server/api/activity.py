"""The activity log (LOG-*), filterable by date, object type, action and name."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from patchfleet.server.api.deps import (
    PageDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.services import activity
from patchfleet.server.services.views import ActivityView, Page

router = APIRouter(
    prefix="/api/v1", tags=["activity"], dependencies=[Depends(reject_unknown_query)]
)


@router.get("/activity")
def list_activity(
    scope: ScopeDep,
    session: SessionDep,
    paging: PageDep,
    since: datetime | None = None,
    until: datetime | None = None,
    object_type: Annotated[str, Query(max_length=40)] = "",
    action: Annotated[str, Query(max_length=40)] = "",
    search: Annotated[str, Query(max_length=200)] = "",
) -> Page[ActivityView]:
    """Entries in scope, newest first."""
    page, size = paging
    return activity.list_entries(
        session,
        scope=scope,
        page=page,
        page_size=size,
        since=since,
        until=until,
        object_type=object_type,
        action=action,
        search=search,
    )
