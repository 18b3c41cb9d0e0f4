"""Jinja2 rendering for pages and fragments, and domain errors shown as HTML."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from patchfleet.core import errors
from patchfleet.core.updates import CLASSIFICATION_ORDER

TEMPLATE_DIR = Path(__file__).parent / "templates"

# Status codes of domain errors shown on pages; the JSON mapping lives in api/errors.py,
# a sibling layer this package may not import.
ERROR_STATUS: tuple[tuple[type[errors.PatchfleetError], int], ...] = (
    (errors.NotFoundError, 404),
    (errors.PermissionDeniedError, 403),
    (errors.AuthenticationError, 401),
    (errors.ConflictError, 409),
    (errors.InvalidInputError, 422),
)


def utc_text(value: datetime | None) -> str:
    """A UTC ISO timestamp without microseconds, or an em dash for "never"."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (
        value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = utc_text
    env.globals["CLASSIFICATIONS"] = [str(c) for c in CLASSIFICATION_ORDER]
    return env


TEMPLATES = Jinja2Templates(env=_environment())


def is_htmx(request: Request) -> bool:
    """Whether htmx asks for a fragment (a history restore wants the whole page)."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> Response:
    """Render a template (autoescaped) into an HTML response.

    One URL answers with a page or, for htmx, a fragment: ``Vary`` keeps caches apart.
    """
    headers = {"Vary": "HX-Request", "Cache-Control": "private, no-cache"}
    return TEMPLATES.TemplateResponse(
        request, template, context, status_code=status_code, headers=headers
    )


def error_status(exc: errors.PatchfleetError) -> int:
    """The status code of a domain error shown on a page."""
    for cls, code in ERROR_STATUS:
        if isinstance(exc, cls):
            return code
    return 400


def error_page(request: Request, status_code: int, message: str) -> Response:
    """An error as a full page, or as a small fragment for htmx."""
    template = "_error.html" if is_htmx(request) else "error.html"
    return render(
        request,
        template,
        status_code=status_code,
        message=message,
        status=status_code,
        viewer=None,
        section="",
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = [f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors() if e.get("loc")]
    return "invalid request: " + "; ".join(parts) if parts else "invalid request"


class PageRoute(APIRoute):
    """A route that answers domain and validation errors with HTML, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so errors become pages or fragments."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.PatchfleetError as exc:
                return error_page(request, error_status(exc), str(exc))
            except RequestValidationError as exc:
                return error_page(request, 422, _validation_message(exc))

        return page_handler
