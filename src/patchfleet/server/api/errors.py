"""Domain errors -> HTTP status codes, in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from patchfleet.core import errors

STATUS: dict[type[errors.PatchfleetError], int] = {
    errors.NotFoundError: 404,
    errors.PermissionDeniedError: 403,
    errors.AuthenticationError: 401,
    errors.ConflictError: 409,
    errors.InvalidInputError: 422,
}


def status_for(exc: errors.PatchfleetError) -> int:
    """The status code of the nearest mapped ancestor of the error's class."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.PatchfleetError)
    code = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
    if isinstance(exc, errors.InvalidInputError):
        # The same shape as request validation errors: every 422 carries a list.
        detail = [
            {
                "type": "value_error",
                "loc": list(exc.loc),
                "msg": str(exc),
                "input": None,
            }
        ]
        return JSONResponse(
            {"detail": detail, "error": type(exc).__name__}, status_code=code
        )
    return JSONResponse(
        {"detail": str(exc), "error": type(exc).__name__},
        status_code=code,
        headers=headers,
    )


def install(app: FastAPI) -> None:
    """Register the mapping on ``app``."""
    app.add_exception_handler(errors.PatchfleetError, _handle)
