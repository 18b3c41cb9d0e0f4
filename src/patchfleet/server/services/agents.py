"""The agent side of the server: check-in, inventory and scan results.

This is the hot path (FEATURES BP-14): a check-in is one indexed lookup, one update
and one order query; inventories arrive as deltas and are written in batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from patchfleet.core.errors import (
    AuthenticationError,
    InvalidInputError,
    StaleInventoryError,
)
from patchfleet.core.packages import Package, index, inventory_delta, inventory_hash
from patchfleet.protocol import convert, v1
from patchfleet.server.db.queries import devices, patches
from patchfleet.server.services import jobs
from patchfleet.server.services.auth import digest
from patchfleet.server.services.enrollment import facts_values


def _device(session: Session, credential: str) -> tuple[int, str]:
    found = devices.device_by_credential(session, digest(credential))
    if found is None:
        raise AuthenticationError("unknown device credential")
    return found


def checkin(
    session: Session,
    *,
    credential: str,
    message: v1.CheckIn,
    now: datetime,
    interval: int,
    redelivery: timedelta,
) -> v1.CheckInResponse:
    """Record a heartbeat; say whether inventory is wanted; hand out due orders."""
    values: dict[str, object] = {}
    if message.facts is not None:
        values.update(facts_values(message.facts))
    if message.agent_version:
        values["agent_version"] = message.agent_version
    if message.reboot_required is not None:
        values["reboot_required"] = message.reboot_required
    orders: list[v1.Order] = []
    with session.begin():
        found = devices.check_in(session, digest(credential), now=now, **values)
        if found is None:
            raise AuthenticationError("unknown device credential")
        device_id, stored_hash, has_orders = found
        if has_orders:
            due = devices.due_orders(
                session, device_id, redeliver_before=now - redelivery
            )
            if due:
                devices.mark_delivered(session, [o[0] for o in due], now=now)
            orders = jobs.orders_for_agent(session, due)
    if message.inventory_hash == stored_hash and stored_hash:
        wanted = v1.InventoryWanted.NONE
    else:
        wanted = v1.InventoryWanted.DELTA if stored_hash else v1.InventoryWanted.FULL
    return v1.CheckInResponse(
        inventory=wanted, orders=orders, checkin_interval_seconds=interval
    )


def ingest_inventory(
    session: Session, *, credential: str, report: v1.InventoryReport, now: datetime
) -> None:
    """Store a full inventory, or apply a delta based on the stored hash."""
    with session.begin():
        device_id, stored_hash = _device(session, credential)
        packages = [convert.item_to_package(p) for p in report.packages]
        if report.kind == "full":
            if inventory_hash(packages) != report.hash:
                raise InvalidInputError(
                    "inventory hash does not match the packages sent",
                    loc=("body", "hash"),
                )
            if report.hash != stored_hash:
                _write_full(session, device_id, packages)
        else:
            if not stored_hash or report.base_hash != stored_hash:
                raise StaleInventoryError(
                    "delta is based on an inventory the server does not hold; send it in full"
                )
            keys = [convert.ref_to_key(r) for r in report.removed] + [
                p.key for p in packages
            ]
            devices.delete_packages(session, device_id, keys)
            devices.insert_packages(session, device_id, packages)
        devices.set_values(
            session,
            device_id,
            inventory_hash=report.hash,
            inventory_at=now,
            last_seen_at=now,
            cves_dirty=True,
        )


def _write_full(session: Session, device_id: int, packages: list[Package]) -> None:
    """Write only what differs from the stored inventory (typically 1-3 % of rows)."""
    delta = inventory_delta(
        index(devices.packages(session, device_id)), index(packages)
    )
    changed = [p.key for p in delta.upserted]
    devices.delete_packages(session, device_id, [*delta.removed, *changed])
    devices.insert_packages(session, device_id, delta.upserted)


def ingest_scan(
    session: Session, *, credential: str, report: v1.ScanReport, now: datetime
) -> bool:
    """Store a scan result once (``scan_id`` is the idempotency key); False if a repeat."""
    with session.begin():
        device_id, _ = _device(session, credential)
        if patches.scan_exists(session, report.scan_id):
            return False
        updates = [convert.item_to_update(u) for u in report.updates]
        patches.add_scan(
            session,
            id=report.scan_id,
            device_id=device_id,
            order_id=report.order_id,
            started_at=report.started_at,
            finished_at=report.finished_at,
            received_at=now,
            backend=report.backend,
            status=str(report.status),
            error=report.error,
            update_count=len(updates),
        )
        latest = devices.last_scan_at(session, device_id)
        if latest is not None and report.finished_at < latest:
            # A spooled older result arriving late is kept in history only.
            _complete(session, device_id, report, now)
            return True
        if report.status == v1.ScanStatus.OK:
            seen = patches.first_seen(session, device_id)
            patches.replace_updates(
                session,
                device_id=device_id,
                backend=report.backend,
                updates=updates,
                first_seen_at=seen,
                now=now,
            )
        devices.set_values(
            session,
            device_id,
            last_scan_at=report.finished_at,
            last_scan_status=str(report.status),
            last_scan_error=report.error,
            reboot_required=report.reboot_required,
            last_seen_at=now,
            **({"cves_dirty": True} if report.status == v1.ScanStatus.OK else {}),
        )
        _complete(session, device_id, report, now)
    return True


def _complete(
    session: Session, device_id: int, report: v1.ScanReport, now: datetime
) -> None:
    if report.order_id is not None:
        status = "completed" if report.status == v1.ScanStatus.OK else "failed"
        devices.complete_order(
            session,
            order_id=report.order_id,
            device_id=device_id,
            status=status,
            now=now,
        )


def ingest_job_report(
    session: Session, *, credential: str, report: v1.JobReport, now: datetime
) -> None:
    """Apply an install job's progress or final report (idempotent by ``report_id``)."""
    with session.begin():
        device_id, _ = _device(session, credential)
        jobs.apply_report(session, device_id=device_id, report=report, now=now)
        devices.set_values(
            session, device_id, last_seen_at=now, reboot_required=report.reboot_required
        )
