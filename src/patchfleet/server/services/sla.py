"""Remediation SLAs per client (BP-08): policies and the history of installs.

Each client has a policy (days to remediate by priority) or uses its partner's
default ("Use Parent Level"); nothing stored means the built-in defaults.  Installs
are recorded as agents report them (:func:`record_outcomes`, called by
``services.jobs.apply_report``) so that time to patch survives the next scan, which
deletes the missing-patch row.

The read side lives in ``services.sla_views``; report generators call
:func:`sla_summary` and :func:`sla_items`, re-exported here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.jobs import PatchOutcome, PatchStatus
from patchfleet.core.risk import Band
from patchfleet.core.sla import DEFAULT_POLICY, SlaPolicy, deadline
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.server.db.queries import sla as q
from patchfleet.server.services import activity
from patchfleet.server.services.activity import ObjectType
from patchfleet.server.services.patch_intel import client_patch_intel
from patchfleet.server.services.sla_views import (
    DEFAULT_WINDOW_DAYS as DEFAULT_WINDOW_DAYS,
)
from patchfleet.server.services.sla_views import MAX_WINDOW_DAYS as MAX_WINDOW_DAYS
from patchfleet.server.services.sla_views import (
    Policies,
    PolicyValues,
    SlaPolicyView,
    effective,
    kev_due,
    kev_facts,
)
from patchfleet.server.services.sla_views import sla_items as sla_items
from patchfleet.server.services.sla_views import sla_summary as sla_summary

# Job patch statuses whose remediation row is kept (captured, or completed).
_KEPT = frozenset({PatchStatus.PENDING, PatchStatus.INSTALLING, PatchStatus.INSTALLED})


# Policies ---------------------------------------------------------------------------


def _policy_view(rows: Policies, client_id: int | None, name: str) -> SlaPolicyView:
    partner = rows.get(None)
    applies, source = effective(rows, client_id)
    if client_id is None:
        own, inherited, use_parent = partner, DEFAULT_POLICY, False
    else:
        own = rows.get(client_id)
        inherited = q.to_policy(partner) if partner else DEFAULT_POLICY
        use_parent = own is None or own.use_parent_level
    return SlaPolicyView(
        client_id=client_id,
        client_name=name,
        use_parent_level=use_parent,
        source=source,
        effective=PolicyValues.of(applies),
        own=PolicyValues.of(q.to_policy(own)) if own else None,
        inherited=PolicyValues.of(inherited),
        updated_at=own.updated_at if own else None,
    )


def _scope_name(session: Session, scope: Scope) -> str:
    if scope.client_id is None:
        return "All Clients"
    return q.client_names(session, [scope.client_id]).get(scope.client_id, "")


def get_policy(session: Session, *, scope: Scope) -> SlaPolicyView:
    """The partner's default policy (All Clients) or the client's, with inheritance."""
    with session.begin():
        rows = q.policies(session, scope.partner_id)
        return _policy_view(rows, scope.client_id, _scope_name(session, scope))


def set_policy(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    use_parent_level: bool,
    policy: SlaPolicy | None,
    now: datetime,
) -> SlaPolicyView:
    """Store the partner default (All Clients) or a client's policy (admins only).

    A client with ``use_parent_level`` inherits the partner's default; its own values
    (``policy``, or those stored before) are kept for when it stops inheriting.
    """
    require_role(principal, Role.ADMIN)
    if scope.is_partner_level and use_parent_level:
        raise InvalidInputError(
            "Use Parent Level applies to clients only",
            loc=("body", "use_parent_level"),
        )
    if policy is None and not use_parent_level:
        raise InvalidInputError("give the days to remediate", loc=("body",))
    with session.begin():
        rows = q.policies(session, scope.partner_id)
        stored = rows.get(scope.client_id)
        kept = q.to_policy(stored) if stored else effective(rows, None)[0]
        q.save_policy(
            session,
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            use_parent_level=use_parent_level,
            policy=policy or kept,
            user_id=principal.user_id,
            now=now,
        )
        view = _policy_view(
            q.policies(session, scope.partner_id),
            scope.client_id,
            _scope_name(session, scope),
        )
        activity.record(
            session,
            principal=principal,
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            object_type=ObjectType.CLIENT,
            action="sla policy",
            now=now,
            object_id=str(scope.client_id or ""),
            object_name=view.client_name,
            details={
                "use_parent_level": view.use_parent_level,
                **view.effective.model_dump(),
            },
        )
    return view


# The install-job hook -----------------------------------------------------------------


def record_outcomes(
    session: Session,
    *,
    device_id: int,
    order_id: uuid.UUID,
    outcomes: Sequence[PatchOutcome],
    now: datetime,
) -> None:
    """Record the remediations of an install job's report (caller's transaction).

    The first report of a job captures each patch's first detection, band and
    deadline while the device's missing-patch row still exists (the agent reports
    before it rescans); an ``installed`` outcome stamps ``installed_at``; a patch
    that ends any other way leaves no row.  Idempotent.
    """
    known = {(r.name, r.arch, r.version): r for r in q.of_order(session, order_id)}
    new = [
        o
        for o in outcomes
        if o.status in _KEPT and (o.name, o.arch, o.version) not in known
    ]
    if new:
        _capture(session, device_id, order_id, new, now)
        known = {(r.name, r.arch, r.version): r for r in q.of_order(session, order_id)}
    dropped = []
    for o in outcomes:
        row = known.get((o.name, o.arch, o.version))
        if row is None or row.installed_at is not None:
            continue
        if o.status is PatchStatus.INSTALLED:
            row.installed_at = now
        elif o.status.is_final:
            dropped.append(row.id)
    q.drop_remediations(session, dropped)


def _capture(
    session: Session,
    device_id: int,
    order_id: uuid.UUID,
    outcomes: Sequence[PatchOutcome],
    now: datetime,
) -> None:
    job = q.job_device(session, order_id)
    patch_ids = q.job_patch_ids(session, order_id)
    wanted = [patch_ids.get((o.name, o.arch, o.version), "") for o in outcomes]
    seen = q.missing_since(session, device_id, wanted)
    intel = client_patch_intel(session, job.client_id, wanted, today=now.date())
    facts = kev_facts(session, intel.values())
    policy, _source = effective(q.policies(session, job.partner_id), job.client_id)
    rows = []
    for o, pid in zip(outcomes, wanted, strict=True):
        # Missing-patch row gone already (a scan raced the first report): the job's
        # creation is the latest moment the patch is known to have been missing.
        first_seen, reported = seen.get(pid, (job.created_at, ""))
        i = intel.get(pid)
        kev = bool(i and i.kev)
        due = kev_due(i.cves, facts) if i and kev else None
        band = i.priority.band if i else Band.NONE
        due_at, rule = deadline(
            first_seen_at=first_seen,
            band=band,
            kev=kev,
            kev_due_date=due,
            policy=policy,
        )
        rows.append(
            {
                "client_id": job.client_id,
                "device_id": device_id,
                "device_uuid": job.uuid,
                "hostname": job.hostname,
                "order_id": order_id,
                "name": o.name,
                "arch": o.arch,
                "version": o.version,
                "patch_id": pid,
                "cves": " ".join(i.cves if i else reported.split()),
                "band": str(band),
                "kev": kev,
                "kev_due_date": due,
                "first_seen_at": first_seen,
                "due_at": due_at,
                "rule": str(rule),
                "recorded_at": now,
                "installed_at": None,
            }
        )
    q.add_remediations(session, rows)
