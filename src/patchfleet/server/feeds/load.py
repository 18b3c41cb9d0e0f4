"""Importing one feed file into the database: all of it, or nothing.

Each import runs in one transaction: a parser error halfway through (truncated XML,
a record of the wrong shape, an entity bomb) rolls back everything it wrote, so the
previously imported data stays intact, and the failure is recorded in
``feed_imports`` with the parser's message.  Re-importing an unchanged file is a
no-op (whole-file digest); inside a changed file only new or changed advisories are
written (per-record digest) — incremental where the format allows.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy.orm import Session

from patchfleet.server.db.queries import feeds as q
from patchfleet.server.feeds import epss, kev, nvd, osv, oval, sources, updateinfo
from patchfleet.server.feeds.errors import FeedError
from patchfleet.server.services.vulns import store_advisories

Progress = Callable[[int], None]
T = TypeVar("T")


class FeedKind(StrEnum):
    """The feed formats patchfleet imports."""

    OSV = "osv"
    OVAL = "oval"
    NVD = "nvd"
    KEV = "kev"
    EPSS = "epss"
    UPDATEINFO = "updateinfo"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """How one import ended: ``ok``, ``unchanged`` or ``failed``."""

    kind: FeedKind
    location: str
    status: str
    records: int
    changed: int
    message: str = ""


def _counted(
    items: Iterable[T], progress: Progress | None, box: list[int]
) -> Iterator[T]:
    for item in items:
        box[0] += 1
        if progress is not None and box[0] % 500 == 0:
            progress(box[0])
        yield item


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    files = (
        sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    )
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else "").encode())
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _load(
    session: Session,
    kind: FeedKind,
    path: Path,
    progress: Progress | None,
    release: str = "",
) -> tuple[int, int]:
    """(records read, records changed) for one file, inside the caller's transaction."""
    box = [0]
    if kind is FeedKind.OSV:
        changed = store_advisories(
            session, "osv", _counted(osv.iter_file(path), progress, box)
        )
    elif kind is FeedKind.OVAL:
        with sources.open_stream(path, kind) as stream:
            advisories = oval.iter_oval(stream, where=path.name)
            changed = store_advisories(
                session, "oval", _counted(advisories, progress, box)
            )
    elif kind is FeedKind.NVD:
        with sources.open_stream(path, kind) as stream:
            records = nvd.iter_nvd(stream, where=path.name)
            changed = q.upsert_cves(session, _counted(records, progress, box))
    elif kind is FeedKind.UPDATEINFO:
        with sources.open_stream(path, kind) as stream:
            errata = updateinfo.iter_updateinfo(stream, path.name, release)
            changed = store_advisories(
                session, "updateinfo", _counted(errata, progress, box)
            )
    elif kind is FeedKind.KEV:
        with sources.open_stream(path, kind) as stream:
            catalog = kev.parse_kev(stream.read(), where=path.name)
        box[0] = len(catalog.entries)
        changed = q.replace_kev(session, catalog.entries)
    else:
        with sources.open_stream(path, kind) as stream:
            scores = epss.iter_epss(stream, where=path.name)
            changed = q.replace_epss(session, _counted(scores, progress, box))
    if progress is not None:
        progress(box[0])
    return box[0], changed


def import_file(
    session: Session,
    kind: FeedKind,
    path: Path,
    *,
    now: datetime,
    location: str = "",
    progress: Progress | None = None,
    release: str = "",
) -> ImportResult:
    """Import one local file (or OSV folder); raises FeedError after recording it.

    ``release`` names the release an updateinfo file belongs to (``almalinux:9``).
    """
    location = location or str(path)
    digest = _file_digest(path)
    with session.begin():
        if q.last_ok_digest(session, kind, location) == digest:
            q.record_import(session, kind, location, digest, now, "unchanged", 0, 0, "")
            return ImportResult(kind, location, "unchanged", 0, 0)
    try:
        with session.begin():
            records, changed = _load(session, kind, path, progress, release)
            q.record_import(
                session, kind, location, digest, now, "ok", records, changed, ""
            )
    except FeedError as error:
        with session.begin():
            q.record_import(
                session, kind, location, digest, now, "failed", 0, 0, str(error)
            )
        raise
    return ImportResult(kind, location, "ok", records, changed)


@contextmanager
def fetched(location: str, client: httpx.Client | None = None) -> Iterator[Path]:
    """A local path for a location: the path itself, or a downloaded temporary copy."""
    if not location.startswith(("http://", "https://")):
        path = Path(location)
        if not path.exists():
            raise FeedError("feed", location, "no such file or folder")
        yield path
        return
    name = location.rstrip("/").rsplit("/", 1)[-1] or "feed"
    with tempfile.TemporaryDirectory(prefix="patchfleet-feed-") as tmp:
        target = Path(tmp) / name
        own = client is None
        http = client or httpx.Client(timeout=60, follow_redirects=True)
        try:
            with http.stream("GET", location) as response:
                if response.status_code != 200:
                    raise FeedError(
                        "feed",
                        location,
                        f"download failed: HTTP {response.status_code}",
                    )
                with target.open("wb") as out:
                    for block in response.iter_bytes(1 << 20):
                        out.write(block)
        except httpx.HTTPError as error:
            raise FeedError("feed", location, f"download failed: {error}") from None
        finally:
            if own:
                http.close()
        yield target


def import_location(
    session: Session,
    kind: FeedKind,
    location: str,
    *,
    now: datetime,
    progress: Progress | None = None,
    client: httpx.Client | None = None,
    release: str = "",
) -> ImportResult:
    """Import from a URL or a local path (a mirror folder for air-gapped sites).

    A failed download or a missing path is recorded in the import history too.
    """
    with ExitStack() as stack:
        try:
            path = stack.enter_context(fetched(location, client))
        except FeedError as error:
            with session.begin():
                q.record_import(
                    session, kind, location, "", now, "failed", 0, 0, str(error)
                )
            raise
        return import_file(
            session,
            kind,
            path,
            now=now,
            location=location,
            progress=progress,
            release=release,
        )


def refresh_due(
    session: Session, *, now: datetime, client: httpx.Client | None = None
) -> list[ImportResult]:
    """Import every enabled configured feed whose refresh is due; failures are kept."""
    results = []
    for feed_id, kind, location, hours in q.due_feeds(session, now):
        try:
            results.append(
                import_location(
                    session, FeedKind(kind), location, now=now, client=client
                )
            )
        except FeedError as error:
            results.append(
                ImportResult(FeedKind(kind), location, "failed", 0, 0, str(error))
            )
        with session.begin():
            q.schedule_feed(session, feed_id, now=now, hours=hours)
    return results
