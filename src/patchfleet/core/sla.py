"""Remediation SLAs (FEATURES BP-08): due dates, statuses and figures.

An *item* is something a device must remediate: a missing patch or a device-CVE pair.
Its clock starts at first detection (``first_seen_at``) and its deadline follows the
client's :class:`SlaPolicy`:

* **KEV-listed** items are due at the end of CISA's due date (00:00 UTC of the next
  day; the deadline is inclusive).  When that date is missing, or had already passed
  when the item was first detected, the item is due ``kev_days`` after detection
  instead: an item would otherwise be overdue on arrival and count as *missed*
  however fast it was fixed.  The KEV rule replaces the band window, so a CISA date
  further out than ``critical_days`` stands.
* Every other item is due its **band's window** after detection: critical 7 days,
  high 30, medium 90, low and none 180 (the defaults).

Statuses, all instants in UTC (aware datetimes in any zone are converted; naive ones
are refused):

==========  ====================================================================
status      rule
==========  ====================================================================
met         installed at or before the deadline
missed      installed after the deadline
overdue     not installed and ``now`` is past the deadline
due-soon    not installed, at most max(20 % of the window, 3 days) left
within      not installed, more time left than that
==========  ====================================================================

The *window* is the time from detection to the deadline.  Time to patch is the time
from detection to install.  :func:`figures` summarises items: open items by status,
mean and median time to patch, and the share remediated within the SLA
(met / (met + missed)).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.risk import Band

__all__ = [
    "DEFAULT_POLICY",
    "DUE_SOON_FLOOR",
    "DUE_SOON_SHARE",
    "MAX_DAYS",
    "MIN_DAYS",
    "ClientOverride",
    "DueRule",
    "PolicySource",
    "SlaFigures",
    "SlaPolicy",
    "SlaStatus",
    "Verdict",
    "assess",
    "deadline",
    "effective_policy",
    "figures",
    "status_of",
    "to_days",
    "verdict",
]

MIN_DAYS: Final = 1
MAX_DAYS: Final = 3650
DUE_SOON_SHARE: Final = 0.2  # of the window
DUE_SOON_FLOOR: Final = timedelta(days=3)
_DAY: Final = timedelta(days=1)


class SlaStatus(StrEnum):
    """Where an item stands against its deadline; the first three are open."""

    WITHIN = "within"
    DUE_SOON = "due-soon"
    OVERDUE = "overdue"
    MET = "met"
    MISSED = "missed"

    @property
    def is_open(self) -> bool:
        """True while the item is not remediated."""
        return self in (SlaStatus.WITHIN, SlaStatus.DUE_SOON, SlaStatus.OVERDUE)


class DueRule(StrEnum):
    """Which rule set an item's deadline."""

    KEV_DUE_DATE = "kev-due-date"  # CISA's due date
    KEV_AFTER_DETECTION = "kev-after-detection"  # no date, or past at detection
    BAND = "band"  # the priority band's window


class PolicySource(StrEnum):
    """Where a client's effective policy comes from."""

    DEFAULT = "default"  # nothing stored: the built-in defaults
    PARTNER = "partner"  # the partner's default (inherited)
    CLIENT = "client"  # the client's own values


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Days to remediate, by priority band; KEV items follow CISA's due date.

    Attributes:
        kev_days: Days after detection for a KEV item without a due date, or whose
            due date had passed when it was first detected.
        critical_days: Window of critical items.
        high_days: Window of high items.
        medium_days: Window of medium items.
        low_days: Window of low items and of items with no known priority.
    """

    kev_days: int = 7
    critical_days: int = 7
    high_days: int = 30
    medium_days: int = 90
    low_days: int = 180

    def __post_init__(self) -> None:
        """Refuse windows outside 1-3650 days."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInputError(f"{f.name} must be a whole number of days")
            if not MIN_DAYS <= value <= MAX_DAYS:
                raise InvalidInputError(
                    f"{f.name} must be between {MIN_DAYS} and {MAX_DAYS} days",
                    loc=("body", f.name),
                )

    def window(self, band: Band) -> timedelta:
        """The time a non-KEV item of ``band`` has from detection."""
        days = {
            Band.CRITICAL: self.critical_days,
            Band.HIGH: self.high_days,
            Band.MEDIUM: self.medium_days,
        }.get(band, self.low_days)
        return timedelta(days=days)


DEFAULT_POLICY: Final = SlaPolicy()


@dataclass(frozen=True, slots=True)
class ClientOverride:
    """A client's stored policy and whether it uses its partner's instead."""

    use_parent_level: bool
    policy: SlaPolicy


def effective_policy(
    *, partner: SlaPolicy | None, client: ClientOverride | None
) -> tuple[SlaPolicy, PolicySource]:
    """The policy that applies to a client, and where it comes from.

    A client's own values apply unless it uses the parent level (or has none); then
    the partner's default applies, or the built-in defaults when the partner has
    stored none.  Pass ``client=None`` for the partner level itself.
    """
    if client is not None and not client.use_parent_level:
        return client.policy, PolicySource.CLIENT
    if partner is not None:
        return partner, PolicySource.PARTNER
    return DEFAULT_POLICY, PolicySource.DEFAULT


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


def _end_of(day: date) -> datetime:
    """The end of a UTC calendar day: 00:00 UTC of the next day."""
    return datetime.combine(day + _DAY, time(0), tzinfo=UTC)


def deadline(
    *,
    first_seen_at: datetime,
    band: Band,
    kev: bool,
    kev_due_date: date | None,
    policy: SlaPolicy,
) -> tuple[datetime, DueRule]:
    """When an item must be remediated by (inclusive, UTC), and the rule that says so.

    Args:
        first_seen_at: First detection (aware).
        band: The item's priority band (``core.risk``).
        kev: Whether the item (or one of its CVEs) is in CISA's KEV catalog.
        kev_due_date: CISA's due date (the earliest, for several KEV CVEs), if any.
        policy: The client's effective policy.
    """
    seen = _utc(first_seen_at, "first_seen_at")
    if not kev:
        return seen + policy.window(band), DueRule.BAND
    if kev_due_date is not None and _end_of(kev_due_date) >= seen:
        return _end_of(kev_due_date), DueRule.KEV_DUE_DATE
    return seen + timedelta(days=policy.kev_days), DueRule.KEV_AFTER_DETECTION


def status_of(
    *,
    first_seen_at: datetime,
    due_at: datetime,
    now: datetime,
    installed_at: datetime | None = None,
) -> SlaStatus:
    """An item's status against a known deadline (see the module docstring)."""
    seen = _utc(first_seen_at, "first_seen_at")
    due = _utc(due_at, "due_at")
    at = _utc(now, "now")
    if installed_at is not None:
        done = _utc(installed_at, "installed_at")
        return SlaStatus.MET if done <= due else SlaStatus.MISSED
    left = due - at
    if left < timedelta(0):
        return SlaStatus.OVERDUE
    window = due - seen
    if left <= max(window * DUE_SOON_SHARE, DUE_SOON_FLOOR):
        return SlaStatus.DUE_SOON
    return SlaStatus.WITHIN


@dataclass(frozen=True, slots=True)
class Verdict:
    """An item assessed against its SLA.

    Attributes:
        status: Where it stands.
        due_at: Its deadline (UTC, inclusive).
        rule: The rule that set the deadline.
        time_to_patch: Detection to install, for a remediated item.
        time_left: Until the deadline for an open item (negative once overdue).
    """

    status: SlaStatus
    due_at: datetime
    rule: DueRule
    time_to_patch: timedelta | None = None
    time_left: timedelta | None = None


def assess(
    *,
    first_seen_at: datetime,
    band: Band,
    kev: bool,
    kev_due_date: date | None,
    policy: SlaPolicy,
    now: datetime,
    installed_at: datetime | None = None,
) -> Verdict:
    """An item's deadline, status and time to patch (or time left) at ``now``."""
    due_at, rule = deadline(
        first_seen_at=first_seen_at,
        band=band,
        kev=kev,
        kev_due_date=kev_due_date,
        policy=policy,
    )
    return verdict(
        first_seen_at=first_seen_at,
        due_at=due_at,
        rule=rule,
        now=now,
        installed_at=installed_at,
    )


def verdict(
    *,
    first_seen_at: datetime,
    due_at: datetime,
    rule: DueRule,
    now: datetime,
    installed_at: datetime | None = None,
) -> Verdict:
    """The verdict of an item whose deadline is already known (e.g. stored)."""
    status = status_of(
        first_seen_at=first_seen_at, due_at=due_at, now=now, installed_at=installed_at
    )
    seen = _utc(first_seen_at, "first_seen_at")
    due = _utc(due_at, "due_at")
    if installed_at is not None:
        taken = max(_utc(installed_at, "installed_at") - seen, timedelta(0))
        return Verdict(status, due, rule, time_to_patch=taken)
    return Verdict(status, due, rule, time_left=due - _utc(now, "now"))


def to_days(duration: timedelta) -> float:
    """A duration in (fractional) days."""
    return duration.total_seconds() / _DAY.total_seconds()


@dataclass(frozen=True, slots=True)
class SlaFigures:
    """Counts by status, time to patch and the share remediated within the SLA.

    Attributes:
        within: Open items with time left.
        due_soon: Open items close to their deadline.
        overdue: Open items past their deadline.
        met: Remediated items installed by their deadline.
        missed: Remediated items installed after it.
        mean_days: Mean time to patch of the remediated items, in days.
        median_days: Median time to patch, in days.
        within_sla_percent: 100 * met / (met + missed); None with nothing remediated.
    """

    within: int = 0
    due_soon: int = 0
    overdue: int = 0
    met: int = 0
    missed: int = 0
    mean_days: float | None = None
    median_days: float | None = None
    within_sla_percent: float | None = None

    @property
    def open(self) -> int:
        """Open items."""
        return self.within + self.due_soon + self.overdue

    @property
    def remediated(self) -> int:
        """Remediated items."""
        return self.met + self.missed

    def count(self, status: SlaStatus) -> int:
        """The number of items with ``status``."""
        return {
            SlaStatus.WITHIN: self.within,
            SlaStatus.DUE_SOON: self.due_soon,
            SlaStatus.OVERDUE: self.overdue,
            SlaStatus.MET: self.met,
            SlaStatus.MISSED: self.missed,
        }[status]


def figures(verdicts: Iterable[Verdict]) -> SlaFigures:
    """Summarise verdicts (the caller picks which remediated items count: a window)."""
    counts = dict.fromkeys(SlaStatus, 0)
    taken: list[float] = []
    for v in verdicts:
        counts[v.status] += 1
        if v.time_to_patch is not None:
            taken.append(to_days(v.time_to_patch))
    met, missed = counts[SlaStatus.MET], counts[SlaStatus.MISSED]
    return SlaFigures(
        within=counts[SlaStatus.WITHIN],
        due_soon=counts[SlaStatus.DUE_SOON],
        overdue=counts[SlaStatus.OVERDUE],
        met=met,
        missed=missed,
        mean_days=statistics.fmean(taken) if taken else None,
        median_days=statistics.median(taken) if taken else None,
        within_sla_percent=100 * met / (met + missed) if met + missed else None,
    )
