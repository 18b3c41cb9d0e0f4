"""An in-memory package manager for unit tests of the agent loop."""

from __future__ import annotations

from dataclasses import dataclass, field

from patchfleet.core.packages import Package
from patchfleet.core.updates import Update


@dataclass
class FakePackageManager:
    """Holds packages and updates in memory; counts refreshes."""

    name: str = "fake"
    packages: list[Package] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    needs_reboot: bool = False
    refreshes: int = 0

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
