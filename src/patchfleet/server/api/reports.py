"""Reports as CSV (streamed) and PDF, per client or All Clients; scheduled reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import ScheduleIn, Strict
from patchfleet.server.notify.mail import Mailer
from patchfleet.server.services import report_schedules, reports
from patchfleet.server.services.report_schedules import ReportScheduleSpec
from patchfleet.server.services.reports import ReportFormat, ReportKind

router = APIRouter(
    prefix="/api/v1",
    tags=["reports"],
    dependencies=[Depends(reject_unknown_query)],
)


class ReportKindOut(BaseModel):
    """A report kind: its columns, and whether this server can produce it."""

    kind: ReportKind
    title: str
    columns: list[str]
    available: bool
    reason: str


class ReportScheduleIn(Strict):
    """A report e-mailed on a schedule (client level, or partner level at All Clients)."""

    kind: ReportKind
    format: ReportFormat = ReportFormat.PDF
    recipients: Annotated[
        list[Annotated[str, Field(max_length=300)]],
        Field(min_length=1, max_length=report_schedules.MAX_RECIPIENTS),
    ]
    schedule: ScheduleIn
    enabled: bool = True

    def to_spec(self) -> ReportScheduleSpec:
        """The service's spec."""
        return ReportScheduleSpec(
            kind=self.kind,
            format=self.format,
            recipients=tuple(self.recipients),
            schedule=self.schedule.to_core(),
            enabled=self.enabled,
        )


class ReportScheduleOut(BaseModel):
    """A scheduled report."""

    id: uuid.UUID
    kind: ReportKind
    format: ReportFormat
    level: str
    client_id: int | None
    recipients: list[str]
    schedule: dict[str, Any]
    enabled: bool
    created_at: datetime
    last_run_at: datetime | None
    next_run_at: datetime | None
    last_error: str


class SendOut(BaseModel):
    """How Send Now went: the files e-mailed, or the mail server's error."""

    sent: bool
    files: list[str]
    error: str


def _out(row: Any) -> ReportScheduleOut:
    return ReportScheduleOut(
        id=row.uuid,
        kind=row.kind,
        format=row.format,
        level="partner" if row.client_id is None else "client",
        client_id=row.client_id,
        recipients=row.recipients,
        schedule=row.schedule,
        enabled=row.enabled,
        created_at=row.created_at,
        last_run_at=row.last_run_at,
        next_run_at=row.next_run_at,
        last_error=row.last_error,
    )


def _attachment(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store",
    }


def _mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.outlets.mailer
    return mailer


MailerDep = Annotated[Mailer, Depends(_mailer)]


@router.get("/reports")
def list_kinds(_principal: CurrentUser) -> list[ReportKindOut]:
    """Every report kind; compliance and SLA once their services are installed."""
    return [
        ReportKindOut(
            kind=i.kind,
            title=i.title,
            columns=list(i.columns),
            available=i.available,
            reason=i.reason,
        )
        for i in reports.catalogue()
    ]


@router.get(
    "/reports/{kind}.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def report_csv(
    kind: ReportKind, scope: ScopeDep, session: SessionDep, now: NowDep
) -> StreamingResponse:
    """The report as CSV with a header row, streamed while it is read (422 when the
    kind is not available here)."""
    found = reports.csv_report(session, scope=scope, kind=kind, now=now)
    return StreamingResponse(
        found.chunks, media_type=found.media_type, headers=_attachment(found.filename)
    )


@router.get(
    "/reports/{kind}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def report_pdf(
    kind: ReportKind, scope: ScopeDep, session: SessionDep, now: NowDep
) -> Response:
    """The report as a printable PDF: cover, headline figures, chart, then the table
    (at most 5,000 rows; the CSV has all)."""
    found = reports.pdf_report(session, scope=scope, kind=kind, now=now)
    return Response(
        found.content, media_type=found.media_type, headers=_attachment(found.filename)
    )


@router.post("/report-schedules", status_code=status.HTTP_201_CREATED)
def create_schedule(
    body: ReportScheduleIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ReportScheduleOut:
    """Schedule a report (partner level at All Clients)."""
    return _out(
        report_schedules.create(
            session, principal=principal, scope=scope, spec=body.to_spec(), now=now
        )
    )


@router.get("/report-schedules")
def list_schedules(scope: ScopeDep, session: SessionDep) -> list[ReportScheduleOut]:
    """Scheduled reports in scope."""
    return [_out(r) for r in report_schedules.list_in_scope(session, scope=scope)]


@router.get("/report-schedules/{schedule_id}")
def get_schedule(
    schedule_id: uuid.UUID, scope: ScopeDep, session: SessionDep
) -> ReportScheduleOut:
    """One scheduled report."""
    return _out(report_schedules.get(session, scope=scope, schedule_id=schedule_id))


@router.put("/report-schedules/{schedule_id}")
def update_schedule(
    schedule_id: uuid.UUID,
    body: ReportScheduleIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ReportScheduleOut:
    """Replace a scheduled report's settings."""
    return _out(
        report_schedules.update(
            session,
            principal=principal,
            scope=scope,
            schedule_id=schedule_id,
            spec=body.to_spec(),
            now=now,
        )
    )


@router.delete(
    "/report-schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT
)
def delete_schedule(
    schedule_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Delete a scheduled report."""
    report_schedules.delete(
        session, principal=principal, scope=scope, schedule_id=schedule_id, now=now
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/report-schedules/{schedule_id}/send")
def send_now(
    schedule_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    mailer: MailerDep,
    now: NowDep,
) -> SendOut:
    """Send Now: e-mail the report at once (the schedule is unchanged)."""
    result = report_schedules.send_now(
        session,
        principal=principal,
        scope=scope,
        schedule_id=schedule_id,
        mailer=mailer,
        now=now,
    )
    return SendOut(sent=result.sent, files=list(result.files), error=result.error)
