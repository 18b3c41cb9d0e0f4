"""Sign in and sign out: the ``pf_session`` cookie holds a web session token."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from patchfleet.core.errors import AuthenticationError
from patchfleet.server.services import auth
from patchfleet.server.web.deps import (
    SESSION_COOKIE,
    NowDep,
    SessionDep,
    SettingsDep,
    safe_next,
)
from patchfleet.server.web.rendering import PageRoute, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

FormText = Annotated[str, Form(max_length=1000)]
Next = Annotated[str, Query(alias="next", max_length=2000)]


@router.get("/login")
def login_form(request: Request, next_path: Next = "/") -> Response:
    """The sign-in form."""
    return render(
        request, "login.html", error="", username="", next=safe_next(next_path)
    )


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    username: FormText = "",
    password: FormText = "",
    next_path: Next = "/",
) -> Response:
    """Check the password, set the session cookie and go on (303), or show the error (401)."""
    lifetime = timedelta(hours=settings.session_hours)
    try:
        token = auth.login(
            session,
            username=username,
            password=password,
            kind=auth.SESSION,
            now=now,
            lifetime=lifetime,
        )
    except AuthenticationError:
        error = "Unknown user or wrong password."
        return render(
            request,
            "login.html",
            status_code=401,
            error=error,
            username=username,
            next=safe_next(next_path),
        )
    response = RedirectResponse(
        safe_next(next_path), status_code=status.HTTP_303_SEE_OTHER
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, now: NowDep) -> Response:
    """Revoke the session token and clear the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.logout(session, token=token, now=now)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
