"""Remediation SLAs (BP-08): the policy, the items measured against it, the figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.risk import Band
from patchfleet.core.sla import MAX_DAYS, MIN_DAYS, SlaPolicy
from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    PageDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import Strict
from patchfleet.server.services import sla
from patchfleet.server.services.sla_views import (
    ItemKind,
    SlaItem,
    SlaPolicyView,
    SlaSummary,
    StatusFilter,
)
from patchfleet.server.services.views import Page

router = APIRouter(
    prefix="/api/v1/sla", tags=["sla"], dependencies=[Depends(reject_unknown_query)]
)

Days = Annotated[int | None, Field(ge=MIN_DAYS, le=MAX_DAYS)]
WindowDays = Annotated[
    int,
    Query(ge=1, le=sla.MAX_WINDOW_DAYS, description="Remediations of the last N days"),
]
POLICY_FIELDS = ("kev_days", "critical_days", "high_days", "medium_days", "low_days")


class SlaPolicyIn(Strict):
    """Days to remediate by priority; a client may use its partner's (parent) level.

    The days are required unless ``use_parent_level`` is set; then they are optional
    and kept for when the client stops inheriting.
    """

    use_parent_level: bool = False
    kev_days: Days = None
    critical_days: Days = None
    high_days: Days = None
    medium_days: Days = None
    low_days: Days = None

    def to_core(self) -> SlaPolicy | None:
        """The policy given, or None when no day was given."""
        given = {f: getattr(self, f) for f in POLICY_FIELDS}
        missing = [f for f, v in given.items() if v is None]
        if len(missing) == len(POLICY_FIELDS):
            return None
        if missing:
            raise InvalidInputError(
                f"give all days or none; missing {', '.join(missing)}",
                loc=("body", missing[0]),
            )
        return SlaPolicy(**given)


@router.get("/policy")
def get_policy(scope: ScopeDep, session: SessionDep) -> SlaPolicyView:
    """The partner default (All Clients) or a client's policy, with where it comes from."""
    return sla.get_policy(session, scope=scope)


@router.put("/policy")
def put_policy(
    body: SlaPolicyIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> SlaPolicyView:
    """Set the partner default (All Clients) or a client's policy (admins)."""
    return sla.set_policy(
        session,
        principal=principal,
        scope=scope,
        use_parent_level=body.use_parent_level,
        policy=body.to_core(),
        now=now,
    )


@router.get("/items")
def list_items(
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
    paging: PageDep,
    status: StatusFilter | None = None,
    kind: ItemKind | None = None,
    band: Band | None = None,
    search: Annotated[str, Query(max_length=200)] = "",
    window_days: WindowDays = sla.DEFAULT_WINDOW_DAYS,
) -> Page[SlaItem]:
    """Missing patches and device CVEs against their deadlines, most urgent first.

    Open items stand as they are now; met and missed items are patches installed
    in the last ``window_days``.
    """
    page, size = paging
    return sla.sla_items(
        session,
        scope=scope,
        now=now,
        status=status,
        kind=kind,
        band=band,
        search=search,
        window_days=window_days,
        page=page,
        page_size=size,
    )


@router.get("/summary")
def summary(
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
    kind: ItemKind | None = None,
    window_days: WindowDays = sla.DEFAULT_WINDOW_DAYS,
) -> SlaSummary:
    """Open items by status, time to patch, % within SLA; one row per client."""
    return sla.sla_summary(
        session, scope=scope, now=now, kind=kind, window_days=window_days
    )
