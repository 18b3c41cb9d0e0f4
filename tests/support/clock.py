"""An injectable clock: tests move time, they never sleep."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """Returns ``now``; ``advance`` moves it."""

    now: datetime = field(default=START)

    def __call__(self) -> datetime:
        """The current fake time."""
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move time forward by a ``timedelta(**delta)``."""
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at a fixed instant."""
    return FakeClock()
