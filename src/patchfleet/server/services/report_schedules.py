"""Scheduled reports: CRUD, Send Now, and e-mailing due reports from the scheduler.

A schedule sends one report kind, at client or partner level (All Clients), as PDF,
CSV or both, to its recipients. Reports are generated and mailed outside any
database transaction; a failed delivery is kept on the schedule (``last_error``)
and retried after ``RETRY_DELAY``, never later than the next regular run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.errors import InvalidInputError, NotFoundError
from patchfleet.core.schedules import Schedule, next_run, validate
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.server.db.queries import activity as activity_rows
from patchfleet.server.db.queries import reports as q
from patchfleet.server.db.queries import tenants
from patchfleet.server.db.report_rows import ReportScheduleRow
from patchfleet.server.notify import DeliveryError
from patchfleet.server.notify.mail import (
    Attachment,
    Mailer,
    MailMessage,
    validate_address,
)
from patchfleet.server.services.configurations import (
    schedule_from_json,
    schedule_to_json,
)
from patchfleet.server.services.report_pdf import cell_text
from patchfleet.server.services.reports import (
    ReportFile,
    ReportFormat,
    ReportKind,
    ReportSummary,
    ReportUnavailableError,
    csv_report,
    definition,
    render_pdf,
    tenant_of,
    title_of,
)

MAX_RECIPIENTS = 50
RETRY_DELAY = timedelta(minutes=15)  # after a failed delivery; never past the next run
ACTIVITY_TYPE = "Report"  # object type of report entries in the activity log


@dataclass(frozen=True)
class ReportScheduleSpec:
    """What a user sets for a scheduled report."""

    kind: ReportKind
    format: ReportFormat
    recipients: tuple[str, ...]
    schedule: Schedule
    enabled: bool = True


@dataclass(frozen=True)
class SendResult:
    """How a delivery went: the files sent, or the error kept on the schedule."""

    sent: bool
    files: tuple[str, ...] = ()
    error: str = ""
    should_retry: bool = False  # the mail server failed: try again soon


def _recipients(spec: ReportScheduleSpec) -> list[str]:
    """Validate the spec; the recipients' bare addresses, each once."""
    validate(spec.schedule)
    try:
        definition(spec.kind)
    except ReportUnavailableError as exc:
        exc.loc = ("body", "kind")
        raise
    loc = ("body", "recipients")
    if not spec.recipients:
        raise InvalidInputError("name at least one recipient", loc=loc)
    if len(spec.recipients) > MAX_RECIPIENTS:
        raise InvalidInputError(f"at most {MAX_RECIPIENTS} recipients", loc=loc)
    return list(dict.fromkeys(validate_address(a, loc=loc) for a in spec.recipients))


def _log(
    session: Session,
    *,
    principal: Principal | None,
    row: ReportScheduleRow,
    action: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """An activity entry about a schedule (inside the caller's transaction)."""
    activity_rows.record(
        session,
        at=now,
        partner_id=row.partner_id,
        client_id=row.client_id,
        actor_id=principal.user_id if principal else None,
        actor=principal.username if principal else "patchfleet",
        object_type=ACTIVITY_TYPE,
        object_id=str(row.uuid),
        object_name=f"{title_of(ReportKind(row.kind))} report",
        action=action,
        details=details or {},
    )


def _apply(
    row: ReportScheduleRow,
    spec: ReportScheduleSpec,
    recipients: list[str],
    now: datetime,
) -> None:
    row.kind = str(spec.kind)
    row.format = str(spec.format)
    row.recipients = recipients
    row.schedule = schedule_to_json(spec.schedule)
    row.enabled = spec.enabled
    row.next_run_at = next_run(spec.schedule, now)


def create(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    spec: ReportScheduleSpec,
    now: datetime,
) -> ReportScheduleRow:
    """Schedule a report at the scope's level (partner level at All Clients)."""
    require_role(principal, Role.OPERATOR)
    recipients = _recipients(spec)
    with session.begin():
        row = ReportScheduleRow(
            uuid=uuid.uuid4(),
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            created_at=now,
            created_by=principal.user_id,
            last_run_at=None,
            last_error="",
        )
        _apply(row, spec, recipients, now)
        q.add_schedule(session, row)
        _log(session, principal=principal, row=row, action="create schedule", now=now)
    return row


def list_in_scope(session: Session, *, scope: Scope) -> list[ReportScheduleRow]:
    """Report schedules in scope; partner-level ones at All Clients only."""
    with session.begin():
        return q.schedules_in_scope(
            session,
            partner_id=scope.partner_id,
            client_ids=scope.client_ids,
            partner_level=scope.is_partner_level,
        )


def _in_scope(
    session: Session, scope: Scope, schedule_id: uuid.UUID
) -> ReportScheduleRow:
    row = q.schedule_by_uuid(
        session, partner_id=scope.partner_id, schedule_uuid=schedule_id
    )
    if row is None or not scope.sees(row.client_id):
        raise NotFoundError(f"report schedule {schedule_id} not found")
    return row


def get(session: Session, *, scope: Scope, schedule_id: uuid.UUID) -> ReportScheduleRow:
    """One report schedule in scope."""
    with session.begin():
        return _in_scope(session, scope, schedule_id)


def update(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    schedule_id: uuid.UUID,
    spec: ReportScheduleSpec,
    now: datetime,
) -> ReportScheduleRow:
    """Replace a schedule's settings; the next run is computed afresh."""
    require_role(principal, Role.OPERATOR)
    recipients = _recipients(spec)
    with session.begin():
        row = _in_scope(session, scope, schedule_id)
        _apply(row, spec, recipients, now)
        _log(session, principal=principal, row=row, action="update schedule", now=now)
    return row


def delete(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    schedule_id: uuid.UUID,
    now: datetime,
) -> None:
    """Delete a report schedule."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        row = _in_scope(session, scope, schedule_id)
        q.remove_schedule(session, row)
        _log(session, principal=principal, row=row, action="delete schedule", now=now)


# Delivery ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """What one delivery needs, read from the schedule before generating."""

    kind: ReportKind
    format: ReportFormat
    recipients: tuple[str, ...]
    scope: Scope


def _job(session: Session, row: ReportScheduleRow) -> _Job:
    if row.client_id is None:
        ids = tuple(sorted(tenants.client_ids(session, row.partner_id)))
        scope = Scope(row.partner_id, ids, None)
    else:
        scope = Scope(row.partner_id, (row.client_id,), row.client_id)
    return _Job(
        ReportKind(row.kind), ReportFormat(row.format), tuple(row.recipients), scope
    )


def _attachments(
    session: Session, job: _Job, summary: ReportSummary, now: datetime
) -> list[ReportFile]:
    spec = definition(job.kind)
    files = []
    if job.format in (ReportFormat.PDF, ReportFormat.BOTH):
        files.append(
            render_pdf(session, scope=job.scope, spec=spec, now=now, summary=summary)
        )
    if job.format in (ReportFormat.CSV, ReportFormat.BOTH):
        stream = csv_report(session, scope=job.scope, kind=job.kind, now=now)
        files.append(ReportFile(stream.filename, "text/csv", b"".join(stream.chunks)))
    return files


def _message(session: Session, job: _Job, now: datetime) -> MailMessage:
    """The e-mail: the headline figures as text, the report attached."""
    spec = definition(job.kind)
    summary = spec.summary(session, job.scope, now)
    tenant = tenant_of(session, job.scope)
    files = _attachments(session, job, summary, now)
    lines = [
        f"{spec.title} report for {tenant}, generated {cell_text(now)}.",
        "",
        *(f"{f.label}: {f.value}" for f in summary.figures),
        "",
        "Attached: " + ", ".join(f.filename for f in files),
    ]
    return MailMessage(
        to=job.recipients,
        cc=(),
        subject=f"[patchfleet] {tenant}: {spec.title} report",
        text="\n".join(lines) + "\n",
        attachments=tuple(
            Attachment(f.filename, f.media_type, f.content) for f in files
        ),
    )


def _deliver(session: Session, job: _Job, mailer: Mailer, now: datetime) -> SendResult:
    """Generate and send; errors become the result (no transaction is held open)."""
    try:
        message = _message(session, job, now)
        mailer.send(message)
    except ReportUnavailableError as exc:
        return SendResult(sent=False, error=str(exc))
    except DeliveryError as exc:
        if exc.refused and len(exc.refused) < len(job.recipients):
            # The others have it: keep the refusal, and send nobody a second copy.
            files = tuple(a.filename for a in message.attachments)
            return SendResult(sent=True, files=files, error=str(exc))
        return SendResult(sent=False, error=str(exc), should_retry=True)
    return SendResult(sent=True, files=tuple(a.filename for a in message.attachments))


def _next_run(
    row: ReportScheduleRow, result: SendResult, now: datetime
) -> datetime | None:
    """The regular next run, or a retry sooner after a failed delivery."""
    regular = next_run(schedule_from_json(row.schedule), now)
    if not result.should_retry:
        return regular
    retry = now + RETRY_DELAY
    return min(retry, regular) if regular else retry


def _send(
    session: Session,
    schedule_id: int,
    *,
    mailer: Mailer,
    now: datetime,
    principal: Principal | None,
    trigger: str,
) -> SendResult:
    """Send one schedule's report and record how it went."""
    with session.begin():
        row = q.schedule_by_id(session, schedule_id)
        if row is None:
            return SendResult(sent=False, error="the schedule was deleted")
        job = _job(session, row)
    result = _deliver(session, job, mailer, now)
    with session.begin():
        row = q.schedule_by_id(session, schedule_id)
        if row is None:  # deleted while the report was generated
            return result
        row.last_error = result.error
        if result.sent:
            row.last_run_at = now
        if trigger == "schedule":
            row.next_run_at = _next_run(row, result, now)
        details: dict[str, Any] = {
            "files": list(result.files),
            "recipients": list(job.recipients),
        }
        if result.error:
            details["error"] = result.error
        action = f"send ({trigger})" if result.sent else f"send failed ({trigger})"
        _log(
            session,
            principal=principal,
            row=row,
            action=action,
            now=now,
            details=details,
        )
    return result


def send_now(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    schedule_id: uuid.UUID,
    mailer: Mailer,
    now: datetime,
) -> SendResult:
    """Send Now (SCH-10): e-mail the report at once; the schedule stays as it is."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        internal = _in_scope(session, scope, schedule_id).id
    return _send(
        session,
        internal,
        mailer=mailer,
        now=now,
        principal=principal,
        trigger="send now",
    )


def send_due(session: Session, *, mailer: Mailer, now: datetime) -> int:
    """E-mail every due report once and schedule its next run; returns how many sent."""
    with session.begin():
        due = q.due_schedule_ids(session, now)
    results = [
        _send(
            session,
            schedule_id,
            mailer=mailer,
            now=now,
            principal=None,
            trigger="schedule",
        )
        for schedule_id in due
    ]
    return sum(r.sent for r in results)
