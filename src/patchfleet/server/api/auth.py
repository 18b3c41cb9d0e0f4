"""Login, API tokens, the caller and users."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response, status

from patchfleet.core.errors import NotFoundError
from patchfleet.server.api.deps import CurrentUser, NowDep, SessionDep, SettingsDep
from patchfleet.server.api.schemas import (
    LoginIn,
    MeOut,
    TokenCreate,
    TokenInfo,
    TokenOut,
    UserCreate,
    UserOut,
)
from patchfleet.server.services import auth

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/login")
def login(
    body: LoginIn, session: SessionDep, now: NowDep, settings: SettingsDep
) -> TokenOut:
    """Exchange a username and password for a bearer token (valid for a session)."""
    token = auth.login(
        session,
        username=body.username,
        password=body.password,
        kind=auth.API,
        now=now,
        lifetime=timedelta(hours=settings.session_hours),
    )
    return TokenOut(token=token)


@router.get("/me")
def me(principal: CurrentUser) -> MeOut:
    """Who the caller is."""
    return MeOut(
        user_id=principal.user_id,
        username=principal.username,
        partner_id=principal.partner_id,
        client_id=principal.client_id,
        role=principal.role,
    )


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenCreate, principal: CurrentUser, session: SessionDep, now: NowDep
) -> TokenOut:
    """A new API token for the caller; the secret is shown once."""
    lifetime = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    token_id, token = auth.create_api_token(
        session, principal=principal, name=body.name, now=now, lifetime=lifetime
    )
    return TokenOut(id=token_id, token=token)


@router.get("/tokens")
def list_tokens(principal: CurrentUser, session: SessionDep) -> list[TokenInfo]:
    """The caller's API tokens."""
    return [
        TokenInfo.model_validate(t)
        for t in auth.list_api_tokens(session, principal=principal)
    ]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    token_id: int, principal: CurrentUser, session: SessionDep, now: NowDep
) -> Response:
    """Revoke one of the caller's API tokens."""
    if not auth.revoke_api_token(
        session, principal=principal, token_id=token_id, now=now
    ):
        raise NotFoundError(f"token {token_id} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, principal: CurrentUser, session: SessionDep, now: NowDep
) -> UserOut:
    """Create a partner user, or a user of one client (who sees only that client)."""
    user_id = auth.create_user(
        session,
        principal=principal,
        username=body.username,
        password=body.password,
        client_id=body.client_id,
        role=body.role,
        email=body.email,
        now=now,
    )
    return UserOut(id=user_id)
