"""Installed: install jobs and one job's per-patch progress, live while it runs (CFG-37)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

from fastapi import APIRouter, Request, Response

from patchfleet.core.jobs import JobStatus, PatchStatus
from patchfleet.server.services import jobs
from patchfleet.server.services.views import JobPatchView, JobView
from patchfleet.server.web.deps import SessionDep, ViewerDep
from patchfleet.server.web.rendering import PageRoute, is_htmx, render

router = APIRouter(prefix="/jobs", include_in_schema=False, route_class=PageRoute)

POLL_SECONDS = 2


def is_final(status: str) -> bool:
    """Whether a job in this status will not change any more (polling stops)."""
    try:
        return JobStatus(status).is_final
    except ValueError:
        return True


def is_final_patch(status: str) -> bool:
    """Whether one patch of a job has reached its outcome."""
    try:
        return PatchStatus(status).is_final
    except ValueError:
        return True


def tally(patches: Sequence[JobPatchView]) -> dict[str, int]:
    """Patches per status, with ``done`` (final) and ``total``."""
    counts = Counter(p.status for p in patches)
    done = sum(n for status, n in counts.items() if is_final_patch(status))
    return {**counts, "done": done, "total": len(patches)}


def any_active(found: Sequence[JobView]) -> bool:
    """Whether the list shows a job that may still change."""
    return any(not is_final(j.status) for j in found)


@router.get("")
def job_list(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    """Latest install jobs in scope; refreshes itself while one is active."""
    found = jobs.list_jobs(session, scope=viewer.scope)
    template = "_job_results.html" if is_htmx(request) else "jobs.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="jobs",
        found=found,
        is_final=is_final,
        tally=tally,
        is_polling=any_active(found),
    )


@router.get("/{job_id}")
def job_page(
    request: Request, job_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    """One job with each patch's state and message; htmx polls it until final."""
    job = jobs.get_job(session, scope=viewer.scope, job_id=job_id)
    template = "_job_live.html" if is_htmx(request) else "job.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="jobs",
        job=job,
        counts=tally(job.patches),
        is_polling=not is_final(job.status),
        poll_seconds=POLL_SECONDS,
    )
