"""Risk ranking: the priority of a CVE and of a missing patch (FEATURES BP-07).

BP-07 ranks by CISA KEV first, then EPSS, then CVSS. :func:`rank_cve` turns those
signals into a 0-100 score and a band in three steps:

1. **Slot.** The signals pick one of eight disjoint score slots; a higher slot always
   outranks a lower one, whatever the other inputs:

   ========================================  ===========  ========
   condition (first that holds)              band         score
   ========================================  ===========  ========
   KEV, overdue *and* used in ransomware     critical     96-100
   KEV, overdue *or* used in ransomware      critical     90-95
   KEV                                       critical     80-89
   EPSS ≥ 50 %                               high         70-79
   EPSS ≥ 10 %                               high         60-69
   EPSS ≥ 1 %                                medium       50-59
   CVSS ≥ 7.0                                medium       40-49
   CVSS > 0                                  low          10-39
   nothing known                             none         0-9
   ========================================  ===========  ========

   "Overdue" means CISA's due date is before ``today``. A missing EPSS score counts
   as 0 %. Without a CVSS score the vendor's severity word stands in for it
   (:func:`~patchfleet.core.updates.normalise_severity`: critical 9.5, high 8.0,
   medium 5.5, low 2.0, none 0).
2. **Place in the slot.** Outside KEV, CVSS orders CVEs inside the slot (80 % of the
   slot's width) and exposure nudges them (20 %). Inside KEV, EPSS weighs 50 %, CVSS
   30 % and exposure 20 %. Exposure is the number of affected devices on a log scale,
   full at 10,000 devices.
3. ``score = low end + floor(width * place)``.

So KEV-listed always outranks non-KEV; among non-KEV, EPSS (by the levels above)
dominates CVSS; and every input is monotone: adding KEV, ransomware use, an overdue
date, a higher EPSS, a higher CVSS or more devices never lowers the score. Exposure
never moves a CVE out of its slot, hence never changes its band.

:func:`rank_patch` gives a patch the priority of its most urgent CVE.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

from patchfleet.core.advisories import EpssScore, KevEntry
from patchfleet.core.updates import Severity, normalise_severity

__all__ = ["Band", "Exposure", "Priority", "rank_cve", "rank_patch"]


class Band(StrEnum):
    """A priority's band, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Exposure:
    """How much of the fleet a CVE touches.

    Attributes:
        devices: Devices affected.
        installable: Of those, devices on which a fix is installable now.
    """

    devices: int = 0
    installable: int = 0


@dataclass(frozen=True, slots=True)
class Priority:
    """A CVE's or a patch's priority, with the reasons behind it.

    Attributes:
        score: 0 (nothing known) to 100 (most urgent); higher ranks first.
        band: The score's band.
        reasons: One short phrase per input, most important first.
        cve: The CVE the priority is about (for a patch, its most urgent CVE).
        cve_count: For a patch, how many CVEs it fixes; 0 for a CVE's own priority.
    """

    score: int
    band: Band
    reasons: tuple[str, ...]
    cve: str = ""
    cve_count: int = 0

    @property
    def explanation(self) -> str:
        """The reasons as one line; a patch's names the CVE they come from."""
        text = ", ".join(self.reasons)
        if not self.cve_count or not self.cve:
            return text
        if self.cve_count == 1:
            return f"{self.cve}: {text}"
        return f"{self.cve} (most urgent of {self.cve_count} CVEs): {text}"


NO_PRIORITY: Final = Priority(0, Band.NONE, ("fixes no known CVE",))
"""The priority of a patch that fixes no known CVE."""

# Severity word -> CVSS stand-in: the middle of the word's CVSS v3 range.
_SEVERITY_CVSS: Final = {
    Severity.CRITICAL: 9.5,
    Severity.HIGH: 8.0,
    Severity.MEDIUM: 5.5,
    Severity.LOW: 2.0,
    Severity.NONE: 0.0,
}
_EXPOSURE_FULL: Final = 10_000  # devices at which the exposure nudge is full


@dataclass(frozen=True, slots=True)
class _Slot:
    low: int
    high: int
    band: Band
    cvss_from: float = 0.0  # the CVSS range spread over the slot (non-KEV)
    cvss_to: float = 10.0


_KEV_BOTH: Final = _Slot(96, 100, Band.CRITICAL)
_KEV_ONE: Final = _Slot(90, 95, Band.CRITICAL)
_KEV: Final = _Slot(80, 89, Band.CRITICAL)
# (minimum EPSS probability, slot), highest first.
_EPSS_SLOTS: Final = (
    (0.5, _Slot(70, 79, Band.HIGH)),
    (0.1, _Slot(60, 69, Band.HIGH)),
    (0.01, _Slot(50, 59, Band.MEDIUM)),
)
_CVSS_HIGH: Final = _Slot(40, 49, Band.MEDIUM, 7.0, 10.0)
_CVSS_SOME: Final = _Slot(10, 39, Band.LOW, 0.0, 7.0)
_NOTHING: Final = _Slot(0, 9, Band.NONE, 0.0, 0.0)


def rank_cve(
    cve: str,
    *,
    kev: KevEntry | None,
    epss: EpssScore | None,
    cvss: float | None,
    severity: str,
    exposure: Exposure,
    today: date,
) -> Priority:
    """The priority of one CVE in the fleet (see the module docstring for the rules).

    Args:
        cve: The CVE id.
        kev: Its CISA KEV entry, if listed.
        epss: Its EPSS score, if known.
        cvss: Its best CVSS base score (0-10), if known.
        severity: The vendor's severity word, unnormalised (``""`` if none); used for
            the score only when there is no CVSS score.
        exposure: The devices it affects.
        today: The day the priority is for (decides "overdue").

    Returns:
        The score, band and one reason per input given.
    """
    probability = _unit(epss.probability) if epss is not None else 0.0
    known_cvss = None if cvss is None or math.isnan(cvss) else min(max(cvss, 0.0), 10.0)
    rated = (
        _SEVERITY_CVSS[normalise_severity(severity)]
        if known_cvss is None
        else known_cvss
    )
    overdue = bool(kev and kev.due_date is not None and kev.due_date < today)
    spread = math.log10(1 + max(exposure.devices, 0)) / math.log10(1 + _EXPOSURE_FULL)
    nudge = min(spread, 1.0)
    if kev is not None:
        slot = (_KEV, _KEV_ONE, _KEV_BOTH)[overdue + kev.ransomware]
        place = 0.5 * probability + 0.3 * rated / 10 + 0.2 * nudge
    else:
        slot = _non_kev_slot(probability, rated)
        place = _place_in_slot(slot, rated, nudge)
    score = slot.low + int((slot.high - slot.low) * min(place, 1.0))
    reasons = _reasons(kev, epss, known_cvss, severity, exposure, overdue=overdue)
    return Priority(min(score, slot.high), slot.band, reasons, cve=cve)


def rank_patch(priorities: Iterable[Priority]) -> Priority:
    """A patch's priority: that of its most urgent CVE.

    Args:
        priorities: The :func:`rank_cve` priorities of the CVEs the patch fixes.

    Returns:
        The highest-scoring one (ties: the lowest CVE id), with ``cve_count`` set so
        its explanation names the CVE; :data:`NO_PRIORITY` when there is none.
    """
    items = list(priorities)
    if not items:
        return NO_PRIORITY
    top = min(items, key=lambda p: (-p.score, p.cve))
    return Priority(top.score, top.band, top.reasons, top.cve, cve_count=len(items))


def _non_kev_slot(probability: float, rated: float) -> _Slot:
    for threshold, slot in _EPSS_SLOTS:
        if probability >= threshold:
            return slot
    if rated >= _CVSS_HIGH.cvss_from:
        return _CVSS_HIGH
    return _CVSS_SOME if rated > 0 else _NOTHING


def _place_in_slot(slot: _Slot, rated: float, nudge: float) -> float:
    """0-1 within a non-KEV slot: CVSS across the slot's range (80 %), exposure 20 %."""
    width = slot.cvss_to - slot.cvss_from
    if not width:
        return nudge
    within = min(max((rated - slot.cvss_from) / width, 0.0), 1.0)
    return 0.8 * within + 0.2 * nudge


def _unit(value: float) -> float:
    return 0.0 if math.isnan(value) else min(max(value, 0.0), 1.0)


# explanation --------------------------------------------------------------------------


def _reasons(
    kev: KevEntry | None,
    epss: EpssScore | None,
    cvss: float | None,
    severity: str,
    exposure: Exposure,
    *,
    overdue: bool,
) -> tuple[str, ...]:
    reasons: list[str] = []
    if kev is not None:
        reasons.append(f"known exploited since {kev.date_added.isoformat()}")
        if kev.due_date is not None:
            late = " (overdue)" if overdue else ""
            reasons.append(f"due {kev.due_date.isoformat()}{late}")
        if kev.ransomware:
            reasons.append("used in ransomware")
    if epss is not None:
        reasons.append(
            f"EPSS {_percent(_unit(epss.probability))} "
            f"({_ordinal(epss.percentile)} percentile)"
        )
    if cvss is not None:
        reasons.append(f"CVSS {cvss:.1f}")
    if severity.strip():
        reasons.append(f"vendor severity {severity.strip().lower()}")
    if kev is None and epss is None and cvss is None and not severity.strip():
        reasons.append("no KEV, EPSS, CVSS or severity data")
    reasons += _exposure_reasons(exposure)
    return tuple(reasons)


def _exposure_reasons(exposure: Exposure) -> list[str]:
    devices = max(exposure.devices, 0)
    if devices == 0:
        return ["on no device"]
    on = f"on {devices:,} device" + ("s" if devices > 1 else "")
    if exposure.installable <= 0:
        return [on, "no fix installable"]
    return [on, f"fix installable on {exposure.installable:,}"]


def _percent(probability: float) -> str:
    """``94%``, ``2.5%``, ``0.04%``; ``<0.01%`` below that."""
    if probability >= 0.1:
        return f"{probability:.0%}"
    if probability >= 0.01:
        return f"{probability:.1%}"
    if probability >= 0.0001:
        return f"{probability:.2%}"
    return "<0.01%" if probability > 0 else "0%"


def _ordinal(percentile: float) -> str:
    """``99th`` for 0.995: the whole percentile reached, as an ordinal."""
    clamped = 0.0 if math.isnan(percentile) else min(max(percentile, 0.0), 1.0)
    number = int(clamped * 100 + 1e-9)
    if number % 100 in (11, 12, 13):
        return f"{number}th"
    return f"{number}{({1: 'st', 2: 'nd', 3: 'rd'}).get(number % 10, 'th')}"
