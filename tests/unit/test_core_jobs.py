"""Install jobs: transitions, outcome merging, final status, lost jobs, reboots (DEC-11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patchfleet.core.errors import ConflictError
from patchfleet.core.jobs import (
    JobStatus as J,
)
from patchfleet.core.jobs import (
    PatchOutcome,
    RebootPolicy,
    abandon,
    deadline,
    expire,
    final_status,
    merge_outcomes,
    should_reboot,
    transition,
)
from patchfleet.core.jobs import (
    PatchStatus as P,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        pytest.param(J.PENDING, J.DELIVERED, J.DELIVERED, id="deliver"),
        pytest.param(J.DELIVERED, J.RUNNING, J.RUNNING, id="start"),
        pytest.param(J.RUNNING, J.RUNNING, J.RUNNING, id="progress"),
        pytest.param(J.RUNNING, J.COMPLETED, J.COMPLETED, id="complete"),
        pytest.param(J.PENDING, J.LOST, J.LOST, id="never-picked-up"),
        pytest.param(
            J.COMPLETED, J.COMPLETED, J.COMPLETED, id="repeat-final-is-idempotent"
        ),
    ],
)
def test_allowed_transitions(current, new, expected):
    assert transition(current, new) == expected


@pytest.mark.parametrize(
    ("current", "new"),
    [
        pytest.param(J.COMPLETED, J.RUNNING, id="final-never-reopens"),
        pytest.param(J.LOST, J.COMPLETED, id="lost-stays-lost"),
        pytest.param(J.RUNNING, J.PENDING, id="no-going-back"),
        pytest.param(J.FAILED, J.COMPLETED, id="failed-stays-failed"),
    ],
)
def test_refused_transitions(current, new):
    with pytest.raises(ConflictError):
        transition(current, new)


def o(name, status, message=""):
    return PatchOutcome(name=name, version="2", status=status, message=message)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param([P.INSTALLED, P.INSTALLED], J.COMPLETED, id="all-installed"),
        pytest.param(
            [P.INSTALLED, P.SKIPPED, P.NOT_APPLICABLE], J.COMPLETED, id="skips-are-fine"
        ),
        pytest.param([P.INSTALLED, P.FAILED], J.FAILED, id="one-failure"),
        pytest.param(
            [P.INSTALLED, P.PENDING], J.FAILED, id="unfinished-counts-as-failed"
        ),
        pytest.param([], J.COMPLETED, id="nothing-to-do"),
    ],
)
def test_final_status(statuses, expected):
    assert final_status([o(str(i), s) for i, s in enumerate(statuses)]) == expected


def test_merge_never_undoes_a_final_outcome():
    known = [o("a", P.INSTALLED), o("b", P.INSTALLING)]
    merged = merge_outcomes(
        known, [o("a", P.FAILED), o("b", P.FAILED, "E: broken"), o("c", P.PENDING)]
    )
    assert {m.name: m.status for m in merged} == {
        "a": P.INSTALLED,
        "b": P.FAILED,
        "c": P.PENDING,
    }


def test_lost_after_deadline_only_when_unfinished():
    due = deadline(
        started_at=NOW,
        patches=3,
        per_patch=timedelta(minutes=10),
        floor=timedelta(minutes=15),
    )
    assert due == NOW + timedelta(minutes=30)
    assert (
        expire(J.RUNNING, deadline_at=due, now=due - timedelta(seconds=1)) == J.RUNNING
    )
    assert expire(J.RUNNING, deadline_at=due, now=due) == J.LOST
    assert (
        expire(J.COMPLETED, deadline_at=due, now=due + timedelta(days=1)) == J.COMPLETED
    )
    assert deadline(
        started_at=NOW,
        patches=0,
        per_patch=timedelta(minutes=10),
        floor=timedelta(minutes=15),
    ) == (NOW + timedelta(minutes=15))


def test_abandon_fails_only_unfinished_patches():
    out = abandon(
        [o("a", P.INSTALLED), o("b", P.INSTALLING)], "agent stopped reporting"
    )
    assert [(x.status, x.message) for x in out] == [
        (P.INSTALLED, ""),
        (P.FAILED, "agent stopped reporting"),
    ]


@pytest.mark.parametrize(
    ("policy", "required", "installed", "expected"),
    [
        pytest.param(RebootPolicy.NEVER, True, True, False, id="no-never-reboots"),
        pytest.param(
            RebootPolicy.IF_REQUIRED, True, True, True, id="yes-when-required"
        ),
        pytest.param(
            RebootPolicy.IF_REQUIRED, False, True, False, id="yes-not-required"
        ),
        pytest.param(
            RebootPolicy.IF_REQUIRED, True, False, False, id="yes-nothing-installed"
        ),
        pytest.param(RebootPolicy.FORCE, False, False, True, id="force-always"),
    ],
)
def test_should_reboot(policy, required, installed, expected):
    assert (
        should_reboot(policy, reboot_required=required, installed_any=installed)
        is expected
    )
