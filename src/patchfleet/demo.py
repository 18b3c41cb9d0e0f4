"""``patchfleet demo`` (being written)."""

from __future__ import annotations


def demo() -> None:
    """Start a server and three lab endpoints with agents."""
    raise SystemExit("demo is not available yet")
