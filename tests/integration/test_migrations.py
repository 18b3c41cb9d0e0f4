"""Migrations build exactly the schema the rows describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from patchfleet.server.db import migrate
from patchfleet.server.db.rows import Base


def test_no_drift_between_rows_and_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_upgrade_is_idempotent(engine):
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= {
        t.name for t in Base.metadata.sorted_tables
    }
