"""Install Now and install jobs with per-patch progress."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, status

from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import InstallNowIn, InstallNowOut
from patchfleet.server.services import jobs
from patchfleet.server.services.views import JobView

router = APIRouter(
    prefix="/api/v1",
    tags=["install jobs"],
    dependencies=[Depends(reject_unknown_query)],
)


@router.post("/install-now", status_code=status.HTTP_202_ACCEPTED)
def install_now(
    body: InstallNowIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> InstallNowOut:
    """Install the approved patches (all, or those named) on up to 100 devices now."""
    created = jobs.install_now(
        session,
        principal=principal,
        scope=scope,
        device_ids=body.device_ids,
        patch_ids=body.patch_ids,
        reboot=body.reboot,
        now=now,
    )
    return InstallNowOut(jobs=created)


@router.get("/jobs")
def list_jobs(scope: ScopeDep, session: SessionDep) -> list[JobView]:
    """Latest install jobs in scope."""
    return jobs.list_jobs(session, scope=scope)


@router.get("/jobs/{job_id}")
def get_job(job_id: uuid.UUID, scope: ScopeDep, session: SessionDep) -> JobView:
    """One install job with the state of each patch."""
    return jobs.get_job(session, scope=scope, job_id=job_id)
