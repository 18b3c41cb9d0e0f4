"""Ratings, manual approvals and client approval settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from patchfleet.core.policy import ApprovalType, ManualApproval, Rating
from patchfleet.server.db.rows import (
    ApprovalRow,
    ApprovalRuleRow,
    ClientRow,
    PatchRatingRow,
)

PARTNER = "partner"


def owner(client_id: int | None) -> str:
    """The rating owner key: the partner, or one client."""
    return PARTNER if client_id is None else f"client:{client_id}"


def ratings(session: Session, *, partner_id: int, owner_key: str) -> dict[str, Rating]:
    """All ratings of one owner, by patch id."""
    rows = session.execute(
        select(PatchRatingRow.patch_id, PatchRatingRow.rating).where(
            PatchRatingRow.partner_id == partner_id, PatchRatingRow.owner == owner_key
        )
    )
    return {r[0]: Rating(r[1]) for r in rows}


def set_rating(
    session: Session,
    *,
    partner_id: int,
    owner_key: str,
    patch_ids: Sequence[str],
    rating: Rating,
    comment: str,
    user_id: int,
    now: datetime,
) -> None:
    """Rate patches for one owner; NOT_RATED removes the rating (Unrate)."""
    session.execute(
        delete(PatchRatingRow).where(
            PatchRatingRow.partner_id == partner_id,
            PatchRatingRow.owner == owner_key,
            PatchRatingRow.patch_id.in_(patch_ids),
        )
    )
    if rating is Rating.NOT_RATED:
        return
    session.add_all(
        PatchRatingRow(
            partner_id=partner_id,
            owner=owner_key,
            patch_id=p,
            rating=str(rating),
            comment=comment,
            rated_by=user_id,
            rated_at=now,
        )
        for p in patch_ids
    )


def approvals(session: Session, client_id: int) -> dict[str, ManualApproval]:
    """A client's manual approvals and unapprovals, by patch id."""
    rows = session.scalars(
        select(ApprovalRow).where(ApprovalRow.client_id == client_id)
    )
    return {
        r.patch_id: ManualApproval(r.approved, r.decided_at, r.decided_by) for r in rows
    }


def set_approval(
    session: Session,
    *,
    client_id: int,
    patch_ids: Sequence[str],
    approved: bool,
    user_id: int,
    now: datetime,
) -> None:
    """Record a manual Approve or Unapprove of patches for a client."""
    session.execute(
        delete(ApprovalRow).where(
            ApprovalRow.client_id == client_id, ApprovalRow.patch_id.in_(patch_ids)
        )
    )
    session.add_all(
        ApprovalRow(
            client_id=client_id,
            patch_id=p,
            approved=approved,
            decided_by=user_id,
            decided_at=now,
        )
        for p in patch_ids
    )


def client_settings(session: Session, client_id: int) -> tuple[bool, ApprovalType]:
    """(use parent level, approval type) of a client."""
    row = session.execute(
        select(ClientRow.use_parent_level, ClientRow.approval_type).where(
            ClientRow.id == client_id
        )
    ).one()
    return bool(row[0]), ApprovalType(row[1])


def set_client_settings(
    session: Session,
    *,
    client_id: int,
    use_parent_level: bool,
    approval_type: ApprovalType,
) -> None:
    """Change a client's rating inheritance and approval type."""
    session.execute(
        update(ClientRow)
        .where(ClientRow.id == client_id)
        .values(use_parent_level=use_parent_level, approval_type=str(approval_type))
    )


def add_rule(session: Session, **values: Any) -> ApprovalRuleRow:
    """Insert an approval rule."""
    row = ApprovalRuleRow(**values)
    session.add(row)
    session.flush()
    return row


def rules_for(
    session: Session, *, partner_id: int, client_id: int
) -> list[ApprovalRuleRow]:
    """The partner's rules and the client's own (scope filtering is the core's job)."""
    return list(
        session.scalars(
            select(ApprovalRuleRow).where(
                ApprovalRuleRow.partner_id == partner_id,
                or_(
                    ApprovalRuleRow.client_id.is_(None),
                    ApprovalRuleRow.client_id == client_id,
                ),
            )
        )
    )


def rules_in_scope(
    session: Session,
    *,
    partner_id: int,
    client_ids: tuple[int, ...],
    partner_level: bool,
) -> list[ApprovalRuleRow]:
    """Rules visible in a scope."""
    cond: ColumnElement[bool] = ApprovalRuleRow.client_id.in_(client_ids)
    if partner_level:
        cond = or_(cond, ApprovalRuleRow.client_id.is_(None))
    return list(
        session.scalars(
            select(ApprovalRuleRow)
            .where(ApprovalRuleRow.partner_id == partner_id, cond)
            .order_by(ApprovalRuleRow.created_at)
        )
    )


def rule_by_uuid(
    session: Session, *, partner_id: int, rule_uuid: uuid.UUID
) -> ApprovalRuleRow | None:
    """One rule of a partner."""
    return session.scalar(
        select(ApprovalRuleRow).where(
            ApprovalRuleRow.partner_id == partner_id, ApprovalRuleRow.uuid == rule_uuid
        )
    )


def remove_rule(session: Session, row: ApprovalRuleRow) -> None:
    """Delete a rule."""
    session.execute(delete(ApprovalRuleRow).where(ApprovalRuleRow.id == row.id))
