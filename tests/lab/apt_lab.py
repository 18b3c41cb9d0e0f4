"""apt lab fixtures: one signed repo per session on 127.0.0.1, endpoints per test.

Thin pytest wrappers over ``patchfleet.lab.apt`` (TESTLAB §2 and §9). ``apt_repo``
builds and serves the repo once per session; ``apt_endpoint`` makes endpoints, each a
directory isolated from the host and from each other through ``APT_CONFIG``. Missing
tools skip, or fail under ``PATCHFLEET_REQUIRE_LAB=1``. Tests that use these fixtures
are marked ``apt`` automatically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from patchfleet.agent.runner import SubprocessRunner
from patchfleet.lab.apt import (
    SUITES,
    AptEndpoint,
    AptRepo,
    AptRepoServer,
    make_endpoint,
)
from patchfleet.lab.tools import APT_TOOLS, LabError, missing

__all__ = [
    "APT_TOOLS",
    "SUITES",
    "AptEndpoint",
    "AptRepo",
    "apt_endpoint",
    "apt_repo",
    "make_endpoint",
    "require_lab",
]


def require_lab(reason: str) -> None:
    """Skip, or fail when ``PATCHFLEET_REQUIRE_LAB=1`` (CI), because of ``reason``."""
    if os.environ.get("PATCHFLEET_REQUIRE_LAB") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def apt_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AptRepo]:
    """Build the signed lab repo once and serve it on 127.0.0.1 (free port)."""
    if absent := missing(APT_TOOLS, SubprocessRunner()):
        require_lab(f"apt lab tools missing: {absent}")
    try:
        server = AptRepoServer(tmp_path_factory.mktemp("aptrepo"))
    except LabError as exc:
        pytest.fail(f"build_apt_repo.sh failed:\n{exc}")
    with server:
        yield server.repo


@pytest.fixture
def apt_endpoint(apt_repo: AptRepo, tmp_path: Path) -> Callable[..., AptEndpoint]:
    """Factory: ``apt_endpoint(name="ep", suites=SUITES, signed=True)``."""

    def make(
        name: str = "ep", suites: tuple[str, ...] = SUITES, signed: bool = True
    ) -> AptEndpoint:
        return make_endpoint(apt_repo, tmp_path / name, tuple(suites), signed=signed)

    return make


_APT_FIXTURES = frozenset({"apt_repo", "apt_endpoint"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the apt lab with ``apt``."""
    for item in items:
        if _APT_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.apt)
