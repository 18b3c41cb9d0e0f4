"""Install jobs: Install Now (MP-10), agent progress reports (CFG-37), lost jobs.

Every install path goes through ``plan_device``, which installs only exact target
versions of patches that ``core.policy`` approves, so a blocklisted patch is never
sent to an agent (MP-12).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.errors import NotFoundError
from patchfleet.core.jobs import (
    JobStatus,
    PatchOutcome,
    PatchStatus,
    RebootPolicy,
    abandon,
    deadline,
    final_status,
    merge_outcomes,
    transition,
)
from patchfleet.core.policy import (
    ApprovalOutcome,
    Decision,
    PatchFacts,
    Rating,
    bulk,
    is_installable_by,
)
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.core.updates import Classification, Severity, UpdateState
from patchfleet.protocol import v1
from patchfleet.server.db.queries import devices, jobs, patches
from patchfleet.server.db.rows import DeviceRow, DeviceUpdateRow, OrderRow
from patchfleet.server.services import activity, sla
from patchfleet.server.services.activity import ObjectType
from patchfleet.server.services.patch_intel import PatchIntel, client_patch_intel
from patchfleet.server.services.policy import (
    BACKEND_FAMILIES,
    ClientPolicy,
    load_client_policy,
)
from patchfleet.server.services.views import JobPatchView, JobView

PER_PATCH = timedelta(minutes=10)
MIN_DEADLINE = timedelta(minutes=30)


def facts(u: DeviceUpdateRow, intel: PatchIntel | None = None) -> PatchFacts:
    """What the policy needs to know of a missing patch (CVE facts from ``intel``)."""
    return PatchFacts(
        patch_id=u.patch_id,
        name=u.name,
        os_family=BACKEND_FAMILIES.get(u.backend, u.backend),
        first_seen_at=u.first_seen_at,
        category=Classification(u.classification),
        severity=Severity(u.severity),
        source=u.source,
        vendor_id=u.advisory_id or f"{u.name}@{u.candidate_version}",
        cves=intel.cves if intel else tuple(u.cves.split()),
        cvss=intel.cvss if intel else None,
        epss=intel.epss if intel else None,
        is_kev=intel.kev if intel else False,
        priority=intel.priority.score if intel else 0,
        state=UpdateState(u.state),
        backend=u.backend,
    )


def device_intel(
    session: Session, client_id: int, missing: Sequence[DeviceUpdateRow], now: datetime
) -> dict[str, PatchIntel]:
    """CVE facts of a device's missing patches, as its client's policy sees them."""
    return client_patch_intel(
        session, client_id, [u.patch_id for u in missing], today=now.date()
    )


def plan_device(
    missing: Sequence[DeviceUpdateRow],
    wanted: set[str] | None,
    client: ClientPolicy,
    now: datetime,
    *,
    selection_approves: bool = False,
    intel: Mapping[str, PatchIntel] | None = None,
) -> tuple[list[DeviceUpdateRow], list[tuple[DeviceUpdateRow, str]]]:
    """Split a device's wanted patches into (to install, skipped with the reason).

    With ``selection_approves`` (a configuration that selects patches by hand or by
    query, CFG-11/12) the selection stands for the approval, but a blocklisted or
    rejected patch is still never installed (MP-12).
    """
    install, skipped = [], []
    for u in missing:
        if wanted is not None and u.patch_id not in wanted:
            continue
        rating, decision = client.decide(facts(u, (intel or {}).get(u.patch_id)), now)
        if selection_approves and rating is not Rating.BLOCKLISTED:
            decision = (
                Decision(ApprovalOutcome.APPROVED, "selected by the configuration")
                if (decision.outcome is not ApprovalOutcome.REJECTED)
                else decision
            )
        if is_installable_by(decision, rating):
            install.append(u)
        else:
            skipped.append((u, decision.reason))
    return install, skipped


def _job_patch(
    u: DeviceUpdateRow, status: PatchStatus, message: str, now: datetime
) -> dict[str, object]:
    return {
        "name": u.name,
        "arch": u.arch,
        "version": u.candidate_version,
        "patch_id": u.patch_id,
        "advisory_id": u.advisory_id,
        "status": str(status),
        "message": message,
        "updated_at": now,
    }


def create_job(
    session: Session,
    device: DeviceRow,
    install: list[DeviceUpdateRow],
    skipped: list[tuple[DeviceUpdateRow, str]],
    reboot: RebootPolicy,
    principal: Principal | None,
    now: datetime,
    run_id: uuid.UUID | None = None,
) -> uuid.UUID:
    order_id = uuid.uuid4()
    devices.add_order(
        session,
        id=order_id,
        device_id=device.id,
        kind="install",
        status=str(JobStatus.PENDING),
        created_at=now,
        created_by=principal.user_id if principal else None,
        run_id=run_id,
        delivered_at=None,
        completed_at=None,
        reboot=str(reboot),
        deadline_at=deadline(
            started_at=now,
            patches=len(install),
            per_patch=PER_PATCH,
            floor=MIN_DEADLINE,
        ),
    )
    session.flush()
    rows = [_job_patch(u, PatchStatus.PENDING, "", now) for u in install]
    rows += [_job_patch(u, PatchStatus.SKIPPED, reason, now) for u, reason in skipped]
    jobs.add_patches(session, order_id, rows)
    return order_id


def install_now(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    device_ids: Sequence[uuid.UUID],
    patch_ids: Sequence[str] | None,
    reboot: RebootPolicy,
    now: datetime,
) -> list[uuid.UUID]:
    """Install approved patches on devices now (MP-10); unapproved ones are skipped.

    ``patch_ids`` None means every approved missing patch. Returns the jobs created;
    a device with nothing installable gets none.
    """
    require_role(principal, Role.OPERATOR)
    wanted = set(bulk(patch_ids)) if patch_ids is not None else None
    created = []
    with session.begin():
        found = devices.devices_in(
            session, list(set(bulk(device_ids))), scope.client_ids
        )
        if missing_ids := set(device_ids) - {d.uuid for d in found}:
            raise NotFoundError(f"device {sorted(map(str, missing_ids))[0]} not found")
        policies: dict[int, ClientPolicy] = {}
        for device in sorted(found, key=lambda d: d.hostname):
            client = policies.get(device.client_id) or load_client_policy(
                session, partner_id=scope.partner_id, client_id=device.client_id
            )
            policies[device.client_id] = client
            missing = patches.device_updates(session, device.id)
            install, skipped = plan_device(
                missing,
                wanted,
                client,
                now,
                intel=device_intel(session, device.client_id, missing, now),
            )
            if not install:
                continue
            created.append(
                create_job(session, device, install, skipped, reboot, principal, now)
            )
            activity.record(
                session,
                principal=principal,
                partner_id=scope.partner_id,
                client_id=device.client_id,
                object_type=ObjectType.INSTALL,
                action="install now",
                now=now,
                object_id=str(created[-1]),
                object_name=device.hostname,
                details={
                    "patches": [u.patch_id for u in install],
                    "skipped": [u.patch_id for u, _ in skipped],
                },
            )
    return created


def orders_for_agent(
    session: Session, due: Sequence[tuple[uuid.UUID, str, datetime]]
) -> list[v1.Order]:
    """Protocol orders for due order rows, with install targets."""
    install_ids = [o[0] for o in due if o[1] == "install"]
    targets = jobs.targets(session, install_ids) if install_ids else {}
    reboots = jobs.reboot_policies(session, install_ids) if install_ids else {}
    orders = []
    for order_id, kind, issued_at in due:
        if kind == "install":
            pts = [
                v1.PatchTarget(
                    name=p.name,
                    version=p.version,
                    arch=p.arch,
                    advisory_id=p.advisory_id,
                )
                for p in targets.get(order_id, [])
            ]
            orders.append(
                v1.Order(
                    id=order_id,
                    kind=v1.OrderKind.INSTALL,
                    issued_at=issued_at,
                    patches=pts,
                    reboot=RebootPolicy(reboots.get(order_id, "no")),
                )
            )
        else:
            orders.append(
                v1.Order(id=order_id, kind=v1.OrderKind(kind), issued_at=issued_at)
            )
    return orders


def apply_report(
    session: Session, *, device_id: int, report: v1.JobReport, now: datetime
) -> None:
    """Fold one agent report into its job (inside the caller's transaction); idempotent."""
    if jobs.report_seen(session, report.report_id):
        return
    job = jobs.job_for_device(session, order_id=report.order_id, device_id=device_id)
    if job is None:
        raise NotFoundError(f"install job {report.order_id} not found for this device")
    jobs.add_report(session, report_id=report.report_id, order_id=job.id, now=now)
    if JobStatus(job.status).is_final:
        return
    reported = [
        PatchOutcome(p.name, p.version, p.arch, p.status, p.message)
        for p in report.patches
    ]
    merged = merge_outcomes(jobs.outcomes(session, job.id), reported)
    jobs.save_outcomes(session, job.id, merged, now)
    sla.record_outcomes(
        session, device_id=device_id, order_id=job.id, outcomes=merged, now=now
    )
    job.started_at = job.started_at or now
    job.updated_at = now
    job.reboot_required = report.reboot_required
    job.rebooted = job.rebooted or report.rebooted
    job.message = report.message or job.message
    new = JobStatus.RUNNING
    if report.final:
        new = JobStatus.FAILED if report.failed else final_status(merged)
        job.completed_at = now
    job.status = str(transition(JobStatus(job.status), new))


def expire_lost(session: Session, *, now: datetime) -> int:
    """Mark install jobs that stopped reporting before their deadline as LOST."""
    with session.begin():
        lost = jobs.overdue(session, now)
        for job in lost:
            outcomes = abandon(
                jobs.outcomes(session, job.id),
                "the agent stopped reporting before the deadline",
            )
            jobs.save_outcomes(session, job.id, outcomes, now)
            job.status = str(transition(JobStatus(job.status), JobStatus.LOST))
            job.completed_at = now
    return len(lost)


def _view(row: Any, with_patches: list[JobPatchView] | None = None) -> JobView:
    order: OrderRow = row[0]
    device_uuid, hostname, client_name = row[1], row[2], row[3]
    return JobView(
        id=order.id,
        device_id=device_uuid,
        hostname=hostname,
        client_name=client_name,
        status=order.status,
        reboot=order.reboot,
        created_at=order.created_at,
        started_at=order.started_at,
        completed_at=order.completed_at,
        deadline_at=order.deadline_at,
        message=order.message,
        reboot_required=order.reboot_required,
        rebooted=order.rebooted,
        patches=with_patches or [],
    )


def list_jobs(session: Session, *, scope: Scope, limit: int = 200) -> list[JobView]:
    """Latest install jobs in scope, each with its patches (two queries)."""
    with session.begin():
        rows = jobs.jobs(session, client_ids=scope.client_ids, limit=limit)
        patches_by_job = jobs.patches_of_many(session, [r[0].id for r in rows])
        return [
            _view(
                r,
                [
                    JobPatchView.model_validate(p)
                    for p in patches_by_job.get(r[0].id, [])
                ],
            )
            for r in rows
        ]


def get_job(session: Session, *, scope: Scope, job_id: uuid.UUID) -> JobView:
    """One install job with the state of each patch (CFG-37)."""
    with session.begin():
        row = jobs.job(session, client_ids=scope.client_ids, order_id=job_id)
        if row is None:
            raise NotFoundError(f"job {job_id} not found")
        return _view(
            row,
            [JobPatchView.model_validate(p) for p in jobs.patches_of(session, job_id)],
        )
