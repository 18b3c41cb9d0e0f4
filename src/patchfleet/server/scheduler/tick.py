"""Periodic server work, run in-process: each task is one service call.

Scheduled runs need one actor: each tick first claims the ``scheduler`` lease row
with a conditional update (SCH-11); a worker that does not hold it only runs the
idempotent housekeeping (lost jobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from patchfleet.server.feeds import load as feeds
from patchfleet.server.notify.mail import NullMailer
from patchfleet.server.services import (
    compliance,
    configurations,
    jobs,
    report_schedules,
    scans,
    scheduling,
    summaries,
    vulns,
)

INTERVAL_SECONDS = 30.0


HOLDER = uuid.uuid4().hex
LEASE = timedelta(seconds=90)


def tick(
    sessions: sessionmaker[Session],
    now: datetime,
    holder: str = HOLDER,
    outlets: summaries.Outlets | None = None,
) -> dict[str, int]:
    """Run every periodic task once; returns what each did."""
    with sessions() as session:
        done = {
            "lost_jobs": jobs.expire_lost(session, now=now),
            "configuration_runs": 0,
            "compliance_runs": 0,
            "summaries": 0,
            "scan_schedules": 0,
            "auto_scans": 0,
            "feed_imports": 0,
            "cve_devices": 0,
            "reports": 0,
        }
        if not scheduling.claim(session, holder=holder, now=now, lease=LEASE):
            return done
        done["configuration_runs"] = len(configurations.run_due(session, now=now))
        done["scan_schedules"] = scans.run_due(session, now=now)
        done["auto_scans"] = scans.auto_scan(session, now=now)
        done["summaries"] = summaries.send_due(
            session, outlets=outlets or summaries.Outlets(NullMailer()), now=now
        )
        done["feed_imports"] = len(feeds.refresh_due(session, now=now))
        done["cve_devices"] = vulns.refresh(session, now=now).devices
        done["compliance_runs"] = len(compliance.run_due(session, now=now))
        done["reports"] = report_schedules.send_due(
            session, mailer=outlets.mailer if outlets else NullMailer(), now=now
        )
        return done


async def _loop(app: FastAPI, clock: Callable[[], datetime]) -> None:
    while True:
        await run_in_threadpool(
            tick, app.state.sessionmaker, clock(), HOLDER, app.state.outlets
        )
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
