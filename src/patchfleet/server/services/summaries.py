"""Summary e-mails of configuration runs, sent 2 h after the trigger (DEC-13, CFG-46)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patchfleet.core.jobs import JobStatus, PatchStatus
from patchfleet.server.db.queries import configurations, jobs
from patchfleet.server.db.rows import ClientRow, ConfigurationRow, ConfigurationRunRow
from patchfleet.server.notify import DeliveryError
from patchfleet.server.notify.mail import Mailer
from patchfleet.server.notify.messages import (
    DeviceResult,
    PatchLine,
    RunKind,
    RunSummary,
    run_summary,
)


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


def send_due(session: Session, *, mailer: Mailer, now: datetime) -> int:
    """Send every due summary once; a failed delivery is retried at the next tick."""
    sent = 0
    with session.begin():
        for run in configurations.summaries_due(session, now):
            config = session.get(ConfigurationRow, run.configuration_id)
            if config is None:
                continue
            if config.notify:
                tenant = (
                    session.scalar(
                        select(ClientRow.name).where(ClientRow.id == config.client_id)
                    )
                    or "All Clients"
                )
                try:
                    mailer.send(
                        run_summary(
                            _summary(session, run, config, tenant), to=config.notify
                        )
                    )
                except DeliveryError:
                    continue
                sent += 1
            run.summary_sent_at = now
    return sent
