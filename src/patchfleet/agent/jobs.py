"""Install jobs on the endpoint: run one install order, and finish one a crash cut off.

``run_install`` remembers in the outbox that the order started (so it runs at most
once), repairs an interrupted package manager first, installs each target with its
own package-manager call, reboots per DEC-11 and sends a final report. Every step is
a ``JobReport`` written to the outbox *before* it is sent (CFG-37 progress), and the
job's state is saved before each package-manager call.

``finish_interrupted`` runs at the next start after a crash or ``kill -9``: it repairs
the package manager (``dpkg --configure -a`` ...), checks which targets reached their
version and sends the final report: nothing is installed again and no job is left
running. A job cut off while rebooting is reported as rebooted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from patchfleet.agent.managers.base import (
    InstallTarget,
    PackageManager,
    PackageManagerError,
    installed_versions,
    is_at_least,
)
from patchfleet.agent.outbox import Outbox
from patchfleet.agent.reboot import Rebooter, RebootError
from patchfleet.agent.runner import RunnerError
from patchfleet.core.jobs import PatchStatus, should_reboot
from patchfleet.core.packages import Package
from patchfleet.protocol import v1

JOB_KIND = "job"  # outbox message kind of a JobReport
ACTIVE_KEY = "job:active"  # the state of the install job in progress, or "null"
MAX_MESSAGE = 8_192  # v1.PatchResult / v1.JobReport message limit
ManagerErrors = (PackageManagerError, RunnerError)


def order_key(order_id: uuid.UUID) -> str:
    """Outbox key remembering that an order started (then ``done``): at most once."""
    return f"order:{order_id}"


class OrderMark(StrEnum):
    """Values of ``order_key``: an order seen once is never run again."""

    STARTED = "started"
    DONE = "done"


class Phase(StrEnum):
    """Where a job stood when its state was last saved."""

    INSTALLING = "installing"
    REBOOTING = "rebooting"


@dataclass
class JobState:
    """What the outbox keeps of the job in progress (``ACTIVE_KEY``)."""

    order: v1.Order
    results: list[v1.PatchResult]
    phase: Phase = Phase.INSTALLING
    reboot_required: bool = False
    note: str = ""

    @classmethod
    def start(cls, order: v1.Order) -> JobState:
        """Every target pending."""
        results = [
            v1.PatchResult(
                name=t.name, version=t.version, arch=t.arch, status=PatchStatus.PENDING
            )
            for t in order.patches
        ]
        return cls(order, results)

    def to_json(self) -> str:
        """Serialise for the outbox."""
        return json.dumps(
            {
                "order": self.order.model_dump(mode="json"),
                "results": [r.model_dump(mode="json") for r in self.results],
                "phase": self.phase,
                "reboot_required": self.reboot_required,
                "note": self.note,
            }
        )

    @classmethod
    def from_json(cls, raw: object) -> JobState:
        """Inverse of ``to_json`` (already decoded by ``Outbox.get_json``)."""
        if not isinstance(raw, dict):
            raise ValueError(f"not a saved job: {raw!r}")
        return cls(
            order=v1.Order.model_validate(raw["order"]),
            results=[v1.PatchResult.model_validate(r) for r in raw["results"]],
            phase=Phase(raw["phase"]),
            reboot_required=bool(raw["reboot_required"]),
            note=str(raw["note"]),
        )

    def set_result(self, index: int, status: PatchStatus, message: str = "") -> None:
        """Change one target's status."""
        update = {"status": status, "message": message[:MAX_MESSAGE]}
        self.results[index] = self.results[index].model_copy(update=update)

    def target(self, index: int) -> InstallTarget:
        """The target of result ``index``."""
        r = self.results[index]
        return InstallTarget(r.name, r.version, r.arch)

    def count(self, status: PatchStatus) -> int:
        """How many targets have ``status``."""
        return sum(1 for r in self.results if r.status == status)


@dataclass
class JobContext:
    """What a job needs, wired by the agent loop (or a test).

    ``publish`` sends what the outbox holds and must not raise when the server is
    away (the next cycle sends it); ``rescan`` spools a fresh scan after packages
    changed, so the server's missing patches follow.
    """

    manager: PackageManager
    outbox: Outbox
    clock: Callable[[], datetime]
    rebooter: Rebooter
    publish: Callable[[], None] = field(default=lambda: None)
    rescan: Callable[[], None] = field(default=lambda: None)


def run_install(ctx: JobContext, order: v1.Order) -> bool:
    """Run an install order once; False (nothing done) if it was seen before."""
    key = order_key(order.id)
    if ctx.outbox.get(key) is not None:
        return False
    state = JobState.start(order)
    ctx.outbox.set(key, OrderMark.STARTED)
    _save(ctx, state)
    problem = _repair_first(ctx, state)
    if problem:
        _finish(ctx, state, message=problem, failed=True)
        return True
    _progress(ctx, state, f"installing {len(state.results)} patches")
    for index in range(len(state.results)):
        _install_target(ctx, state, index)
    state.reboot_required = _reboot_required(ctx.manager)
    ctx.rescan()
    rebooted, reboot_note = _maybe_reboot(ctx, state)
    _finish(ctx, state, message=_summary(state, reboot_note), rebooted=rebooted)
    return True


def finish_interrupted(ctx: JobContext) -> uuid.UUID | None:
    """Finish the job a crash cut off, if any; returns its order id."""
    raw = ctx.outbox.get_json(ACTIVE_KEY)
    if raw is None:
        return None
    state = JobState.from_json(raw)
    if state.phase == Phase.REBOOTING:
        note = "the agent restarted after it requested the reboot"
        _finish(ctx, state, message=_summary(state, note), rebooted=True)
        return state.order.id
    repair_note = _repair_note(ctx.manager)
    packages = _installed(ctx.manager)
    for index, result in enumerate(state.results):
        if not result.status.is_final:
            _settle(state, index, packages, ctx.manager, repair_note)
    state.reboot_required = _reboot_required(ctx.manager)
    ctx.rescan()
    note = "interrupted (the agent stopped); finished after a restart, no reboot"
    _finish(ctx, state, message=_summary(state, f"{note}\n{repair_note}".strip()))
    return state.order.id


def _save(ctx: JobContext, state: JobState) -> None:
    ctx.outbox.set(ACTIVE_KEY, state.to_json())


def _spool(ctx: JobContext, report: v1.JobReport) -> None:
    ctx.outbox.put(JOB_KIND, report.model_dump_json(), report.sent_at.isoformat())


def _report(ctx: JobContext, state: JobState, message: str, **final: bool) -> None:
    _spool(
        ctx,
        v1.JobReport(
            report_id=uuid.uuid4(),
            order_id=state.order.id,
            sent_at=ctx.clock(),
            message=message[:MAX_MESSAGE],
            patches=state.results,
            reboot_required=state.reboot_required,
            **final,
        ),
    )


def _progress(ctx: JobContext, state: JobState, message: str) -> None:
    """Save the state, spool a progress report, then try to send it."""
    _save(ctx, state)
    _report(ctx, state, message)
    ctx.publish()


def _finish(
    ctx: JobContext,
    state: JobState,
    *,
    message: str,
    failed: bool = False,
    rebooted: bool = False,
) -> None:
    """Spool the final report, mark the order done and forget the state."""
    for index, result in enumerate(state.results):
        if not result.status.is_final:  # never leave a patch (or the job) running
            state.set_result(index, PatchStatus.FAILED, message)
    _report(ctx, state, message, final=True, failed=failed, rebooted=rebooted)
    ctx.outbox.set(order_key(state.order.id), OrderMark.DONE)
    ctx.outbox.set(ACTIVE_KEY, "null")
    ctx.publish()


def _repair_first(ctx: JobContext, state: JobState) -> str:
    """Repair an interrupted package manager; the failure message, or ""."""
    try:
        report = ctx.manager.repair()
    except ManagerErrors as exc:
        return f"the package manager could not be checked: {exc}"
    if report is None:
        return ""
    if not report.is_repaired:
        return f"the package manager is broken and the repair failed:\n{report.summary}"
    state.note = f"repaired the package manager first:\n{report.summary}"
    return ""


def _install_target(ctx: JobContext, state: JobState, index: int) -> None:
    target = state.target(index)
    state.set_result(index, PatchStatus.INSTALLING)
    _progress(ctx, state, f"installing {target.name} {target.version}")
    try:
        [result] = ctx.manager.install([target])
        status, message = result.status, result.message
    except ManagerErrors as exc:
        status, message = PatchStatus.FAILED, str(exc)
    state.set_result(index, status, message)
    _progress(ctx, state, f"{target.name} {target.version}: {status}")


def _reboot_required(manager: PackageManager) -> bool:
    try:
        return manager.reboot_required()
    except ManagerErrors:
        return False


def _maybe_reboot(ctx: JobContext, state: JobState) -> tuple[bool, str]:
    """Reboot per the order's policy (DEC-11); (rebooted, note for the report)."""
    decision = should_reboot(
        state.order.reboot,
        reboot_required=state.reboot_required,
        installed_any=state.count(PatchStatus.INSTALLED) > 0,
    )
    if not decision:
        return False, "reboot required, not rebooting" if state.reboot_required else ""
    state.phase = Phase.REBOOTING
    _progress(ctx, state, "rebooting")
    try:
        ctx.rebooter.reboot(f"patchfleet install job {state.order.id}")
    except RebootError as exc:
        return False, f"reboot failed: {exc}"
    return True, "reboot requested"


def _summary(state: JobState, note: str) -> str:
    counts = ", ".join(
        f"{state.count(s)} {s}"
        for s in (PatchStatus.INSTALLED, PatchStatus.FAILED, PatchStatus.NOT_APPLICABLE)
    )
    return "\n".join(part for part in (counts, note, state.note) if part)


def _repair_note(manager: PackageManager) -> str:
    try:
        report = manager.repair()
    except ManagerErrors as exc:
        return f"the package manager could not be checked: {exc}"
    return "" if report is None else f"repair after the interruption:\n{report.summary}"


def _installed(manager: PackageManager) -> list[Package] | str:
    """The installed packages, or the package manager's error message."""
    try:
        return manager.installed()
    except ManagerErrors as exc:
        return str(exc)


def _settle(
    state: JobState,
    index: int,
    packages: list[Package] | str,
    manager: PackageManager,
    repair_note: str,
) -> None:
    """Final status of a target the crash left pending or installing."""
    was_installing = state.results[index].status == PatchStatus.INSTALLING
    if isinstance(packages, str):
        state.set_result(index, PatchStatus.FAILED, packages)
        return
    target = state.target(index)
    versions = installed_versions(packages, target)
    if any(is_at_least(manager.scheme, v, target.version) for v in versions):
        done = PatchStatus.INSTALLED if was_installing else PatchStatus.NOT_APPLICABLE
        state.set_result(index, done, "at the target version after the interruption")
    elif was_installing:
        found = ", ".join(versions) or "not installed"
        cause = "interrupted while installing (the agent stopped)"
        message = f"{cause}; {target.name} is at {found}\n{repair_note}"
        state.set_result(index, PatchStatus.FAILED, message.strip())
    else:
        message = "not attempted: the agent stopped first"
        state.set_result(index, PatchStatus.FAILED, message)
