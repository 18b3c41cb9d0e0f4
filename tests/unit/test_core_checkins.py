"""Check-in interval, jitter and exponential backoff."""

from __future__ import annotations

import pytest

from patchfleet.core.checkins import MAX_BACKOFF_SECONDS, next_delay


@pytest.mark.parametrize(
    ("interval", "failures", "random_unit", "expected"),
    [
        pytest.param(900, 0, 0.5, 900, id="no-jitter-at-midpoint"),
        pytest.param(900, 0, 0.0, 720, id="minus-20-percent"),
        pytest.param(900, 0, 1.0, 1080, id="plus-20-percent"),
        pytest.param(60, 1, 0.5, 60, id="first-failure-one-minute"),
        pytest.param(60, 2, 0.5, 120, id="second-failure-doubles"),
        pytest.param(60, 5, 0.5, 960, id="fifth-failure"),
        pytest.param(60, 30, 0.5, MAX_BACKOFF_SECONDS, id="capped-at-30-minutes"),
        pytest.param(900, 1, 0.5, 900, id="backoff-never-shorter-than-interval"),
        pytest.param(1, 3, 0.5, 4, id="short-test-interval-backs-off-from-itself"),
        pytest.param(
            7200,
            3,
            0.5,
            MAX_BACKOFF_SECONDS,
            id="interval-above-cap-is-capped-when-failing",
        ),
    ],
)
def test_next_delay(interval, failures, random_unit, expected):
    assert next_delay(
        interval=interval,
        failures=failures,
        jitter_fraction=0.2,
        random_unit=random_unit,
    ) == pytest.approx(expected)


def test_delays_grow_monotonically_until_the_cap():
    delays = [
        next_delay(interval=60, failures=f, jitter_fraction=0.0, random_unit=0.0)
        for f in range(12)
    ]
    assert delays == sorted(delays)
    assert delays[-1] == MAX_BACKOFF_SECONDS
