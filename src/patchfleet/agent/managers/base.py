"""The interface every package-manager backend implements.

``PackageManager`` contract:
    A backend holds an injected ``Runner`` and its own configuration (for example an
    alternate root), nothing else. Each method builds a fixed argv, runs it, checks the
    exit code against the backend's table of meanings and hands stdout to a pure,
    module-level ``parse_*`` function.

    * ``installed()`` returns every installed package, in any order.
    * ``upgradable()`` returns one ``Update`` per package whose candidate is newer than
      the installed version, classified and with its actionable state; it does not
      change the system. It may use cached repository metadata; ``refresh()`` renews it.
    * ``reboot_required()`` says whether the system asks for a reboot.

    Errors: ``CommandFailedError`` when a command exits with a code outside its table;
    ``ParseError`` when output does not have the documented shape. Both carry the
    package manager's own message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from patchfleet.core.packages import Package
from patchfleet.core.updates import Update


class PackageManagerError(Exception):
    """Base of the errors a backend raises."""


class CommandFailedError(PackageManagerError):
    """A package-manager command failed; the message is the tool's own."""

    def __init__(self, argv: Sequence[str], returncode: int, message: str) -> None:
        """Record the command, its exit code and the tool's message."""
        self.argv = tuple(argv)
        self.returncode = returncode
        self.message = message.strip()
        super().__init__(f"{' '.join(self.argv)} exited {returncode}: {self.message}")


class ParseError(PackageManagerError):
    """Output did not have the shape the parser expects."""


class PackageManager(Protocol):
    """One package manager on the endpoint (see the module docstring)."""

    name: str

    def refresh(self) -> None:
        """Renew repository metadata (``apt-get update``, ``dnf makecache``)."""
        ...

    def installed(self) -> list[Package]:
        """Return all installed packages."""
        ...

    def upgradable(self) -> list[Update]:
        """Return the pending updates, classified, without changing the system."""
        ...

    def reboot_required(self) -> bool:
        """Return whether the system asks for a reboot."""
        ...
