"""Alembic environment: runs on the connection handed over by ``db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import patchfleet.server.db.compliance_rows
import patchfleet.server.db.report_rows
import patchfleet.server.db.sla_rows  # noqa: F401
from patchfleet.server.db.rows import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run migrations online, on a given connection or a fresh engine."""
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as conn:
            _run_on(conn)
        return
    _run_on(connection)


def _run_on(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
