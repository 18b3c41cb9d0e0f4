"""Missing Patches actions: approve, rate and Install Now, single or bulk (MP-05..MP-13).

Each action answers with a toast and the ``patches-changed`` htmx event, on which the
results on the page reload themselves with their current filters.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.jobs import RebootPolicy
from patchfleet.core.policy import Rating, bulk
from patchfleet.core.tenancy import Scope
from patchfleet.core.updates import split_patch_id
from patchfleet.server.services import jobs, patches, policy
from patchfleet.server.web.deps import NowDep, SessionDep, ViewerDep
from patchfleet.server.web.rendering import PageRoute, render

router = APIRouter(prefix="/patches", include_in_schema=False, route_class=PageRoute)

CHANGED_EVENT = "patches-changed"
RATED = {
    Rating.ALLOWLISTED: "Allowlisted",
    Rating.BLOCKLISTED: "Blocklisted",
    Rating.NOT_RATED: "Unrated",
}
REBOOT_WORDS = {
    RebootPolicy.NEVER: "no reboot",
    RebootPolicy.IF_REQUIRED: "reboot if required",
    RebootPolicy.FORCE: "forced reboot",
}

PatchIdsForm = Annotated[list[str], Form(alias="patch_id", default_factory=list)]
DeviceIdsForm = Annotated[
    list[uuid.UUID], Form(alias="device_id", default_factory=list)
]


def toast(
    request: Request, message: str, *, link: str = "", event: str = ""
) -> Response:
    """A success toast; ``event`` is sent as ``HX-Trigger`` so the page can refresh."""
    response = render(request, "_toast.html", message=message, link=link)
    if event:
        response.headers["HX-Trigger"] = event
    return response


def selected(patch_ids: list[str]) -> list[str]:
    """The checked patch ids, refusing an empty selection."""
    if not patch_ids:
        raise InvalidInputError("select at least one patch", loc=("body", "patch_id"))
    return patch_ids


def counted(patch_ids: list[str]) -> str:
    """ "apt:x@1" for one patch, "3 patches" for several."""
    return patch_ids[0] if len(patch_ids) == 1 else f"{len(patch_ids)} patches"


def devices_missing(
    session: SessionDep, scope: Scope, patch_ids: list[str]
) -> list[uuid.UUID]:
    """The devices in scope missing any of the patches (one query per patch, ≤ 100)."""
    found: dict[uuid.UUID, None] = {}
    for patch_id in bulk(patch_ids):
        try:
            backend, name, version = split_patch_id(patch_id)
        except ValueError as exc:
            raise InvalidInputError(str(exc), loc=("body", "patch_id")) from exc
        for device in patches.patch_devices(
            session, scope=scope, backend=backend, name=name, version=version
        ):
            found[device.id] = None
    return list(found)


@router.post("/approve")
def approve(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    patch_id: PatchIdsForm,
    approved: Annotated[bool, Form()] = True,
) -> Response:
    """Approve or unapprove the selected patches (MP-07, MP-08)."""
    ids = selected(patch_id)
    policy.approve_patches(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        patch_ids=ids,
        approved=approved,
        now=now,
    )
    verb = "Approved" if approved else "Unapproved"
    return toast(request, f"{verb} {counted(ids)}.", event=CHANGED_EVENT)


@router.post("/rate")
def rate(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    patch_id: PatchIdsForm,
    rating: Annotated[Rating, Form()],
) -> Response:
    """Allowlist, blocklist or unrate the selected patches (MP-11..MP-13)."""
    ids = selected(patch_id)
    policy.rate_patches(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        patch_ids=ids,
        rating=rating,
        comment="",
        now=now,
    )
    return toast(request, f"{RATED[rating]} {counted(ids)}.", event=CHANGED_EVENT)


def install_message(jobs_created: int, devices: int, reboot: RebootPolicy) -> str:
    """What Install Now did, in words."""
    if not jobs_created:
        return (
            f"No job created: nothing approved to install on {devices} device"
            f"{'s' if devices != 1 else ''} (unapproved and blocklisted patches"
            " are skipped)."
        )
    plural = "s" if jobs_created != 1 else ""
    return f"Install Now: {jobs_created} job{plural} created ({REBOOT_WORDS[reboot]})."


@router.post("/install")
def install(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    patch_id: PatchIdsForm,
    device_id: DeviceIdsForm,
    reboot: Annotated[RebootPolicy, Form()] = RebootPolicy.NEVER,
) -> Response:
    """Install Now (MP-10) on the given devices, else on those missing the patches."""
    ids = selected(patch_id)
    targets = device_id or devices_missing(session, viewer.scope, ids)
    created = jobs.install_now(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        device_ids=targets,
        patch_ids=ids,
        reboot=reboot,
        now=now,
    )
    message = install_message(len(created), len(targets), reboot)
    return toast(request, message, link=viewer.url("/jobs"), event=CHANGED_EVENT)
