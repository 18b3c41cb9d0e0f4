"""Keeping every device's CVE states current (CVE-01, BP-06, BP-07).

Two paths, both off the request path (the scheduler tick calls ``refresh``):

* **full** — after any feed import (the feed generation moved): rebuild the matching
  index, match every distinct installed tuple the fleet has, decide which offered
  candidates fix what, and derive all device states set-based;
* **delta** — devices whose inventory or pending updates changed: only their tuples
  new to the fleet are matched, then only their states are derived.

Agents report CVE ids for updates (dnf/zypper updateinfo, Debian changelogs); each
such report becomes an ``agent`` advisory "package fixed in the candidate version", so
a Debian update is linked to the CVEs it fixes even without any feed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from patchfleet.core.advisories import CVE_ID, Advisory, AffectedPackage, scheme_of
from patchfleet.core.vulns import AdvisoryIndex, Installed
from patchfleet.server.db.queries import vulns as q
from patchfleet.server.services.enrollment import device_release

# Matching index per database (its random token), rebuilt when the generation moves.
_INDEX: dict[str, tuple[int, AdvisoryIndex]] = {}


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What one refresh did."""

    full: bool
    devices: int
    tuples: int
    findings: int


def advisory_digest(a: Advisory) -> str:
    """A stable digest of everything stored about an advisory (re-import detection)."""
    return hashlib.sha256(repr(a).encode()).hexdigest()


def store_advisories(
    session: Session, source: str, advisories: Iterable[Advisory], *, batch: int = 1000
) -> int:
    """Insert new and replace changed advisories of one source; returns how many.

    Streams: only ``batch`` parsed advisories are held at a time, so a full feed dump
    imports in bounded memory.
    """
    known = q.advisory_digests(session, source)
    seen: set[str] = set()
    written = 0
    new: list[tuple[Advisory, str]] = []
    changed: list[tuple[int, Advisory, str]] = []

    def flush() -> None:
        nonlocal written
        q.write_advisories(session, new, changed)
        written += len(new) + len(changed)
        new.clear()
        changed.clear()

    for a in advisories:
        if a.id in seen:
            continue
        seen.add(a.id)
        digest = advisory_digest(a)
        stored = known.get(a.id)
        if stored is None:
            new.append((a, digest))
        elif stored[1] != digest:
            changed.append((stored[0], a, digest))
        if len(new) + len(changed) >= batch:
            flush()
    flush()
    if written:
        q.bump_generation(session)
    return written


def _reported_advisories(
    rows: Iterable[tuple[str, str, str, str, str]],
) -> list[Advisory]:
    out = []
    for release, package, candidate, advisory_id, cves in rows:
        ids = tuple(sorted({c for c in cves.split() if CVE_ID.fullmatch(c)}))
        if not ids:
            continue
        affected = AffectedPackage(
            release, package, scheme_of(release), fixed=candidate
        )
        out.append(
            Advisory(
                id=f"{release}/{package}@{candidate}",
                source="agent",
                cves=ids,
                affected=(affected,),
                summary=advisory_id,
            )
        )
    return out


def _index(session: Session, token: str, generation: int) -> AdvisoryIndex:
    key = token
    cached = _INDEX.get(key)
    if cached is not None and cached[0] == generation:
        return cached[1]
    index = AdvisoryIndex.build(q.iter_advisories(session))
    _INDEX[key] = (generation, index)
    return index


def _fill_releases(session: Session) -> None:
    for device_id, os_name, os_version in q.devices_without_release(session):
        release = device_release("", os_name, os_version)
        if release:
            q.set_release(session, device_id, release)


def _findings(index: AdvisoryIndex, tuples: Iterable[q.Tuple]) -> list[q.FindingValues]:
    return [
        (f.release, f.package, f.version, f.cve, f.fixed, " ".join(f.advisories))
        for f in index.findings(Installed(r, p, v) for r, p, v in tuples)
    ]


def _fixes(
    session: Session, index: AdvisoryIndex, candidates: set[q.Tuple]
) -> list[tuple[str, str, str, str]]:
    """(release, package, candidate, CVE) for every CVE a candidate is clear of."""
    known = q.package_cves(session, ((r, p) for r, p, _ in candidates))
    affected: dict[q.Tuple, set[str]] = {}
    for f in index.findings(Installed(*c) for c in candidates):
        affected.setdefault((f.release, f.package, f.version), set()).add(f.cve)
    return [
        (r, p, c, cve)
        for r, p, c in candidates
        for cve in known.get((r, p), set()) - affected.get((r, p, c), set())
    ]


def _no_mark(_phase: str) -> None:
    return None


def refresh(
    session: Session,
    *,
    now: datetime,
    full: bool = False,
    mark: Callable[[str], None] = _no_mark,
) -> RefreshResult:
    """Bring device CVE states up to date with feeds, inventories and scans.

    ``mark(phase)`` is called as each phase ends (benchmarks time them).
    """
    with session.begin():
        _fill_releases(session)
        dirty = q.dirty_devices(session)
        store_advisories(
            session, "agent", _reported_advisories(q.reported_fixes(session, dirty))
        )
        row = q.state(session)
        full = full or row.generation != row.computed_generation
        mark("read changes")
        index = _index(session, row.token, row.generation)
        mark("matching index")
        installed = q.installed_tuples(session, dirty)
        known = q.known_tuples(session, None if full else installed)
        fresh = installed - known
        q.add_tuples(session, fresh)
        mark("distinct tuples")
        if full:
            tuples: set[q.Tuple] | None = None
            findings = _findings(index, known | fresh)
            q.replace_findings(session, None, findings)
        else:
            # Tuples new to the fleet have no findings yet: nothing to delete.
            tuples = fresh
            findings = _findings(index, fresh)
            q.replace_findings(session, (), findings)
        mark("match and store findings")
        scope = None if full else dirty
        candidates = q.candidate_tuples(session, scope)
        q.replace_fixes(
            session, None if full else candidates, _fixes(session, index, candidates)
        )
        if full:
            q.analyze(session, "vuln_findings", "vuln_fixes", "vuln_tuples")
        mark("candidate fixes")
        if full or dirty:
            q.derive_device_cves(session, scope, now=now)
        q.clear_dirty(session, scope)
        row.computed_generation = row.generation
        row.computed_at = now
        mark("device states")
    return RefreshResult(
        full=full,
        devices=len(dirty),
        tuples=len(known | fresh) if tuples is None else len(tuples),
        findings=len(findings),
    )
