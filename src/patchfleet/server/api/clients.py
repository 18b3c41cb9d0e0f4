"""Clients and their enrollment tokens."""

from __future__ import annotations

import shlex
from datetime import timedelta

from fastapi import APIRouter, Depends, Response, status

from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    ScopeDep,
    SessionDep,
    SettingsDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import (
    ClientCreate,
    EnrollmentTokenCreate,
    EnrollmentTokenInfo,
    EnrollmentTokenOut,
)
from patchfleet.server.services import enrollment, tenants
from patchfleet.server.services.views import ClientView

router = APIRouter(
    prefix="/api/v1", tags=["clients"], dependencies=[Depends(reject_unknown_query)]
)


def enroll_command(server_url: str, token: str) -> str:
    """The shell command that enrolls an agent with ``token``."""
    return f"patchfleet agent enroll --server {shlex.quote(server_url)} --token {shlex.quote(token)}"


@router.get("/clients")
def list_clients(scope: ScopeDep, session: SessionDep) -> list[ClientView]:
    """Clients in scope."""
    return tenants.list_clients(session, scope=scope)


@router.post("/clients", status_code=status.HTTP_201_CREATED)
def create_client(
    body: ClientCreate, principal: CurrentUser, session: SessionDep, now: NowDep
) -> ClientView:
    """Create a client (partner admins only)."""
    return tenants.create_client(session, principal=principal, name=body.name, now=now)


@router.post("/clients/{client}/enrollment-tokens", status_code=status.HTTP_201_CREATED)
def create_enrollment_token(
    client: int,
    body: EnrollmentTokenCreate,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
) -> EnrollmentTokenOut:
    """A new enrollment token for a client, with the agent command that uses it."""
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token_id, token = enrollment.create_token(
        session,
        principal=principal,
        scope=scope,
        client_id=client,
        label=body.label,
        now=now,
        lifetime=lifetime,
    )
    return EnrollmentTokenOut(
        id=token_id,
        token=token,
        command=enroll_command(settings.resolved_public_url(), token),
    )


@router.get("/clients/{client}/enrollment-tokens")
def list_enrollment_tokens(
    client: int, scope: ScopeDep, session: SessionDep
) -> list[EnrollmentTokenInfo]:
    """A client's enrollment tokens (without secrets)."""
    return [
        EnrollmentTokenInfo.model_validate(t)
        for t in enrollment.list_tokens(session, scope=scope, client_id=client)
    ]


@router.delete("/enrollment-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_enrollment_token(
    token_id: int,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Revoke an enrollment token."""
    enrollment.revoke_token(
        session, principal=principal, scope=scope, token_id=token_id, now=now
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
