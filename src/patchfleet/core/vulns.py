"""Vulnerability matching: which installed package versions a CVE affects (CVE-*).

A fleet is homogeneous, so matching runs once per distinct installed
``(release, package, version)`` tuple (:class:`Installed`), never per device; the
server joins the resulting :class:`Finding` rows to devices. :class:`AdvisoryIndex`
holds every advisory's ranges indexed by ``(release, package)`` with precomputed
version sort keys, so matching one tuple costs one dict lookup, one binary search and a
few key comparisons.

Semantics, per ``(release, package, cve)`` over the non-withdrawn advisories:

* **Range.** Every :class:`~patchfleet.core.advisories.AffectedPackage` of an advisory
  applies to each of the advisory's CVEs. Version ``v`` is in a range when
  ``(introduced == "" or v >= introduced)`` and ``(fixed == "" or v < fixed)`` and
  ``(last_affected == "" or v <= last_affected)``, compared with the release's scheme
  (:func:`~patchfleet.core.advisories.scheme_of`). ``introduced == "0"`` means "since the
  first version", as in OSV. Advisories without CVE ids yield no findings.
* **Not affected wins.** An entry with ``not_affected`` for the same
  ``(release, package)`` in any advisory naming the CVE means that CVE is never flagged
  for that package in that release, whatever other ranges say.
* **A distribution fix always wins over a fixless range.** A range without a
  ``fixed`` version (open-ended, or bounded only by ``last_affected``) is closed by the
  lowest ``fixed`` version that another range of the same ``(release, package, cve)``
  gives at or above its ``introduced``: a per-CVE record that still says "unfixed"
  after the DSA/USN/RHSA shipped is stale. Hence a version at or above the
  distribution's fix is never flagged, backported fixes included (``1.0-1+deb12u1``
  is not affected when the fix is ``1.0-1+deb12u1``). A fixless range with no fix at
  or above its start (a new, unfixed branch) stays open. Ranges that carry their own ``fixed``
  keep it, so upstream-style branches (``[, 1.5)`` and ``[2.0, 2.3)``) work as
  written, and when two records disagree on the fix, a version between the two fixes
  is still flagged, with the higher one as its fix.
* **Finding.** A tuple is affected by a CVE when at least one range flags it.
  ``Finding.fixed`` is the lowest ``fixed`` among the ranges that flag it (every one is
  above the installed version), ``""`` when none of them has a fix yet.
  ``Finding.advisories`` lists, sorted, the ids of every advisory that flags it.
* **Bad data never stops a recompute.** An entry whose version strings are not valid
  for the release's scheme, whose ``scheme`` disagrees with its release, or that lacks
  a release or package is left out and recorded in :attr:`AdvisoryIndex.skipped`. An
  installed version that does not parse matches nothing (no findings; ``state_of``
  returns ``None``).

:func:`device_state` turns a finding and what one device's package manager offers
(:class:`Candidate`) into that device's :class:`~patchfleet.core.advisories.FixState`;
:func:`delta` serves the "one device's inventory changed" path.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Container, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from patchfleet.core.advisories import Advisory, AffectedPackage, FixState, scheme_of
from patchfleet.core.updates import Update, UpdateState
from patchfleet.core.versions import Scheme, VersionError, VersionKey, sort_key

__all__ = [
    "AdvisoryIndex",
    "Candidate",
    "Finding",
    "Installed",
    "InventoryDelta",
    "Skipped",
    "delta",
    "device_state",
]

# Feeds write "since the first version" as an absent or a zero "introduced" (OSV).
_SINCE_FIRST: Final = frozenset({"", "0"})


@dataclass(frozen=True, slots=True)
class Installed:
    """One distinct installed ``(release, package, version)`` of the fleet.

    ``package`` is named as advisories name it: the source package on Debian and
    Ubuntu, the binary rpm name on rpm distributions.
    """

    release: str
    package: str
    version: str


@dataclass(frozen=True, slots=True)
class Finding:
    """An installed tuple is affected by a CVE.

    Attributes:
        fixed: The lowest version of this release that fixes it (always above
            ``version``); ``""`` when no fix is published yet.
        advisories: Sorted ids of the advisories that flag this tuple for this CVE.
    """

    release: str
    package: str
    version: str
    cve: str
    fixed: str
    advisories: tuple[str, ...]

    @property
    def installed(self) -> Installed:
        """The installed tuple this finding is about."""
        return Installed(self.release, self.package, self.version)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An advisory entry the index left out, and why (for the recompute's log)."""

    advisory: str
    release: str
    package: str
    reason: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a device's package manager offers for a package of the finding's source.

    ``installable`` is false when the update is held, phased or blocked
    (:class:`~patchfleet.core.updates.UpdateState`).
    """

    version: str
    installable: bool = True

    @classmethod
    def of(cls, update: Update) -> Candidate:
        """The candidate a pending update offers."""
        return cls(update.candidate_version, update.state is UpdateState.INSTALLABLE)


@dataclass(frozen=True, slots=True)
class InventoryDelta:
    """What one device's inventory change means for matching.

    Attributes:
        added: Tuples the device has now and did not have before.
        removed: Tuples the device no longer has.
        computed: The added tuples that were not ``known`` and were matched now; the
            caller records them as computed even when they have no findings.
        findings: The findings of ``computed``, by release, package, version and CVE.
    """

    added: frozenset[Installed]
    removed: frozenset[Installed]
    computed: frozenset[Installed]
    findings: tuple[Finding, ...]


# One range of one (release, package): cve, introduced key (None = since the first
# version), last_affected key (None = unbounded), fixed version ("" = no fix), and the
# ids of the advisories stating it. The fixed key lives in a parallel list.
_Range: TypeAlias = tuple[
    str, VersionKey | None, VersionKey | None, str, frozenset[str]
]


@dataclass(slots=True)
class _Entry:
    """Everything the index knows about one ``(release, package)``."""

    scheme: Scheme
    cves: frozenset[str]  # CVEs with a usable range or a not-affected statement
    not_affected: frozenset[str]
    fixed_keys: list[VersionKey]  # ascending
    fixed_ranges: list[_Range]  # parallel to fixed_keys
    open_ranges: list[_Range]  # no fix at all


@dataclass(slots=True)
class _Triple:
    """What the advisories say about one ``(release, package, cve)`` while building."""

    not_affected: bool = False
    # (introduced, fixed, last_affected) as strings ("" = none) -> advisory ids
    ranges: dict[tuple[str, str, str], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )


class AdvisoryIndex:
    """Advisory ranges indexed by ``(release, package)`` for fast matching.

    Built once per recompute with :meth:`build`; read-only afterwards apart from a
    cache of sort keys holding one key per distinct version it has seen (bounded by
    the fleet's distinct versions), which makes re-matching a version cheap. Safe to
    share between threads: a race on the cache only computes a key twice. See the
    module docstring for the matching semantics.
    """

    __slots__ = ("_entries", "_keys", "ranges", "skipped")

    def __init__(
        self,
        entries: dict[tuple[str, str], _Entry],
        skipped: tuple[Skipped, ...],
        keys: dict[Scheme, dict[str, VersionKey | None]],
    ) -> None:
        """Use :meth:`build`; this takes its finished tables."""
        self._entries = entries
        self._keys = keys
        self.skipped = skipped
        """Advisory entries left out (bad version, scheme mismatch, no package)."""
        self.ranges = sum(
            len(e.fixed_ranges) + len(e.open_ranges) for e in entries.values()
        )
        """Distinct ranges held, after merging identical ranges of several advisories."""

    @classmethod
    def build(cls, advisories: Iterable[Advisory]) -> AdvisoryIndex:
        """Index the ranges of every non-withdrawn advisory.

        Args:
            advisories: Advisories from any feeds; several may cover one CVE.

        Returns:
            The index; entries that cannot be used are listed in ``skipped``.
        """
        keys: dict[Scheme, dict[str, VersionKey | None]] = {s: {} for s in Scheme}
        triples: dict[tuple[str, str, str], _Triple] = defaultdict(_Triple)
        skipped: list[Skipped] = []
        for advisory in advisories:
            if advisory.withdrawn or not advisory.cves:
                continue
            cves = dict.fromkeys(advisory.cves)  # deduplicated, in order
            for affected in advisory.affected:
                problem = _check(affected, keys)
                if problem:
                    skipped.append(
                        Skipped(
                            advisory.id, affected.release, affected.package, problem
                        )
                    )
                    continue
                bounds = (
                    "" if affected.introduced in _SINCE_FIRST else affected.introduced,
                    affected.fixed,
                    affected.last_affected,
                )
                for cve in cves:
                    triple = triples[(affected.release, affected.package, cve)]
                    if affected.not_affected:
                        triple.not_affected = True
                    else:
                        triple.ranges[bounds].add(advisory.id)
        return cls(_entries(triples, keys), tuple(skipped), keys)

    @property
    def packages(self) -> int:
        """How many ``(release, package)`` pairs the index knows."""
        return len(self._entries)

    def _key(self, scheme: Scheme, version: str) -> VersionKey | None:
        cache = self._keys[scheme]
        try:
            return cache[version]
        except KeyError:
            key = _parse(scheme, version)
            cache[version] = key
            return key

    def match(self, item: Installed) -> list[Finding]:
        """The findings of one installed tuple, sorted by CVE.

        Args:
            item: The installed tuple.

        Returns:
            One finding per CVE that affects it; empty when none does or the version
            does not parse.
        """
        entry = self._entries.get((item.release, item.package))
        if entry is None:
            return []
        key = self._key(entry.scheme, item.version)
        if key is None:
            return []
        return _match(entry, key, item)

    def findings(self, installed: Iterable[Installed]) -> Iterator[Finding]:
        """The findings of every distinct installed tuple.

        Args:
            installed: Distinct tuples; a repeated tuple is matched once.

        Yields:
            Findings, tuple by tuple in input order, each tuple's sorted by CVE.
        """
        entries = self._entries
        seen: set[Installed] = set()
        for item in installed:
            entry = entries.get((item.release, item.package))
            if entry is None or item in seen:
                continue
            seen.add(item)
            key = self._key(entry.scheme, item.version)
            if key is not None:
                yield from _match(entry, key, item)

    def state_of(
        self, item: Installed, cve: str, candidates: Iterable[Candidate] = ()
    ) -> FixState | None:
        """Where an installed tuple stands with one CVE, for detail views.

        Args:
            item: The installed tuple.
            cve: The CVE id.
            candidates: What the device is offered for the package; none means no
                fix is installable.

        Returns:
            ``NOT_AFFECTED`` when a feed says so or the version is outside every range
            the index holds for this ``(release, package, cve)``; the
            :func:`device_state` when affected; ``None`` when nothing is known (no
            usable range for that CVE and package, or an unparsable version).
        """
        entry = self._entries.get((item.release, item.package))
        if entry is None or cve not in entry.cves:
            return None
        if cve in entry.not_affected:
            return FixState.NOT_AFFECTED
        key = self._key(entry.scheme, item.version)
        if key is None:
            return None
        for finding in _match(entry, key, item):
            if finding.cve == cve:
                return device_state(finding, candidates, entry.scheme)
        return FixState.NOT_AFFECTED


def device_state(
    finding: Finding, candidates: Iterable[Candidate], scheme: Scheme | None = None
) -> FixState:
    """One device's state with one finding, given what its package manager offers.

    Args:
        finding: The finding for the device's installed tuple.
        candidates: The versions the device could move to for that package (several
            for a source package with several binaries); unparsable ones are ignored.
        scheme: The version scheme; by default that of ``finding.release``.

    Returns:
        ``NO_FIX_YET`` when no fix is published; ``FIXED_INSTALLABLE`` when an
        installable candidate is at or above the fix; otherwise
        ``FIXED_NOT_INSTALLABLE`` (held, phased, blocked, the fixing repository is
        missing, or no candidate at all).
    """
    if not finding.fixed:
        return FixState.NO_FIX_YET
    scheme = scheme_of(finding.release) if scheme is None else scheme
    fixed = _parse(scheme, finding.fixed)
    if fixed is None:  # not from an index; never installable
        return FixState.FIXED_NOT_INSTALLABLE
    for candidate in candidates:
        if not candidate.installable or not candidate.version:
            continue
        key = _parse(scheme, candidate.version)
        if key is not None and key >= fixed:
            return FixState.FIXED_INSTALLABLE
    return FixState.FIXED_NOT_INSTALLABLE


def delta(
    index: AdvisoryIndex,
    before: Iterable[Installed],
    after: Iterable[Installed],
    *,
    known: Container[Installed] = frozenset(),
) -> InventoryDelta:
    """What one device's inventory change requires: match only what is new to the fleet.

    Args:
        index: The current advisory index.
        before: The device's tuples before the change.
        after: The device's tuples now.
        known: Tuples whose findings the caller already holds (matched earlier, with
            or without findings); they are not matched again.

    Returns:
        The tuples added and removed, and the findings of the added tuples that were
        not known. Whether a removed tuple is still installed elsewhere is the
        caller's question.
    """
    old = before if isinstance(before, AbstractSet) else frozenset(before)
    new = after if isinstance(after, AbstractSet) else frozenset(after)
    added = frozenset(new - old)
    fresh = sorted(
        (item for item in added if item not in known),
        key=lambda item: (item.release, item.package, item.version),
    )
    return InventoryDelta(
        added=added,
        removed=frozenset(old - new),
        computed=frozenset(fresh),
        findings=tuple(index.findings(fresh)),
    )


# building -----------------------------------------------------------------------------


def _parse(scheme: Scheme, version: str) -> VersionKey | None:
    try:
        return sort_key(scheme, version)
    except VersionError:
        return None


def _check(
    affected: AffectedPackage, keys: dict[Scheme, dict[str, VersionKey | None]]
) -> str:
    """Why an entry cannot be indexed, or ``""``; caches the keys it parses."""
    if not affected.release or not affected.package:
        return "no release or package"
    scheme = scheme_of(affected.release)
    if affected.scheme != scheme:
        return f"scheme {affected.scheme} does not match release {affected.release}"
    if affected.not_affected:
        return ""
    cache = keys[scheme]
    for name, version in (
        ("introduced", affected.introduced),
        ("fixed", affected.fixed),
        ("last_affected", affected.last_affected),
    ):
        if not version:
            continue
        if version not in cache:
            cache[version] = _parse(scheme, version)
        if cache[version] is None:
            return f"invalid {scheme} version {version!r} in {name}"
    return ""


def _entries(
    triples: dict[tuple[str, str, str], _Triple],
    keys: dict[Scheme, dict[str, VersionKey | None]],
) -> dict[tuple[str, str], _Entry]:
    """Turn per-CVE statements into per-package range tables."""
    grouped: dict[tuple[str, str], list[tuple[str, _Triple]]] = defaultdict(list)
    for (release, package, cve), triple in triples.items():
        grouped[(release, package)].append((cve, triple))
    entries: dict[tuple[str, str], _Entry] = {}
    for (release, package), items in grouped.items():
        scheme = scheme_of(release)
        cache = keys[scheme]
        fixed: list[tuple[VersionKey, _Range]] = []
        open_ranges: list[_Range] = []
        for cve, triple in items:
            if not triple.not_affected:
                _add_ranges(cve, triple, cache, fixed, open_ranges)
        fixed.sort(key=lambda pair: (pair[0], pair[1][0], pair[1][3]))
        entries[(release, package)] = _Entry(
            scheme=scheme,
            cves=frozenset(cve for cve, _ in items),
            not_affected=frozenset(cve for cve, t in items if t.not_affected),
            fixed_keys=[k for k, _ in fixed],
            fixed_ranges=[r for _, r in fixed],
            open_ranges=open_ranges,
        )
    return entries


def _add_ranges(
    cve: str,
    triple: _Triple,
    cache: dict[str, VersionKey | None],
    fixed: list[tuple[VersionKey, _Range]],
    open_ranges: list[_Range],
) -> None:
    """Add one CVE's ranges, closing fixless ones at the lowest fix above them."""

    def key(version: str) -> VersionKey | None:
        return cache[version] if version else None

    fixes = sorted({(k, f) for _, f, _ in triple.ranges if (k := key(f)) is not None})
    fix_keys = [k for k, _ in fixes]
    merged: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for (introduced, fix, last), ids in triple.ranges.items():
        if not fix and fixes:
            start = key(introduced)
            at = 0 if start is None else bisect_left(fix_keys, start)
            if at < len(fixes):
                fix = fixes[at][1]
        merged[(introduced, fix, last)] |= ids
    for (introduced, fix, last), ids in merged.items():
        item: _Range = (cve, key(introduced), key(last), fix, frozenset(ids))
        fix_key = key(fix)
        if fix_key is None:
            open_ranges.append(item)
        else:
            fixed.append((fix_key, item))


# matching -----------------------------------------------------------------------------


def _match(entry: _Entry, key: VersionKey, item: Installed) -> list[Finding]:
    """Findings of one parsed installed version against one package's ranges."""
    # cve -> (lowest fix, advisory ids); fixed ranges come in ascending fix order.
    hits: dict[str, tuple[str, set[str]]] = {}
    ranges = entry.fixed_ranges
    for at in range(bisect_right(entry.fixed_keys, key), len(ranges)):
        cve, start, last, fix, ids = ranges[at]
        if (start is None or start <= key) and (last is None or key <= last):
            hit = hits.get(cve)
            if hit is None:
                hits[cve] = (fix, set(ids))
            else:
                hit[1].update(ids)
    for cve, start, last, fix, ids in entry.open_ranges:
        if (start is None or start <= key) and (last is None or key <= last):
            hit = hits.get(cve)
            if hit is None:
                hits[cve] = (fix, set(ids))
            else:
                hit[1].update(ids)
    if not hits:
        return []
    release, package, version = item.release, item.package, item.version
    return [
        Finding(release, package, version, cve, fix, tuple(sorted(ids)))
        for cve, (fix, ids) in sorted(hits.items())
    ]
