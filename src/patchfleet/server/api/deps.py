"""Request dependencies: session, clock, settings, the caller and its scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.orm import Session

from patchfleet.core.errors import AuthenticationError, InvalidInputError
from patchfleet.core.tenancy import Principal, Scope
from patchfleet.server.services import auth, tenants
from patchfleet.server.settings import Settings

SESSION_COOKIE = "pf_session"


def get_session(request: Request) -> Iterator[Session]:
    """A database session for this request; services own the transactions."""
    with request.app.state.sessionmaker() as session:
        yield session


def get_now(request: Request) -> datetime:
    """The current time from the app's injected clock."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def get_settings(request: Request) -> Settings:
    """The server settings."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def bearer(request: Request) -> str | None:
    """The bearer token of the Authorization header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_user(request: Request, session: SessionDep, now: NowDep) -> Principal:
    """The caller, from a bearer API token or the web session cookie."""
    token = bearer(request) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthenticationError("authentication required")
    return auth.authenticate(session, token=token, now=now)


CurrentUser = Annotated[Principal, Depends(current_user)]


def current_scope(
    principal: CurrentUser,
    session: SessionDep,
    client_id: Annotated[
        int | None, Query(description="One client; omit for All Clients")
    ] = None,
) -> Scope:
    """The scope of the request: All Clients (partner level) or one client."""
    return tenants.scope_for(session, principal=principal, client_id=client_id)


ScopeDep = Annotated[Scope, Depends(current_scope)]


def agent_credential(request: Request) -> str:
    """The device credential of an agent request."""
    token = bearer(request)
    if not token:
        raise AuthenticationError("device credential required")
    return token


AgentCredential = Annotated[str, Depends(agent_credential)]


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the route does not declare (API-06)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = _query_names(dependant)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise InvalidInputError(
            f"unknown query parameter(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            loc=("query", unknown[0]),
        )


def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> tuple[int, int]:
    """Page number and size (default 100)."""
    return page, page_size


PageDep = Annotated[tuple[int, int], Depends(page_params)]
