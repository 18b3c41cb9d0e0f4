"""Pending updates: what a device's package manager offers, classified and rated."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Classification(StrEnum):
    """The nine patch categories (FEATURES CAT-10..18), most important first."""

    SECURITY = "security"
    CRITICAL = "critical"
    FIRMWARE = "firmware"
    DRIVER = "driver"
    DEFINITION = "definition"
    ROLLUP = "rollup"
    BUGFIX = "bugfix"
    ENHANCEMENT = "enhancement"
    OTHER = "other"


CLASSIFICATION_ORDER: tuple[Classification, ...] = tuple(Classification)


def strongest(signals: list[Classification]) -> Classification:
    """Pick one category from conflicting signals; the first in CAT-19 order wins."""
    if not signals:
        return Classification.OTHER
    return min(signals, key=CLASSIFICATION_ORDER.index)


def patch_id(backend: str, name: str, version: str) -> str:
    """The stable id of a patch: backend, package and target version (DEC-14)."""
    return f"{backend}:{name}@{version}"


def split_patch_id(value: str) -> tuple[str, str, str]:
    """Inverse of ``patch_id``: (backend, name, version); ValueError when malformed."""
    backend, sep, rest = value.partition(":")
    name, at, version = rest.rpartition("@")
    if not (sep and at and backend and name and version):
        raise ValueError(f"not a patch id: {value!r} (expected backend:name@version)")
    return backend, name, version


class Severity(StrEnum):
    """Normalised vendor severity (FEATURES CAT-27)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"


_SEVERITY_ALIASES: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "urgent": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "important": Severity.HIGH,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "none": Severity.NONE,
    "": Severity.NONE,
}


def normalise_severity(raw: str | None) -> Severity:
    """Map a vendor severity word (``Important``, ``Moderate``...) to ``Severity``."""
    return _SEVERITY_ALIASES.get((raw or "").strip().lower(), Severity.NONE)


class UpdateState(StrEnum):
    """Whether a pending update can be installed right now (FEATURES BP-10)."""

    INSTALLABLE = "installable"
    HELD = "held"
    PHASED = "phased"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Update:
    """One pending update on one device: a package at a target version (DEC-14)."""

    name: str
    installed_version: str
    candidate_version: str
    arch: str = ""
    classification: Classification = Classification.OTHER
    severity: Severity = Severity.NONE
    raw_severity: str = ""
    source: str = ""
    advisory_id: str = ""
    cves: tuple[str, ...] = field(default_factory=tuple)
    state: UpdateState = UpdateState.INSTALLABLE
    source_package: str = ""

    @property
    def is_security(self) -> bool:
        """True for security and critical updates (OV-03 counts both)."""
        return self.classification in (Classification.SECURITY, Classification.CRITICAL)
