"""Install jobs: per-patch outcomes, job states and their allowed transitions.

A job installs explicit target versions on one device (MP-12: never "upgrade all").
The agent reports progress while it runs; the server folds each report in with
``apply_report`` and marks jobs that stop reporting as LOST with ``expire``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from patchfleet.core.errors import ConflictError


class PatchStatus(StrEnum):
    """Where one patch of a job stands."""

    PENDING = "pending"
    INSTALLING = "installing"
    INSTALLED = "installed"
    FAILED = "failed"
    SKIPPED = "skipped"  # blocklisted or not approved at run time
    NOT_APPLICABLE = "not_applicable"  # already at or past the target, or gone

    @property
    def is_final(self) -> bool:
        """True once the patch will not change any more."""
        return self not in (PatchStatus.PENDING, PatchStatus.INSTALLING)


class JobStatus(StrEnum):
    """Where a job stands; the last four are final."""

    PENDING = "pending"
    DELIVERED = "delivered"
    RUNNING = "running"
    COMPLETED = "completed"  # every patch installed, skipped or not applicable
    FAILED = "failed"  # at least one patch failed, or the agent said so
    LOST = "lost"  # the agent stopped reporting before the deadline
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """True for completed, failed, lost and cancelled."""
        return self in FINAL


FINAL = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.LOST, JobStatus.CANCELLED}
)

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.DELIVERED, JobStatus.RUNNING, *FINAL}),
    JobStatus.DELIVERED: frozenset({JobStatus.RUNNING, *FINAL}),
    JobStatus.RUNNING: frozenset({JobStatus.RUNNING, *FINAL}),
}


class RebootPolicy(StrEnum):
    """DEC-11: no = never (flag it); yes = when the backend needs it; force = always."""

    NEVER = "no"
    IF_REQUIRED = "yes"
    FORCE = "force"


def should_reboot(
    policy: RebootPolicy, *, reboot_required: bool, installed_any: bool
) -> bool:
    """Whether the agent reboots after a job (DEC-11)."""
    if policy == RebootPolicy.FORCE:
        return True
    return policy == RebootPolicy.IF_REQUIRED and reboot_required and installed_any


@dataclass(frozen=True, slots=True)
class PatchOutcome:
    """One patch of a job and what happened to it."""

    name: str
    version: str
    arch: str = ""
    status: PatchStatus = PatchStatus.PENDING
    message: str = ""


def transition(current: JobStatus, new: JobStatus) -> JobStatus:
    """Move a job to ``new``; a final job never changes again."""
    if current == new and current.is_final:
        return current
    if new not in ALLOWED.get(current, frozenset()):
        raise ConflictError(f"job cannot go from {current} to {new}")
    return new


def final_status(outcomes: Iterable[PatchOutcome]) -> JobStatus:
    """COMPLETED when no patch failed (and none is left unfinished), else FAILED."""
    items = list(outcomes)
    if any(o.status == PatchStatus.FAILED or not o.status.is_final for o in items):
        return JobStatus.FAILED
    return JobStatus.COMPLETED


def merge_outcomes(
    known: Iterable[PatchOutcome], reported: Iterable[PatchOutcome]
) -> list[PatchOutcome]:
    """Fold reported outcomes into the known ones; final outcomes are never undone."""
    merged = {(o.name, o.arch, o.version): o for o in known}
    for o in reported:
        key = (o.name, o.arch, o.version)
        old = merged.get(key)
        if old is None or not old.status.is_final:
            merged[key] = o
    return list(merged.values())


def expire(status: JobStatus, *, deadline_at: datetime, now: datetime) -> JobStatus:
    """LOST when an unfinished job is past its deadline; otherwise unchanged."""
    if not status.is_final and now >= deadline_at:
        return JobStatus.LOST
    return status


def deadline(
    *, started_at: datetime, patches: int, per_patch: timedelta, floor: timedelta
) -> datetime:
    """When a job that stopped reporting is given up as lost."""
    return started_at + max(floor, per_patch * patches)


def abandon(outcomes: Iterable[PatchOutcome], message: str) -> list[PatchOutcome]:
    """Mark every unfinished patch FAILED with ``message`` (for lost jobs)."""
    return [
        o
        if o.status.is_final
        else replace(o, status=PatchStatus.FAILED, message=message)
        for o in outcomes
    ]
