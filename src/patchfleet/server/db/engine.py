"""Engines and sessions: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``; creates the SQLite file's directory."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One connection: writers queue in-process instead of sleeping in SQLite's
        # busy handler (measured in bench/bench_checkins.py; see docs/performance.md).
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # As many connections as request threads (anyio's default 40), no churn, no
    # pre-ping round trip; recycle instead.
    return create_engine(url, pool_size=40, max_overflow=0, pool_recycle=1800)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
