"""Classification precedence and severity normalisation (FEATURES CAT-19, CAT-27)."""

from __future__ import annotations

import pytest

from patchfleet.core.updates import Classification as C
from patchfleet.core.updates import Severity as S
from patchfleet.core.updates import Update, normalise_severity, strongest


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        pytest.param([], C.OTHER, id="no-signal"),
        pytest.param([C.BUGFIX, C.SECURITY], C.SECURITY, id="security-beats-bugfix"),
        pytest.param(
            [C.FIRMWARE, C.CRITICAL], C.CRITICAL, id="critical-beats-firmware"
        ),
        pytest.param([C.DRIVER, C.FIRMWARE], C.FIRMWARE, id="firmware-beats-driver"),
        pytest.param(
            [C.ENHANCEMENT, C.BUGFIX], C.BUGFIX, id="bugfix-beats-enhancement"
        ),
        pytest.param(
            [C.OTHER, C.ENHANCEMENT], C.ENHANCEMENT, id="anything-beats-other"
        ),
    ],
)
def test_strongest(signals, expected):
    assert strongest(signals) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Important", S.HIGH),
        ("Moderate", S.MEDIUM),
        ("Critical", S.CRITICAL),
        ("low", S.LOW),
        ("", S.NONE),
        (None, S.NONE),
        ("urgent", S.CRITICAL),
        ("unheard-of", S.NONE),
        (" HIGH ", S.HIGH),
    ],
)
def test_normalise_severity(raw, expected):
    assert normalise_severity(raw) == expected


def test_security_and_critical_count_as_security():
    assert Update("a", "1", "2", classification=C.CRITICAL).is_security
    assert not Update("a", "1", "2", classification=C.BUGFIX).is_security
