"""Root test configuration: lab fixtures and markers applied by folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs the same examples every time (no flaky red builds); local runs explore.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

pytest_plugins = [
    "lab.apt_lab",
    "lab.dnf_lab",
    "support.databases",
    "support.clock",
    "support.live",
    "support.browser",
    "support.api",
    "support.agents",
    "support.smtp",
    "support.hooks",
]

_FOLDER_MARKERS = {
    "integration": "integration",
    "e2e": "e2e",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the folder they live in."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder, marker in _FOLDER_MARKERS.items():
            if folder in parts:
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared folder of real upstream samples: $PATCHFLEET_SHARED_DATA or
    ../shared/data next to the repository (KEV, OSV, OVAL, NVD, EPSS, updateinfo)."""
    configured = os.environ.get("PATCHFLEET_SHARED_DATA")
    root = Path(__file__).resolve().parents[1]
    path = Path(configured) if configured else root.parent / "shared" / "data"
    if not (path / "README.md").exists():
        pytest.fail(f"shared data folder not found at {path}")
    return path
