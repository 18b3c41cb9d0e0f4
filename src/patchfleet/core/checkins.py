"""When an agent should next contact the server: interval, jitter and backoff."""

from __future__ import annotations

MAX_BACKOFF_SECONDS = 30 * 60
MIN_BACKOFF_SECONDS = 60


def next_delay(
    *, interval: float, failures: int, jitter_fraction: float, random_unit: float
) -> float:
    """Seconds until the next check-in.

    Args:
        interval: the server's check-in interval in seconds.
        failures: consecutive failed contacts (0 after a success).
        jitter_fraction: spread as a fraction of the delay, e.g. 0.2 for ±20 %.
        random_unit: a random number in [0, 1) supplied by the caller.

    With no failures the delay is ``interval`` ±jitter. After failures it grows
    exponentially from ``min(interval, 60 s)`` and is capped at 30 minutes, so a downed
    server is not hammered and a recovered one is not stampeded.
    """
    if failures <= 0:
        base = interval
    else:
        start = min(interval, MIN_BACKOFF_SECONDS)
        base = min(start * 2 ** (failures - 1), MAX_BACKOFF_SECONDS)
        base = max(base, min(interval, MAX_BACKOFF_SECONDS))
    spread = base * jitter_fraction
    return max(0.0, base - spread + 2 * spread * random_unit)
