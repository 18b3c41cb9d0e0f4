"""Ratings, approvals and each client's approval settings (MP-05..MP-17, DEC-06).

Decisions are computed by ``core.policy.decide`` from what is stored here; nothing
stores "approved" as a derived flag.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.errors import InvalidInputError, NotFoundError
from patchfleet.core.policy import (
    ALL_CLIENTS,
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
    rate,
)
from patchfleet.core.queries import PATCH_FIELDS, parse
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.core.updates import split_patch_id
from patchfleet.server.db.queries import policy
from patchfleet.server.services import activity
from patchfleet.server.services.activity import ObjectType

BACKEND_FAMILIES = {"apt": "debian", "dnf": "rhel", "zypper": "suse"}


def _checked(patch_ids: Sequence[str]) -> tuple[str, ...]:
    ids = bulk(patch_ids)
    for p in ids:
        try:
            split_patch_id(p)
        except ValueError as exc:
            raise InvalidInputError(str(exc), loc=("body", "patch_ids")) from exc
    return tuple(dict.fromkeys(ids))


def _log_bulk(
    session: Session,
    principal: Principal,
    scope: Scope,
    ids: Sequence[str],
    action: str,
    now: datetime,
    details: dict[str, object],
) -> None:
    activity.record(
        session,
        principal=principal,
        partner_id=scope.partner_id,
        client_id=scope.client_id,
        object_type=ObjectType.BULK if len(ids) > 1 else ObjectType.PATCH,
        action=action,
        now=now,
        object_id=ids[0] if len(ids) == 1 else "",
        object_name=", ".join(ids)[:600],
        details={"patch_ids": list(ids), **details},
    )


def rate_patches(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    patch_ids: Sequence[str],
    rating: Rating,
    comment: str,
    now: datetime,
) -> None:
    """Allowlist, blocklist or unrate patches at the scope's level (partner or client)."""
    require_role(principal, Role.OPERATOR)
    ids = _checked(patch_ids)
    level = Level.PARTNER if scope.is_partner_level else Level.CLIENT
    with session.begin():
        use_parent = (
            scope.client_id is not None
            and policy.client_settings(session, scope.client_id)[0]
        )
        rate(
            {}, ids, rating, level=level, use_parent_level=use_parent
        )  # raises on MP-15
        policy.set_rating(
            session,
            partner_id=scope.partner_id,
            owner_key=policy.owner(scope.client_id),
            patch_ids=ids,
            rating=rating,
            comment=comment,
            user_id=principal.user_id,
            now=now,
        )
        action = "unrate" if rating is Rating.NOT_RATED else str(rating)
        _log_bulk(
            session,
            principal,
            scope,
            ids,
            action,
            now,
            {"level": str(level), "comment": comment},
        )


def approve_patches(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    patch_ids: Sequence[str],
    approved: bool,
    now: datetime,
) -> None:
    """Approve or unapprove patches for the client in scope, or every client at partner level."""
    require_role(principal, Role.OPERATOR)
    ids = _checked(patch_ids)
    with session.begin():
        for client_id in scope.client_ids:
            policy.set_approval(
                session,
                client_id=client_id,
                patch_ids=ids,
                approved=approved,
                user_id=principal.user_id,
                now=now,
            )
        _log_bulk(
            session,
            principal,
            scope,
            ids,
            "approve" if approved else "unapprove",
            now,
            {"clients": list(scope.client_ids)},
        )


def set_client_settings(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    client_id: int,
    use_parent_level: bool,
    approval_type: ApprovalType,
    now: datetime,
) -> None:
    """Set Use Parent Level (MP-15) and the approval type (CFG-18) of a client."""
    require_role(principal, Role.ADMIN)
    if client_id not in scope.client_ids:
        raise NotFoundError(f"client {client_id} not found")
    with session.begin():
        policy.set_client_settings(
            session,
            client_id=client_id,
            use_parent_level=use_parent_level,
            approval_type=approval_type,
        )
        activity.record(
            session,
            principal=principal,
            partner_id=scope.partner_id,
            client_id=client_id,
            object_type=ObjectType.CLIENT,
            action="settings",
            now=now,
            object_id=str(client_id),
            details={
                "use_parent_level": use_parent_level,
                "approval_type": str(approval_type),
            },
        )


@dataclass(frozen=True)
class ClientPolicy:
    """Everything needed to decide patches for one client, loaded once."""

    client_id: int
    use_parent_level: bool
    approval_type: ApprovalType
    client_ratings: dict[str, Rating]
    partner_ratings: dict[str, Rating]
    approvals: dict[str, ManualApproval]
    rules: tuple[ApprovalRule, ...] = ()

    def rating(self, patch_id: str) -> Rating:
        """The effective rating with inheritance."""
        return effective_rating(
            patch_id,
            client_ratings=self.client_ratings,
            partner_ratings=self.partner_ratings,
            use_parent_level=self.use_parent_level,
        )

    def decide(self, patch: PatchFacts, now: datetime) -> tuple[Rating, Decision]:
        """The effective rating and the decision for one patch."""
        rating = self.rating(patch.patch_id)
        decision = decide(
            patch,
            rating=rating,
            manual=self.approvals.get(patch.patch_id),
            rules=self.rules,
            client_id=self.client_id,
            approval_type=self.approval_type,
            now=now,
        )
        return rating, decision


def load_client_policy(
    session: Session, *, partner_id: int, client_id: int
) -> ClientPolicy:
    """Load one client's ratings, inherited ratings, approvals and settings (no transaction)."""
    use_parent, approval_type = policy.client_settings(session, client_id)
    return ClientPolicy(
        client_id=client_id,
        use_parent_level=use_parent,
        approval_type=approval_type,
        client_ratings=policy.ratings(
            session, partner_id=partner_id, owner_key=policy.owner(client_id)
        ),
        partner_ratings=policy.ratings(
            session, partner_id=partner_id, owner_key=policy.PARTNER
        ),
        approvals=policy.approvals(session, client_id),
        rules=tuple(
            to_rule(r)
            for r in policy.rules_for(
                session, partner_id=partner_id, client_id=client_id
            )
        ),
    )


def partner_ratings(session: Session, *, partner_id: int) -> dict[str, Rating]:
    """The partner-level ratings (no transaction)."""
    return policy.ratings(session, partner_id=partner_id, owner_key=policy.PARTNER)


def to_rule(row: Any) -> ApprovalRule:
    """A stored rule as a core value."""
    return ApprovalRule(
        id=row.id,
        level=Level.PARTNER if row.client_id is None else Level.CLIENT,
        query=parse(row.query, PATCH_FIELDS),
        action=RuleAction(row.action),
        created_at=row.created_at,
        client_id=row.client_id,
        clients=ClientScope.select(row.clients)
        if row.clients is not None
        else ALL_CLIENTS,
        defer_days=row.defer_days,
        os_families=frozenset(row.os_families),
        enabled=row.enabled,
        name=row.name,
    )


@dataclass(frozen=True)
class RuleSpec:
    """An approval rule as a user writes it (BP-11)."""

    name: str
    query: str
    action: RuleAction
    defer_days: int = 0
    os_families: tuple[str, ...] = ()
    clients: tuple[int, ...] | None = None
    enabled: bool = True


def create_rule(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    spec: RuleSpec,
    now: datetime,
) -> Any:
    """Create a rule at partner level (All Clients, or Select Clients) or for one client."""
    require_role(principal, Role.ADMIN if scope.is_partner_level else Role.OPERATOR)
    if spec.clients is not None and not set(spec.clients) <= set(scope.client_ids):
        raise InvalidInputError(
            "a selected client is not in scope", loc=("body", "clients")
        )
    with session.begin():
        row = policy.add_rule(
            session,
            uuid=uuid.uuid4(),
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            clients=list(spec.clients)
            if spec.clients is not None and scope.is_partner_level
            else None,
            name=spec.name,
            query=spec.query,
            action=str(spec.action),
            defer_days=spec.defer_days,
            os_families=[f.lower() for f in spec.os_families],
            enabled=spec.enabled,
            created_at=now,
            created_by=principal.user_id,
        )
        to_rule(row)  # the core refuses rules that cannot be applied as written
        activity.record(
            session,
            principal=principal,
            partner_id=scope.partner_id,
            client_id=scope.client_id,
            object_type=ObjectType.RULE,
            action="create",
            now=now,
            object_id=str(row.uuid),
            object_name=row.name,
            details={"query": row.query, "action": row.action},
        )
    return row


def list_rules(session: Session, *, scope: Scope) -> list[Any]:
    """Rules in scope."""
    with session.begin():
        return policy.rules_in_scope(
            session,
            partner_id=scope.partner_id,
            client_ids=scope.client_ids,
            partner_level=scope.is_partner_level,
        )


def delete_rule(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    rule_id: uuid.UUID,
    now: datetime,
) -> None:
    """Delete a rule in scope."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        row = policy.rule_by_uuid(
            session, partner_id=scope.partner_id, rule_uuid=rule_id
        )
        if row is None or not scope.sees(row.client_id):
            raise NotFoundError(f"rule {rule_id} not found")
        policy.remove_rule(session, row)
        activity.record(
            session,
            principal=principal,
            partner_id=scope.partner_id,
            client_id=row.client_id,
            object_type=ObjectType.RULE,
            action="delete",
            now=now,
            object_id=str(rule_id),
            object_name=row.name,
        )
