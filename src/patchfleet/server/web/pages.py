"""Server-rendered pages (Jinja2 + htmx) over the same services as the API.

The pages live in one module per noun; this router gathers them for ``create_app``.
"""

from __future__ import annotations

from fastapi import APIRouter

from patchfleet.server.web import (
    activity,
    approvals,
    configurations,
    cves,
    devices,
    jobs,
    overview,
    patches,
    scans,
    sessions,
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
    scans,
    activity,
    cves,
):
    router.include_router(_module.router)
