"""Run Alembic migrations programmatically (no alembic.ini needed).

On SQLite, foreign keys are switched off while migrating: batch migrations copy and
drop tables, and with ``ON DELETE CASCADE`` dropping a parent table would delete the
children's rows.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to ``engine``'s URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False)
    )
    return cfg


def _run(engine: Engine, revision: str, *, up: bool) -> None:
    cfg = alembic_config(engine)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # end SQLAlchemy's autobegun transaction; the pragma stays
        with connection.begin():
            cfg.attributes["connection"] = connection
            (command.upgrade if up else command.downgrade)(cfg, revision)
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def upgrade(engine: Engine) -> None:
    """Bring the database schema to the newest revision."""
    _run(engine, "head", up=True)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (for tests of upgrades over old data)."""
    _run(engine, revision, up=False)
