"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``PATCHFLEET_TEST_PG_URL`` (default: the local server with
trust auth, database ``test``). Each test session creates its own database and
drops it at the end, so parallel runs never meet.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from patchfleet.server.db import migrate
from patchfleet.server.db.engine import make_engine
from patchfleet.server.db.rows import Base

PG_ADMIN_URL = os.environ.get(
    "PATCHFLEET_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test"
)


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
        (pytest.fail if os.environ.get("PATCHFLEET_REQUIRE_LAB") else pytest.skip)(
            f"PostgreSQL unavailable: {problem}"
        )
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
            conn.execute(
                text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for t in tables:
                conn.execute(text(f"DELETE FROM {t}"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """A migrated, empty database engine: SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        eng = _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        eng = make_engine(request.getfixturevalue("pg_database"))
        _truncate(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; tests get copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "patchfleet.db"
    eng = make_engine(f"sqlite:///{path}")
    migrate.upgrade(eng)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return path


def _sqlite_copy(template: Path, tmp_path: Path) -> Engine:
    target = tmp_path / "patchfleet.db"
    shutil.copyfile(template, target)
    return make_engine(f"sqlite:///{target}")


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite engine (for tests that need one backend only)."""
    eng = _sqlite_copy(sqlite_template, tmp_path)
    yield eng
    eng.dispose()
