"""Patch compliance (FEATURES CMP-01..CMP-19): which selected patches a device misses.

A compliance configuration measures instead of installing. For each selected device
its latest scan's missing patches are held against the configuration's patch
selection (CMP-01, CMP-13):

* **Unknown**: the device never reported a successful scan;
* **Compliant**: it misses none of the selected patches;
* **Non-Compliant**: it misses at least one.

A hand-picked patch ``backend:name@version`` is missing when the scan lists an update
of that package whose installed version is older than ``version`` (the exact patch,
or a newer candidate that supersedes it; versions compare in the backend's scheme).
A dynamic selection takes the missing patches its query matches, never a blocklisted
one (as ``core.policy.select_patches``). Percentages count Unknown devices as not
compliant: ``compliant / devices``.
"""

from __future__ import annotations

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.policy import PatchFacts, Rating
from patchfleet.core.queries import (
    DEVICE_FIELDS,
    PATCH_FIELDS,
    Fields,
    Query,
    QueryError,
    evaluate,
    parse,
)
from patchfleet.core.schedules import Frequency, Schedule, validate
from patchfleet.core.updates import split_patch_id
from patchfleet.core.versions import Scheme, VersionError, compare

MAX_STATIC_DEVICES: Final = 100  # CMP-06
FREQUENCIES: Final = (  # CMP-08: no yearly or Patch Tuesday runs
    Frequency.ON_DEMAND,
    Frequency.ONCE,
    Frequency.DAILY,
    Frequency.WEEKLY,
    Frequency.MONTHLY,
)
MAX_SELECTED_PATCHES: Final = 100  # CMP-07

BACKEND_SCHEMES: Final[Mapping[str, Scheme]] = {
    "apt": Scheme.DEB,
    "dnf": Scheme.RPM,
    "yum": Scheme.RPM,
    "zypper": Scheme.RPM,
}
_WINDOWS_FAMILIES: Final = frozenset({"windows"})
_MACOS_FAMILIES: Final = frozenset({"darwin", "macos", "mac", "osx"})


class OsType(StrEnum):
    """The one OS family a compliance configuration checks (CMP-05)."""

    LINUX = "linux"
    WINDOWS = "windows"
    MACOS = "macos"


class PatchMode(StrEnum):
    """How a compliance configuration selects patches (CMP-07): no Approved option."""

    DYNAMIC = "dynamic"
    SELECT = "select"


class ComplianceStatus(StrEnum):
    """Where one device stands with one configuration (CMP-13)."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    UNKNOWN = "unknown"


def os_type_of(os_family: str) -> OsType | None:
    """The OS type of a device's reported family; None when it reported none.

    Agents report ``debian``, ``rhel``, ``suse`` or the distribution id on Linux and
    ``platform.system()`` (``windows``, ``darwin``) elsewhere.
    """
    family = os_family.strip().casefold()
    if not family:
        return None
    if family in _WINDOWS_FAMILIES:
        return OsType.WINDOWS
    if family in _MACOS_FAMILIES:
        return OsType.MACOS
    return OsType.LINUX


def check_static_devices(device_ids: Sequence[object]) -> None:
    """Refuse a static device list over the limit (CMP-06)."""
    if len(device_ids) > MAX_STATIC_DEVICES:
        raise InvalidInputError(
            f"Device ids must not exceed {MAX_STATIC_DEVICES}",
            loc=("body", "static_devices"),
        )


def check_selected_patches(patch_ids: Sequence[str]) -> None:
    """Refuse a hand-picked selection over the limit or with malformed ids (CMP-07)."""
    if len(patch_ids) > MAX_SELECTED_PATCHES:
        raise InvalidInputError(
            f"Selection must not exceed {MAX_SELECTED_PATCHES} patches",
            loc=("body", "selected_patches"),
        )
    for patch_id in patch_ids:
        try:
            split_patch_id(patch_id)
        except ValueError as exc:
            raise InvalidInputError(
                str(exc), loc=("body", "selected_patches")
            ) from None


def _fail(message: str, field: str) -> InvalidInputError:
    return InvalidInputError(message, loc=("body", field))


def _parsed(text: str, fields: Fields, field: str) -> Query:
    try:
        return parse(text, fields)
    except QueryError as exc:
        exc.loc = ("body", field)
        raise


@dataclass(frozen=True, slots=True)
class ComplianceSpec:
    """What a user sets: OS type, devices, patches, schedule and the approval toggle.

    ``clients`` (partner level) is None for All Clients, later ones included.
    """

    name: str
    os_type: OsType
    schedule: Schedule
    description: str = ""
    enabled: bool = True
    device_query: str = ""
    static_devices: tuple[uuid.UUID, ...] = ()
    clients: tuple[int, ...] | None = None
    patch_selection: PatchMode = PatchMode.SELECT
    patch_query: str = ""
    selected_patches: tuple[str, ...] = ()
    approve_missing: bool = False

    def check(self, *, partner_level: bool) -> None:
        """Refuse what cannot be saved, located at the offending body field.

        Raises:
            InvalidInputError: The first problem found (QueryError for queries).
        """
        if not self.name.strip():
            raise _fail("give the compliance configuration a name (CMP-03)", "name")
        validate(self.schedule)
        if self.schedule.frequency not in FREQUENCIES:
            raise _fail(
                "compliance runs on demand, once, daily, weekly or monthly (CMP-08)",
                "schedule",
            )
        self._check_devices(partner_level=partner_level)
        if self.device_query:
            _parsed(self.device_query, DEVICE_FIELDS, "device_query")
        self._check_patches()

    def _check_devices(self, *, partner_level: bool) -> None:
        """The CMP-16 matrix: Select Clients partner-only, static lists client-only."""
        check_static_devices(self.static_devices)
        if partner_level:
            if self.static_devices:
                raise _fail(
                    "partner-level compliance selects devices by query only (CMP-12)",
                    "static_devices",
                )
            if not self.device_query:
                raise _fail("select devices by query", "device_query")
            if self.clients is not None and not self.clients:
                raise _fail("select at least one client", "clients")
            return
        if self.clients is not None:
            raise _fail(
                "client selection is for partner-level compliance only (CMP-16)",
                "clients",
            )
        if self.device_query and self.static_devices:
            raise _fail(
                "select devices by query or by list, not both", "static_devices"
            )
        if not self.device_query and not self.static_devices:
            raise _fail("select devices by query or by list", "static_devices")

    def _check_patches(self) -> None:
        if self.patch_selection is PatchMode.DYNAMIC:
            if self.selected_patches:
                raise _fail(
                    "select patches by query or by list, not both", "patch_query"
                )
            _parsed(self.patch_query, PATCH_FIELDS, "patch_query")
            return
        if self.patch_query:
            raise _fail("select patches by query or by list, not both", "patch_query")
        check_selected_patches(self.selected_patches)
        if not self.selected_patches:
            raise _fail("select at least one patch", "selected_patches")


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """Which devices a stored configuration checks (CMP-04..CMP-06, CMP-12).

    Attributes:
        client_id: The owning client at client level, None at partner level.
        clients: Partner level: the Select Clients, None for All Clients.
        query: A device query (``DEVICE_FIELDS``), or None for a static list.
        static_devices: Device ids (as text) of a static list.
    """

    os_type: OsType
    client_id: int | None = None
    clients: frozenset[int] | None = None
    query: Query | None = None
    static_devices: frozenset[str] = frozenset()

    def includes_client(self, client_id: int) -> bool:
        """True if the configuration may check devices of this client."""
        if self.client_id is not None:
            return client_id == self.client_id
        return self.clients is None or client_id in self.clients

    def selects(
        self,
        *,
        device_id: str,
        client_id: int,
        os_family: str,
        record: Mapping[str, object],
        now: datetime,
    ) -> bool:
        """Whether a device is checked: its client, its OS type, then query or list.

        A device may be checked by any number of compliance configurations; unlike
        patch configurations nothing is allocated.
        """
        if not self.includes_client(client_id):
            return False
        if os_type_of(os_family) is not self.os_type:
            return False
        if self.query is None:
            return device_id in self.static_devices
        return evaluate(self.query, record, now)


@dataclass(frozen=True, slots=True)
class PatchSelection:
    """The patches a configuration measures: a query (dynamic) or hand-picked ids."""

    query: Query | None = None
    patch_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        """A selection is exactly one of the two."""
        if (self.query is None) == (not self.patch_ids):
            raise InvalidInputError(
                "select patches by query or by list, not both or neither",
                loc=("body", "patch_selection"),
            )


@dataclass(frozen=True, slots=True)
class MissingPatch:
    """One missing patch of a device's latest scan, as the device's client sees it."""

    facts: PatchFacts
    installed_version: str
    rating: Rating = Rating.NOT_RATED


@dataclass(frozen=True, slots=True)
class DeviceEvidence:
    """What is known of one device: whether it was ever scanned, and what it misses."""

    device_id: int
    is_scanned: bool
    missing: tuple[MissingPatch, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceResult:
    """One device's status and the selected patches it misses (sorted ids)."""

    device_id: int
    status: ComplianceStatus
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Tally:
    """How many devices stand where; ``percent`` is compliant of all (None if none)."""

    compliant: int = 0
    non_compliant: int = 0
    unknown: int = 0

    @property
    def devices(self) -> int:
        """All devices counted."""
        return self.compliant + self.non_compliant + self.unknown

    @property
    def percent(self) -> float | None:
        """Compliant devices in percent of all, one decimal; None without devices."""
        if not self.devices:
            return None
        return round(100 * self.compliant / self.devices, 1)

    def __add__(self, other: Tally) -> Tally:
        """Counts of two tallies together."""
        return Tally(
            self.compliant + other.compliant,
            self.non_compliant + other.non_compliant,
            self.unknown + other.unknown,
        )


def _older(backend: str, installed: str, wanted: str) -> bool:
    """Whether ``installed`` is older than ``wanted`` in the backend's scheme."""
    scheme = BACKEND_SCHEMES.get(backend)
    if scheme is None:
        return False
    try:
        return compare(scheme, installed, wanted) < 0
    except VersionError:
        return False


def _misses_picked(patch_id: str, missing: Sequence[MissingPatch]) -> bool:
    backend, name, version = split_patch_id(patch_id)
    for m in missing:
        if m.facts.patch_id == patch_id:
            return True
        if (
            m.facts.backend == backend
            and m.facts.name == name
            and _older(backend, m.installed_version, version)
        ):
            return True
    return False


def missing_selected(
    selection: PatchSelection, missing: Sequence[MissingPatch], now: datetime
) -> tuple[str, ...]:
    """The selected patches among a device's missing ones, as sorted patch ids."""
    if selection.query is not None:
        query = selection.query
        return tuple(
            sorted(
                {
                    m.facts.patch_id
                    for m in missing
                    if m.rating is not Rating.BLOCKLISTED
                    and evaluate(query, m.facts.record(m.rating), now)
                }
            )
        )
    return tuple(sorted(p for p in selection.patch_ids if _misses_picked(p, missing)))


def evaluate_device(
    selection: PatchSelection, evidence: DeviceEvidence, now: datetime
) -> DeviceResult:
    """One device's compliance with a selection (CMP-13)."""
    if not evidence.is_scanned:
        return DeviceResult(evidence.device_id, ComplianceStatus.UNKNOWN)
    missed = missing_selected(selection, evidence.missing, now)
    status = ComplianceStatus.NON_COMPLIANT if missed else ComplianceStatus.COMPLIANT
    return DeviceResult(evidence.device_id, status, missed)


def evaluate_devices(
    selection: PatchSelection, devices: Iterable[DeviceEvidence], now: datetime
) -> list[DeviceResult]:
    """Every device's compliance, in the order given."""
    return [evaluate_device(selection, d, now) for d in devices]


def tally(results: Iterable[DeviceResult]) -> Tally:
    """Count results by status."""
    counts = dict.fromkeys(ComplianceStatus, 0)
    for r in results:
        counts[r.status] += 1
    return Tally(
        counts[ComplianceStatus.COMPLIANT],
        counts[ComplianceStatus.NON_COMPLIANT],
        counts[ComplianceStatus.UNKNOWN],
    )


def approvable(
    patch_ids: Iterable[str],
    *,
    ratings: Mapping[str, Rating],
    decided: Collection[str],
) -> tuple[str, ...]:
    """Missing selected patches the approval toggle approves for a client (CMP-10).

    Blocklisted patches are never approved (DEC-06), and a patch a technician already
    approved or unapproved by hand keeps that decision.
    """
    return tuple(
        sorted(
            {
                p
                for p in patch_ids
                if p not in decided
                and ratings.get(p, Rating.NOT_RATED) is not Rating.BLOCKLISTED
            }
        )
    )


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One recorded full evaluation of a configuration."""

    configuration_id: int
    at: datetime
    tally: Tally


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Compliance over all configurations on one UTC day (``tally`` summed)."""

    day: date
    tally: Tally = field(default_factory=Tally)

    @property
    def percent(self) -> float | None:
        """Compliant devices in percent, None on a day nothing was known yet."""
        return self.tally.percent


def daily_trend(
    runs: Iterable[RunPoint], *, days: int, now: datetime
) -> list[TrendPoint]:
    """Compliance per UTC day for the ``days`` days up to ``now``'s day, oldest first.

    Each configuration counts with its latest run at or before the end of the day
    (carried forward over days without a run); runs after ``now`` are ignored.
    """
    if days < 1:
        raise InvalidInputError("days must be at least 1", loc=("query", "days"))
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    by_config: dict[int, list[RunPoint]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: r.at):
        if run.at <= now:
            by_config[run.configuration_id].append(run)
    times = {c: [r.at for r in history] for c, history in by_config.items()}
    points = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        end = datetime.combine(day + timedelta(days=1), time(0, 0), UTC)
        total = Tally()
        for config_id, history in by_config.items():
            latest = bisect_left(times[config_id], end) - 1
            if latest >= 0:
                total = total + history[latest].tally
        points.append(TrendPoint(day, total))
    return points
