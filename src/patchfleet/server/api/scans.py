"""Scan schedules (SCN-*): CRUD and Run Now."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Response, status

from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import OrderedOut, ScanScheduleIn, ScanScheduleOut
from patchfleet.server.services import scans
from patchfleet.server.services.scans import ScanScheduleSpec

router = APIRouter(
    prefix="/api/v1/scan-schedules",
    tags=["scan schedules"],
    dependencies=[Depends(reject_unknown_query)],
)


def _out(row: Any) -> ScanScheduleOut:
    return ScanScheduleOut(
        id=row.uuid,
        name=row.name,
        level="partner" if row.client_id is None else "client",
        client_id=row.client_id,
        device_query=row.device_query,
        static_devices=row.static_devices,
        schedule=row.schedule,
        enabled=row.enabled,
        notify=row.notify,
        created_at=row.created_at,
        last_run_at=row.last_run_at,
        next_run_at=row.next_run_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create(
    body: ScanScheduleIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ScanScheduleOut:
    """Create a scan schedule (partner level at All Clients)."""
    spec = ScanScheduleSpec(
        name=body.name,
        schedule=body.schedule.to_core(),
        device_query=body.device_query,
        static_devices=tuple(body.static_devices),
        clients=tuple(body.clients) if body.clients is not None else None,
        enabled=body.enabled,
        notify=tuple(body.notify),
    )
    return _out(
        scans.create(session, principal=principal, scope=scope, spec=spec, now=now)
    )


@router.get("")
def list_schedules(scope: ScopeDep, session: SessionDep) -> list[ScanScheduleOut]:
    """Scan schedules in scope."""
    return [_out(r) for r in scans.list_in_scope(session, scope=scope)]


@router.delete("/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(
    schedule_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Delete a scan schedule."""
    scans.delete(
        session, principal=principal, scope=scope, schedule_id=schedule_id, now=now
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{schedule_id}/run", status_code=status.HTTP_202_ACCEPTED)
def run_now(
    schedule_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> OrderedOut:
    """Run Now: scan orders for every covered device."""
    return OrderedOut(
        ordered=scans.run_now(
            session, principal=principal, scope=scope, schedule_id=schedule_id, now=now
        )
    )
