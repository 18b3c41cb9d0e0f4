"""Reports: download a report as CSV or PDF, and e-mail reports on a schedule.

The scope is the client switcher's (one client, or All Clients for partner users);
the schedule form reuses the configuration wizard's schedule fields.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import Field

from patchfleet.core.errors import ConflictError, InvalidInputError
from patchfleet.server.services import report_schedules, reports
from patchfleet.server.services.report_schedules import ReportScheduleSpec
from patchfleet.server.services.reports import ReportFormat, ReportKind
from patchfleet.server.web.approvals import toast
from patchfleet.server.web.configurations import HELPERS, WizardForm, invalid
from patchfleet.server.web.deps import NowDep, SessionDep, Viewer, ViewerDep
from patchfleet.server.web.rendering import PageRoute, error_page, render

router = APIRouter(prefix="/reports", include_in_schema=False, route_class=PageRoute)

REFRESH_EVENT = "report-schedules-changed"
FORMATS = {
    ReportFormat.PDF: "PDF",
    ReportFormat.CSV: "CSV",
    ReportFormat.BOTH: "PDF and CSV",
}
Text = Annotated[str, Field(max_length=2000)]


class DownloadFormat(StrEnum):
    """What the download buttons ask for."""

    CSV = "csv"
    PDF = "pdf"


class ReportScheduleForm(WizardForm):
    """The schedule form: report, format and recipients, then the wizard's schedule."""

    kind: Annotated[str, Field(max_length=40)] = str(ReportKind.MISSING_PATCHES)
    format: Annotated[str, Field(max_length=8)] = str(ReportFormat.PDF)
    recipients: Text = ""

    def to_report_spec(self) -> ReportScheduleSpec:
        """The schedule to create; raises InvalidInputError at the field."""
        try:
            kind = ReportKind(self.kind)
        except ValueError:
            raise invalid("kind", "choose a report") from None
        try:
            fmt = ReportFormat(self.format)
        except ValueError:
            raise invalid("format", "choose PDF, CSV or both") from None
        return ReportScheduleSpec(
            kind=kind,
            format=fmt,
            recipients=tuple(self.recipients.replace(",", " ").split()),
            schedule=self.schedule(),
            enabled=self.enabled,
        )

    def error_field(self, exc: InvalidInputError | ConflictError) -> str:
        """The form field a service error is about ("form" when none fits)."""
        if isinstance(exc, InvalidInputError) and exc.loc[-1:] in (
            ("kind",),
            ("format",),
            ("recipients",),
        ):
            return exc.loc[-1]
        return super().error_field(exc)


NEW_FORM = ReportScheduleForm(
    enabled=True, frequency="weekly", weekdays=[0], time_of_day="07:00"
)
FormDep = Annotated[ReportScheduleForm, Form()]


def reports_page(
    request: Request,
    viewer: Viewer,
    session: SessionDep,
    form: ReportScheduleForm,
    errors: dict[str, str] | None = None,
) -> Response:
    """The page: downloads, the scheduled reports, and the schedule form."""
    kinds = reports.catalogue()
    context: dict[str, Any] = {
        **HELPERS,
        "kinds": kinds,
        "titles": {str(k.kind): k.title for k in kinds},
        "formats": FORMATS,
        "rows": report_schedules.list_in_scope(session, scope=viewer.scope),
        "client_names": {c.id: c.name for c in viewer.clients},
        "row_limit": reports.PDF_ROW_LIMIT,
    }
    return render(
        request,
        "reports.html",
        status_code=422 if errors else 200,
        viewer=viewer,
        section="reports",
        form=form,
        errors=errors or {},
        **context,
    )


@router.get("")
def report_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    """Pick a report and download it; list and schedule e-mailed reports."""
    return reports_page(request, viewer, session, NEW_FORM)


@router.get("/download")
def download(
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    kind: Annotated[ReportKind, Query()],
    file_format: Annotated[DownloadFormat, Query(alias="format")] = DownloadFormat.PDF,
) -> Response:
    """The report in the switcher's scope, as an attachment (the CSV streams)."""
    headers = {"Cache-Control": "private, no-store"}
    if file_format is DownloadFormat.CSV:
        found = reports.csv_report(session, scope=viewer.scope, kind=kind, now=now)
        headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
        return StreamingResponse(
            found.chunks, media_type=found.media_type, headers=headers
        )
    pdf = reports.pdf_report(session, scope=viewer.scope, kind=kind, now=now)
    headers["Content-Disposition"] = f'attachment; filename="{pdf.filename}"'
    return Response(pdf.content, media_type=pdf.media_type, headers=headers)


@router.post("/schedules")
def create_schedule(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    form: FormDep,
) -> Response:
    """Save: back to the page, or to the field in error."""
    try:
        report_schedules.create(
            session,
            principal=viewer.principal,
            scope=viewer.scope,
            spec=form.to_report_spec(),
            now=now,
        )
    except (InvalidInputError, ConflictError) as exc:
        errors = {form.error_field(exc): str(exc)}
        return reports_page(request, viewer, session, form, errors)
    target = viewer.url("/reports")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/schedules/{schedule_id}/send")
def send_now(
    request: Request,
    schedule_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Send Now: e-mail the report at once; a toast says how it went."""
    result = report_schedules.send_now(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        schedule_id=schedule_id,
        mailer=request.app.state.outlets.mailer,
        now=now,
    )
    if not result.sent:
        response = error_page(request, 502, f"Not sent: {result.error}")
        response.headers["HX-Trigger"] = REFRESH_EVENT
        return response
    files = ", ".join(result.files)
    return toast(request, f"Report e-mailed: {files}.", event=REFRESH_EVENT)


@router.post("/schedules/{schedule_id}/delete")
def delete_schedule(
    schedule_id: uuid.UUID, viewer: ViewerDep, session: SessionDep, now: NowDep
) -> Response:
    """Delete, then back to the page."""
    report_schedules.delete(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        schedule_id=schedule_id,
        now=now,
    )
    target = viewer.url("/reports")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
