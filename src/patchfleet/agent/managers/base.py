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
    * ``install(targets)`` installs each target's exact version, one package-manager
      call per target (so one failure cannot take the others down), never prompting
      and never "upgrading all" (MP-12). It returns one ``InstallResult`` per target,
      in order: ``NOT_APPLICABLE`` without running anything when the package is not
      installed (any more) or already at or past the target; ``INSTALLED`` when the
      command succeeded and the package database then shows the target version;
      ``FAILED`` otherwise, with the package manager's own message. A refused
      target is a result, not an exception; calling it again with the same target
      is harmless (the target is then not applicable).
    * ``repair()`` finds what an interrupted run left behind (apt: ``apt-get check``
      and unsettled dpkg states, described by ``dpkg --audit``; dnf: ``dnf check
      --duplicates``) and finishes or undoes it with the manager's own tools. It
      returns None when nothing blocks installs (harmless findings are ignored),
      else a ``RepairReport`` of what was found and what is still wrong. It never
      upgrades a package: a half-installed one is reinstalled at its recorded
      version.
    * ``scheme`` names the version ordering of the packages (for ``applicability``).

    Errors: ``CommandFailedError`` when a command exits with a code outside its table;
    ``ParseError`` when output does not have the documented shape. Both carry the
    package manager's own message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from patchfleet.core.jobs import PatchStatus
from patchfleet.core.packages import Package
from patchfleet.core.updates import Update
from patchfleet.core.versions import Scheme, VersionError, compare


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


@dataclass(frozen=True, slots=True)
class InstallTarget:
    """One exact package version to install; ``arch`` empty means any."""

    name: str
    version: str
    arch: str = ""


@dataclass(frozen=True, slots=True)
class InstallResult:
    """What ``install`` did with one target."""

    target: InstallTarget
    status: PatchStatus  # INSTALLED, FAILED or NOT_APPLICABLE
    message: str = ""


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What ``repair`` found after an interrupted run, and what is still wrong."""

    found: str  # the package manager's own description of the problem
    remaining: str = ""  # empty when the repair worked
    actions: tuple[str, ...] = ()  # the commands run, with failures' messages

    @property
    def is_repaired(self) -> bool:
        """True when nothing is left to repair."""
        return not self.remaining

    @property
    def summary(self) -> str:
        """One message for a job report."""
        done = "; ".join(self.actions) or "nothing run"
        state = "repaired" if self.is_repaired else f"still broken: {self.remaining}"
        return f"found: {self.found}\nran: {done}\n{state}"


def installed_versions(packages: Iterable[Package], target: InstallTarget) -> list[str]:
    """The installed versions of ``target``'s package (of its arch, if it has one)."""
    return [
        p.version
        for p in packages
        if p.name == target.name and (not target.arch or p.arch == target.arch)
    ]


def is_at_least(scheme: Scheme, version: str, target: str) -> bool:
    """``version`` is ``target`` or newer (exact match only if either is invalid)."""
    try:
        return compare(scheme, version, target) >= 0
    except VersionError:
        return version == target


def applicability(
    packages: Iterable[Package], target: InstallTarget, scheme: Scheme
) -> InstallResult | None:
    """``NOT_APPLICABLE`` when there is nothing to do for ``target``, else None."""
    versions = installed_versions(packages, target)
    if not versions:
        return InstallResult(target, PatchStatus.NOT_APPLICABLE, "not installed")
    if any(is_at_least(scheme, v, target.version) for v in versions):
        found = ", ".join(versions)
        return InstallResult(target, PatchStatus.NOT_APPLICABLE, f"already at {found}")
    return None


def verify(
    packages: Iterable[Package], target: InstallTarget, scheme: Scheme
) -> InstallResult:
    """After a successful command: ``INSTALLED`` if the database shows the target."""
    versions = installed_versions(packages, target)
    if any(is_at_least(scheme, v, target.version) for v in versions):
        return InstallResult(target, PatchStatus.INSTALLED)
    found = ", ".join(versions) or "not installed"
    message = f"the command succeeded but {target.name} is at {found}"
    return InstallResult(target, PatchStatus.FAILED, message)


class PackageManager(Protocol):
    """One package manager on the endpoint (see the module docstring)."""

    name: str
    scheme: Scheme

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

    def install(self, targets: Sequence[InstallTarget]) -> list[InstallResult]:
        """Install each target's exact version; one result per target, in order."""
        ...

    def repair(self) -> RepairReport | None:
        """Repair what an interrupted run left behind; None when all was well."""
        ...
