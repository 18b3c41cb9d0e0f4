"""Feed configuration, import history and the per-CVE facts (NVD, KEV, EPSS)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from patchfleet.core.advisories import CveInfo, EpssScore, KevEntry
from patchfleet.server.db.rows import (
    CveRow,
    EpssRow,
    FeedImportRow,
    FeedRow,
    KevRow,
)

BATCH = 1000


def last_ok_digest(session: Session, kind: str, location: str) -> str | None:
    """Digest of the last successful import of this file, if any."""
    return session.scalar(
        select(FeedImportRow.digest)
        .where(
            FeedImportRow.kind == kind,
            FeedImportRow.location == location,
            FeedImportRow.status.in_(("ok", "unchanged")),
        )
        .order_by(FeedImportRow.id.desc())
        .limit(1)
    )


def record_import(
    session: Session,
    kind: str,
    location: str,
    digest: str,
    now: datetime,
    status: str,
    records: int,
    changed: int,
    message: str,
) -> None:
    """Append one import to the history."""
    session.add(
        FeedImportRow(
            kind=kind,
            location=location[:2000],
            digest=digest,
            started_at=now,
            finished_at=now,
            status=status,
            records=records,
            changed=changed,
            message=message,
        )
    )


def imports(session: Session, limit: int = 50) -> list[FeedImportRow]:
    """The latest imports, newest first."""
    return list(
        session.scalars(
            select(FeedImportRow).order_by(FeedImportRow.id.desc()).limit(limit)
        )
    )


def _cve_values(c: CveInfo) -> dict[str, Any]:
    best = c.best_cvss
    return {
        "id": c.id,
        "description": c.description,
        "published": c.published,
        "modified": c.modified,
        "status": c.status[:40],
        "cvss_score": best.score if best else None,
        "cvss_version": best.version[:8] if best else "",
        "cvss_vector": best.vector[:200] if best else "",
        "cvss_severity": best.severity[:20] if best else "",
        "cwes": list(c.cwes),
    }


def upsert_cves(session: Session, cves: Iterable[CveInfo]) -> int:
    """Insert or replace CVE records; returns how many were written."""
    written = 0
    batch: dict[str, dict[str, Any]] = {}

    def flush() -> None:
        ids = list(batch)
        session.execute(delete(CveRow).where(CveRow.id.in_(ids)))
        session.execute(insert(CveRow.__table__), list(batch.values()))  # type: ignore[arg-type]
        batch.clear()

    for cve in cves:
        batch[cve.id] = _cve_values(cve)
        written += 1
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return written


def replace_kev(session: Session, entries: Sequence[KevEntry]) -> int:
    """Replace the KEV catalog (a full snapshot); returns how many entries changed."""
    old = {
        r.cve: (r.date_added, r.due_date, r.ransomware)
        for r in session.scalars(select(KevRow))
    }
    new = {e.cve: (e.date_added, e.due_date, e.ransomware) for e in entries}
    changed = len(set(old.items()) ^ set(new.items()))
    session.execute(delete(KevRow))
    values = [
        {
            "cve": e.cve,
            "date_added": e.date_added,
            "due_date": e.due_date,
            "ransomware": e.ransomware,
            "vendor": e.vendor[:200],
            "product": e.product[:200],
            "name": e.name[:400],
            "required_action": e.required_action,
        }
        for e in {e.cve: e for e in entries}.values()
    ]
    for start in range(0, len(values), BATCH):
        session.execute(insert(KevRow.__table__), values[start : start + BATCH])  # type: ignore[arg-type]
    return changed


def replace_epss(session: Session, scores: Iterable[EpssScore]) -> int:
    """Replace all EPSS scores with a new daily file; returns how many were written."""
    session.execute(delete(EpssRow))
    written = 0
    batch: dict[str, dict[str, Any]] = {}
    for s in scores:
        batch[s.cve] = {
            "cve": s.cve,
            "probability": s.probability,
            "percentile": s.percentile,
            "score_date": s.score_date,
        }
        if len(batch) >= BATCH * 5:
            session.execute(insert(EpssRow.__table__), list(batch.values()))  # type: ignore[arg-type]
            written += len(batch)
            batch.clear()
    if batch:
        session.execute(insert(EpssRow.__table__), list(batch.values()))  # type: ignore[arg-type]
        written += len(batch)
    return written


def add_feed(
    session: Session, kind: str, location: str, *, hours: int, now: datetime
) -> FeedRow:
    """Configure a feed refreshed every ``hours`` (first refresh at ``now``)."""
    row = session.scalar(
        select(FeedRow).where(FeedRow.kind == kind, FeedRow.location == location)
    )
    if row is None:
        row = FeedRow(kind=kind, location=location, enabled=True)
        session.add(row)
    row.interval_hours = hours
    row.enabled = True
    row.next_run_at = now
    session.flush()
    return row


def feeds(session: Session) -> list[FeedRow]:
    """Configured feeds."""
    return list(session.scalars(select(FeedRow).order_by(FeedRow.kind, FeedRow.id)))


def remove_feed(session: Session, feed_id: int) -> bool:
    """Forget a configured feed; False when it did not exist."""
    return bool(session.execute(delete(FeedRow).where(FeedRow.id == feed_id)).rowcount)  # type: ignore[attr-defined]


def due_feeds(session: Session, now: datetime) -> list[tuple[int, str, str, int]]:
    """(id, kind, location, hours) of enabled feeds due for a refresh."""
    rows = session.execute(
        select(FeedRow.id, FeedRow.kind, FeedRow.location, FeedRow.interval_hours)
        .where(FeedRow.enabled.is_(True), FeedRow.next_run_at <= now)
        .order_by(FeedRow.id)
    )
    due = [(r[0], r[1], r[2], r[3]) for r in rows]
    session.rollback()  # end the read transaction; each import runs its own
    return due


def schedule_feed(session: Session, feed_id: int, *, now: datetime, hours: int) -> None:
    """Set a feed's next refresh."""
    row = session.get(FeedRow, feed_id)
    if row is not None:
        row.next_run_at = now + timedelta(hours=hours)
