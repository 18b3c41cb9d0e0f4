"""Run summaries, 2 h after the trigger (DEC-13): configurations (CFG-46), scans (SCN-21)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchfleet.core.jobs import JobStatus, PatchStatus
from patchfleet.server.db.queries import configurations, jobs, patches, scans
from patchfleet.server.db.rows import (
    ClientRow,
    ConfigurationRow,
    ConfigurationRunRow,
    DeviceRow,
    ScanRunRow,
    ScanScheduleRow,
)
from patchfleet.server.notify import DeliveryError
from patchfleet.server.notify.mail import Mailer
from patchfleet.server.notify.messages import (
    DeviceResult,
    PatchLine,
    RunKind,
    RunSummary,
    run_summary,
    webhook_event,
    webhook_payload,
)
from patchfleet.server.notify.webhooks import Webhook, WebhookSender


def _summary(
    session: Session, run: ConfigurationRunRow, config: ConfigurationRow, tenant: str
) -> RunSummary:
    devices = []
    for order, hostname in configurations.run_jobs(session, run.id):
        lines = tuple(
            PatchLine(p.name, p.version, PatchStatus(p.status), p.message)
            for p in jobs.patches_of(session, order.id)
        )
        devices.append(
            DeviceResult(
                hostname=hostname, status=JobStatus(order.status), patches=lines
            )
        )
    return RunSummary(
        kind=RunKind.CONFIGURATION,
        tenant=tenant,
        name=config.name,
        run_id=str(run.id),
        triggered_at=run.started_at,
        devices=tuple(devices),
    )


@dataclass(frozen=True)
class Outlets:
    """Where summaries go: e-mail, and optionally one signed webhook (NOTIF-*)."""

    mailer: Mailer
    webhooks: WebhookSender | None = None
    hook: Webhook | None = None


def _deliver(
    outlets: Outlets, summary: RunSummary, notify: list[str], run_id: str, now: datetime
) -> None:
    if notify:
        outlets.mailer.send(run_summary(summary, to=notify))
    if outlets.webhooks is not None and outlets.hook is not None:
        outlets.webhooks.send(
            outlets.hook,
            event=str(webhook_event(summary)),
            data=webhook_payload(summary),
            sent_at=now,
            delivery_id=run_id,
        )


def send_due(session: Session, *, outlets: Outlets, now: datetime) -> int:
    """Send every due summary once; a failed delivery is retried at the next tick."""
    sent = 0
    with session.begin():
        for run in configurations.summaries_due(session, now):
            config = session.get(ConfigurationRow, run.configuration_id)
            if config is None:
                continue
            tenant = session.scalar(
                select(ClientRow.name).where(ClientRow.id == config.client_id)
            )
            summary = _summary(session, run, config, tenant or "All Clients")
            try:
                _deliver(outlets, summary, config.notify, str(run.id), now)
            except DeliveryError:
                continue
            sent += 1
            run.summary_sent_at = now
    return sent + _send_scan_summaries(session, outlets=outlets, now=now)


def _scan_state(device: DeviceRow, started_at: datetime) -> JobStatus:
    if device.last_scan_at is None or device.last_scan_at < started_at:
        return JobStatus.LOST  # not scanned since the run
    return JobStatus.COMPLETED if device.last_scan_status == "ok" else JobStatus.FAILED


def _scan_summary(
    session: Session, run: ScanRunRow, schedule: ScanScheduleRow, tenant: str
) -> RunSummary:
    results = tuple(
        DeviceResult(
            hostname=d.hostname,
            status=_scan_state(d, run.started_at),
            missing=len(patches.device_updates(session, d.id)),
        )
        for d in scans.run_devices(session, run.device_ids)
    )
    return RunSummary(
        kind=RunKind.SCAN,
        tenant=tenant,
        name=schedule.name,
        run_id=str(run.id),
        triggered_at=run.started_at,
        devices=results,
    )


def _send_scan_summaries(session: Session, *, outlets: Outlets, now: datetime) -> int:
    """SCN-21: a scan schedule's summary 2 h after each run, to its recipients."""
    sent = 0
    with session.begin():
        for run in scans.summaries_due(session, now):
            schedule = session.get(ScanScheduleRow, run.schedule_id)
            if schedule is not None and schedule.notify:
                tenant = session.scalar(
                    select(ClientRow.name).where(ClientRow.id == schedule.client_id)
                )
                summary = _scan_summary(session, run, schedule, tenant or "All Clients")
                try:
                    outlets.mailer.send(run_summary(summary, to=schedule.notify))
                except DeliveryError:
                    continue
                sent += 1
            run.summary_sent_at = now
    return sent
