"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``PATCHFLEET_TEST_PG_URL`` (default: the local server with
trust auth, database ``test``). Each test session creates its own database and
drops it at the end, so parallel runs never meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from patchfleet.server.db import migrate
from patchfleet.server.db.engine import make_engine
from patchfleet.server.db.rows import Base

PG_ADMIN_URL = os.environ.get("PATCHFLEET_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any connection failure means "not available"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this session; its URL."""
    problem = _pg_available()
    if problem:
        (pytest.fail if os.environ.get("PATCHFLEET_REQUIRE_LAB") else pytest.skip)(f"PostgreSQL unavailable: {problem}")
    name = f"patchfleet_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f"DELETE FROM {t}"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """A migrated, empty database engine: SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'patchfleet.db'}")
        migrate.upgrade(eng)
    else:
        eng = make_engine(request.getfixturevalue("pg_database"))
        _truncate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    """A migrated SQLite engine (for tests that need one backend only)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'patchfleet.db'}")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()
