"""Ratings, approvals and client approval settings."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Response, status

from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import (
    ClientSettingsIn,
    PatchIds,
    RateIn,
    RuleIn,
    RuleOut,
)
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


def _rule_out(row: Any) -> RuleOut:
    return RuleOut(
        id=row.uuid,
        name=row.name,
        level="partner" if row.client_id is None else "client",
        client_id=row.client_id,
        clients=row.clients,
        query=row.query,
        action=row.action,
        defer_days=row.defer_days,
        os_families=row.os_families,
        enabled=row.enabled,
        created_at=row.created_at,
    )


@router.post("/approval-rules", status_code=status.HTTP_201_CREATED)
def create_rule(
    body: RuleIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> RuleOut:
    """Create an approval rule at partner level (All or Select Clients) or for one client."""
    spec = policy.RuleSpec(
        name=body.name,
        query=body.query,
        action=body.action,
        defer_days=body.defer_days,
        os_families=tuple(body.os_families),
        clients=tuple(body.clients) if body.clients is not None else None,
        enabled=body.enabled,
    )
    return _rule_out(
        policy.create_rule(
            session, principal=principal, scope=scope, spec=spec, now=now
        )
    )


@router.get("/approval-rules")
def list_rules(scope: ScopeDep, session: SessionDep) -> list[RuleOut]:
    """Approval rules in scope."""
    return [_rule_out(r) for r in policy.list_rules(session, scope=scope)]


@router.delete("/approval-rules/{rule_id}", status_code=NO_CONTENT)
def delete_rule(
    rule_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Delete an approval rule."""
    policy.delete_rule(
        session, principal=principal, scope=scope, rule_id=rule_id, now=now
    )
    return Response(status_code=NO_CONTENT)
