"""What a missing patch fixes: its CVEs, KEV/EPSS/CVSS and priority (BP-07, BP-11).

A patch fixes a CVE when its agent reported it (updateinfo, Debian changelog) or when
the matching engine found the CVE on a device and the patch's candidate version is
clear of it.  The same facts feed the BY PATCH list and the approval policy, so an
approval rule such as ``kev = true`` or ``priority >= 80`` decides the same way
wherever a patch is looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.advisories import EpssScore, KevEntry
from patchfleet.core.risk import Exposure, Priority, rank_cve, rank_patch
from patchfleet.server.db.queries import cve_views


@dataclass(frozen=True, slots=True)
class PatchIntel:
    """CVE facts of one patch."""

    cves: tuple[str, ...]
    kev: bool
    epss: float | None
    cvss: float | None
    priority: Priority


@dataclass(frozen=True, slots=True)
class PatchExposure:
    """A patch as the caller sees it: its reported CVEs and where it is missing."""

    patch_id: str
    reported_cves: tuple[str, ...]
    devices: int
    installable: int


def _rank(cve: str, f: dict[str, Any], exposure: Exposure, today: date) -> Priority:
    kev = (
        KevEntry(cve, f["date_added"], f.get("due_date"), bool(f.get("ransomware")))
        if f.get("date_added")
        else None
    )
    epss = (
        EpssScore(cve, f["probability"], f.get("percentile") or 0.0)
        if f.get("probability") is not None
        else None
    )
    return rank_cve(
        cve,
        kev=kev,
        epss=epss,
        cvss=f.get("cvss_score"),
        severity=(f.get("cvss_severity") or "").lower(),
        exposure=exposure,
        today=today,
    )


def patch_intel(
    session: Session,
    client_ids: Sequence[int],
    patches: Iterable[PatchExposure],
    *,
    today: date,
) -> dict[str, PatchIntel]:
    """CVE facts of each patch, by patch id (inside the caller's transaction)."""
    wanted = {p.patch_id: p for p in patches}
    if not wanted:
        return {}
    cves = {pid: set(p.reported_cves) for pid, p in wanted.items()}
    for pid, cve, _devices in cve_views.patch_cves(session, client_ids, list(wanted)):
        cves[pid].add(cve)
    facts = cve_views.cve_facts(session, [c for s in cves.values() for c in s])
    out = {}
    for pid, ids in cves.items():
        p = wanted[pid]
        exposure = Exposure(devices=p.devices, installable=p.installable)
        ranked = [_rank(c, facts.get(c, {}), exposure, today) for c in sorted(ids)]
        known = [facts.get(c, {}) for c in ids]
        epss = [f["probability"] for f in known if f.get("probability") is not None]
        cvss = [f["cvss_score"] for f in known if f.get("cvss_score") is not None]
        out[pid] = PatchIntel(
            cves=tuple(sorted(ids)),
            kev=any(f.get("date_added") for f in known),
            epss=max(epss) if epss else None,
            cvss=max(cvss) if cvss else None,
            priority=rank_patch(ranked),
        )
    return out


def client_patch_intel(
    session: Session, client_id: int, patch_ids: Iterable[str], *, today: date
) -> dict[str, PatchIntel]:
    """Patch facts as one client's policy sees them (exposure within the client)."""
    exposure = cve_views.patch_exposure(session, [client_id], list(patch_ids))
    return patch_intel(
        session,
        [client_id],
        (
            PatchExposure(pid, tuple(sorted(cves)), devices, installable)
            for pid, (devices, installable, cves) in exposure.items()
        ),
        today=today,
    )
