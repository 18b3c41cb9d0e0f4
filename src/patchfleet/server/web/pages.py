"""Server-rendered pages (Jinja2 + htmx) over the same services as the API.

The pages live in one module per noun; this router gathers them for ``create_app``.
"""

from __future__ import annotations

from fastapi import APIRouter

from patchfleet.server.web import (
    activity,
    approvals,
    compliance,
    configurations,
    cves,
    devices,
    jobs,
    overview,
    patches,
    reports,
    scans,
    sessions,
    sla,
)

router = APIRouter(include_in_schema=False)
for _module in (
    sessions,
    overview,
    devices,
    patches,
    approvals,
    jobs,
    configurations,
    compliance,
    scans,
    activity,
    cves,
    sla,
    reports,
):
    router.include_router(_module.router)
