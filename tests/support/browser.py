"""A session-wide headless Debian Chromium driven by Playwright, one context per test.

Never ``playwright install``: the system ``chromium`` is used (TESTLAB §8). Without
it the browser tests skip, unless ``PATCHFLEET_REQUIRE_LAB`` is set (CI), then fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1360, "height": 860}


def chromium_path() -> str | None:
    """The Debian Chromium binary (the real one before the shell wrapper), if any."""
    return next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None)


def _unavailable(reason: str) -> None:
    (pytest.fail if os.environ.get("PATCHFLEET_REQUIRE_LAB") else pytest.skip)(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    executable = chromium_path()
    if executable is None:
        _unavailable(f"chromium not found at {' or '.join(CHROMIUM_CANDIDATES)}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own browser context (cookies do not leak between tests)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()
