"""``patchfleet feeds``: import vulnerability feeds, configure scheduled refreshes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from patchfleet.server.db import migrate as migrations
from patchfleet.server.db.engine import make_engine, make_sessionmaker
from patchfleet.server.db.queries import feeds as q
from patchfleet.server.feeds.errors import FeedError
from patchfleet.server.feeds.load import FeedKind, import_location
from patchfleet.server.services import vulns
from patchfleet.server.settings import Settings

app = typer.Typer(help="Vulnerability feeds: OSV, OVAL, NVD, CISA KEV, EPSS.")
out = Console()
err = Console(stderr=True)


def _sessions() -> sessionmaker[Session]:
    engine = make_engine(Settings().resolved_database_url())
    migrations.upgrade(engine)
    return make_sessionmaker(engine)


@app.command("import")
def import_(
    kind: Annotated[FeedKind, typer.Argument(help="Feed format.")],
    location: Annotated[str, typer.Argument(help="File, mirror folder or URL.")],
    recompute: Annotated[
        bool, typer.Option(help="Recompute device CVE states afterwards.")
    ] = True,
    release: Annotated[
        str, typer.Option(help="Release of an updateinfo file, e.g. almalinux:9.")
    ] = "",
) -> None:
    """Import one feed file now (re-importing an unchanged file changes nothing)."""
    session = _sessions()()
    now = datetime.now(UTC)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(f"{kind} {location}", total=None)
        try:
            result = import_location(
                session,
                kind,
                location,
                now=now,
                progress=lambda n: progress.update(task, completed=n),
                release=release,
            )
        except FeedError as error:
            err.print(f"[red]import failed, nothing changed:[/red] {error}")
            raise typer.Exit(1) from None
    out.print(
        f"{kind}: {result.status}, {result.records:,} records read, "
        f"{result.changed:,} changed"
    )
    if recompute and result.changed:
        done = vulns.refresh(session, now=now)
        out.print(f"CVE states recomputed: {done.tuples:,} package versions matched")


@app.command("add")
def add(
    kind: Annotated[FeedKind, typer.Argument(help="Feed format.")],
    location: Annotated[str, typer.Argument(help="URL or local mirror path.")],
    every: Annotated[int, typer.Option(help="Refresh interval in hours.", min=1)] = 24,
) -> None:
    """Refresh a feed on a schedule (the server's scheduler imports it)."""
    session = _sessions()()
    with session.begin():
        row = q.add_feed(session, kind, location, hours=every, now=datetime.now(UTC))
        out.print(f"feed {row.id}: {kind} from {location}, every {every} h")


@app.command("list")
def list_() -> None:
    """Configured feeds and the latest imports."""
    session = _sessions()()
    with session.begin():
        table = Table("id", "kind", "location", "every", "next refresh")
        for f in q.feeds(session):
            table.add_row(
                str(f.id),
                f.kind,
                f.location,
                f"{f.interval_hours} h",
                str(f.next_run_at),
            )
        out.print(table)
        history = Table("when", "kind", "location", "status", "records", "message")
        for i in q.imports(session, limit=20):
            history.add_row(
                str(i.started_at),
                i.kind,
                i.location,
                i.status,
                str(i.records),
                i.message,
            )
        out.print(history)


@app.command("remove")
def remove(
    feed_id: Annotated[int, typer.Argument(help="Feed id from `list`.")],
) -> None:
    """Stop refreshing a feed (its imported data stays)."""
    session = _sessions()()
    with session.begin():
        if not q.remove_feed(session, feed_id):
            err.print(f"no feed {feed_id}")
            raise typer.Exit(1)
    out.print(f"feed {feed_id} removed")
