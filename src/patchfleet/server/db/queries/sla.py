"""Remediation SLAs: policies, open items (missing patches, device CVEs), remediations.

Read queries return plain row tuples (no ORM objects) so a partner-wide SLA view over
many devices stays cheap; nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patchfleet.core.sla import SlaPolicy
from patchfleet.server.db.rows import (
    ClientRow,
    CveRow,
    DeviceCveRow,
    DeviceRow,
    DeviceUpdateRow,
    EpssRow,
    JobPatchRow,
    KevRow,
    OrderRow,
)
from patchfleet.server.db.sla_rows import RemediationRow, SlaPolicyRow

PARTNER = "partner"
BATCH = 1000


def owner(client_id: int | None) -> str:
    """The policy owner key: the partner, or one client."""
    return PARTNER if client_id is None else f"client:{client_id}"


def to_policy(row: SlaPolicyRow) -> SlaPolicy:
    """A stored policy as a core value."""
    return SlaPolicy(
        kev_days=row.kev_days,
        critical_days=row.critical_days,
        high_days=row.high_days,
        medium_days=row.medium_days,
        low_days=row.low_days,
    )


def policies(session: Session, partner_id: int) -> dict[int | None, SlaPolicyRow]:
    """The partner's stored policies by client id (None: the partner default)."""
    rows = session.scalars(
        select(SlaPolicyRow).where(SlaPolicyRow.partner_id == partner_id)
    )
    return {r.client_id: r for r in rows}


def save_policy(
    session: Session,
    *,
    partner_id: int,
    client_id: int | None,
    use_parent_level: bool,
    policy: SlaPolicy,
    user_id: int | None,
    now: datetime,
) -> SlaPolicyRow:
    """Insert or update the policy of the partner (``client_id`` None) or a client."""
    row = session.scalar(
        select(SlaPolicyRow)
        .where(
            SlaPolicyRow.partner_id == partner_id,
            SlaPolicyRow.owner == owner(client_id),
        )
        .with_for_update()
    )
    if row is None:
        row = SlaPolicyRow(
            partner_id=partner_id, client_id=client_id, owner=owner(client_id)
        )
        session.add(row)
    row.use_parent_level = use_parent_level and client_id is not None
    row.kev_days = policy.kev_days
    row.critical_days = policy.critical_days
    row.high_days = policy.high_days
    row.medium_days = policy.medium_days
    row.low_days = policy.low_days
    row.updated_at = now
    row.updated_by = user_id
    session.flush()
    return row


def client_names(session: Session, client_ids: Sequence[int]) -> dict[int, str]:
    """Client names by id."""
    rows = session.execute(
        select(ClientRow.id, ClientRow.name).where(ClientRow.id.in_(client_ids))
    )
    return {r[0]: r[1] for r in rows}


def open_patches(session: Session, client_ids: Sequence[int]) -> list[Any]:
    """Every missing patch of every device in scope, with its device."""
    return list(
        session.execute(
            select(
                DeviceRow.uuid.label("device_uuid"),
                DeviceRow.hostname,
                DeviceRow.client_id,
                DeviceUpdateRow.patch_id,
                DeviceUpdateRow.name,
                DeviceUpdateRow.candidate_version,
                DeviceUpdateRow.state,
                DeviceUpdateRow.cves,
                DeviceUpdateRow.first_seen_at,
            )
            .join(DeviceRow, DeviceRow.id == DeviceUpdateRow.device_id)
            .where(DeviceRow.client_id.in_(client_ids))
        ).all()
    )


def open_cves(session: Session, client_ids: Sequence[int]) -> list[Any]:
    """Every device-CVE pair in scope (one row per package), with the CVE's facts."""
    return list(
        session.execute(
            select(
                DeviceRow.uuid.label("device_uuid"),
                DeviceRow.hostname,
                DeviceRow.client_id,
                DeviceCveRow.cve,
                DeviceCveRow.package,
                DeviceCveRow.state,
                DeviceCveRow.first_seen_at,
                CveRow.cvss_score,
                CveRow.cvss_severity,
                KevRow.date_added,
                KevRow.due_date,
                KevRow.ransomware,
                EpssRow.probability,
                EpssRow.percentile,
            )
            .join(DeviceRow, DeviceRow.id == DeviceCveRow.device_id)
            .outerjoin(CveRow, CveRow.id == DeviceCveRow.cve)
            .outerjoin(KevRow, KevRow.cve == DeviceCveRow.cve)
            .outerjoin(EpssRow, EpssRow.cve == DeviceCveRow.cve)
            .where(DeviceRow.client_id.in_(client_ids))
        ).all()
    )


def remediated_since(
    session: Session, client_ids: Sequence[int], since: datetime
) -> list[RemediationRow]:
    """Remediations in scope installed at or after ``since``."""
    return list(
        session.scalars(
            select(RemediationRow).where(
                RemediationRow.client_id.in_(client_ids),
                RemediationRow.installed_at.is_not(None),
                RemediationRow.installed_at >= since,
            )
        )
    )


# The install-job hook ---------------------------------------------------------------


def of_order(session: Session, order_id: uuid.UUID) -> list[RemediationRow]:
    """The remediation rows of one install job."""
    return list(
        session.scalars(
            select(RemediationRow).where(RemediationRow.order_id == order_id)
        )
    )


def job_patch_ids(
    session: Session, order_id: uuid.UUID
) -> dict[tuple[str, str, str], str]:
    """Patch id of each (name, arch, version) of a job."""
    rows = session.execute(
        select(
            JobPatchRow.name,
            JobPatchRow.arch,
            JobPatchRow.version,
            JobPatchRow.patch_id,
        ).where(JobPatchRow.order_id == order_id)
    )
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def job_device(session: Session, order_id: uuid.UUID) -> Any:
    """Client, device uuid, hostname, creation time and partner of an install job."""
    return session.execute(
        select(
            DeviceRow.client_id,
            DeviceRow.uuid,
            DeviceRow.hostname,
            OrderRow.created_at,
            ClientRow.partner_id,
        )
        .join(DeviceRow, DeviceRow.id == OrderRow.device_id)
        .join(ClientRow, ClientRow.id == DeviceRow.client_id)
        .where(OrderRow.id == order_id)
    ).one()


def missing_since(
    session: Session, device_id: int, patch_ids: Sequence[str]
) -> dict[str, tuple[datetime, str]]:
    """(first seen at, reported CVEs) of a device's missing patches, by patch id."""
    out: dict[str, tuple[datetime, str]] = {}
    ids = sorted(set(patch_ids))
    for start in range(0, len(ids), BATCH):
        rows = session.execute(
            select(
                DeviceUpdateRow.patch_id,
                DeviceUpdateRow.first_seen_at,
                DeviceUpdateRow.cves,
            ).where(
                DeviceUpdateRow.device_id == device_id,
                DeviceUpdateRow.patch_id.in_(ids[start : start + BATCH]),
            )
        )
        for patch_id, seen, cves in rows:
            earlier = out.get(patch_id)
            if earlier is None or seen < earlier[0]:  # one row per arch
                out[patch_id] = (seen, cves)
    return out


def add_remediations(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert remediation rows."""
    session.add_all(RemediationRow(**r) for r in rows)
    session.flush()


def drop_remediations(session: Session, ids: Sequence[int]) -> None:
    """Delete remediation rows (patches of a job that were not installed)."""
    if ids:
        session.execute(delete(RemediationRow).where(RemediationRow.id.in_(ids)))
