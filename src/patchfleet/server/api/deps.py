"""Request dependencies: session, clock, settings, the caller and its scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant

from patchfleet.core.errors import AuthenticationError, InvalidInputError
from patchfleet.core.tenancy import Principal, Scope
from patchfleet.server.context import NowDep as NowDep
from patchfleet.server.context import SessionDep as SessionDep
from patchfleet.server.context import SettingsDep as SettingsDep
from patchfleet.server.services import auth, tenants


def bearer(request: Request) -> str | None:
    """The bearer token of the Authorization header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_user(request: Request, session: SessionDep, now: NowDep) -> Principal:
    """The caller, from a bearer API token (web session cookies are for pages only)."""
    token = bearer(request)
    if not token:
        raise AuthenticationError("authentication required")
    return auth.authenticate(session, token=token, kind=auth.API, now=now)


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


async def agent_credential(request: Request) -> str:
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


async def reject_unknown_query(request: Request) -> None:
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


async def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> tuple[int, int]:
    """Page number and size (default 100)."""
    return page, page_size


PageDep = Annotated[tuple[int, int], Depends(page_params)]
