"""The read side of remediation SLAs (BP-08): items, figures and their read models.

Items are a device's missing patches (``device_updates``; priority and KEV through
``services.patch_intel``) and its CVEs (``device_cves``; priority by ``core.risk``),
measured from first detection by the client's policy (``core.sla``), plus the
remediations recorded from install jobs (``services.sla.record_outcomes``).  CVE items
are open items only: a CVE closes through the patch that fixes it, which is what time
to patch measures.

One concept in one module (models, collection, filters, figures), so the API, the
pages and report generators read the same numbers: :func:`sla_items` and
:func:`sla_summary` (each one transaction, ``now`` passed in).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from patchfleet.core.advisories import EpssScore, FixState, KevEntry
from patchfleet.core.errors import InvalidInputError
from patchfleet.core.risk import Band, Exposure, rank_cve
from patchfleet.core.sla import (
    ClientOverride,
    DueRule,
    SlaFigures,
    SlaPolicy,
    SlaStatus,
    Verdict,
    assess,
    effective_policy,
    figures,
    to_days,
    verdict,
)
from patchfleet.core.tenancy import Scope
from patchfleet.server.db.queries import cve_views
from patchfleet.server.db.queries import sla as q
from patchfleet.server.db.sla_rows import RemediationRow, SlaPolicyRow
from patchfleet.server.services.patch_intel import PatchIntel, client_patch_intel
from patchfleet.server.services.views import Page, View

DEFAULT_WINDOW_DAYS = 90
MAX_WINDOW_DAYS = 3650
# A device-CVE pair through several packages shows its most actionable state.
_STATE_ORDER = (
    str(FixState.FIXED_INSTALLABLE),
    str(FixState.FIXED_NOT_INSTALLABLE),
    str(FixState.NO_FIX_YET),
)
Policies = dict[int | None, SlaPolicyRow]


class ItemKind(StrEnum):
    """What an SLA item is about."""

    PATCH = "patch"  # a missing patch on a device
    CVE = "cve"  # a CVE affecting a device


class StatusFilter(StrEnum):
    """The statuses an item list can be narrowed to (``open``/``closed`` group them)."""

    OPEN = "open"
    CLOSED = "closed"
    WITHIN = "within"
    DUE_SOON = "due-soon"
    OVERDUE = "overdue"
    MET = "met"
    MISSED = "missed"

    def matches(self, status: SlaStatus) -> bool:
        """Whether an item with ``status`` passes this filter."""
        if self is StatusFilter.OPEN:
            return status.is_open
        if self is StatusFilter.CLOSED:
            return not status.is_open
        return status == SlaStatus(self.value)


class PolicyValues(View):
    """Days to remediate, by priority (KEV items follow CISA's due date)."""

    kev_days: int = Field(ge=1, le=3650)
    critical_days: int = Field(ge=1, le=3650)
    high_days: int = Field(ge=1, le=3650)
    medium_days: int = Field(ge=1, le=3650)
    low_days: int = Field(ge=1, le=3650)

    @classmethod
    def of(cls, policy: SlaPolicy) -> PolicyValues:
        """The values of a core policy."""
        return cls(
            kev_days=policy.kev_days,
            critical_days=policy.critical_days,
            high_days=policy.high_days,
            medium_days=policy.medium_days,
            low_days=policy.low_days,
        )

    def to_core(self) -> SlaPolicy:
        """As a core policy."""
        return SlaPolicy(
            kev_days=self.kev_days,
            critical_days=self.critical_days,
            high_days=self.high_days,
            medium_days=self.medium_days,
            low_days=self.low_days,
        )


class SlaPolicyView(View):
    """The SLA policy at the partner level or of one client.

    ``effective`` applies; ``source`` says where it comes from (``default``,
    ``partner`` or ``client``).  For a client, ``own`` holds its stored values (None
    when it never stored any) and ``inherited`` the partner's that apply with Use
    Parent Level.
    """

    client_id: int | None
    client_name: str
    use_parent_level: bool
    source: str
    effective: PolicyValues
    own: PolicyValues | None
    inherited: PolicyValues
    updated_at: datetime | None


class SlaItem(View):
    """One item measured against the SLA: a device's missing patch or CVE.

    ``key`` is the patch id (``apt:name@version``) or the CVE id.  Open items carry
    ``days_left`` (negative once overdue); remediated ones ``installed_at`` and
    ``time_to_patch_days``.
    """

    kind: ItemKind
    key: str
    title: str
    device_id: uuid.UUID
    hostname: str
    client_id: int
    client_name: str
    band: str
    kev: bool
    kev_due_date: date | None
    cves: list[str]
    fix_state: str
    first_seen_at: datetime
    due_at: datetime
    rule: str
    status: SlaStatus
    installed_at: datetime | None = None
    time_to_patch_days: float | None = None
    days_left: float | None = None


class FiguresView(View):
    """Open items by status, remediations in the window and time to patch (days)."""

    within: int
    due_soon: int
    overdue: int
    open: int
    met: int
    missed: int
    remediated: int
    mean_days: float | None
    median_days: float | None
    within_sla_percent: float | None

    @classmethod
    def of(cls, f: SlaFigures) -> FiguresView:
        """The view of core figures."""
        return cls(
            within=f.within,
            due_soon=f.due_soon,
            overdue=f.overdue,
            open=f.open,
            met=f.met,
            missed=f.missed,
            remediated=f.remediated,
            mean_days=f.mean_days,
            median_days=f.median_days,
            within_sla_percent=f.within_sla_percent,
        )

    def count(self, status: str) -> int:
        """The count a status tile shows (``open``/``closed`` group statuses)."""
        return {
            "within": self.within,
            "due-soon": self.due_soon,
            "overdue": self.overdue,
            "met": self.met,
            "missed": self.missed,
            "open": self.open,
            "closed": self.remediated,
        }[status]


class ClientFigures(FiguresView):
    """One client's row of the partner roll-up."""

    client_id: int
    client_name: str
    policy_source: str


class SlaSummary(View):
    """SLA figures of a scope: totals and, per client, the partner roll-up.

    Remediations count when installed within ``window_days`` before ``now``
    (from ``since``); open items count as they stand at ``now``.
    """

    client_id: int | None
    kind: ItemKind | None
    window_days: int
    since: datetime
    now: datetime
    totals: FiguresView
    clients: list[ClientFigures]


# Policies and KEV dates --------------------------------------------------------------


def effective(rows: Policies, client_id: int | None) -> tuple[SlaPolicy, str]:
    """The policy applying to a client (None: the partner level) and its source."""
    partner = rows.get(None)
    own = rows.get(client_id) if client_id is not None else None
    policy, source = effective_policy(
        partner=q.to_policy(partner) if partner else None,
        client=ClientOverride(own.use_parent_level, q.to_policy(own)) if own else None,
    )
    return policy, str(source)


def kev_due(cves: Iterable[str], facts: dict[str, Any]) -> date | None:
    """The earliest CISA due date among the KEV-listed CVEs."""
    dues = [
        f["due_date"]
        for c in cves
        if (f := facts.get(c, {})).get("date_added") and f.get("due_date")
    ]
    return min(dues, default=None)


def kev_facts(session: Session, intel: Iterable[PatchIntel]) -> dict[str, Any]:
    """KEV facts (due dates) of the CVEs of KEV-listed patches."""
    return cve_views.cve_facts(session, [c for i in intel if i.kev for c in i.cves])


# Items ------------------------------------------------------------------------------

_Entry = tuple[SlaItem, Verdict]


class _Context:
    """What every item of one request needs: the clock, policies and names."""

    def __init__(
        self, session: Session, scope: Scope, now: datetime, window_days: int
    ) -> None:
        rows = q.policies(session, scope.partner_id)
        self.now = now
        self.since = now - timedelta(days=window_days)
        self.policies = {c: effective(rows, c) for c in scope.client_ids}
        self.names = q.client_names(session, scope.client_ids)

    def policy(self, client_id: int) -> SlaPolicy:
        return self.policies[client_id][0]


def _item(
    ctx: _Context, v: Verdict, *, client_id: int, **fields: Any
) -> tuple[SlaItem, Verdict]:
    item = SlaItem(
        client_id=client_id,
        client_name=ctx.names.get(client_id, ""),
        due_at=v.due_at,
        rule=str(v.rule),
        status=v.status,
        time_to_patch_days=(
            to_days(v.time_to_patch) if v.time_to_patch is not None else None
        ),
        days_left=to_days(v.time_left) if v.time_left is not None else None,
        **fields,
    )
    return item, v


def _patch_entries(session: Session, scope: Scope, ctx: _Context) -> list[_Entry]:
    first: dict[tuple[uuid.UUID, str], Any] = {}
    for r in q.open_patches(session, scope.client_ids):
        key = (r.device_uuid, r.patch_id)  # one item per patch, whatever the arches
        if key not in first or r.first_seen_at < first[key].first_seen_at:
            first[key] = r
    by_client: dict[int, set[str]] = defaultdict(set)
    for r in first.values():
        by_client[r.client_id].add(r.patch_id)
    intel = {
        cid: client_patch_intel(session, cid, sorted(ids), today=ctx.now.date())
        for cid, ids in by_client.items()
    }
    facts = kev_facts(session, (i for m in intel.values() for i in m.values()))
    out = []
    for r in first.values():
        i = intel[r.client_id].get(r.patch_id)
        kev = bool(i and i.kev)
        due = kev_due(i.cves, facts) if i and kev else None
        band = i.priority.band if i else Band.NONE
        v = assess(
            first_seen_at=r.first_seen_at,
            band=band,
            kev=kev,
            kev_due_date=due,
            policy=ctx.policy(r.client_id),
            now=ctx.now,
        )
        out.append(
            _item(
                ctx,
                v,
                client_id=r.client_id,
                kind=ItemKind.PATCH,
                key=r.patch_id,
                title=f"{r.name} {r.candidate_version}",
                device_id=r.device_uuid,
                hostname=r.hostname,
                band=str(band),
                kev=kev,
                kev_due_date=due,
                cves=list(i.cves) if i else r.cves.split(),
                fix_state=r.state,
                first_seen_at=r.first_seen_at,
            )
        )
    return out


def _cve_band(r: Any, vendor: str, today: date) -> Band:
    kev = (
        KevEntry(r.cve, r.date_added, r.due_date, bool(r.ransomware))
        if r.date_added
        else None
    )
    epss = (
        EpssScore(r.cve, r.probability, r.percentile or 0.0)
        if r.probability is not None
        else None
    )
    return rank_cve(
        r.cve,
        kev=kev,
        epss=epss,
        cvss=r.cvss_score,
        severity="" if r.cvss_score is not None else vendor,
        exposure=Exposure(devices=1),
        today=today,
    ).band


def _cve_entries(session: Session, scope: Scope, ctx: _Context) -> list[_Entry]:
    pairs: dict[tuple[uuid.UUID, str], list[Any]] = defaultdict(list)
    for r in q.open_cves(session, scope.client_ids):
        pairs[(r.device_uuid, r.cve)].append(r)
    unscored = [k[1] for k, rs in pairs.items() if rs[0].cvss_score is None]
    texts = cve_views.advisory_texts(session, unscored)
    out = []
    for (device_uuid, cve), rs in pairs.items():
        r = min(rs, key=lambda x: x.first_seen_at)
        band = _cve_band(r, texts.get(cve, ("", ""))[1], ctx.now.date())
        kev = r.date_added is not None
        v = assess(
            first_seen_at=r.first_seen_at,
            band=band,
            kev=kev,
            kev_due_date=r.due_date if kev else None,
            policy=ctx.policy(r.client_id),
            now=ctx.now,
        )
        states = {x.state for x in rs}
        out.append(
            _item(
                ctx,
                v,
                client_id=r.client_id,
                kind=ItemKind.CVE,
                key=cve,
                title=", ".join(sorted({x.package for x in rs})),
                device_id=device_uuid,
                hostname=r.hostname,
                band=str(band),
                kev=kev,
                kev_due_date=r.due_date if kev else None,
                cves=[cve],
                fix_state=next((s for s in _STATE_ORDER if s in states), r.state),
                first_seen_at=r.first_seen_at,
            )
        )
    return out


def _remediated_entries(session: Session, scope: Scope, ctx: _Context) -> list[_Entry]:
    out = []
    for r in q.remediated_since(session, scope.client_ids, ctx.since):
        out.append(_remediation_entry(ctx, r))
    return out


def _remediation_entry(ctx: _Context, r: RemediationRow) -> _Entry:
    v = verdict(
        first_seen_at=r.first_seen_at,
        due_at=r.due_at,
        rule=DueRule(r.rule),
        now=ctx.now,
        installed_at=r.installed_at,
    )
    return _item(
        ctx,
        v,
        client_id=r.client_id,
        kind=ItemKind.PATCH,
        key=r.patch_id,
        title=f"{r.name} {r.version}",
        device_id=r.device_uuid,
        hostname=r.hostname,
        band=r.band,
        kev=r.kev,
        kev_due_date=r.kev_due_date,
        cves=r.cves.split(),
        fix_state="installed",
        first_seen_at=r.first_seen_at,
        installed_at=r.installed_at,
    )


def _window(window_days: int) -> int:
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise InvalidInputError(
            f"window_days must be between 1 and {MAX_WINDOW_DAYS}",
            loc=("query", "window_days"),
        )
    return window_days


def _entries(
    session: Session, scope: Scope, ctx: _Context, kind: ItemKind | None
) -> list[_Entry]:
    found = []
    if kind in (None, ItemKind.PATCH):
        found += _patch_entries(session, scope, ctx)
        found += _remediated_entries(session, scope, ctx)
    if kind in (None, ItemKind.CVE):
        found += _cve_entries(session, scope, ctx)
    return found


def _matches(item: SlaItem, band: str, needle: str) -> bool:
    if band and item.band != band:
        return False
    haystack = (item.hostname, item.key, item.title, *item.cves)
    return not needle or any(needle in text.lower() for text in haystack)


def sla_items(
    session: Session,
    *,
    scope: Scope,
    now: datetime,
    status: StatusFilter | None = None,
    kind: ItemKind | None = None,
    band: Band | None = None,
    search: str = "",
    window_days: int = DEFAULT_WINDOW_DAYS,
    page: int = 1,
    page_size: int = 100,
) -> Page[SlaItem]:
    """Items in scope: open ones as they stand at ``now``, remediated ones installed
    within ``window_days`` before it; most urgent first (by deadline, open first).

    A status tile of :func:`sla_summary` with the same ``kind`` and ``window_days``
    counts exactly the items this returns for that status.
    """
    with session.begin():
        ctx = _Context(session, scope, now, _window(window_days))
        entries = _entries(session, scope, ctx, kind)
    needle = search.strip().lower()
    items = [
        item
        for item, v in entries
        if (status is None or status.matches(v.status))
        and _matches(item, str(band or ""), needle)
    ]
    items.sort(
        key=lambda i: (not i.status.is_open, i.due_at, i.hostname, i.kind, i.key)
    )
    start = (page - 1) * page_size
    return Page[SlaItem](
        items=items[start : start + page_size],
        total=len(items),
        page=page,
        page_size=page_size,
    )


def sla_summary(
    session: Session,
    *,
    scope: Scope,
    now: datetime,
    window_days: int = DEFAULT_WINDOW_DAYS,
    kind: ItemKind | None = None,
) -> SlaSummary:
    """SLA figures of the scope and one roll-up row per client in it.

    Open items by status count as they stand at ``now``; met, missed, mean and median
    time to patch and the share within SLA count patches installed within
    ``window_days`` before ``now``.
    """
    with session.begin():
        ctx = _Context(session, scope, now, _window(window_days))
        entries = _entries(session, scope, ctx, kind)
    by_client: dict[int, list[Verdict]] = defaultdict(list)
    for item, v in entries:
        by_client[item.client_id].append(v)
    clients = [
        ClientFigures(
            client_id=cid,
            client_name=ctx.names.get(cid, ""),
            policy_source=ctx.policies[cid][1],
            **FiguresView.of(figures(by_client.get(cid, []))).model_dump(),
        )
        for cid in scope.client_ids
    ]
    clients.sort(key=lambda c: (c.client_name.lower(), c.client_id))
    return SlaSummary(
        client_id=scope.client_id,
        kind=kind,
        window_days=window_days,
        since=ctx.since,
        now=now,
        totals=FiguresView.of(figures(v for _, v in entries)),
        clients=clients,
    )
