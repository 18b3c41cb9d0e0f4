"""Ratings, approvals and client approval settings."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import ClientSettingsIn, PatchIds, RateIn
from patchfleet.server.services import policy

router = APIRouter(
    prefix="/api/v1",
    tags=["ratings and approvals"],
    dependencies=[Depends(reject_unknown_query)],
)
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.post("/patches/rate", status_code=NO_CONTENT)
def rate(
    body: RateIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Allowlist, blocklist or unrate patches at partner level (All Clients) or for one client."""
    policy.rate_patches(
        session,
        principal=principal,
        scope=scope,
        patch_ids=body.patch_ids,
        rating=body.rating,
        comment=body.comment,
        now=now,
    )
    return Response(status_code=NO_CONTENT)


@router.post("/patches/approve", status_code=NO_CONTENT)
def approve(
    body: PatchIds,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Approve patches for the client in scope (every client in scope at partner level)."""
    policy.approve_patches(
        session,
        principal=principal,
        scope=scope,
        patch_ids=body.patch_ids,
        approved=True,
        now=now,
    )
    return Response(status_code=NO_CONTENT)


@router.post("/patches/unapprove", status_code=NO_CONTENT)
def unapprove(
    body: PatchIds,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Unapprove patches."""
    policy.approve_patches(
        session,
        principal=principal,
        scope=scope,
        patch_ids=body.patch_ids,
        approved=False,
        now=now,
    )
    return Response(status_code=NO_CONTENT)


@router.put("/clients/{client}/settings", status_code=NO_CONTENT)
def client_settings(
    client: int,
    body: ClientSettingsIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Set Use Parent Level and the approval type of a client."""
    policy.set_client_settings(
        session,
        principal=principal,
        scope=scope,
        client_id=client,
        use_parent_level=body.use_parent_level,
        approval_type=body.approval_type,
        now=now,
    )
    return Response(status_code=NO_CONTENT)
