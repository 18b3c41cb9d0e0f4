"""``patchfleet serve`` and ``patchfleet migrate``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel

from patchfleet.server.api.clients import enroll_command
from patchfleet.server.db import migrate as migrations
from patchfleet.server.db.engine import make_engine, make_sessionmaker
from patchfleet.server.services import auth
from patchfleet.server.settings import Settings

err = Console(stderr=True)


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def prepare(settings: Settings, *, admin_password: str | None = None) -> None:
    """Migrate the database and, on first start, create the admin and print the login."""
    engine = make_engine(settings.resolved_database_url())
    migrations.upgrade(engine)
    result = auth.bootstrap(
        make_sessionmaker(engine)(), now=datetime.now(UTC), password=admin_password
    )
    secret_file = settings.data_dir / "initial-admin.txt"
    if result is not None:
        command = enroll_command(
            settings.resolved_public_url(), result.enrollment_token
        )
        _write_secret(
            secret_file,
            f"username: {result.username}\npassword: {result.password}\n"
            f"enroll ({result.client_name}): {command}\n",
        )
    if secret_file.exists():
        err.print(
            Panel(
                secret_file.read_text().strip(),
                title=f"patchfleet first-start login (also in {secret_file})",
            )
        )
    engine.dispose()


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    admin_password: Annotated[
        str | None,
        typer.Option(
            envvar="PATCHFLEET_ADMIN_PASSWORD",
            help="Initial admin password (first start only).",
        ),
    ] = None,
) -> None:
    """Run the server (API, web UI) on the configured database."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    prepare(settings, admin_password=admin_password)
    err.print(
        f"patchfleet listening on http://{settings.host}:{settings.port}  "
        f"(database: {make_engine(settings.resolved_database_url()).url.render_as_string()})"
    )
    # Workers build their own app from the environment: pass the CLI's choices on.
    os.environ["PATCHFLEET_HOST"] = settings.host
    os.environ["PATCHFLEET_PORT"] = str(settings.port)
    uvicorn.run(
        "patchfleet.server.app:serve_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
    )


def migrate() -> None:
    """Bring the database schema up to date."""
    engine = make_engine(Settings().resolved_database_url())
    migrations.upgrade(engine)
    err.print("database is up to date")
