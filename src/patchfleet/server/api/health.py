"""Liveness and readiness, without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from patchfleet.server.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    """``ok`` when the server and its database answer."""
    with session.begin():
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}
