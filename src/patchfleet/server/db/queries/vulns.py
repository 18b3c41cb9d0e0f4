"""Vulnerability state in the database: tuples, findings, fixes and device CVEs.

Matching runs in ``core.vulns`` per distinct installed (release, package, version);
these statements feed it and spread its results over devices set-based, so a fleet
recompute is a handful of statements, not a loop over devices.

Debian and Ubuntu feeds speak of *source* packages, rpm feeds of binary packages: the
match name of an installed package is its source name on deb releases and its own
name elsewhere (``_match_name``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patchfleet.core.advisories import Advisory, AffectedPackage
from patchfleet.core.versions import Scheme
from patchfleet.server.db.rows import (
    AdvisoryRow,
    AffectedRangeRow,
    DeviceCveNextRow,
    DeviceCveRow,
    DevicePackageRow,
    DeviceRow,
    DeviceUpdateRow,
    VulnFindingRow,
    VulnFixRow,
    VulnStateRow,
    VulnTupleRow,
)

BATCH = 1000
Tuple = tuple[str, str, str]  # (release, package, version)

_DEB = or_(DeviceRow.release.like("debian:%"), DeviceRow.release.like("ubuntu%"))


def _match_name(name: Any, source: Any) -> ColumnElement[str]:
    return case((and_(_DEB, source != ""), source), else_=name)


_PKG_NAME = _match_name(DevicePackageRow.name, DevicePackageRow.source_name)
_PKG_VERSION = case(
    (
        and_(_DEB, DevicePackageRow.source_version != ""),
        DevicePackageRow.source_version,
    ),
    else_=DevicePackageRow.version,
)
UPDATE_MATCH_NAME = _match_name(DeviceUpdateRow.name, DeviceUpdateRow.source_package)


# State row ------------------------------------------------------------------------


def state(session: Session) -> VulnStateRow:
    """The one generation row, created on first use."""
    row = session.get(VulnStateRow, 1)
    if row is None:
        row = VulnStateRow(
            id=1, token=uuid.uuid4().hex, generation=0, computed_generation=-1
        )
        session.add(row)
        session.flush()
    return row


def bump_generation(session: Session) -> None:
    """Feeds changed: the next refresh recomputes the whole fleet."""
    row = state(session)
    row.generation += 1


# Advisories -----------------------------------------------------------------------


def advisory_digests(session: Session, source: str) -> dict[str, tuple[int, str]]:
    """(id, digest) of every stored advisory of a source, by key."""
    rows = session.execute(
        select(AdvisoryRow.key, AdvisoryRow.id, AdvisoryRow.digest).where(
            AdvisoryRow.source == source
        )
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def _advisory_values(a: Advisory, digest: str) -> dict[str, Any]:
    return {
        "source": a.source,
        "key": a.id,
        "summary": a.summary,
        "severity": a.severity[:40],
        "url": a.url[:1000],
        "published": a.published,
        "modified": a.modified,
        "withdrawn": a.withdrawn,
        "cves": list(a.cves),
        "digest": digest,
    }


def _range_values(advisory_id: int, p: AffectedPackage) -> dict[str, Any]:
    return {
        "advisory_id": advisory_id,
        "release": p.release,
        "package": p.package,
        "scheme": str(p.scheme),
        "introduced": p.introduced,
        "fixed": p.fixed,
        "last_affected": p.last_affected,
        "not_affected": p.not_affected,
    }


def write_advisories(
    session: Session,
    new: Sequence[tuple[Advisory, str]],
    changed: Sequence[tuple[int, Advisory, str]],
) -> None:
    """Insert new advisories and replace changed ones, ranges included."""
    if changed:
        ids = [c[0] for c in changed]
        for start in range(0, len(ids), BATCH):
            session.execute(
                delete(AffectedRangeRow).where(
                    AffectedRangeRow.advisory_id.in_(ids[start : start + BATCH])
                )
            )
        for advisory_id, a, digest in changed:
            session.execute(
                update(AdvisoryRow)
                .where(AdvisoryRow.id == advisory_id)
                .values(**_advisory_values(a, digest))
            )
    ranges = [_range_values(i, p) for i, a, _ in changed for p in a.affected]
    table = AdvisoryRow.__table__
    for start in range(0, len(new), BATCH):
        chunk = new[start : start + BATCH]
        inserted = session.scalars(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),  # type: ignore[arg-type]
            [_advisory_values(a, d) for a, d in chunk],
        ).all()
        ranges.extend(
            _range_values(i, p)
            for i, (a, _) in zip(inserted, chunk, strict=True)
            for p in a.affected
        )
    if ranges and session.get_bind().dialect.name == "postgresql":
        _copy_ranges(session, ranges)
        return
    for start in range(0, len(ranges), BATCH):
        session.execute(
            insert(AffectedRangeRow.__table__),  # type: ignore[arg-type]
            ranges[start : start + BATCH],
        )


_RANGE_COLUMNS = (
    "advisory_id",
    "release",
    "package",
    "scheme",
    "introduced",
    "fixed",
    "last_affected",
    "not_affected",
)


def _copy_ranges(session: Session, ranges: Sequence[dict[str, Any]]) -> None:
    """COPY ranges in the session's transaction (PostgreSQL; ~10x an executemany)."""
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cur,  # type: ignore[union-attr]
        cur.copy(
            f"COPY affected_ranges ({', '.join(_RANGE_COLUMNS)}) FROM STDIN"
        ) as copy,
    ):
        for row in ranges:
            copy.write_row(tuple(row[c] for c in _RANGE_COLUMNS))


def iter_advisories(session: Session) -> Iterator[Advisory]:
    """Every stored, not withdrawn advisory with its ranges (for the matching index)."""
    ranges: dict[int, list[AffectedPackage]] = {}
    for r in session.execute(
        select(
            AffectedRangeRow.advisory_id,
            AffectedRangeRow.release,
            AffectedRangeRow.package,
            AffectedRangeRow.scheme,
            AffectedRangeRow.introduced,
            AffectedRangeRow.fixed,
            AffectedRangeRow.last_affected,
            AffectedRangeRow.not_affected,
        )
    ):
        ranges.setdefault(r[0], []).append(
            AffectedPackage(r[1], r[2], Scheme(r[3]), r[4], r[5], r[6], r[7])
        )
    for row in session.execute(
        select(AdvisoryRow.id, AdvisoryRow.key, AdvisoryRow.source, AdvisoryRow.cves)
        .where(AdvisoryRow.withdrawn.is_(False))
        .order_by(AdvisoryRow.id)
    ):
        yield Advisory(
            id=row[1],
            source=row[2],
            cves=tuple(row[3] or ()),
            affected=tuple(ranges.get(row[0], ())),
        )


# Devices --------------------------------------------------------------------------


def devices_without_release(session: Session) -> list[tuple[int, str, str]]:
    """(id, os_name, os_version) of devices whose release key is not yet known."""
    rows = session.execute(
        select(DeviceRow.id, DeviceRow.os_name, DeviceRow.os_version).where(
            DeviceRow.release == ""
        )
    )
    return [(r[0], r[1], r[2]) for r in rows]


def set_release(session: Session, device_id: int, release: str) -> None:
    """Store a device's release key."""
    session.execute(
        update(DeviceRow).where(DeviceRow.id == device_id).values(release=release)
    )


def dirty_devices(session: Session) -> list[int]:
    """Devices whose inventory or pending updates changed since the last refresh."""
    return list(
        session.scalars(
            select(DeviceRow.id).where(
                DeviceRow.cves_dirty.is_(True), DeviceRow.release != ""
            )
        )
    )


def clear_dirty(session: Session, device_ids: Sequence[int] | None) -> None:
    """Mark devices' CVE states current (all devices when ``None``)."""
    stmt = update(DeviceRow).values(cves_dirty=False)
    if device_ids is None:
        session.execute(stmt)
        return
    for start in range(0, len(device_ids), BATCH):
        session.execute(stmt.where(DeviceRow.id.in_(device_ids[start : start + BATCH])))


def _devices(stmt: Any, column: Any, device_ids: Sequence[int] | None) -> Any:
    return stmt if device_ids is None else stmt.where(column.in_(device_ids))


def installed_tuples(session: Session, device_ids: Sequence[int]) -> set[Tuple]:
    """Distinct (release, match name, match version) installed on these devices."""
    found: set[Tuple] = set()
    for start in range(0, len(device_ids), BATCH):
        rows = session.execute(
            select(DeviceRow.release, _PKG_NAME, _PKG_VERSION)
            .distinct()
            .join(DeviceRow, DeviceRow.id == DevicePackageRow.device_id)
            .where(
                DevicePackageRow.device_id.in_(device_ids[start : start + BATCH]),
                DeviceRow.release != "",
            )
        )
        found.update((r[0], r[1], r[2]) for r in rows)
    return found


def known_tuples(session: Session, among: set[Tuple] | None = None) -> set[Tuple]:
    """Tuples already registered (and matched) for the fleet; only ``among`` if given.

    ``among`` is looked up by its (release, package) prefixes, which the primary key
    serves, so one device's delta reads a few thousand rows, not the whole registry.
    """
    stmt = select(VulnTupleRow.release, VulnTupleRow.package, VulnTupleRow.version)
    if among is None:
        return {(r[0], r[1], r[2]) for r in session.execute(stmt)}
    found: set[Tuple] = set()
    by_release: dict[str, list[str]] = {}
    for release, package, _ in among:
        by_release.setdefault(release, []).append(package)
    for release, packages in by_release.items():
        names = sorted(set(packages))
        for start in range(0, len(names), BATCH):
            rows = session.execute(
                stmt.where(
                    VulnTupleRow.release == release,
                    VulnTupleRow.package.in_(names[start : start + BATCH]),
                )
            )
            found.update(t for t in ((r[0], r[1], r[2]) for r in rows) if t in among)
    return found


def add_tuples(session: Session, tuples: Iterable[Tuple]) -> None:
    """Register tuples as matched."""
    values = [{"release": r, "package": p, "version": v} for r, p, v in tuples]
    for start in range(0, len(values), BATCH):
        session.execute(
            insert(VulnTupleRow.__table__),  # type: ignore[arg-type]
            values[start : start + BATCH],
        )


def candidate_tuples(session: Session, device_ids: Sequence[int] | None) -> set[Tuple]:
    """Distinct (release, match name, candidate version) installable on devices."""
    stmt = (
        select(DeviceRow.release, UPDATE_MATCH_NAME, DeviceUpdateRow.candidate_version)
        .distinct()
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .where(DeviceUpdateRow.state == "installable", DeviceRow.release != "")
    )
    if device_ids is None:
        return {(r[0], r[1], r[2]) for r in session.execute(stmt)}
    found: set[Tuple] = set()
    for start in range(0, len(device_ids), BATCH):
        chunk = device_ids[start : start + BATCH]
        rows = session.execute(stmt.where(DeviceUpdateRow.device_id.in_(chunk)))
        found.update((r[0], r[1], r[2]) for r in rows)
    return found


def reported_fixes(
    session: Session, device_ids: Sequence[int] | None
) -> list[tuple[str, str, str, str, str]]:
    """(release, match name, candidate, advisory id, CVE ids) agents reported."""
    stmt = (
        select(
            DeviceRow.release,
            UPDATE_MATCH_NAME,
            DeviceUpdateRow.candidate_version,
            DeviceUpdateRow.advisory_id,
            DeviceUpdateRow.cves,
        )
        .distinct()
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .where(DeviceUpdateRow.cves != "", DeviceRow.release != "")
    )
    if device_ids is None:
        return [tuple(r) for r in session.execute(stmt)]  # type: ignore[misc]
    found: list[tuple[str, str, str, str, str]] = []
    for start in range(0, len(device_ids), BATCH):
        chunk = device_ids[start : start + BATCH]
        found.extend(
            tuple(r)  # type: ignore[misc]
            for r in session.execute(stmt.where(DeviceUpdateRow.device_id.in_(chunk)))
        )
    return found


# Findings and fixes ---------------------------------------------------------------

FindingValues = tuple[
    str, str, str, str, str, str
]  # release, pkg, ver, cve, fixed, adv


def replace_findings(
    session: Session, tuples: Iterable[Tuple] | None, findings: Sequence[FindingValues]
) -> None:
    """Replace the findings of ``tuples`` (of every tuple when ``None``)."""
    if tuples is None:
        session.execute(delete(VulnFindingRow))
    else:
        keys = list(tuples)
        cols = tuple_(
            VulnFindingRow.release, VulnFindingRow.package, VulnFindingRow.version
        )
        for start in range(0, len(keys), BATCH):
            session.execute(
                delete(VulnFindingRow).where(cols.in_(keys[start : start + BATCH]))
            )
    values = [
        {
            "release": f[0],
            "package": f[1],
            "version": f[2],
            "cve": f[3],
            "fixed": f[4],
            "advisories": f[5],
        }
        for f in findings
    ]
    for start in range(0, len(values), BATCH):
        session.execute(
            insert(VulnFindingRow.__table__),  # type: ignore[arg-type]
            values[start : start + BATCH],
        )


def package_cves(
    session: Session, packages: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], set[str]]:
    """CVEs found on any version of each (release, package)."""
    keys = list(set(packages))
    found: dict[tuple[str, str], set[str]] = {}
    cols = tuple_(VulnFindingRow.release, VulnFindingRow.package)
    for start in range(0, len(keys), BATCH):
        rows = session.execute(
            select(VulnFindingRow.release, VulnFindingRow.package, VulnFindingRow.cve)
            .distinct()
            .where(cols.in_(keys[start : start + BATCH]))
        )
        for r in rows:
            found.setdefault((r[0], r[1]), set()).add(r[2])
    return found


def replace_fixes(
    session: Session,
    candidates: Iterable[Tuple] | None,
    fixes: Iterable[tuple[str, str, str, str]],
) -> None:
    """Replace which CVEs each candidate fixes (all candidates when ``None``)."""
    if candidates is None:
        session.execute(delete(VulnFixRow))
    else:
        keys = list(candidates)
        cols = tuple_(VulnFixRow.release, VulnFixRow.package, VulnFixRow.candidate)
        for start in range(0, len(keys), BATCH):
            session.execute(
                delete(VulnFixRow).where(cols.in_(keys[start : start + BATCH]))
            )
    values = [
        {"release": r, "package": p, "candidate": c, "cve": cve}
        for r, p, c, cve in set(fixes)
    ]
    for start in range(0, len(values), BATCH):
        session.execute(
            insert(VulnFixRow.__table__),  # type: ignore[arg-type]
            values[start : start + BATCH],
        )


# Device CVE states ----------------------------------------------------------------


def analyze(session: Session, *tables: str) -> None:
    """Refresh PostgreSQL's statistics of tables rewritten in this transaction.

    Without them the planner takes a freshly filled table for empty and joins it
    row by row (minutes instead of seconds for a fleet recompute).
    """
    if session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(text(f"ANALYZE {table}"))


def _installable_fixes(chunk: Sequence[int] | None) -> Any:
    """(device, package, CVE) a device can fix now: an installable update's candidate
    version is one that fixes the CVE (``vuln_fixes``)."""
    stmt = (
        select(
            DeviceUpdateRow.device_id.label("device_id"),
            VulnFixRow.package.label("package"),
            VulnFixRow.cve.label("cve"),
        )
        .distinct()
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .join(
            VulnFixRow,
            and_(
                VulnFixRow.release == DeviceRow.release,
                VulnFixRow.package == UPDATE_MATCH_NAME,
                VulnFixRow.candidate == DeviceUpdateRow.candidate_version,
            ),
        )
        .where(DeviceUpdateRow.state == "installable")
    )
    return _devices(stmt, DeviceUpdateRow.device_id, chunk).subquery("fixable")


def derive_device_cves(
    session: Session, device_ids: Sequence[int] | None, *, now: datetime
) -> None:
    """Recompute device CVE states set-based; unchanged rows keep ``first_seen_at``."""
    session.execute(delete(DeviceCveNextRow))

    def source(chunk: Sequence[int] | None) -> Any:
        fixable = _installable_fixes(chunk)
        state = case(
            (VulnFindingRow.fixed == "", literal("no-fix-yet")),
            (fixable.c.device_id.is_not(None), literal("fixed-installable")),
            else_=literal("fixed-not-installable"),
        )
        stmt = (
            select(
                DevicePackageRow.device_id,
                VulnFindingRow.cve,
                VulnFindingRow.package,
                func.max(VulnFindingRow.version),
                func.max(VulnFindingRow.fixed),
                func.min(state),
            )
            .join(DeviceRow, DeviceRow.id == DevicePackageRow.device_id)
            .join(
                VulnFindingRow,
                and_(
                    VulnFindingRow.release == DeviceRow.release,
                    VulnFindingRow.package == _PKG_NAME,
                    VulnFindingRow.version == _PKG_VERSION,
                ),
            )
            .outerjoin(
                fixable,
                and_(
                    fixable.c.device_id == DevicePackageRow.device_id,
                    fixable.c.package == VulnFindingRow.package,
                    fixable.c.cve == VulnFindingRow.cve,
                ),
            )
            .group_by(
                DevicePackageRow.device_id, VulnFindingRow.cve, VulnFindingRow.package
            )
        )
        return _devices(stmt, DevicePackageRow.device_id, chunk)

    target = DeviceCveNextRow.__table__
    columns = ["device_id", "cve", "package", "version", "fixed", "state"]
    chunks: list[Sequence[int] | None] = (
        [None]
        if device_ids is None
        else [device_ids[i : i + BATCH] for i in range(0, len(device_ids), BATCH)]
    )
    for chunk in chunks:
        session.execute(insert(target).from_select(columns, source(chunk)))  # type: ignore[arg-type]
    if device_ids is None:
        analyze(session, "device_cves_next", "device_cves")
    _apply_next(session, device_ids, now=now)


def _upsert_from(session: Session, source: Any, columns: list[str]) -> Any:
    """INSERT … SELECT … ON CONFLICT (key) DO UPDATE, in the session's dialect."""
    table = DeviceCveRow.__table__
    stmt: Any
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(table).from_select(columns, source)  # type: ignore[arg-type]
    else:
        stmt = sqlite.insert(table).from_select(columns, source)  # type: ignore[arg-type]
    changed = or_(
        *(
            getattr(DeviceCveRow.__table__.c, c) != getattr(stmt.excluded, c)
            for c in ("version", "fixed", "state")
        )
    )
    return stmt.on_conflict_do_update(
        index_elements=["device_id", "cve", "package"],
        set_={c: getattr(stmt.excluded, c) for c in ("version", "fixed", "state")},
        where=changed,
    )


def _apply_next(
    session: Session, device_ids: Sequence[int] | None, *, now: datetime
) -> None:
    """Make ``device_cves`` equal the staging table; kept rows keep ``first_seen_at``."""
    cur, nxt = DeviceCveRow, DeviceCveNextRow
    same_key = and_(
        nxt.device_id == cur.device_id, nxt.cve == cur.cve, nxt.package == cur.package
    )
    chunks: list[Sequence[int] | None] = (
        [None]
        if device_ids is None
        else [device_ids[i : i + BATCH] for i in range(0, len(device_ids), BATCH)]
    )
    for chunk in chunks:
        gone = delete(cur).where(~exists(select(literal(1)).where(same_key)))
        session.execute(_devices(gone, cur.device_id, chunk))
    source = select(
        nxt.device_id,
        nxt.cve,
        nxt.package,
        nxt.version,
        nxt.fixed,
        nxt.state,
        literal(now, type_=DeviceCveRow.__table__.c.first_seen_at.type),
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
    columns = ["device_id", "cve", "package", "version", "fixed", "state"]
    session.execute(_upsert_from(session, source, [*columns, "first_seen_at"]))
    session.execute(delete(nxt))
