"""Benchmark full feed imports into the database: parse + store, time and peak memory.

Run from the repository root: ``.venv/bin/python bench/bench_feed_import.py``
(``--quick`` imports a tenth of the size). Builds, with the generators of
``bench_feed_parse.py``, a full-size Debian OSV dump (60,000 records, as OSV's
``Debian/all.zip``) and a full-size RHEL 9 OVAL file, then imports each with
``patchfleet.server.feeds.load.import_file`` into a fresh SQLite file and a fresh
PostgreSQL database, each import in its own process so its peak RSS is its own.
A second import of the same file shows the unchanged-file path.  Targets (issue 4):
≤ 60 s and ≤ 500 MB per full import.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))
from bench_feed_parse import build_debian_osv_dump, build_rhel_oval

from patchfleet.server.db import migrate
from patchfleet.server.db.engine import make_engine, make_sessionmaker
from patchfleet.server.feeds.load import FeedKind, import_file

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PG_DB = "patchfleet_feed_bench"


def _import_twice(url: str, kind: str, path: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    start = time.perf_counter()
    first = import_file(sessions(), FeedKind(kind), Path(path), now=NOW)
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    again = import_file(sessions(), FeedKind(kind), Path(path), now=NOW)
    again_s = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.dispose()
    out.put((first.records, first.changed, first_s, again.status, again_s, rss_mb))


def run_case(
    url: str, kind: str, path: Path
) -> tuple[int, int, float, str, float, float]:
    """Import in a fresh process; (records, changed, s, 2nd status, 2nd s, RSS MB)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_import_twice, args=(url, kind, str(path), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result  # type: ignore[no-any-return]


def _pg_url(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {PG_DB}"))
        c.execute(text(f"CREATE DATABASE {PG_DB}"))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{PG_DB}"


def _drop_pg(admin_url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {PG_DB}"))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    console = Console()
    table = Table(
        "db",
        "feed",
        "records",
        "stored",
        "import",
        "re-import",
        "peak RSS",
        title="Full feed imports (parse + store, one transaction)",
    )
    with tempfile.TemporaryDirectory(prefix="patchfleet-feeds-") as tmp:
        folder = Path(tmp)
        console.print("building feed files…")
        files = {
            "osv": build_debian_osv_dump(folder, n=60_000 // scale),
            "oval": build_rhel_oval(folder, n=2_000 // scale),
        }
        kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
        for db in kinds:
            for kind, path in files.items():
                if db == "sqlite":
                    url = f"sqlite:///{folder / f'{kind}.db'}"
                else:
                    url = _pg_url(args.pg_url)
                try:
                    records, changed, secs, again, again_s, rss = run_case(
                        url, kind, path
                    )
                finally:
                    if db == "postgres":
                        _drop_pg(args.pg_url)
                row = [
                    db,
                    f"{kind} ({path.stat().st_size / 1e6:.0f} MB)",
                    f"{records:,}",
                    f"{changed:,}",
                    f"{secs:.1f} s",
                    f"{again} {again_s:.1f} s",
                    f"{rss:.0f} MB",
                ]
                console.print(" | ".join(row))
                table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
