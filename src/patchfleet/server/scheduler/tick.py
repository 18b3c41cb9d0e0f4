"""Periodic server work, run in-process: each task is one service call.

Tasks are idempotent, so several server workers may run them side by side; the
database lease of FEATURES SCH-11 comes with the scan and configuration schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from patchfleet.server.services import jobs

INTERVAL_SECONDS = 30.0


def tick(sessions: sessionmaker[Session], now: datetime) -> dict[str, int]:
    """Run every periodic task once; returns what each did."""
    with sessions() as session:
        return {"lost_jobs": jobs.expire_lost(session, now=now)}


async def _loop(app: FastAPI, clock: Callable[[], datetime]) -> None:
    while True:
        await run_in_threadpool(tick, app.state.sessionmaker, clock())
        await asyncio.sleep(INTERVAL_SECONDS)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run ``tick`` every 30 s while the app serves, if the app was built with it."""
    if not app.state.run_scheduler:
        yield
        return
    task = asyncio.create_task(_loop(app, app.state.clock))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
