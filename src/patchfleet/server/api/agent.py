"""The agent API (``/agent/v1``): enroll, check-in, inventory, scan results."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response, status

from patchfleet.core.errors import InvalidInputError
from patchfleet.protocol import v1
from patchfleet.server.api.deps import AgentCredential, NowDep, SessionDep, SettingsDep
from patchfleet.server.services import agents, enrollment

router = APIRouter(prefix="/agent/v1", tags=["agent"])


def _check_version(version: int) -> None:
    if version not in v1.SUPPORTED_VERSIONS:
        raise InvalidInputError(
            f"protocol version {version} not supported; use one of {sorted(v1.SUPPORTED_VERSIONS)}",
            loc=("body", "protocol_version"),
        )


@router.post("/enroll", status_code=status.HTTP_201_CREATED)
def enroll(
    body: v1.EnrollRequest, session: SessionDep, now: NowDep, settings: SettingsDep
) -> v1.EnrollResponse:
    """Enroll a device with a client's enrollment token."""
    _check_version(body.protocol_version)
    return enrollment.enroll(
        session,
        request=body,
        now=now,
        checkin_interval=settings.checkin_interval_seconds,
    )


@router.post("/checkin")
def checkin(
    body: v1.CheckIn,
    credential: AgentCredential,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
) -> v1.CheckInResponse:
    """Heartbeat: returns the inventory wanted and pending orders."""
    _check_version(body.protocol_version)
    return agents.checkin(
        session,
        credential=credential,
        message=body,
        now=now,
        interval=settings.checkin_interval_seconds,
        redelivery=timedelta(seconds=settings.order_redelivery_seconds),
    )


@router.post("/inventory", status_code=status.HTTP_204_NO_CONTENT)
def inventory(
    body: v1.InventoryReport,
    credential: AgentCredential,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Installed packages, full or delta (409: send the full inventory)."""
    agents.ingest_inventory(session, credential=credential, report=body, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/scans", status_code=status.HTTP_204_NO_CONTENT)
def scans(
    body: v1.ScanReport, credential: AgentCredential, session: SessionDep, now: NowDep
) -> Response:
    """A scan result; repeats of the same ``scan_id`` are accepted and ignored."""
    agents.ingest_scan(session, credential=credential, report=body, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/jobs", status_code=status.HTTP_204_NO_CONTENT)
def job_report(
    body: v1.JobReport, credential: AgentCredential, session: SessionDep, now: NowDep
) -> Response:
    """Progress or the end of an install job; repeats of a ``report_id`` are ignored."""
    agents.ingest_job_report(session, credential=credential, report=body, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
