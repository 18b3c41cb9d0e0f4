"""CVE Insights and CVE Details, at client and partner level (CVE-04..08, BP-07).

Every CVE is ranked by ``core.risk`` from KEV, EPSS, CVSS and exposure, and carries
its explanation in words.  Numbers drill down: a widget's count equals the length of
the list it links to (CVE-05).
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.advisories import CVE_ID, EpssScore, FixState, KevEntry
from patchfleet.core.errors import InvalidInputError, NotFoundError
from patchfleet.core.risk import Exposure, Priority, rank_cve
from patchfleet.core.tenancy import Scope
from patchfleet.core.updates import normalise_severity
from patchfleet.server.db.queries import cve_views as q
from patchfleet.server.services.views import (
    CveDetail,
    CveDevice,
    CveInsights,
    CveSummary,
    DeviceCve,
    DeviceCveCount,
    FixingPatch,
    Page,
)

SEVERITIES = ("critical", "high", "medium", "low", "none")
TREND_DAYS = 30


class CveSort(StrEnum):
    """Sortable columns of the BY CVE list."""

    PRIORITY = "priority"
    DEVICES = "devices"
    CVSS = "cvss"
    EPSS = "epss"
    CVE = "cve"


def _severity(cvss: float | None, word: str | None) -> str:
    if word:
        return word.lower() if word.lower() in SEVERITIES else "none"
    if cvss is None:
        return "none"
    if cvss >= 9.0:
        return "critical"
    if cvss >= 7.0:
        return "high"
    if cvss >= 4.0:
        return "medium"
    return "low" if cvss > 0 else "none"


def _kev(cve: str, added: Any, due: Any, ransomware: Any) -> KevEntry | None:
    if added is None:
        return None
    return KevEntry(
        cve=cve, date_added=added, due_date=due, ransomware=bool(ransomware)
    )


def _epss(cve: str, probability: Any, percentile: Any) -> EpssScore | None:
    if probability is None:
        return None
    return EpssScore(cve=cve, probability=probability, percentile=percentile or 0.0)


def _rank(
    cve: str,
    row: Any,
    devices: int,
    installable: int,
    now: datetime,
    vendor_severity: str = "",
) -> tuple[Priority, str]:
    """Priority and the severity to show: NVD's CVSS first, else the vendor's word."""
    vendor = vendor_severity.lower()
    severity = _severity(row.cvss_score, row.cvss_severity or normalise(vendor))
    priority = rank_cve(
        cve,
        kev=_kev(cve, row.date_added, row.due_date, row.ransomware),
        epss=_epss(cve, row.probability, row.percentile),
        cvss=row.cvss_score,
        severity="" if row.cvss_score is not None else vendor,
        exposure=Exposure(devices=devices, installable=installable),
        today=now.date(),
    )
    return priority, severity


def normalise(word: str) -> str:
    """A vendor severity word as one of ``SEVERITIES`` ("" when unknown)."""
    value = str(normalise_severity(word))
    return value if word and value in SEVERITIES else ""


def _summaries(
    session: Session, scope: Scope, now: datetime, cve: str | None = None
) -> list[CveSummary]:
    counts = q.state_counts(session, scope.client_ids)
    rows = q.cve_rows(session, scope.client_ids, cve)
    if not rows and cve is not None and q.known_cve(session, cve):
        rows = [q.facts_row(session, cve)]
    texts = q.advisory_texts(session, [r.cve for r in rows])
    out = []
    for row in rows:
        summary, vendor = texts.get(row.cve, ("", ""))
        installable = counts.get((row.cve, str(FixState.FIXED_INSTALLABLE)), 0)
        priority, severity = _rank(
            row.cve, row, int(row.devices), installable, now, vendor
        )
        out.append(
            CveSummary(
                cve=row.cve,
                severity=severity,
                cvss=row.cvss_score,
                description=row.description or summary,
                kev=row.date_added is not None,
                kev_due=row.due_date,
                epss=row.probability,
                devices=int(row.devices),
                installable=installable,
                not_installable=counts.get(
                    (row.cve, str(FixState.FIXED_NOT_INSTALLABLE)), 0
                ),
                no_fix=counts.get((row.cve, str(FixState.NO_FIX_YET)), 0),
                priority=priority.score,
                band=priority.band,
                explanation=priority.explanation,
                first_seen_at=row.first_seen_at,
            )
        )
    return out


_SORT_KEYS: dict[CveSort, Any] = {
    CveSort.PRIORITY: lambda c: (c.priority, c.devices, c.cve),
    CveSort.DEVICES: lambda c: (c.devices, c.priority, c.cve),
    CveSort.CVSS: lambda c: (c.cvss or -1.0, c.priority, c.cve),
    CveSort.EPSS: lambda c: (c.epss or -1.0, c.priority, c.cve),
    CveSort.CVE: lambda c: c.cve,
}


def list_cves(
    session: Session,
    *,
    scope: Scope,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
    sort: CveSort = CveSort.PRIORITY,
    descending: bool = True,
    search: str = "",
    severity: str = "",
    state: FixState | None = None,
    kev: bool | None = None,
    os_name: str = "",
) -> Page[CveSummary]:
    """BY CVE: every CVE affecting a device in scope, highest priority first."""
    if severity and severity not in SEVERITIES:
        raise InvalidInputError(
            f"severity must be one of {', '.join(SEVERITIES)}",
            loc=("query", "severity"),
        )
    with session.begin():
        items = _summaries(session, scope, now)
        if os_name:
            on_os = {
                cve
                for name, cve, _ in q.os_by_cve(session, scope.client_ids)
                if (name or "unknown") == os_name
            }
            items = [c for c in items if c.cve in on_os]
    needle = search.strip().lower()
    if needle:
        items = [
            c
            for c in items
            if needle in c.cve.lower() or needle in c.description.lower()
        ]
    if severity:
        items = [c for c in items if c.severity == severity]
    if kev is not None:
        items = [c for c in items if c.kev == kev]
    if state is not None:
        items = [c for c in items if _count_of(c, state) > 0]
    items.sort(key=_SORT_KEYS[sort], reverse=descending)
    start = (page - 1) * page_size
    return Page(
        items=items[start : start + page_size],
        total=len(items),
        page=page,
        page_size=page_size,
    )


def _count_of(c: CveSummary, state: FixState) -> int:
    return {
        FixState.FIXED_INSTALLABLE: c.installable,
        FixState.FIXED_NOT_INSTALLABLE: c.not_installable,
        FixState.NO_FIX_YET: c.no_fix,
        FixState.NOT_AFFECTED: 0,
    }[state]


def insights(session: Session, *, scope: Scope, now: datetime) -> CveInsights:
    """The Insights widgets: devices, impacted, by severity, KEV, top CVEs, by OS, trend."""
    with session.begin():
        items = _summaries(session, scope, now)
        total, impacted = q.device_totals(session, scope.client_ids)
        by_os_rows = q.os_by_cve(session, scope.client_ids)
        since = now - timedelta(days=TREND_DAYS)
        detections = q.detections_since(session, scope.client_ids, since)
    severity_of = {c.cve: c.severity for c in items}
    by_severity = Counter(c.severity for c in items)
    by_os: dict[str, dict[str, int]] = {}
    for os_name, cve, _devices in by_os_rows:
        row = by_os.setdefault(os_name or "unknown", dict.fromkeys(SEVERITIES, 0))
        row[severity_of.get(cve, "none")] += 1
    per_day = Counter(d.date() for d in detections)
    trend = [
        (day, per_day.get(day, 0))
        for day in (
            (now - timedelta(days=n)).date() for n in range(TREND_DAYS - 1, -1, -1)
        )
    ]
    top = sorted(items, key=_SORT_KEYS[CveSort.PRIORITY], reverse=True)[:10]
    return CveInsights(
        devices=total,
        impacted_devices=impacted,
        cves=len(items),
        by_severity={s: by_severity.get(s, 0) for s in SEVERITIES},
        kev=sum(1 for c in items if c.kev),
        installable=sum(1 for c in items if c.installable),
        top=top,
        by_os=by_os,
        trend=trend,
    )


def _check_id(cve: str) -> str:
    cve = cve.strip().upper()
    if not CVE_ID.fullmatch(cve):
        raise InvalidInputError("not a CVE id (CVE-YYYY-NNNN)", loc=("path", "cve"))
    return cve


def cve_detail(session: Session, *, scope: Scope, cve: str, now: datetime) -> CveDetail:
    """One CVE: facts, priority, affected devices with their state, fixing patches."""
    cve = _check_id(cve)
    with session.begin():
        summary = _summaries(session, scope, now, cve)
        if not summary:
            raise NotFoundError(f"{cve} is not known to patchfleet's feeds")
        devices = [
            CveDevice(
                device_id=r[0],
                hostname=r[1],
                client_name=r[2],
                os_name=r[3],
                package=r[4],
                version=r[5],
                fixed=r[6],
                state=r[7],
                first_seen_at=r[8],
            )
            for r in q.cve_devices(session, scope.client_ids, cve)
        ]
        patches = [
            FixingPatch(patch_id=p, devices=n)
            for p, n in q.fixing_patches(session, scope.client_ids, cve)
        ]
    return CveDetail(
        cve=cve,
        summary=summary[0] if summary else None,
        devices=devices,
        patches=patches,
    )


def device_cves(
    session: Session, *, scope: Scope, device_id: uuid.UUID, now: datetime
) -> list[DeviceCve]:
    """A device's CVEs (BY DEVICE → click), highest priority first."""
    with session.begin():
        internal = q.device_id_of(session, device_id, scope.client_ids)
        if internal is None:
            raise NotFoundError("device not found")
        rows = q.device_cve_rows(session, internal)
        texts = q.advisory_texts(session, [r.cve for r in rows])
    out = []
    for r in rows:
        installable = 1 if r.state == FixState.FIXED_INSTALLABLE else 0
        summary, vendor = texts.get(r.cve, ("", ""))
        priority, severity = _rank(r.cve, r, 1, installable, now, vendor)
        out.append(
            DeviceCve(
                cve=r.cve,
                package=r.package,
                version=r.version,
                fixed=r.fixed,
                state=r.state,
                severity=severity,
                cvss=r.cvss_score,
                kev=r.date_added is not None,
                epss=r.probability,
                description=r.description or summary,
                priority=priority.score,
                band=priority.band,
                explanation=priority.explanation,
                first_seen_at=r.first_seen_at,
            )
        )
    out.sort(key=lambda c: (-c.priority, c.cve))
    return out


def device_cve_state(
    session: Session, *, scope: Scope, device_id: uuid.UUID, cve: str
) -> FixState:
    """Where one device stands with one CVE; ``not-affected`` when nothing flags it."""
    cve = _check_id(cve)
    with session.begin():
        internal = q.device_id_of(session, device_id, scope.client_ids)
        if internal is None:
            raise NotFoundError("device not found")
        states = {r.state for r in q.device_cve_rows(session, internal) if r.cve == cve}
        if not states and not q.known_cve(session, cve):
            raise NotFoundError(f"{cve} is not known to patchfleet's feeds")
    for state in (
        FixState.FIXED_INSTALLABLE,
        FixState.FIXED_NOT_INSTALLABLE,
        FixState.NO_FIX_YET,
    ):
        if state in states:
            return state
    return FixState.NOT_AFFECTED


def devices_by_cves(
    session: Session,
    *,
    scope: Scope,
    page: int = 1,
    page_size: int = 50,
    search: str = "",
) -> Page[DeviceCveCount]:
    """BY DEVICE (CVE-08): devices with CVEs, most CVEs first."""
    with session.begin():
        rows = q.device_counts(session, scope.client_ids)
    items = [
        DeviceCveCount(
            device_id=r[0],
            hostname=r[1],
            client_name=r[2],
            ips=list(r[3] or []),
            os_name=r[4],
            cves=int(r[5]),
            kev=int(r[6]),
        )
        for r in rows
    ]
    needle = search.strip().lower()
    if needle:
        items = [d for d in items if needle in d.hostname.lower()]
    items.sort(key=lambda d: (-d.cves, -d.kev, d.hostname))
    start = (page - 1) * page_size
    return Page(
        items=items[start : start + page_size],
        total=len(items),
        page=page,
        page_size=page_size,
    )
