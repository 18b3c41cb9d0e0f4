"""Scan Schedules: the list, the two-step form, Run Now and Delete (SCN-*).

The form is the configuration wizard's (Devices → Schedule, then Finish) without the
patch step and without the yearly and Patch Tuesday frequencies (SCN-07); a service
error is shown next to the field it is about, on its step.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response, status
from fastapi.responses import RedirectResponse

from patchfleet.core.errors import ConflictError, InvalidInputError
from patchfleet.server.services import scans
from patchfleet.server.services.scans import NOT_FOR_SCANS, ScanScheduleSpec
from patchfleet.server.web.approvals import toast
from patchfleet.server.web.configurations import (
    FREQUENCIES,
    HELPERS,
    SCHEDULE_STEP,
    WizardForm,
    invalid,
    picker_url,
)
from patchfleet.server.web.deps import NowDep, SessionDep, Viewer, ViewerDep
from patchfleet.server.web.rendering import PageRoute, render

router = APIRouter(
    prefix="/scan-schedules", include_in_schema=False, route_class=PageRoute
)

SCAN_HELPERS: dict[str, Any] = {
    **HELPERS,
    "frequencies": {f: t for f, t in FREQUENCIES.items() if f not in NOT_FOR_SCANS},
}


class ScanForm(WizardForm):
    """The wizard's device and schedule fields; ``to_scan_spec`` makes the spec."""

    def to_scan_spec(self) -> ScanScheduleSpec:
        """The scan schedule to create; raises InvalidInputError at the field."""
        if not self.name.strip():
            raise invalid("name", "give the scan schedule a name")
        try:
            picked = tuple(uuid.UUID(d) for d in self.static_devices)
        except ValueError as exc:
            raise invalid("form", f"unexpected choice: {exc}") from None
        return ScanScheduleSpec(
            name=self.name.strip(),
            schedule=self.schedule(),
            device_query="" if self.is_static else self.device_query.strip(),
            static_devices=picked if self.is_static else (),
            enabled=self.enabled,
        )

    def error_field(self, exc: InvalidInputError | ConflictError) -> str:
        """The form field a service error is about ("form" when none fits)."""
        field = super().error_field(exc)
        if isinstance(exc, InvalidInputError) and exc.loc[-1:] == ("schedule",):
            return "frequency"  # a frequency scans cannot run (SCN-07)
        if field == "device_query" and self.is_static:
            return "static_devices"
        return field


NEW_FORM = ScanForm(enabled=True, frequency="daily")
ScanFormDep = Annotated[ScanForm, Form()]


def schedule_form(
    request: Request,
    viewer: Viewer,
    form: ScanForm,
    errors: dict[str, str] | None = None,
) -> Response:
    """The form, opened on the step of the first error."""
    errors = errors or {}
    step = 2 if errors and all(f in SCHEDULE_STEP for f in errors) else 1
    return render(
        request,
        "scan_schedule_new.html",
        status_code=422 if errors else 200,
        viewer=viewer,
        section="scan-schedules",
        form=form,
        errors=errors,
        step=step,
        devices_url=picker_url(
            viewer, "/configurations/new/devices", form.static_devices
        ),
        **SCAN_HELPERS,
    )


@router.get("")
def scan_schedule_list(
    request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    """Name, devices, schedule, next and last run, Run Now and Delete."""
    rows = scans.list_in_scope(session, scope=viewer.scope)
    return render(
        request,
        "scan_schedules.html",
        viewer=viewer,
        section="scan-schedules",
        rows=rows,
        client_names={c.id: c.name for c in viewer.clients},
        **SCAN_HELPERS,
    )


@router.get("/new")
def new_scan_schedule(request: Request, viewer: ViewerDep) -> Response:
    """+ Add: Devices → Schedule, then Finish."""
    return schedule_form(request, viewer, NEW_FORM)


@router.post("/new")
def create_scan_schedule(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    form: ScanFormDep,
) -> Response:
    """Save: back to the list, or to the field in error."""
    try:
        scans.create(
            session,
            principal=viewer.principal,
            scope=viewer.scope,
            spec=form.to_scan_spec(),
            now=now,
        )
    except (InvalidInputError, ConflictError) as exc:
        return schedule_form(request, viewer, form, {form.error_field(exc): str(exc)})
    target = viewer.url("/scan-schedules")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/{schedule_id}/run")
def run_now(
    request: Request,
    schedule_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Run Now: a scan order for every covered device (SCN-10)."""
    ordered = scans.run_now(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        schedule_id=schedule_id,
        now=now,
    )
    noun = "device" if ordered == 1 else "devices"
    return toast(
        request, f"Scan ordered on {ordered} {noun}.", event="scan-schedules-changed"
    )


@router.post("/{schedule_id}/delete")
def delete_scan_schedule(
    schedule_id: uuid.UUID, viewer: ViewerDep, session: SessionDep, now: NowDep
) -> Response:
    """Delete, then back to the list."""
    scans.delete(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        schedule_id=schedule_id,
        now=now,
    )
    target = viewer.url("/scan-schedules")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
