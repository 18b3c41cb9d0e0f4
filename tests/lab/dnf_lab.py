"""The dnf lab fixtures (TESTLAB.md §3): rpm repos built once, installroots per test.

Thin pytest wrappers over ``patchfleet.lab.rpm``. ``rpm_repos`` (session) builds the
repos once; ``dnf_endpoint`` (function) is a factory: ``dnf_endpoint(name="ep",
updates_enabled=False)`` returns a fresh ``DnfEndpoint`` under ``tmp_path``.

Missing tools (or not being root, which ``dnf install`` needs) skip the test, or fail
it when ``PATCHFLEET_REQUIRE_LAB=1``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from patchfleet.agent.runner import SubprocessRunner
from patchfleet.lab.rpm import (
    RELEASEVER,
    DnfEndpoint,
    RpmRepos,
    build_repos,
    make_endpoint,
)
from patchfleet.lab.tools import RPM_TOOLS, LabError, missing

__all__ = [
    "RELEASEVER",
    "RPM_TOOLS",
    "DnfEndpoint",
    "RpmRepos",
    "dnf_endpoint",
    "make_endpoint",
    "require_dnf_command",
    "require_lab",
    "rpm_repos",
    "unavailable",
]


def require_lab(tools: tuple[str, ...]) -> None:
    """Skip (or fail under PATCHFLEET_REQUIRE_LAB=1) unless the lab can run here."""
    problems = [f"missing {t}" for t in missing(tools, SubprocessRunner())]
    if os.geteuid() != 0:
        problems.append("not root (dnf install needs root)")
    if problems:
        unavailable(f"dnf lab unavailable: {problems}")


def require_dnf_command(ep: DnfEndpoint, command: str) -> None:
    """Skip (or fail under PATCHFLEET_REQUIRE_LAB=1) unless dnf has ``command``."""
    if not ep.has_command(command):
        unavailable(f"dnf lacks the {command} command (apt: dnf-plugins-core)")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when CI demands the lab (PATCHFLEET_REQUIRE_LAB=1)."""
    if os.environ.get("PATCHFLEET_REQUIRE_LAB") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def rpm_repos(tmp_path_factory: pytest.TempPathFactory) -> RpmRepos:
    """Build the lab packages and repositories once per session (~1 s)."""
    require_lab(RPM_TOOLS)
    try:
        return build_repos(tmp_path_factory.mktemp("rpmrepos"))
    except LabError as exc:
        pytest.fail(f"build_rpm_repo.sh failed:\n{exc}")


@pytest.fixture
def dnf_endpoint(rpm_repos: RpmRepos, tmp_path: Path) -> Callable[..., DnfEndpoint]:
    """Factory of fresh, isolated dnf endpoints under ``tmp_path``."""

    def make(name: str = "ep", updates_enabled: bool = False) -> DnfEndpoint:
        return make_endpoint(
            rpm_repos, tmp_path / name, updates_enabled=updates_enabled
        )

    return make
