"""Per-request context shared by the API and the web pages: session, clock, settings.

``api`` and ``web`` are sibling layers that may not import each other; both take
these dependencies from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from patchfleet.server.settings import Settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A database session for this request; services own the transactions.

    Creating and closing a session does no I/O once services have ended their
    ``session.begin()`` blocks, so this runs on the event loop, not in a thread.
    """
    with request.app.state.sessionmaker() as session:
        yield session


async def get_now(request: Request) -> datetime:
    """The current time from the app's injected clock."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def get_settings(request: Request) -> Settings:
    """The server settings."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
NowDep = Annotated[datetime, Depends(get_now)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
