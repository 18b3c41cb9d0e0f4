"""Pick the backend for this endpoint from its OS family (or an explicit choice)."""

from __future__ import annotations

from pathlib import Path

from patchfleet.agent.managers.apt import AptManager
from patchfleet.agent.managers.base import PackageManager
from patchfleet.agent.managers.dnf import DnfManager
from patchfleet.agent.runner import Runner

FAMILY_BACKENDS = {"debian": "apt", "rhel": "dnf"}


class UnsupportedBackendError(ValueError):
    """No backend fits this endpoint, or an unknown one was asked for."""


def choose(family: str, requested: str, runner: Runner) -> str:
    """The backend name: the requested one, else by OS family, else by available tool."""
    if requested != "auto":
        return requested
    if family in FAMILY_BACKENDS:
        return FAMILY_BACKENDS[family]
    for name, tool in (("apt", "apt-get"), ("dnf", "dnf")):
        if runner.which(tool):
            return name
    raise UnsupportedBackendError(
        f"no supported package manager found for OS family {family!r}"
    )


def build(
    name: str, runner: Runner, *, apt_config: Path | None, dnf_installroot: Path | None
) -> PackageManager:
    """Construct the backend ``name``."""
    if name == "apt":
        return AptManager(runner, apt_config=apt_config)
    if name == "dnf":
        return DnfManager(runner, installroot=dnf_installroot)
    raise UnsupportedBackendError(f"unknown backend {name!r}; choose apt, dnf or auto")
