"""Summaries of finished runs as e-mails and webhook payloads: pure, no I/O.

Callers fill ``RunSummary`` from job rows; ``run_summary`` renders the summary
e-mail (SCN-21, CFG-46) and ``webhook_payload`` / ``webhook_event`` the webhook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from html import escape

from patchfleet.core.jobs import JobStatus, PatchStatus
from patchfleet.server.notify.mail import MailMessage

MAIL_MESSAGE_LIMIT = 300  # characters of a package manager's message in an e-mail
PAYLOAD_MESSAGE_LIMIT = 2000  # the same in a webhook payload


class RunKind(StrEnum):
    """What ran: a patch configuration's install run or a scan schedule's run."""

    CONFIGURATION = "configuration"
    SCAN = "scan"


class WebhookEvent(StrEnum):
    """Events of finished runs; ``failed`` when any device failed or was lost."""

    JOB_FINISHED = "job.finished"
    JOB_FAILED = "job.failed"


class Outcome(StrEnum):
    """How a device's job counts in a summary."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNFINISHED = "not_finished"


OUTCOMES: dict[JobStatus, Outcome] = {
    JobStatus.COMPLETED: Outcome.SUCCEEDED,
    JobStatus.FAILED: Outcome.FAILED,
    JobStatus.LOST: Outcome.FAILED,
    JobStatus.CANCELLED: Outcome.CANCELLED,
    JobStatus.PENDING: Outcome.UNFINISHED,
    JobStatus.DELIVERED: Outcome.UNFINISHED,
    JobStatus.RUNNING: Outcome.UNFINISHED,
}

_TALLIED = {  # outcomes named after "N of M devices patched", when not zero
    Outcome.FAILED: "failed",
    Outcome.CANCELLED: "cancelled",
    Outcome.UNFINISHED: "not finished",
}
_DONE = {RunKind.CONFIGURATION: "patched", RunKind.SCAN: "scanned"}
_TITLE = {RunKind.CONFIGURATION: "Patch configuration", RunKind.SCAN: "Scan schedule"}
_STATUS_LABEL = {
    JobStatus.FAILED: "failed",
    JobStatus.LOST: "lost (agent stopped reporting)",
    JobStatus.CANCELLED: "cancelled",
    JobStatus.PENDING: "not started",
    JobStatus.DELIVERED: "not started",
    JobStatus.RUNNING: "still running",
}
_SKIPPED = (PatchStatus.SKIPPED, PatchStatus.NOT_APPLICABLE)


@dataclass(frozen=True, slots=True)
class PatchLine:
    """One patch of a device's job and what happened to it."""

    name: str
    version: str
    status: PatchStatus
    message: str = ""  # the package manager's message, for failures


@dataclass(frozen=True, slots=True)
class DeviceResult:
    """One device's job in a run; ``missing`` counts found patches in scan runs."""

    hostname: str
    status: JobStatus
    patches: tuple[PatchLine, ...] = ()
    missing: int = 0

    @property
    def installed(self) -> int:
        """Patches installed."""
        return sum(p.status == PatchStatus.INSTALLED for p in self.patches)

    @property
    def failed(self) -> int:
        """Patches that failed."""
        return sum(p.status == PatchStatus.FAILED for p in self.patches)

    @property
    def skipped(self) -> int:
        """Patches skipped (blocklisted, unapproved) or no longer applicable."""
        return sum(p.status in _SKIPPED for p in self.patches)

    @property
    def failures(self) -> tuple[PatchLine, ...]:
        """The failed patches, in job order."""
        return tuple(p for p in self.patches if p.status == PatchStatus.FAILED)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A finished (or timed-out) run of a configuration or scan schedule.

    Attributes:
        kind: Install run or scan run.
        tenant: The client's (or, at partner level, the partner's) name.
        name: The configuration's or scan schedule's name.
        run_id: The run's id, as shown to users.
        triggered_at: When the run was triggered (aware; shown in UTC).
        devices: One result per device, in display order.
        url: A link to the run's details in the web UI, or empty.
    """

    kind: RunKind
    tenant: str
    name: str
    run_id: str
    triggered_at: datetime
    devices: tuple[DeviceResult, ...]
    url: str = ""

    def count(self, outcome: Outcome) -> int:
        """Devices whose job ended with ``outcome``."""
        return sum(OUTCOMES[d.status] == outcome for d in self.devices)


def run_summary(
    summary: RunSummary, *, to: Sequence[str], cc: Sequence[str] = ()
) -> MailMessage:
    """The summary e-mail of a run, as text and HTML, one row per device."""
    return MailMessage(
        to=tuple(to),
        cc=tuple(cc),
        subject=f'[patchfleet] {summary.tenant}: "{summary.name}" — {tally(summary)}',
        text=_text_body(summary),
        html=_html_body(summary),
    )


def tally(summary: RunSummary) -> str:
    """E.g. ``2 of 3 devices patched, 1 failed``; zero counts after the first omitted."""
    total = len(summary.devices)
    noun = "device" if total == 1 else "devices"
    parts = [
        f"{summary.count(Outcome.SUCCEEDED)} of {total} {noun} {_DONE[summary.kind]}"
    ]
    for outcome, label in _TALLIED.items():
        if n := summary.count(outcome):
            parts.append(f"{n} {label}")
    return ", ".join(parts)


def webhook_event(summary: RunSummary) -> WebhookEvent:
    """``job.failed`` when any device failed or was lost, else ``job.finished``."""
    if summary.count(Outcome.FAILED):
        return WebhookEvent.JOB_FAILED
    return WebhookEvent.JOB_FINISHED


def webhook_payload(summary: RunSummary) -> dict[str, object]:
    """The ``data`` of a job finished/failed webhook: JSON-ready values only."""
    return {
        "kind": str(summary.kind),
        "tenant": summary.tenant,
        "name": summary.name,
        "run_id": summary.run_id,
        "triggered_at": summary.triggered_at.astimezone(UTC).isoformat(),
        "url": summary.url,
        "counts": {
            "devices": len(summary.devices),
            **{str(o): summary.count(o) for o in Outcome},
        },
        "devices": [_device_payload(d) for d in summary.devices],
    }


def _device_payload(device: DeviceResult) -> dict[str, object]:
    return {
        "hostname": device.hostname,
        "status": str(device.status),
        "installed": device.installed,
        "failed": device.failed,
        "skipped": device.skipped,
        "missing": device.missing,
        "failures": [
            {
                "name": p.name,
                "version": p.version,
                "message": truncate(p.message, PAYLOAD_MESSAGE_LIMIT),
            }
            for p in device.failures
        ],
    }


def truncate(text: str, limit: int) -> str:
    """``text`` stripped, cut to at most ``limit`` characters with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1].rstrip()}…"


def _headline(summary: RunSummary) -> str:
    return f'{_TITLE[summary.kind]} "{summary.name}" for {summary.tenant}'


def _when(summary: RunSummary) -> str:
    at = summary.triggered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Triggered {at}, run {summary.run_id}"


def _status(device: DeviceResult, kind: RunKind) -> str:
    if device.status == JobStatus.COMPLETED:
        return _DONE[kind]
    return _STATUS_LABEL[device.status]


def _counts(device: DeviceResult, kind: RunKind) -> str:
    if kind == RunKind.SCAN:
        return f"missing {device.missing}"
    return (
        f"installed {device.installed}, failed {device.failed}, "
        f"skipped {device.skipped}"
    )


def _text_body(summary: RunSummary) -> str:
    width = max((len(d.hostname) for d in summary.devices), default=0)
    status_width = max(
        (len(_status(d, summary.kind)) for d in summary.devices), default=0
    )
    lines = [_headline(summary), _when(summary), tally(summary), ""]
    for device in summary.devices:
        status = _status(device, summary.kind)
        counts = _counts(device, summary.kind)
        lines.append(f"{device.hostname:<{width}}  {status:<{status_width}}  {counts}")
        for patch in device.failures:
            lines.append(f"    {patch.name} {patch.version}:")
            message = truncate(patch.message, MAIL_MESSAGE_LIMIT)
            lines.extend(f"      {line}" for line in message.splitlines())
    if summary.url:
        lines += ["", f"Details: {summary.url}"]
    return "\n".join(lines) + "\n"


def _html_body(summary: RunSummary) -> str:
    counts_head = "Missing" if summary.kind == RunKind.SCAN else "Patches"
    rows = "\n".join(_html_device(d, summary.kind) for d in summary.devices)
    link = (
        f'<p><a href="{escape(summary.url)}">Details</a></p>\n' if summary.url else ""
    )
    return (
        "<!DOCTYPE html>\n<html><body>\n"
        f"<h1>{escape(_headline(summary))}</h1>\n"
        f"<p>{escape(_when(summary))}<br>{escape(tally(summary))}</p>\n"
        '<table border="1" cellpadding="4" cellspacing="0">\n'
        f"<tr><th>Device</th><th>Status</th><th>{counts_head}</th></tr>\n"
        f"{rows}\n</table>\n{link}</body></html>\n"
    )


def _html_device(device: DeviceResult, kind: RunKind) -> str:
    row = (
        f"<tr><td>{escape(device.hostname)}</td>"
        f"<td>{escape(_status(device, kind))}</td>"
        f"<td>{escape(_counts(device, kind))}</td></tr>"
    )
    failures = "".join(
        f"<li>{escape(p.name)} {escape(p.version)}:"
        f"<pre>{escape(truncate(p.message, MAIL_MESSAGE_LIMIT))}</pre></li>"
        for p in device.failures
    )
    if not failures:
        return row
    return f'{row}\n<tr><td colspan="3"><ul>{failures}</ul></td></tr>'
