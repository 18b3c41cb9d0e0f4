"""Rebooting the endpoint after an install job (DEC-11), behind one small interface.

``Rebooter`` contract:
    ``reboot(reason)`` asks the system to reboot and returns once the request was
    accepted; the reboot itself may follow later (``shutdown -r +1`` leaves a minute
    to send the job's final report). It raises ``RebootError`` with the tool's message
    when the request failed. Tests and the lab pass a ``CommandRebooter`` whose command
    only records the call ("reboot-rec" in FEATURES.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from patchfleet.agent.runner import Completed, Runner, RunnerError

TIMEOUT = 120.0
#: The delayed reboot first (time to report), then systemd's immediate one.
SHUTDOWN = ("shutdown", "-r", "+1")  # + the reason, shown to logged-in users
SYSTEMCTL = ("systemctl", "reboot")
REASON_VARIABLE = "PATCHFLEET_REBOOT_REASON"


class RebootError(RuntimeError):
    """The reboot could not be requested; the message is the tool's own."""


class Rebooter(Protocol):
    """Reboots the endpoint (see the module docstring)."""

    def reboot(self, reason: str) -> None:
        """Request a reboot; ``RebootError`` when the request failed."""
        ...


def _checked(runner: Runner, argv: Sequence[str], reason: str) -> Completed:
    try:
        done = runner.run(argv, env={REASON_VARIABLE: reason}, timeout=TIMEOUT)
    except RunnerError as exc:
        raise RebootError(str(exc)) from exc
    if done.returncode != 0:
        message = done.stderr.strip() or done.stdout.strip() or "no output"
        raise RebootError(f"{' '.join(argv)} exited {done.returncode}: {message}")
    return done


class SystemRebooter:
    """Reboots this machine: ``shutdown -r +1``, or ``systemctl reboot`` without it."""

    def __init__(self, runner: Runner) -> None:
        """Use ``runner`` to start the command."""
        self._runner = runner

    def reboot(self, reason: str) -> None:
        """Schedule the reboot in a minute (or now, through systemd)."""
        if self._runner.which(SHUTDOWN[0]) is not None:
            _checked(self._runner, (*SHUTDOWN, reason), reason)
        else:
            _checked(self._runner, SYSTEMCTL, reason)


class CommandRebooter:
    """Runs a configured command (``--reboot-command``); the reason is in its env."""

    def __init__(self, runner: Runner, argv: Sequence[str]) -> None:
        """Run ``argv`` (no shell) for each reboot."""
        if not argv:
            raise ValueError("a reboot command needs at least a program")
        self._runner = runner
        self._argv = tuple(argv)

    def reboot(self, reason: str) -> None:
        """Run the command with ``PATCHFLEET_REBOOT_REASON=reason``."""
        _checked(self._runner, self._argv, reason)


class DisabledRebooter:
    """Never reboots: every request fails (agents wired without a way to reboot)."""

    def reboot(self, reason: str) -> None:
        """Refuse; the job reports the reboot as failed."""
        raise RebootError(f"rebooting is not configured for this agent ({reason})")
