"""Approval policy: patch ratings, approval rules and the decision for one patch.

``decide`` applies these steps in order; the first that yields an outcome wins:

1. Rating BLOCKLISTED → REJECTED (MP-12: no rule, manual approval or selection can
   approve, select or install it).
2. A REJECT rule in scope matches, at either level → REJECTED (BP-11 "reject wins";
   it also beats a manual approval).
3. A manual decision (MP-07, MP-08) → APPROVED or NOT_APPROVED.
4. Client-level APPROVE and DEFER rules that match: if any is a DEFER, the longest
   deferral holds the patch until its release (or, unknown, its first sighting) plus N
   days → DEFERRED_UNTIL, and APPROVED from then on; otherwise APPROVED.
5. The same for partner-level rules (client rules beat partner rules, BP-11).
6. Approval type AUTOMATIC and the auto-approval rule matches → APPROVED (DEC-06;
   default ``rating = allowlisted and category in (security, critical)``).
7. Otherwise NOT_APPROVED.

A rule is in scope when it is enabled, its level and clients include the client (a
partner rule for All Clients includes clients created later, MT-05) and its OS families
are empty (every family) or include the patch's. Rules apply under either approval
type; the approval type only switches the auto-approval rule on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, TypeVar

from patchfleet.core.errors import (
    BulkLimitError,
    InvalidInputError,
    PermissionDeniedError,
)
from patchfleet.core.queries import PATCH_FIELDS, Query, evaluate, parse
from patchfleet.core.updates import Classification, Severity, UpdateState

BULK_LIMIT: Final = 100
DEFAULT_AUTO_APPROVAL_TEXT: Final = (
    "rating = allowlisted and category in (security, critical)"
)
DEFAULT_AUTO_APPROVAL: Final = parse(DEFAULT_AUTO_APPROVAL_TEXT, PATCH_FIELDS)

T = TypeVar("T")


class Rating(StrEnum):
    """A tenant's rating of a patch (DEC-06, MP-11..MP-13); whitelist = allowlist."""

    NOT_RATED = "not_rated"
    ALLOWLISTED = "allowlisted"
    BLOCKLISTED = "blocklisted"


class Level(StrEnum):
    """Where an object is defined: for the whole partner or for one client."""

    PARTNER = "partner"
    CLIENT = "client"


class ApprovalType(StrEnum):
    """How patches get approved besides manual approval and rules (CFG-18)."""

    MANUAL = "manual"
    AUTOMATIC = "automatic"


class RuleAction(StrEnum):
    """What an approval rule does to the patches it matches (BP-11)."""

    APPROVE = "approve"
    REJECT = "reject"
    DEFER = "defer"


class ApprovalOutcome(StrEnum):
    """The result of ``decide``."""

    APPROVED = "approved"
    NOT_APPROVED = "not_approved"
    REJECTED = "rejected"
    DEFERRED_UNTIL = "deferred_until"


@dataclass(frozen=True, slots=True)
class ClientScope:
    """All Clients (``client_ids`` None, so later clients too) or Select Clients."""

    client_ids: frozenset[int] | None = None

    @classmethod
    def select(cls, client_ids: Collection[int]) -> ClientScope:
        """Select Clients: exactly these."""
        return cls(frozenset(client_ids))

    def includes(self, client_id: int) -> bool:
        """True if the scope covers the client."""
        return self.client_ids is None or client_id in self.client_ids


ALL_CLIENTS: Final = ClientScope()


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """An approval rule at partner or client level (BP-11).

    Attributes:
        query: A patch query (``PATCH_FIELDS``).
        client_id: The owning client of a client-level rule; None at partner level.
        clients: The clients a partner-level rule covers.
        defer_days: For DEFER, how many days after release the patch is approved.
        os_families: The OS families it applies to, compared case-insensitively;
            empty means every family.
    """

    id: int
    level: Level
    query: Query
    action: RuleAction
    created_at: datetime
    client_id: int | None = None
    clients: ClientScope = ALL_CLIENTS
    defer_days: int = 0
    os_families: frozenset[str] = frozenset()
    enabled: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        """Refuse rules that could not be applied as written."""
        if (self.level is Level.CLIENT) != (self.client_id is not None):
            raise InvalidInputError(
                "a client-level rule names its client; a partner-level rule does not",
                loc=("body", "client_id"),
            )
        if (self.action is RuleAction.DEFER) != (self.defer_days > 0):
            raise InvalidInputError(
                "a defer rule needs at least 1 day; other rules take no days",
                loc=("body", "defer_days"),
            )

    def applies_to(self, client_id: int, os_family: str) -> bool:
        """True if the rule is enabled and covers this client and OS family."""
        if not self.enabled:
            return False
        if self.level is Level.CLIENT:
            in_scope = self.client_id == client_id
        else:
            in_scope = self.clients.includes(client_id)
        families = {f.casefold() for f in self.os_families}
        return in_scope and (not families or os_family.casefold() in families)

    def describe(self) -> str:
        """Name the rule in a reason: ``partner rule 4 "KEV first"``."""
        named = f' "{self.name}"' if self.name else ""
        return f"{self.level} rule {self.id}{named}"


@dataclass(frozen=True, slots=True)
class PatchFacts:
    """What the policy knows about one patch (DEC-14) on one OS family."""

    patch_id: str
    name: str
    os_family: str
    first_seen_at: datetime
    category: Classification = Classification.OTHER
    severity: Severity = Severity.NONE
    released_at: datetime | None = None
    source: str = ""
    vendor_id: str = ""
    cves: tuple[str, ...] = ()
    cvss: float | None = None
    epss: float | None = None
    is_kev: bool = False
    priority: int = 0  # core.risk score of the highest-ranked CVE it fixes
    is_reboot_required: bool = False
    state: UpdateState = UpdateState.INSTALLABLE
    backend: str = ""

    @property
    def released_or_seen_at(self) -> datetime:
        """The release time if the vendor gave one, else when patchfleet first saw it."""
        return self.released_at or self.first_seen_at

    def record(self, rating: Rating) -> dict[str, object]:
        """The patch as a query record (``PATCH_FIELDS`` names)."""
        return {
            "category": self.category,
            "severity": self.severity,
            "source": self.source,
            "name": self.name,
            "vendor_id": self.vendor_id,
            "cve": self.cves,
            "rating": rating,
            "release_age": self.released_or_seen_at,
            "reboot_required": self.is_reboot_required,
            "kev": self.is_kev,
            "epss": self.epss,
            "cvss": self.cvss,
            "priority": self.priority,
            "state": self.state,
            "backend": self.backend,
        }


@dataclass(frozen=True, slots=True)
class ManualApproval:
    """A technician's explicit Approve (MP-07) or Unapprove (MP-08)."""

    is_approved: bool
    decided_at: datetime
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a patch is approved for a client, and the reason the UI shows."""

    outcome: ApprovalOutcome
    reason: str
    until: datetime | None = None
    rule_id: int | None = None


def decide(
    patch: PatchFacts,
    *,
    rating: Rating,
    manual: ManualApproval | None,
    rules: Sequence[ApprovalRule],
    client_id: int,
    approval_type: ApprovalType,
    now: datetime,
    auto_rule: Query = DEFAULT_AUTO_APPROVAL,
) -> Decision:
    """Decide one patch for one client; the module docstring gives the order."""
    if rating is Rating.BLOCKLISTED:
        return Decision(ApprovalOutcome.REJECTED, "blocklisted: never approved")
    record = patch.record(rating)
    matching = sorted(
        (
            rule
            for rule in rules
            if rule.applies_to(client_id, patch.os_family)
            and evaluate(rule.query, record, now)
        ),
        key=lambda rule: (rule.level is not Level.CLIENT, rule.created_at, rule.id),
    )
    for rule in matching:
        if rule.action is RuleAction.REJECT:
            reason = f"rejected by {rule.describe()}"
            return Decision(ApprovalOutcome.REJECTED, reason, rule_id=rule.id)
    if manual is not None:
        return _manual_decision(manual)
    for level in (Level.CLIENT, Level.PARTNER):
        decision = _rule_decision(patch, [r for r in matching if r.level is level], now)
        if decision is not None:
            return decision
    if approval_type is ApprovalType.AUTOMATIC and evaluate(auto_rule, record, now):
        reason = "approved automatically: matches the auto-approval rule"
        return Decision(ApprovalOutcome.APPROVED, reason)
    return Decision(ApprovalOutcome.NOT_APPROVED, "not approved")


def _manual_decision(manual: ManualApproval) -> Decision:
    if manual.is_approved:
        return Decision(ApprovalOutcome.APPROVED, "approved manually")
    return Decision(ApprovalOutcome.NOT_APPROVED, "unapproved manually")


def _rule_decision(
    patch: PatchFacts, rules: Sequence[ApprovalRule], now: datetime
) -> Decision | None:
    """Decide by one level's matching APPROVE/DEFER rules (oldest first), if any."""
    if not rules:
        return None
    defers = [rule for rule in rules if rule.action is RuleAction.DEFER]
    if not defers:
        reason = f"approved by {rules[0].describe()}"
        return Decision(ApprovalOutcome.APPROVED, reason, rule_id=rules[0].id)
    rule = max(defers, key=lambda r: r.defer_days)  # max keeps the oldest of a tie
    until = patch.released_or_seen_at + timedelta(days=rule.defer_days)
    if now >= until:
        reason = (
            f"approved by {rule.describe()}: its {rule.defer_days}-day deferral ended"
        )
        return Decision(ApprovalOutcome.APPROVED, reason, rule_id=rule.id)
    reason = f"deferred by {rule.describe()} until {until:%Y-%m-%d %H:%M %Z}".rstrip()
    return Decision(ApprovalOutcome.DEFERRED_UNTIL, reason, until, rule.id)


def is_installable_by(decision: Decision, rating: Rating) -> bool:
    """The one guard every install path calls: approved and not blocklisted."""
    return (
        decision.outcome is ApprovalOutcome.APPROVED
        and rating is not Rating.BLOCKLISTED
    )


def select_patches(
    patches: Sequence[PatchFacts],
    *,
    query: Query,
    ratings: Mapping[str, Rating],
    now: datetime,
) -> list[PatchFacts]:
    """The patches a dynamic selection (CFG-11) picks; never a blocklisted one.

    ``ratings`` holds each patch's effective rating; a missing one is NOT_RATED.
    """
    picked = []
    for patch in patches:
        rating = ratings.get(patch.patch_id, Rating.NOT_RATED)
        if rating is Rating.BLOCKLISTED:
            continue
        if evaluate(query, patch.record(rating), now):
            picked.append(patch)
    return picked


def effective_rating(
    patch_id: str,
    *,
    client_ratings: Mapping[str, Rating],
    partner_ratings: Mapping[str, Rating],
    use_parent_level: bool,
) -> Rating:
    """A client's rating of a patch, with inheritance (MP-15, MT-04).

    With Use Parent Level only the partner's rating counts. Otherwise the client's
    rating wins, else the partner's, else NOT_RATED; a stored NOT_RATED counts as no
    rating (Unrate removes the rating, MP-13).
    """
    client = client_ratings.get(patch_id, Rating.NOT_RATED)
    if client is not Rating.NOT_RATED and not use_parent_level:
        return client
    return partner_ratings.get(patch_id, Rating.NOT_RATED)


def rate(
    ratings: Mapping[str, Rating],
    patch_ids: Sequence[str],
    rating: Rating,
    *,
    level: Level,
    use_parent_level: bool,
) -> dict[str, Rating]:
    """Return ``ratings`` with the patches rated; NOT_RATED removes a rating.

    Raises:
        BulkLimitError: More than 100 patches (DEC-12).
        PermissionDeniedError: A client rating while the client uses its parent's
            ratings (MP-15).
    """
    ids = bulk(patch_ids)
    if level is Level.CLIENT and use_parent_level:
        raise PermissionDeniedError(
            "this client uses its partner's ratings (Use Parent Level); "
            "rate at partner level or turn Use Parent Level off"
        )
    rated = dict(ratings)
    for patch_id in ids:
        if rating is Rating.NOT_RATED:
            rated.pop(patch_id, None)
        else:
            rated[patch_id] = rating
    return rated


def bulk(ids: Sequence[T]) -> tuple[T, ...]:
    """Guard a bulk action (DEC-12): at most 100 items, counted as given.

    Raises:
        BulkLimitError: More than 100 items, located at ``("body", "ids")``.
    """
    if len(ids) > BULK_LIMIT:
        raise BulkLimitError(
            f"bulk actions take at most {BULK_LIMIT} items; got {len(ids)}",
            loc=("body", "ids"),
        )
    return tuple(ids)
