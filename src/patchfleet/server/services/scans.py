"""Scan schedules (SCN-*) and Auto Patch Scan (SCN-20): scan orders on schedule.

Devices come from a query (devices enrolled later join automatically, SCN-04) or a
fixed list (SCN-05). Devices no scan schedule covers are scanned daily at 00:00 UTC
when the partner's Auto Patch Scan is on (DEC-13).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy.orm import Session

from patchfleet.core.errors import ConflictError, InvalidInputError, NotFoundError
from patchfleet.core.queries import DEVICE_FIELDS, evaluate, parse
from patchfleet.core.schedules import Frequency, Schedule, next_run, validate
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.server.db.queries import configurations, devices, scans
from patchfleet.server.db.rows import DeviceRow, ScanScheduleRow
from patchfleet.server.notify.mail import validate_address
from patchfleet.server.services import activity
from patchfleet.server.services.activity import ObjectType
from patchfleet.server.services.configurations import (
    SUMMARY_DELAY,
    device_record,
    parse_body_query,
    schedule_from_json,
    schedule_to_json,
)

NOT_FOR_SCANS = (Frequency.YEARLY, Frequency.PATCH_TUESDAY)  # SCN-07
AUTO_SCAN = Schedule(
    frequency=Frequency.DAILY, time_of_day=time(0, 0), timezone="UTC", start_date=None
)


@dataclass(frozen=True)
class ScanScheduleSpec:
    """What a user sets for a scan schedule."""

    name: str
    schedule: Schedule
    device_query: str = ""
    static_devices: tuple[uuid.UUID, ...] = ()
    clients: tuple[int, ...] | None = None
    enabled: bool = True
    notify: tuple[str, ...] = ()


def _check(spec: ScanScheduleSpec, scope: Scope) -> None:
    validate(spec.schedule)
    for address in spec.notify:
        validate_address(address, loc=("body", "notify"))
    if spec.schedule.frequency in NOT_FOR_SCANS:
        raise InvalidInputError(
            f"scan schedules cannot run {spec.schedule.frequency}",
            loc=("body", "schedule"),
        )
    if spec.device_query:
        parse_body_query(spec.device_query, DEVICE_FIELDS, "device_query")
    elif scope.is_partner_level or not spec.static_devices:
        raise InvalidInputError(
            "select devices by query (or, for one client, by list)",
            loc=("body", "device_query"),
        )


def create(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    spec: ScanScheduleSpec,
    now: datetime,
) -> ScanScheduleRow:
    """Create a scan schedule at the scope's level."""
    require_role(principal, Role.OPERATOR)
    _check(spec, scope)
    with session.begin():
        existing = scans.in_scope(
            session,
            partner_id=scope.partner_id,
            client_ids=scope.client_ids,
            partner_level=scope.is_partner_level,
        )
        if any(
            s.name == spec.name and s.client_id == scope.client_id for s in existing
        ):
            raise ConflictError(
                f"a scan schedule named {spec.name!r} exists here (SCN-03)"
            )
        row = scans.add(
            session,
            uuid=uuid.uuid4(),
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            clients=list(spec.clients) if spec.clients is not None else None,
            name=spec.name,
            device_query=spec.device_query,
            static_devices=[str(d) for d in spec.static_devices],
            notify=list(spec.notify),
            schedule=schedule_to_json(spec.schedule),
            enabled=spec.enabled,
            created_at=now,
            created_by=principal.user_id,
            last_run_at=None,
            next_run_at=next_run(spec.schedule, now),
        )
        activity.record(
            session,
            principal=principal,
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            object_type=ObjectType.SCAN,
            action="create schedule",
            now=now,
            object_id=str(row.uuid),
            object_name=row.name,
        )
    return row


def list_in_scope(session: Session, *, scope: Scope) -> list[ScanScheduleRow]:
    """Scan schedules in scope."""
    with session.begin():
        return scans.in_scope(
            session,
            partner_id=scope.partner_id,
            client_ids=scope.client_ids,
            partner_level=scope.is_partner_level,
        )


def _in_scope(
    session: Session, scope: Scope, schedule_id: uuid.UUID
) -> ScanScheduleRow:
    row = scans.by_uuid(session, partner_id=scope.partner_id, schedule_uuid=schedule_id)
    if row is None or not scope.sees(row.client_id):
        raise NotFoundError(f"scan schedule {schedule_id} not found")
    return row


def delete(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    schedule_id: uuid.UUID,
    now: datetime,
) -> None:
    """Delete a scan schedule."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        row = _in_scope(session, scope, schedule_id)
        scans.remove(session, row)
        activity.record(
            session,
            principal=principal,
            partner_id=scope.partner_id,
            client_id=row.client_id,
            object_type=ObjectType.SCAN,
            action="delete schedule",
            now=now,
            object_id=str(schedule_id),
            object_name=row.name,
        )


def _covers(
    row: ScanScheduleRow, device: DeviceRow, record: dict[str, object], now: datetime
) -> bool:
    if row.client_id is not None and device.client_id != row.client_id:
        return False
    if (
        row.client_id is None
        and row.clients is not None
        and device.client_id not in row.clients
    ):
        return False
    if row.device_query:
        return evaluate(parse(row.device_query, DEVICE_FIELDS), record, now)
    return str(device.uuid) in row.static_devices


def _order_scans(session: Session, targets: list[DeviceRow], now: datetime) -> int:
    ordered = 0
    for device in targets:
        if not devices.open_order_exists(session, device.id, "scan"):
            devices.add_order(
                session,
                id=uuid.uuid4(),
                device_id=device.id,
                kind="scan",
                status="pending",
                created_at=now,
                created_by=None,
                delivered_at=None,
                completed_at=None,
            )
            ordered += 1
    return ordered


def run(
    session: Session,
    *,
    row: ScanScheduleRow,
    trigger: str,
    now: datetime,
    principal: Principal | None = None,
) -> int:
    """Order a scan on every device the schedule covers (inside the caller's transaction)."""
    everything = configurations.partner_devices(session, row.partner_id)
    targets = [
        d for d, name in everything if _covers(row, d, device_record(d, name), now)
    ]
    ordered = _order_scans(session, targets, now)
    row.last_run_at = now
    scans.add_run(
        session,
        id=uuid.uuid4(),
        schedule_id=row.id,
        trigger=trigger,
        started_at=now,
        device_ids=[d.id for d in targets],
        summary_due_at=now + SUMMARY_DELAY,
        summary_sent_at=None,
    )
    activity.record(
        session,
        principal=principal,
        partner_id=row.partner_id,
        client_id=row.client_id,
        object_type=ObjectType.SCAN,
        action=f"run ({trigger})",
        now=now,
        object_id=str(row.uuid),
        object_name=row.name,
        details={"devices": len(targets), "ordered": ordered},
    )
    return ordered


def run_now(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    schedule_id: uuid.UUID,
    now: datetime,
) -> int:
    """Run Now (SCH-10): scan orders for every covered device."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        return run(
            session,
            row=_in_scope(session, scope, schedule_id),
            trigger="run now",
            now=now,
            principal=principal,
        )


def run_due(session: Session, *, now: datetime) -> int:
    """Run due scan schedules and schedule their next runs; returns how many ran."""
    with session.begin():
        rows = scans.due(session, now)
        for row in rows:
            run(session, row=row, trigger="schedule", now=now)
            row.next_run_at = next_run(schedule_from_json(row.schedule), now)
    return len(rows)


def auto_scan(session: Session, *, now: datetime) -> int:
    """SCN-20: once per 00:00 UTC, scan every device no scan schedule covers."""
    ordered = 0
    with session.begin():
        last = configurations.marker(session, "auto-scan")
        if last is None:  # first start: the first run is the next 00:00 UTC
            configurations.set_marker(session, "auto-scan", now)
            return 0
        due_at = next_run(AUTO_SCAN, last)
        if due_at is None or due_at > now:
            return 0
        configurations.set_marker(session, "auto-scan", now)
        for partner_id in scans.auto_scan_partners(session):
            schedules = scans.of_partner(session, partner_id)
            unassigned = []
            for device, name in configurations.partner_devices(session, partner_id):
                record = device_record(device, name)
                if not any(_covers(s, device, record, now) for s in schedules):
                    unassigned.append(device)
            ordered += _order_scans(session, unassigned, now)
    return ordered
