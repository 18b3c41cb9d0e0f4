"""Configured feeds refresh on schedule from URLs and mirror folders; the CLI imports.

The HTTP feed is served on 127.0.0.1 by a thread the test starts and stops.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from patchfleet.cli import build_app
from patchfleet.server.db.engine import make_sessionmaker
from patchfleet.server.db.queries import feeds as q
from patchfleet.server.db.rows import AdvisoryRow, FeedImportRow, KevRow
from patchfleet.server.scheduler.tick import tick


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on loopback serving ``tmp_path / "www"``."""
    www = tmp_path / "www"
    www.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _count(session, row) -> int:
    with session.begin():
        return session.scalar(select(func.count()).select_from(row)) or 0


def test_scheduled_refresh_from_url_and_mirror_folder(
    engine, clock, shared_data, feed_server, tmp_path
):
    url, www = feed_server
    shutil.copy(
        shared_data / "kev/known_exploited_vulnerabilities.json", www / "kev.json"
    )
    mirror = tmp_path / "mirror"
    shutil.copytree(shared_data / "osv/ubuntu", mirror)
    sessions = make_sessionmaker(engine)
    with sessions() as session, session.begin():
        q.add_feed(session, "kev", f"{url}/kev.json", hours=24, now=clock())
        q.add_feed(session, "osv", str(mirror), hours=6, now=clock())
        q.add_feed(session, "epss", f"{url}/missing.csv", hours=24, now=clock())

    done = tick(sessions, clock())
    assert done["feed_imports"] == 3
    session = sessions()
    assert _count(session, KevRow) == 1404
    assert _count(session, AdvisoryRow) > 20
    with session.begin():
        history = {(i.kind, i.status): i.message for i in q.imports(session, limit=10)}
    assert ("kev", "ok") in history
    assert ("osv", "ok") in history
    assert "HTTP 404" in history[("epss", "failed")]
    assert done["cve_devices"] == 0  # no devices yet; the recompute still ran

    assert tick(sessions, clock.advance(hours=1))["feed_imports"] == 0
    assert tick(sessions, clock.advance(hours=6))["feed_imports"] == 1  # osv only
    with session.begin():
        latest = q.imports(session, limit=1)[0]
    assert (latest.kind, latest.status) == ("osv", "unchanged")
    with session.begin():
        runs = session.scalar(select(func.count()).select_from(FeedImportRow))
    assert runs == 4


def test_cli_imports_with_progress_and_refuses_bad_files(
    tmp_path, shared_data, monkeypatch
):
    monkeypatch.setenv("PATCHFLEET_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    app = build_app()
    result = runner.invoke(
        app,
        [
            "feeds",
            "import",
            "kev",
            str(shared_data / "kev/known_exploited_vulnerabilities.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "kev: ok, 1,404 records read, 1,404 changed" in result.output
    again = runner.invoke(
        app,
        [
            "feeds",
            "import",
            "kev",
            str(shared_data / "kev/known_exploited_vulnerabilities.json"),
        ],
    )
    assert "kev: unchanged" in again.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"vulnerabilities": [')
    refused = runner.invoke(app, ["feeds", "import", "kev", str(bad)])
    assert refused.exit_code == 1
    assert "import failed, nothing changed" in refused.output
    listed = runner.invoke(app, ["feeds", "list"])
    assert "failed" in listed.output
