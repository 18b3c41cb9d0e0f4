"""An in-memory package manager for unit tests of the agent loop and install jobs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from patchfleet.agent.managers.base import (
    InstallResult,
    InstallTarget,
    RepairReport,
    applicability,
)
from patchfleet.core.jobs import PatchStatus
from patchfleet.core.packages import Package
from patchfleet.core.updates import Update
from patchfleet.core.versions import Scheme


@dataclass
class FakePackageManager:
    """Holds packages and updates in memory; counts refreshes, records installs.

    ``failures`` maps a package name to the message its install fails with;
    installing a name in ``reboot_packages`` makes ``reboot_required()`` true;
    ``broken`` is what the next ``repair()`` finds (and fixes, unless
    ``unrepairable``).
    """

    name: str = "fake"
    packages: list[Package] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    needs_reboot: bool = False
    refreshes: int = 0
    installs: list[InstallTarget] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    reboot_packages: set[str] = field(default_factory=set)
    broken: str = ""
    unrepairable: bool = False
    repairs: int = 0
    scheme: Scheme = Scheme.DEB

    def refresh(self) -> None:
        """Count the call."""
        self.refreshes += 1

    def installed(self) -> list[Package]:
        """Return the held packages."""
        return list(self.packages)

    def upgradable(self) -> list[Update]:
        """Return the held updates."""
        return list(self.updates)

    def reboot_required(self) -> bool:
        """Return the configured flag."""
        return self.needs_reboot

    def install(self, targets: Sequence[InstallTarget]) -> list[InstallResult]:
        """Record each install and move the held package to the target version."""
        return [self._install_one(t) for t in targets]

    def _install_one(self, target: InstallTarget) -> InstallResult:
        skip = applicability(self.packages, target, self.scheme)
        if skip is not None:
            return skip
        self.installs.append(target)
        if target.name in self.failures:
            return InstallResult(target, PatchStatus.FAILED, self.failures[target.name])
        self.packages = [
            replace(p, version=target.version) if p.name == target.name else p
            for p in self.packages
        ]
        self.updates = [u for u in self.updates if u.name != target.name]
        self.needs_reboot = self.needs_reboot or target.name in self.reboot_packages
        return InstallResult(target, PatchStatus.INSTALLED)

    def repair(self) -> RepairReport | None:
        """Report ``broken`` once (then it is fixed unless ``unrepairable``)."""
        if not self.broken:
            return None
        self.repairs += 1
        found = self.broken
        if not self.unrepairable:
            self.broken = ""
        remaining = found if self.unrepairable else ""
        return RepairReport(found, remaining, ("fake repair",))
