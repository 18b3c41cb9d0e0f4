"""Ratings, approval rules and decisions (MP-07..MP-15, DEC-06, CFG-18, BP-11, MT-04)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patchfleet.core.errors import (
    BulkLimitError,
    InvalidInputError,
    PermissionDeniedError,
)
from patchfleet.core.policy import (
    ALL_CLIENTS,
    DEFAULT_AUTO_APPROVAL,
    DEFAULT_AUTO_APPROVAL_TEXT,
    ApprovalOutcome,
    ApprovalRule,
    ApprovalType,
    ClientScope,
    Decision,
    Level,
    ManualApproval,
    PatchFacts,
    Rating,
    RuleAction,
    bulk,
    decide,
    effective_rating,
    is_installable_by,
    rate,
    select_patches,
)
from patchfleet.core.queries import PATCH_FIELDS, parse, to_text
from patchfleet.core.updates import Classification, Severity

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RULES_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
CLIENT = 7
OTHER_CLIENT = 8
LATER_CLIENT = 99  # created after every rule in this file

APPROVED = ApprovalOutcome.APPROVED
NOT_APPROVED = ApprovalOutcome.NOT_APPROVED
REJECTED = ApprovalOutcome.REJECTED
DEFERRED = ApprovalOutcome.DEFERRED_UNTIL
AUTO = ApprovalType.AUTOMATIC
MANUAL = ApprovalType.MANUAL
APPROVE = RuleAction.APPROVE
REJECT = RuleAction.REJECT
DEFER = RuleAction.DEFER
YES = ManualApproval(is_approved=True, decided_at=NOW, user_id=1)
NO = ManualApproval(is_approved=False, decided_at=NOW, user_id=1)


def facts(**overrides):
    values = {
        "patch_id": "p1",
        "name": "openssl",
        "os_family": "linux",
        "first_seen_at": NOW - timedelta(days=2),
        "category": Classification.SECURITY,
        "severity": Severity.HIGH,
        "source": "debian-security",
        "cves": ("CVE-2026-0001",),
        "cvss": 8.1,
        "epss": 0.3,
        "is_kev": False,
        "backend": "apt",
    }
    return PatchFacts(**(values | overrides))


def client_rule(rule_id, action, query="name = *", **overrides):
    values = {
        "client_id": CLIENT,
        "defer_days": 3 if action is DEFER else 0,
        "created_at": RULES_CREATED_AT + timedelta(days=rule_id),
    }
    return ApprovalRule(
        id=rule_id,
        level=Level.CLIENT,
        query=parse(query, PATCH_FIELDS),
        action=action,
        **(values | overrides),
    )


def partner_rule(rule_id, action, query="name = *", **overrides):
    values = {
        "defer_days": 3 if action is DEFER else 0,
        "created_at": RULES_CREATED_AT + timedelta(days=rule_id),
    }
    return ApprovalRule(
        id=rule_id,
        level=Level.PARTNER,
        query=parse(query, PATCH_FIELDS),
        action=action,
        **(values | overrides),
    )


def run(
    rules=(),
    *,
    patch=None,
    rating=Rating.NOT_RATED,
    manual=None,
    approval_type=MANUAL,
    client_id=CLIENT,
    now=NOW,
    **kwargs,
):
    return decide(
        patch or facts(),
        rating=rating,
        manual=manual,
        rules=list(rules),
        client_id=client_id,
        approval_type=approval_type,
        now=now,
        **kwargs,
    )


# 1. Blocklisted: never approved, selected or installed, by any path (MP-12) -----------


@pytest.mark.parametrize(
    ("rules", "manual", "approval_type"),
    [
        pytest.param([], None, MANUAL, id="nothing"),
        pytest.param([], YES, MANUAL, id="manual-approve"),
        pytest.param([], None, AUTO, id="auto-rule"),
        pytest.param([client_rule(1, APPROVE)], None, MANUAL, id="client-approve-rule"),
        pytest.param(
            [partner_rule(1, APPROVE)], None, MANUAL, id="partner-approve-rule"
        ),
        pytest.param(
            [client_rule(1, DEFER, defer_days=1)],
            None,
            MANUAL,
            id="elapsed-defer-rule",
        ),
        pytest.param(
            [client_rule(1, APPROVE), partner_rule(2, APPROVE)],
            YES,
            AUTO,
            id="every-path-at-once",
        ),
    ],
)
def test_blocklisted_is_rejected_whatever_else_says_approve(
    rules, manual, approval_type
):
    decision = run(
        rules,
        rating=Rating.BLOCKLISTED,
        manual=manual,
        approval_type=approval_type,
        auto_rule=parse("name = *", PATCH_FIELDS),
    )
    assert decision == Decision(REJECTED, "blocklisted: never approved")
    assert not is_installable_by(decision, Rating.BLOCKLISTED)


def test_install_guard_refuses_a_stale_approval_of_a_blocklisted_patch():
    approved = Decision(APPROVED, "approved manually")
    assert is_installable_by(approved, Rating.ALLOWLISTED)
    assert is_installable_by(approved, Rating.NOT_RATED)
    assert not is_installable_by(approved, Rating.BLOCKLISTED)


@pytest.mark.parametrize(
    "outcome",
    [NOT_APPROVED, REJECTED, DEFERRED],
    ids=str,
)
def test_install_guard_refuses_anything_but_approved(outcome):
    assert not is_installable_by(Decision(outcome, "x"), Rating.ALLOWLISTED)


def test_dynamic_selection_never_picks_a_blocklisted_patch():
    patches = [facts(patch_id="a"), facts(patch_id="b"), facts(patch_id="c")]
    ratings = {"a": Rating.BLOCKLISTED, "b": Rating.ALLOWLISTED}
    picked = select_patches(
        patches, query=parse("name = *", PATCH_FIELDS), ratings=ratings, now=NOW
    )
    assert [p.patch_id for p in picked] == ["b", "c"]


def test_dynamic_selection_cannot_ask_for_blocklisted_patches():
    picked = select_patches(
        [facts(patch_id="a")],
        query=parse("rating = blocklisted", PATCH_FIELDS),
        ratings={"a": Rating.BLOCKLISTED},
        now=NOW,
    )
    assert picked == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("rating = allowlisted", ["b"], id="by-rating"),
        pytest.param("rating = not_rated", ["c"], id="unrated"),
        pytest.param("cvss >= 9", ["c"], id="by-cvss"),
        pytest.param("release_age > 5d", ["b"], id="by-age"),
    ],
)
def test_dynamic_selection_filters_by_query(query, expected):
    patches = [
        facts(patch_id="b", first_seen_at=NOW - timedelta(days=6)),
        facts(patch_id="c", cvss=9.8),
    ]
    picked = select_patches(
        patches,
        query=parse(query, PATCH_FIELDS),
        ratings={"b": Rating.ALLOWLISTED},
        now=NOW,
    )
    assert [p.patch_id for p in picked] == expected


# 2. Automatic approval (DEC-06, CFG-18) -----------------------------------------------


@pytest.mark.parametrize(
    ("rating", "category", "approval_type", "expected"),
    [
        pytest.param(
            Rating.ALLOWLISTED, Classification.SECURITY, AUTO, APPROVED,
            id="allowlisted-security",
        ),
        pytest.param(
            Rating.ALLOWLISTED, Classification.CRITICAL, AUTO, APPROVED,
            id="allowlisted-critical",
        ),
        pytest.param(
            Rating.ALLOWLISTED, Classification.ENHANCEMENT, AUTO, NOT_APPROVED,
            id="allowlisted-enhancement",
        ),
        pytest.param(
            Rating.ALLOWLISTED, Classification.BUGFIX, AUTO, NOT_APPROVED,
            id="allowlisted-bugfix",
        ),
        pytest.param(
            Rating.NOT_RATED, Classification.SECURITY, AUTO, NOT_APPROVED,
            id="unrated-security",
        ),
        pytest.param(
            Rating.BLOCKLISTED, Classification.SECURITY, AUTO, REJECTED,
            id="blocklisted-security",
        ),
        pytest.param(
            Rating.ALLOWLISTED, Classification.SECURITY, MANUAL, NOT_APPROVED,
            id="manual-type-ignores-auto-rule",
        ),
    ],
)  # fmt: skip
def test_default_auto_approval(rating, category, approval_type, expected):
    decision = run(
        patch=facts(category=category), rating=rating, approval_type=approval_type
    )
    assert decision.outcome is expected


def test_auto_approval_reason():
    decision = run(rating=Rating.ALLOWLISTED, approval_type=AUTO)
    assert decision == Decision(
        APPROVED, "approved automatically: matches the auto-approval rule"
    )


def test_auto_rule_is_editable():
    kev_rule = parse("kev = true or severity >= critical", PATCH_FIELDS)
    assert run(approval_type=AUTO, auto_rule=kev_rule).outcome is NOT_APPROVED
    decision = run(patch=facts(is_kev=True), approval_type=AUTO, auto_rule=kev_rule)
    assert decision.outcome is APPROVED


def test_default_auto_rule_text():
    assert to_text(DEFAULT_AUTO_APPROVAL) == DEFAULT_AUTO_APPROVAL_TEXT


# 3. Rules, manual decisions and their order (BP-11, MP-07, MP-08) ---------------------


@pytest.mark.parametrize(
    ("rules", "manual", "approval_type", "outcome", "rule_id"),
    [
        pytest.param([], None, MANUAL, NOT_APPROVED, None, id="nothing"),
        pytest.param([], YES, MANUAL, APPROVED, None, id="manual-approve"),
        pytest.param([], NO, AUTO, NOT_APPROVED, None, id="manual-unapprove-beats-auto"),
        pytest.param(
            [client_rule(1, REJECT)], YES, MANUAL, REJECTED, 1,
            id="reject-beats-manual-approve",
        ),
        pytest.param(
            [client_rule(1, REJECT)], None, AUTO, REJECTED, 1,
            id="reject-beats-auto",
        ),
        pytest.param(
            [client_rule(1, APPROVE), client_rule(2, REJECT)], None, MANUAL,
            REJECTED, 2, id="reject-beats-approve-same-level",
        ),
        pytest.param(
            [client_rule(1, APPROVE), partner_rule(2, REJECT)], None, MANUAL,
            REJECTED, 2, id="partner-reject-beats-client-approve",
        ),
        pytest.param(
            [client_rule(1, DEFER), partner_rule(2, REJECT)], None, MANUAL,
            REJECTED, 2, id="partner-reject-beats-client-defer",
        ),
        pytest.param(
            [partner_rule(1, REJECT), client_rule(2, REJECT)], None, MANUAL,
            REJECTED, 2, id="client-reject-named-first",
        ),
        pytest.param(
            [client_rule(1, APPROVE)], NO, MANUAL, NOT_APPROVED, None,
            id="manual-unapprove-beats-approve-rule",
        ),
        pytest.param(
            [client_rule(1, DEFER)], YES, MANUAL, APPROVED, None,
            id="manual-approve-beats-defer-rule",
        ),
        pytest.param(
            [client_rule(1, APPROVE)], None, MANUAL, APPROVED, 1,
            id="client-approve",
        ),
        pytest.param(
            [partner_rule(1, APPROVE)], None, MANUAL, APPROVED, 1,
            id="partner-approve",
        ),
        pytest.param(
            [client_rule(1, APPROVE), partner_rule(2, DEFER)], None, MANUAL,
            APPROVED, 1, id="client-approve-beats-partner-defer",
        ),
        pytest.param(
            [partner_rule(1, APPROVE), client_rule(2, DEFER)], None, MANUAL,
            DEFERRED, 2, id="client-defer-beats-partner-approve",
        ),
        pytest.param(
            [client_rule(1, DEFER)], None, AUTO, DEFERRED, 1,
            id="defer-rule-beats-auto",
        ),
        pytest.param(
            [client_rule(1, APPROVE), client_rule(2, DEFER)], None, MANUAL,
            DEFERRED, 2, id="defer-beats-approve-same-level",
        ),
        pytest.param(
            [client_rule(1, DEFER, defer_days=3), client_rule(2, DEFER, defer_days=9)],
            None, MANUAL, DEFERRED, 2, id="longest-defer-wins",
        ),
        pytest.param(
            [client_rule(2, DEFER, defer_days=5), client_rule(1, DEFER, defer_days=5)],
            None, MANUAL, DEFERRED, 1, id="equal-defers-oldest-named",
        ),
        pytest.param(
            [client_rule(3, APPROVE), client_rule(1, APPROVE)], None, MANUAL,
            APPROVED, 1, id="oldest-approve-named",
        ),
        pytest.param(
            [client_rule(1, REJECT, enabled=False)], None, MANUAL, NOT_APPROVED,
            None, id="disabled-rule-ignored",
        ),
        pytest.param(
            [client_rule(1, APPROVE, query="name = nginx")], None, MANUAL,
            NOT_APPROVED, None, id="non-matching-rule-ignored",
        ),
        pytest.param(
            [client_rule(1, REJECT, query="name = nginx"), client_rule(2, APPROVE)],
            None, MANUAL, APPROVED, 2, id="non-matching-reject-ignored",
        ),
        pytest.param(
            [client_rule(1, APPROVE, client_id=OTHER_CLIENT)], None, MANUAL,
            NOT_APPROVED, None, id="other-clients-rule-ignored",
        ),
        pytest.param(
            [partner_rule(1, APPROVE, clients=ClientScope.select({OTHER_CLIENT}))],
            None, MANUAL, NOT_APPROVED, None, id="partner-rule-for-other-clients",
        ),
        pytest.param(
            [partner_rule(1, APPROVE, clients=ClientScope.select({CLIENT, 8}))],
            None, MANUAL, APPROVED, 1, id="partner-rule-for-selected-clients",
        ),
    ],
)  # fmt: skip
def test_decision_order(rules, manual, approval_type, outcome, rule_id):
    decision = run(
        rules, rating=Rating.ALLOWLISTED, manual=manual, approval_type=approval_type
    )
    assert (decision.outcome, decision.rule_id) == (outcome, rule_id)


def test_partner_rule_for_all_clients_covers_a_client_created_later():
    rule = partner_rule(1, APPROVE, clients=ALL_CLIENTS)
    assert run([rule], client_id=LATER_CLIENT).outcome is APPROVED


def test_kev_rule_applies_to_two_clients():
    rule = partner_rule(1, APPROVE, query="kev = true")
    kev = facts(is_kev=True)
    assert run([rule], patch=kev, client_id=CLIENT).outcome is APPROVED
    assert run([rule], patch=kev, client_id=OTHER_CLIENT).outcome is APPROVED
    assert run([rule], patch=facts(), client_id=CLIENT).outcome is NOT_APPROVED


@pytest.mark.parametrize(
    ("families", "patch_family", "outcome"),
    [
        pytest.param(frozenset(), "linux", APPROVED, id="all-families-linux"),
        pytest.param(frozenset(), "windows", APPROVED, id="all-families-windows"),
        pytest.param(frozenset(), "macos", APPROVED, id="all-families-macos"),
        pytest.param(frozenset({"linux"}), "linux", APPROVED, id="linux-only-linux"),
        pytest.param(frozenset({"Linux"}), "linux", APPROVED, id="family-case"),
        pytest.param(
            frozenset({"windows"}), "linux", NOT_APPROVED, id="windows-only-linux"
        ),
        pytest.param(
            frozenset({"windows", "macos"}), "macos", APPROVED, id="two-families"
        ),
    ],
)
def test_rules_apply_to_every_os_family_unless_restricted(
    families, patch_family, outcome
):
    rule = client_rule(1, APPROVE, os_families=families)
    assert run([rule], patch=facts(os_family=patch_family)).outcome is outcome


@pytest.mark.parametrize(
    ("query", "outcome"),
    [
        pytest.param("category in (security, critical)", APPROVED, id="category"),
        pytest.param("severity >= high", APPROVED, id="severity"),
        pytest.param("severity >= critical", NOT_APPROVED, id="severity-too-low"),
        pytest.param('name =~ "^open"', APPROVED, id="name-pattern"),
        pytest.param("cvss >= 8", APPROVED, id="cvss"),
        pytest.param("epss > 0.5", NOT_APPROVED, id="epss"),
        pytest.param("source ~ security", APPROVED, id="source"),
        pytest.param("rating = allowlisted", APPROVED, id="rating"),
        pytest.param("release_age > 1d", APPROVED, id="release-age"),
        pytest.param("release_age > 3d", NOT_APPROVED, id="release-age-young"),
    ],
)
def test_rule_queries_see_the_patch_and_its_rating(query, outcome):
    rule = client_rule(1, APPROVE, query=query)
    assert run([rule], rating=Rating.ALLOWLISTED).outcome is outcome


@pytest.mark.parametrize(
    ("rules", "manual", "reason"),
    [
        pytest.param([], None, "not approved", id="nothing"),
        pytest.param([], YES, "approved manually", id="manual-approve"),
        pytest.param([], NO, "unapproved manually", id="manual-unapprove"),
        pytest.param(
            [client_rule(4, APPROVE, name="Security first")],
            None,
            'approved by client rule 4 "Security first"',
            id="named-approve",
        ),
        pytest.param(
            [partner_rule(5, REJECT)],
            None,
            "rejected by partner rule 5",
            id="partner-reject",
        ),
        pytest.param(
            [client_rule(6, DEFER, defer_days=7)],
            None,
            "deferred by client rule 6 until 2026-03-15 12:00 UTC",
            id="defer",
        ),
        pytest.param(
            [client_rule(6, DEFER, defer_days=1)],
            None,
            "approved by client rule 6: its 1-day deferral ended",
            id="defer-ended",
        ),
    ],
)
def test_reasons_shown_in_the_ui(rules, manual, reason):
    assert run(rules, manual=manual).reason == reason


# 4. Deferral: N days after release (or first sighting), then approved -----------------

FIRST_SEEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
RELEASED = datetime(2026, 2, 20, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("released_at", "days", "now", "outcome", "until"),
    [
        pytest.param(
            None, 7, FIRST_SEEN, DEFERRED, FIRST_SEEN + timedelta(days=7),
            id="just-seen",
        ),
        pytest.param(
            None, 7, FIRST_SEEN + timedelta(days=7, seconds=-1), DEFERRED,
            FIRST_SEEN + timedelta(days=7), id="one-second-before",
        ),
        pytest.param(
            None, 7, FIRST_SEEN + timedelta(days=7), APPROVED, None,
            id="at-the-instant",
        ),
        pytest.param(
            None, 7, FIRST_SEEN + timedelta(days=30), APPROVED, None,
            id="long-after",
        ),
        pytest.param(
            RELEASED, 7, FIRST_SEEN, APPROVED, None,
            id="release-date-counts-not-first-seen",
        ),
        pytest.param(
            RELEASED, 14, FIRST_SEEN, DEFERRED, RELEASED + timedelta(days=14),
            id="release-plus-14",
        ),
        pytest.param(
            None, 1, FIRST_SEEN + timedelta(hours=23), DEFERRED,
            FIRST_SEEN + timedelta(days=1), id="one-day",
        ),
    ],
)  # fmt: skip
def test_defer_n_days(released_at, days, now, outcome, until):
    patch = facts(first_seen_at=FIRST_SEEN, released_at=released_at)
    decision = run([client_rule(1, DEFER, defer_days=days)], patch=patch, now=now)
    assert (decision.outcome, decision.until) == (outcome, until)


def test_deferred_patch_is_not_installable():
    decision = run([client_rule(1, DEFER, defer_days=30)])
    assert decision.outcome is DEFERRED
    assert not is_installable_by(decision, Rating.ALLOWLISTED)


# 5. Rule validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "loc"),
    [
        pytest.param(
            lambda: client_rule(1, APPROVE, client_id=None),
            ("body", "client_id"),
            id="client-rule-without-client",
        ),
        pytest.param(
            lambda: partner_rule(1, APPROVE, client_id=CLIENT),
            ("body", "client_id"),
            id="partner-rule-with-client",
        ),
        pytest.param(
            lambda: client_rule(1, DEFER, defer_days=0),
            ("body", "defer_days"),
            id="defer-zero-days",
        ),
        pytest.param(
            lambda: client_rule(1, DEFER, defer_days=-2),
            ("body", "defer_days"),
            id="defer-negative",
        ),
        pytest.param(
            lambda: client_rule(1, APPROVE, defer_days=3),
            ("body", "defer_days"),
            id="approve-with-days",
        ),
    ],
)
def test_invalid_rules_are_refused(build, loc):
    with pytest.raises(InvalidInputError) as caught:
        build()
    assert caught.value.loc == loc


# 6. Ratings with inheritance (MP-11..MP-15, MT-04) ------------------------------------

A = Rating.ALLOWLISTED
B = Rating.BLOCKLISTED
N = Rating.NOT_RATED


@pytest.mark.parametrize(
    ("client", "partner", "use_parent_level", "expected"),
    [
        pytest.param(None, None, False, N, id="nobody-rated"),
        pytest.param(None, A, False, A, id="partner-only"),
        pytest.param(B, None, False, B, id="client-only"),
        pytest.param(B, A, False, B, id="client-beats-partner"),
        pytest.param(A, B, False, A, id="client-allow-beats-partner-block"),
        pytest.param(N, A, False, A, id="stored-unrated-falls-back"),
        pytest.param(B, A, True, A, id="parent-level-partner-wins"),
        pytest.param(B, None, True, N, id="parent-level-ignores-client"),
        pytest.param(None, B, True, B, id="parent-level-block"),
    ],
)
def test_effective_rating(client, partner, use_parent_level, expected):
    client_ratings = {} if client is None else {"p1": client}
    partner_ratings = {} if partner is None else {"p1": partner}
    assert (
        effective_rating(
            "p1",
            client_ratings=client_ratings,
            partner_ratings=partner_ratings,
            use_parent_level=use_parent_level,
        )
        is expected
    )


CLIENT_LEVEL = {"level": Level.CLIENT, "use_parent_level": False}


def test_rate_sets_and_unrate_removes():
    ratings = {"a": A, "b": B}
    rated = rate(ratings, ["b", "c"], A, **CLIENT_LEVEL)
    assert rated == {"a": A, "b": A, "c": A}
    unrated = rate(rated, ["a", "x"], N, **CLIENT_LEVEL)
    assert unrated == {"b": A, "c": A}
    assert ratings == {"a": A, "b": B}


def test_client_rating_refused_under_use_parent_level():
    with pytest.raises(PermissionDeniedError, match="Use Parent Level"):
        rate({}, ["a"], B, level=Level.CLIENT, use_parent_level=True)


def test_partner_rating_allowed_under_use_parent_level():
    assert rate({}, ["a"], B, level=Level.PARTNER, use_parent_level=True) == {"a": B}


def test_rate_is_a_bulk_action():
    with pytest.raises(BulkLimitError):
        rate({}, [str(i) for i in range(101)], A, **CLIENT_LEVEL)


# 7. Bulk limit (DEC-12) ---------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 99, 100], ids=lambda n: f"{n}-items")
def test_bulk_accepts_up_to_100(count):
    assert bulk(list(range(count))) == tuple(range(count))


@pytest.mark.parametrize("count", [101, 1000], ids=lambda n: f"{n}-items")
def test_bulk_refuses_more_than_100(count):
    with pytest.raises(BulkLimitError) as caught:
        bulk(list(range(count)))
    assert str(caught.value) == f"bulk actions take at most 100 items; got {count}"
    assert caught.value.loc == ("body", "ids")


# 8. Consistency with the query language -----------------------------------------------


def test_ratings_are_the_rating_field_choices():
    assert tuple(Rating) == PATCH_FIELDS["rating"].choices


def test_patch_record_names_every_patch_field():
    record = facts().record(Rating.NOT_RATED)
    assert set(record) == set(PATCH_FIELDS.names)
