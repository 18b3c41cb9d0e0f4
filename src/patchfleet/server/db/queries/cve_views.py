"""Read side of CVE Insights and CVE Details (CVE-04..08): aggregates in SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, literal, select
from sqlalchemy.orm import Session

from patchfleet.server.db.queries.vulns import UPDATE_MATCH_NAME
from patchfleet.server.db.rows import (
    AdvisoryRow,
    ClientRow,
    CveRow,
    DeviceCveRow,
    DeviceRow,
    DeviceUpdateRow,
    EpssRow,
    KevRow,
    VulnFindingRow,
    VulnFixRow,
)


def _in_scope(stmt: Any, client_ids: Sequence[int]) -> Any:
    return stmt.join(DeviceRow, DeviceRow.id == DeviceCveRow.device_id).where(
        DeviceRow.client_id.in_(client_ids)
    )


def cve_rows(
    session: Session, client_ids: Sequence[int], cve: str | None = None
) -> list[Any]:
    """Per CVE in scope: devices, devices with a fix installable, states, facts."""
    per_cve = _in_scope(
        select(
            DeviceCveRow.cve.label("cve"),
            func.count(distinct(DeviceCveRow.device_id)).label("devices"),
            func.min(DeviceCveRow.first_seen_at).label("first_seen_at"),
        ),
        client_ids,
    ).group_by(DeviceCveRow.cve)
    if cve is not None:
        per_cve = per_cve.where(DeviceCveRow.cve == cve)
    sub = per_cve.subquery()
    rows = session.execute(
        select(
            sub.c.cve,
            sub.c.devices,
            sub.c.first_seen_at,
            CveRow.description,
            CveRow.cvss_score,
            CveRow.cvss_severity,
            CveRow.cvss_vector,
            CveRow.published,
            KevRow.date_added,
            KevRow.due_date,
            KevRow.ransomware,
            EpssRow.probability,
            EpssRow.percentile,
            EpssRow.score_date,
        )
        .outerjoin(CveRow, CveRow.id == sub.c.cve)
        .outerjoin(KevRow, KevRow.cve == sub.c.cve)
        .outerjoin(EpssRow, EpssRow.cve == sub.c.cve)
    ).all()
    return list(rows)


def state_counts(
    session: Session, client_ids: Sequence[int]
) -> dict[tuple[str, str], int]:
    """Devices per (CVE, state): a device counts once per CVE and state."""
    rows = session.execute(
        _in_scope(
            select(
                DeviceCveRow.cve,
                DeviceCveRow.state,
                func.count(distinct(DeviceCveRow.device_id)),
            ),
            client_ids,
        ).group_by(DeviceCveRow.cve, DeviceCveRow.state)
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def device_totals(session: Session, client_ids: Sequence[int]) -> tuple[int, int]:
    """(devices in scope, devices with at least one CVE)."""
    total = session.scalar(
        select(func.count())
        .select_from(DeviceRow)
        .where(DeviceRow.client_id.in_(client_ids))
    )
    impacted = session.scalar(
        _in_scope(select(func.count(distinct(DeviceCveRow.device_id))), client_ids)
    )
    return int(total or 0), int(impacted or 0)


def os_by_cve(
    session: Session, client_ids: Sequence[int]
) -> list[tuple[str, str, int]]:
    """(OS name, CVE, devices) for the By OS widget."""
    rows = session.execute(
        _in_scope(
            select(
                DeviceRow.os_name,
                DeviceCveRow.cve,
                func.count(distinct(DeviceCveRow.device_id)),
            ),
            client_ids,
        ).group_by(DeviceRow.os_name, DeviceCveRow.cve)
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


def detections_since(
    session: Session, client_ids: Sequence[int], since: datetime
) -> list[datetime]:
    """First-detection times of open device-CVE pairs since ``since`` (the trend)."""
    rows = session.scalars(
        _in_scope(select(DeviceCveRow.first_seen_at), client_ids).where(
            DeviceCveRow.first_seen_at >= since
        )
    )
    return list(rows)


def cve_devices(session: Session, client_ids: Sequence[int], cve: str) -> list[Any]:
    """Devices in scope affected by one CVE, with package, versions and state."""
    return list(
        session.execute(
            _in_scope(
                select(
                    DeviceRow.uuid,
                    DeviceRow.hostname,
                    ClientRow.name,
                    DeviceRow.os_name,
                    DeviceCveRow.package,
                    DeviceCveRow.version,
                    DeviceCveRow.fixed,
                    DeviceCveRow.state,
                    DeviceCveRow.first_seen_at,
                ),
                client_ids,
            )
            .join(ClientRow, ClientRow.id == DeviceRow.client_id)
            .where(DeviceCveRow.cve == cve)
            .order_by(DeviceRow.hostname, DeviceCveRow.package)
        ).all()
    )


def fixing_patches(
    session: Session, client_ids: Sequence[int], cve: str
) -> list[tuple[str, int]]:
    """(patch id, devices) of offered updates that fix the CVE, in scope."""
    rows = session.execute(
        select(
            DeviceUpdateRow.patch_id, func.count(distinct(DeviceUpdateRow.device_id))
        )
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .join(
            DeviceCveRow,
            (DeviceCveRow.device_id == DeviceUpdateRow.device_id)
            & (DeviceCveRow.cve == cve),
        )
        .join(
            VulnFixRow,
            (VulnFixRow.release == DeviceRow.release)
            & (VulnFixRow.package == DeviceCveRow.package)
            & (VulnFixRow.candidate == DeviceUpdateRow.candidate_version)
            & (VulnFixRow.cve == cve),
        )
        .where(DeviceRow.client_id.in_(client_ids))
        .group_by(DeviceUpdateRow.patch_id)
        .order_by(DeviceUpdateRow.patch_id)
    )
    return [(r[0], int(r[1])) for r in rows]


def device_cve_rows(session: Session, device_id: int) -> list[Any]:
    """One device's CVEs with the facts to rank them."""
    return list(
        session.execute(
            select(
                DeviceCveRow.cve,
                DeviceCveRow.package,
                DeviceCveRow.version,
                DeviceCveRow.fixed,
                DeviceCveRow.state,
                DeviceCveRow.first_seen_at,
                CveRow.description,
                CveRow.cvss_score,
                CveRow.cvss_severity,
                KevRow.date_added,
                KevRow.due_date,
                KevRow.ransomware,
                EpssRow.probability,
                EpssRow.percentile,
            )
            .outerjoin(CveRow, CveRow.id == DeviceCveRow.cve)
            .outerjoin(KevRow, KevRow.cve == DeviceCveRow.cve)
            .outerjoin(EpssRow, EpssRow.cve == DeviceCveRow.cve)
            .where(DeviceCveRow.device_id == device_id)
            .order_by(DeviceCveRow.cve, DeviceCveRow.package)
        ).all()
    )


def device_counts(session: Session, client_ids: Sequence[int]) -> list[Any]:
    """BY DEVICE (CVE-08): device, IPs, OS and its CVE counts."""
    return list(
        session.execute(
            _in_scope(
                select(
                    DeviceRow.uuid,
                    DeviceRow.hostname,
                    ClientRow.name,
                    DeviceRow.ips,
                    DeviceRow.os_name,
                    func.count(distinct(DeviceCveRow.cve)).label("cves"),
                    func.count(distinct(KevRow.cve)).label("kev"),
                ),
                client_ids,
            )
            .join(ClientRow, ClientRow.id == DeviceRow.client_id)
            .outerjoin(KevRow, KevRow.cve == DeviceCveRow.cve)
            .group_by(DeviceRow.id, ClientRow.id)
        ).all()
    )


def known_cve(session: Session, cve: str) -> bool:
    """Whether any feed or finding mentions the CVE at all."""
    for stmt in (
        select(VulnFindingRow.cve).where(VulnFindingRow.cve == cve).limit(1),
        select(CveRow.id).where(CveRow.id == cve),
        select(KevRow.cve).where(KevRow.cve == cve),
    ):
        if session.scalar(stmt) is not None:
            return True
    return False


def device_id_of(
    session: Session, device_uuid: uuid.UUID, client_ids: Sequence[int]
) -> int | None:
    """Internal id of a device in scope."""
    return session.scalar(
        select(DeviceRow.id).where(
            DeviceRow.uuid == device_uuid, DeviceRow.client_id.in_(client_ids)
        )
    )


def patch_cves(
    session: Session, client_ids: Sequence[int], patch_ids: Sequence[str] | None = None
) -> list[tuple[str, str, int]]:
    """(patch id, CVE, devices) for CVEs a missing patch fixes on devices in scope."""
    stmt = (
        select(
            DeviceUpdateRow.patch_id,
            DeviceCveRow.cve,
            func.count(distinct(DeviceUpdateRow.device_id)),
        )
        .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
        .join(
            DeviceCveRow,
            (DeviceCveRow.device_id == DeviceUpdateRow.device_id)
            & (DeviceCveRow.package == UPDATE_MATCH_NAME),
        )
        .join(
            VulnFixRow,
            (VulnFixRow.release == DeviceRow.release)
            & (VulnFixRow.package == DeviceCveRow.package)
            & (VulnFixRow.candidate == DeviceUpdateRow.candidate_version)
            & (VulnFixRow.cve == DeviceCveRow.cve),
        )
        .where(DeviceRow.client_id.in_(client_ids))
        .group_by(DeviceUpdateRow.patch_id, DeviceCveRow.cve)
    )
    if patch_ids is None:
        return [(r[0], r[1], int(r[2])) for r in session.execute(stmt)]
    ids = sorted(set(patch_ids))
    found: list[tuple[str, str, int]] = []
    for start in range(0, len(ids), 1000):  # bounded IN lists (SQLite's limit)
        chunk = stmt.where(DeviceUpdateRow.patch_id.in_(ids[start : start + 1000]))
        found.extend((r[0], r[1], int(r[2])) for r in session.execute(chunk))
    return found


def cve_facts(session: Session, cves: Sequence[str]) -> dict[str, Any]:
    """KEV, EPSS and CVSS facts of CVEs, by id (only CVEs some feed knows)."""
    out: dict[str, Any] = {}
    ids = sorted(set(cves))
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for table_rows in (
            session.execute(
                select(
                    KevRow.cve.label("cve"),
                    KevRow.date_added,
                    KevRow.due_date,
                    KevRow.ransomware,
                ).where(KevRow.cve.in_(chunk))
            ),
            session.execute(
                select(
                    EpssRow.cve.label("cve"), EpssRow.probability, EpssRow.percentile
                ).where(EpssRow.cve.in_(chunk))
            ),
            session.execute(
                select(
                    CveRow.id.label("cve"), CveRow.cvss_score, CveRow.cvss_severity
                ).where(CveRow.id.in_(chunk))
            ),
        ):
            for r in table_rows:
                out.setdefault(r.cve, {}).update(r._asdict())
    return out


def patch_exposure(
    session: Session, client_ids: Sequence[int], patch_ids: Sequence[str]
) -> dict[str, tuple[int, int, set[str]]]:
    """(devices, installable devices, reported CVEs) of patches in scope."""
    out: dict[str, tuple[int, int, set[str]]] = {}
    ids = sorted(set(patch_ids))
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(
                DeviceUpdateRow.patch_id,
                DeviceUpdateRow.device_id,
                DeviceUpdateRow.state,
                DeviceUpdateRow.cves,
            )
            .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
            .where(
                DeviceRow.client_id.in_(client_ids),
                DeviceUpdateRow.patch_id.in_(ids[start : start + 1000]),
            )
        )
        for pid, _device, state, cves in rows:
            devices, installable, reported = out.get(pid, (0, 0, set()))
            reported |= set(cves.split())
            out[pid] = (
                devices + 1,
                installable + (state == "installable"),
                reported,
            )
    return out


def advisory_texts(session: Session, cves: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(summary, vendor severity) per CVE from the advisories that flag it."""
    keys: dict[str, list[str]] = {}
    ids = sorted(set(cves))
    for start in range(0, len(ids), 1000):
        rows = session.execute(
            select(VulnFindingRow.cve, VulnFindingRow.advisories)
            .distinct()
            .where(VulnFindingRow.cve.in_(ids[start : start + 1000]))
        )
        for cve, advisories in rows:
            keys.setdefault(cve, []).extend(advisories.split())
    wanted = sorted({k for ks in keys.values() for k in ks})
    texts: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), 1000):
        for key, summary, severity in session.execute(
            select(AdvisoryRow.key, AdvisoryRow.summary, AdvisoryRow.severity).where(
                AdvisoryRow.key.in_(wanted[start : start + 1000])
            )
        ):
            if summary or severity:
                texts.setdefault(key, (summary, severity))
    out: dict[str, tuple[str, str]] = {}
    for cve, ks in keys.items():
        summary = next((texts[k][0] for k in ks if k in texts and texts[k][0]), "")
        severity = next((texts[k][1] for k in ks if k in texts and texts[k][1]), "")
        out[cve] = (summary, severity)
    return out


def facts_row(session: Session, cve: str) -> Any:
    """A CVE's facts (NVD, KEV, EPSS) shaped like ``cve_rows``, with no devices."""
    one = select(literal(cve).label("cve")).subquery()
    return session.execute(
        select(
            one.c.cve,
            literal(0).label("devices"),
            literal(None).label("first_seen_at"),
            CveRow.description,
            CveRow.cvss_score,
            CveRow.cvss_severity,
            KevRow.date_added,
            KevRow.due_date,
            KevRow.ransomware,
            EpssRow.probability,
            EpssRow.percentile,
        )
        .select_from(one)
        .outerjoin(CveRow, CveRow.id == one.c.cve)
        .outerjoin(KevRow, KevRow.cve == one.c.cve)
        .outerjoin(EpssRow, EpssRow.cve == one.c.cve)
    ).one()
