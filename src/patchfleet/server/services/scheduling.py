"""The scheduler lease: one server acts on schedules at a time (SCH-11)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from patchfleet.server.db.queries import configurations


def claim(session: Session, *, holder: str, now: datetime, lease: timedelta) -> bool:
    """Take or renew the ``scheduler`` lease for ``holder``; False if another holds it."""
    with session.begin():
        return configurations.take_lease(
            session, name="scheduler", holder=holder, now=now, until=now + lease
        )
