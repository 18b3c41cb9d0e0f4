"""Missing patches in scope, BY PATCH and BY DEVICE (FEATURES MP-01..MP-04, MP-16)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.errors import NotFoundError
from patchfleet.core.policy import PatchFacts, Rating
from patchfleet.core.queries import PATCH_FIELDS, QueryError, evaluate, parse_search
from patchfleet.core.tenancy import Scope
from patchfleet.core.updates import (
    CLASSIFICATION_ORDER,
    Classification,
    Severity,
    patch_id,
)
from patchfleet.server.db.queries import devices, patches
from patchfleet.server.services import policy
from patchfleet.server.services.patch_intel import PatchExposure, patch_intel
from patchfleet.server.services.views import (
    MissingPatch,
    Page,
    PatchDevice,
    PatchSummary,
)

_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "none": 4}


class PatchSort(StrEnum):
    """Sortable columns of BY PATCH."""

    NAME = "name"
    DEVICES = "devices"
    CLASSIFICATION = "classification"
    SEVERITY = "severity"
    FIRST_SEEN = "first_seen"
    PRIORITY = "priority"


def _class_rank(value: str) -> int:
    try:
        return CLASSIFICATION_ORDER.index(Classification(value))
    except ValueError:
        return len(CLASSIFICATION_ORDER)


def _fold(rows: Iterable[Any]) -> list[PatchSummary]:
    """Merge rows of one patch that differ only in metadata across devices."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r.backend, r.name, r.candidate_version)
        cur = merged.get(key)
        installed = {r.installed_min, r.installed_max}
        if cur is None:
            merged[key] = cur = {
                "row": r,
                "devices": 0,
                "installable": 0,
                "installed": set(),
                "cves": set(),
                "first_seen_at": r.first_seen_at,
            }
        elif _class_rank(r.classification) < _class_rank(cur["row"].classification):
            cur["row"] = r
        cur["devices"] += int(r.devices)
        cur["installable"] += int(r.installable or 0)
        cur["installed"] |= installed
        cur["cves"] |= set(r.cves.split())
        cur["first_seen_at"] = min(cur["first_seen_at"], r.first_seen_at)
    return [_summary(key, m) for key, m in merged.items()]


def _summary(key: tuple[str, str, str], m: dict[str, Any]) -> PatchSummary:
    backend, name, version = key
    r = m["row"]
    return PatchSummary(
        patch_id=patch_id(backend, name, version),
        vendor_id=r.advisory_id or f"{name}@{version}",
        name=name,
        backend=backend,
        candidate_version=version,
        installed_versions=sorted(m["installed"]),
        classification=r.classification,
        severity=r.severity,
        raw_severity=r.raw_severity,
        source=r.source,
        advisory_id=r.advisory_id,
        cves=sorted(m["cves"]),
        devices=m["devices"],
        installable_now=m["installable"],
        first_seen_at=m["first_seen_at"],
    )


_SORT_KEYS: dict[PatchSort, Any] = {
    PatchSort.NAME: lambda p: (p.name, p.candidate_version),
    PatchSort.DEVICES: lambda p: (p.devices, p.name),
    PatchSort.CLASSIFICATION: lambda p: (_class_rank(p.classification), p.name),
    PatchSort.SEVERITY: lambda p: (_SEVERITY_RANK.get(p.severity, 5), p.name),
    PatchSort.FIRST_SEEN: lambda p: (p.first_seen_at, p.name),
    PatchSort.PRIORITY: lambda p: (p.priority, p.devices, p.name),
}


def by_patch(
    session: Session,
    *,
    scope: Scope,
    page: int,
    page_size: int,
    sort: PatchSort = PatchSort.CLASSIFICATION,
    descending: bool = False,
    search: str = "",
    classification: str = "",
    now: datetime | None = None,
) -> Page[PatchSummary]:
    """One row per missing patch in scope with its device count and rating (MP-02).

    For one client the rows also carry the approval decision at ``now`` (without
    ``now``, deferrals are judged as of each patch's first sighting).
    """
    with session.begin():
        found = _with_intel(
            session, scope, _fold(patches.by_patch(session, scope.client_ids)), now
        )
        items = _with_policy(session, scope, found, now)
    items = _searched(items, search, now)
    if classification:
        items = [p for p in items if p.classification == classification]
    items.sort(key=_SORT_KEYS[sort], reverse=descending)
    start = (page - 1) * page_size
    return Page[PatchSummary](
        items=items[start : start + page_size],
        total=len(items),
        page=page,
        page_size=page_size,
    )


def _record(p: PatchSummary) -> dict[str, object]:
    """A BY PATCH row under PATCH_FIELDS names, for ``$`` searches."""
    return {
        "category": p.classification,
        "severity": p.severity,
        "source": p.source,
        "name": p.name,
        "vendor_id": p.vendor_id,
        "cve": tuple(p.cves),
        "rating": p.rating,
        "release_age": p.first_seen_at,
        "state": "installable" if p.installable_now else "",
        "backend": p.backend,
    }


def _searched(
    items: list[PatchSummary], search: str, now: datetime | None
) -> list[PatchSummary]:
    """Filter by plain text (name, vendor id, CVE) or, after ``$``, by a query (MP-14)."""
    if not search:
        return items
    try:
        query = parse_search(search, PATCH_FIELDS)
    except QueryError as exc:
        exc.loc = ("query", "search")
        raise
    if query is not None:
        at = now or max((p.first_seen_at for p in items), default=None)
        return [p for p in items if at is not None and evaluate(query, _record(p), at)]
    needle = search.lower()
    return [
        p
        for p in items
        if needle in p.name.lower()
        or needle in p.vendor_id.lower()
        or any(needle in c.lower() for c in p.cves)
    ]


def _with_intel(
    session: Session, scope: Scope, items: list[PatchSummary], now: datetime | None
) -> list[PatchSummary]:
    """Add the CVEs each patch fixes, KEV/EPSS/CVSS and its priority (BP-07)."""
    if not items:
        return items
    today = (now or max(p.first_seen_at for p in items)).date()
    intel = patch_intel(
        session,
        scope.client_ids,
        [
            PatchExposure(p.patch_id, tuple(p.cves), p.devices, p.installable_now)
            for p in items
        ],
        today=today,
    )
    out = []
    for p in items:
        i = intel.get(p.patch_id)
        if i is None:
            out.append(p)
            continue
        out.append(
            p.model_copy(
                update={
                    "cves": list(i.cves),
                    "kev": i.kev,
                    "epss": i.epss,
                    "cvss": i.cvss,
                    "priority": i.priority.score,
                    "priority_band": str(i.priority.band),
                    "priority_explanation": i.priority.explanation,
                }
            )
        )
    return out


def _with_policy(
    session: Session, scope: Scope, items: list[PatchSummary], now: datetime | None
) -> list[PatchSummary]:
    """Add ratings (and, for one client, approval decisions) to BY PATCH rows."""
    if scope.client_id is None:
        ratings = policy.partner_ratings(session, partner_id=scope.partner_id)
        return [
            p.model_copy(
                update={"rating": str(ratings.get(p.patch_id, Rating.NOT_RATED))}
            )
            for p in items
        ]
    client = policy.load_client_policy(
        session, partner_id=scope.partner_id, client_id=scope.client_id
    )
    updated = []
    for p in items:
        facts = PatchFacts(
            patch_id=p.patch_id,
            name=p.name,
            os_family=policy.BACKEND_FAMILIES.get(p.backend, ""),
            first_seen_at=p.first_seen_at,
            category=Classification(p.classification),
            severity=Severity(p.severity),
            source=p.source,
            vendor_id=p.vendor_id,
            cves=tuple(p.cves),
            cvss=p.cvss,
            epss=p.epss,
            is_kev=p.kev,
            priority=p.priority,
            backend=p.backend,
        )
        rating, decision = client.decide(facts, now or p.first_seen_at)
        updated.append(
            p.model_copy(
                update={
                    "rating": str(rating),
                    "approval": str(decision.outcome),
                    "approval_reason": decision.reason,
                }
            )
        )
    return updated


def patch_devices(
    session: Session, *, scope: Scope, backend: str, name: str, version: str
) -> list[PatchDevice]:
    """The devices in scope missing one patch (MP-16: count = list length)."""
    with session.begin():
        rows = patches.patch_devices(
            session,
            client_ids=scope.client_ids,
            backend=backend,
            name=name,
            version=version,
        )
    return [
        PatchDevice(
            id=r.uuid,
            hostname=r.hostname,
            client_name=r.client_name,
            installed_version=r.installed_version,
            state=r.state,
        )
        for r in rows
    ]


def device_patches(
    session: Session, *, scope: Scope, device_id: uuid.UUID
) -> list[MissingPatch]:
    """One device's missing patches from its latest scan (MT-09, BY DEVICE detail)."""
    with session.begin():
        device = devices.device_in(session, device_id, scope.client_ids)
        if device is None:
            raise NotFoundError(f"device {device_id} not found")
        rows = patches.device_updates(session, device.id)
        return [
            MissingPatch(
                patch_id=patch_id(u.backend, u.name, u.candidate_version),
                name=u.name,
                arch=u.arch,
                backend=u.backend,
                installed_version=u.installed_version,
                candidate_version=u.candidate_version,
                classification=u.classification,
                severity=u.severity,
                raw_severity=u.raw_severity,
                source=u.source,
                advisory_id=u.advisory_id,
                cves=u.cves.split(),
                state=u.state,
                first_seen_at=u.first_seen_at,
            )
            for u in rows
        ]
