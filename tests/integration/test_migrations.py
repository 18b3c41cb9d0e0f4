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


def test_upgrade_keeps_existing_rows(engine):
    from sqlalchemy import text

    migrate.downgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO partners (id, name, created_at) VALUES (7, 'p', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO clients (id, partner_id, name, created_at) VALUES (8, 7, 'c', '2026-01-01')"
            )
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT use_parent_level, approval_type FROM clients WHERE id = 8")
        ).one()
        auto_scan = conn.execute(
            text("SELECT auto_scan FROM partners WHERE id = 7")
        ).scalar_one()
    assert (bool(row[0]), row[1]) == (False, "manual")
    assert bool(auto_scan) is True
