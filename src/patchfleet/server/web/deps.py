"""Page dependencies: the signed-in viewer, its scope and list parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Depends, HTTPException, Query, Request, status

from patchfleet.core.errors import AuthenticationError
from patchfleet.core.tenancy import Principal, Scope
from patchfleet.server.context import NowDep as NowDep
from patchfleet.server.context import SessionDep as SessionDep
from patchfleet.server.context import SettingsDep as SettingsDep
from patchfleet.server.services import auth, tenants
from patchfleet.server.services.views import ClientView
from patchfleet.server.web.rendering import is_htmx

SESSION_COOKIE = "pf_session"  # the same cookie api.deps.current_user accepts


def safe_next(target: str) -> str:
    """A local path to return to after signing in; anything else becomes ``/``."""
    is_local = (
        target.startswith("/") and not target.startswith("//") and "\\" not in target
    )
    return target if is_local else "/"


def login_redirect(request: Request) -> HTTPException:
    """Send a browser to the login page (htmx gets ``HX-Redirect``, not a 303)."""
    if is_htmx(request):
        return HTTPException(
            status.HTTP_401_UNAUTHORIZED, headers={"HX-Redirect": "/login"}
        )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = "/login" if here == "/" else f"/login?next={quote(here, safe='')}"
    return HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": target})


def page_principal(request: Request, session: SessionDep, now: NowDep) -> Principal:
    """The signed-in user from the session cookie; otherwise a redirect to login."""
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        if not token:
            raise AuthenticationError("sign in required")
        return auth.authenticate(session, token=token, kind=auth.SESSION, now=now)
    except AuthenticationError:
        raise login_redirect(request) from None


PrincipalDep = Annotated[Principal, Depends(page_principal)]


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page, what they may see, and the clients of the switcher."""

    principal: Principal
    scope: Scope
    clients: list[ClientView] = field(default_factory=list)

    @property
    def client_name(self) -> str:
        """The name of the selected client, or "All Clients"."""
        if self.scope.client_id is None:
            return "All Clients"
        names = {c.id: c.name for c in self.clients}
        return names.get(self.scope.client_id, f"client {self.scope.client_id}")

    def url(self, path: str, **params: object) -> str:
        """``path`` with the current scope and ``params`` (None and "" are left out)."""
        return self.in_client(path, self.scope.client_id, **params)

    def in_client(self, path: str, client_id: int | None, **params: object) -> str:
        """``path`` in another scope (None = All Clients)."""
        query = {"client_id": client_id, **params}
        pairs = [(k, _text(v)) for k, v in query.items() if v is not None and v != ""]
        return f"{path}?{urlencode(pairs)}" if pairs else path


def page_viewer(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    client_id: Annotated[int | None, Query()] = None,
) -> Viewer:
    """The viewer of a page; full pages also load the client switcher."""
    scope = tenants.scope_for(session, principal=principal, client_id=client_id)
    if is_htmx(request):
        return Viewer(principal, scope)
    everything = tenants.scope_for(session, principal=principal, client_id=None)
    return Viewer(principal, scope, tenants.list_clients(session, scope=everything))


ViewerDep = Annotated[Viewer, Depends(page_viewer)]


@dataclass(frozen=True)
class ListQuery:
    """Search, sort, direction and page of a listing, as sent in the query string."""

    search: str
    sort: str
    descending: bool
    page: int
    classification: str = ""

    def params(self, **changes: object) -> dict[str, object]:
        """Query parameters of this listing with ``changes`` applied."""
        current: dict[str, object] = {
            "search": self.search,
            "classification": self.classification,
            "sort": self.sort,
            "descending": self.descending,
            "page": self.page,
        }
        return {**current, **changes}

    def sort_params(self, key: str) -> dict[str, object]:
        """Parameters for a click on column ``key``: toggles direction if already sorted."""
        return self.params(
            sort=key,
            descending=not self.descending if key == self.sort else False,
            page=1,
        )


Search = Annotated[str, Query(max_length=200)]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
