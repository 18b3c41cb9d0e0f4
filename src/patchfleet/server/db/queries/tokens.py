"""API tokens, web sessions and enrollment tokens (all stored as SHA-256)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from patchfleet.server.db.rows import ApiTokenRow, EnrollmentTokenRow, UserRow


def add_api_token(
    session: Session,
    *,
    user_id: int,
    name: str,
    token_hash: str,
    kind: str,
    now: datetime,
    expires_at: datetime | None,
) -> ApiTokenRow:
    """Insert an API or session token."""
    row = ApiTokenRow(
        user_id=user_id,
        name=name,
        token_hash=token_hash,
        kind=kind,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    return row


def live_token_user(
    session: Session, *, token_hash: str, kind: str, now: datetime
) -> UserRow | None:
    """The enabled user owning an unrevoked, unexpired token of ``kind``."""
    return session.scalar(
        select(UserRow)
        .join(ApiTokenRow, ApiTokenRow.user_id == UserRow.id)
        .where(
            ApiTokenRow.token_hash == token_hash,
            ApiTokenRow.kind == kind,
            ApiTokenRow.revoked_at.is_(None),
            or_(ApiTokenRow.expires_at.is_(None), ApiTokenRow.expires_at > now),
            UserRow.disabled.is_(False),
        )
    )


def user_tokens(session: Session, user_id: int) -> list[ApiTokenRow]:
    """A user's API tokens (not sessions), newest first."""
    return list(
        session.scalars(
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == user_id, ApiTokenRow.kind == "api")
            .order_by(ApiTokenRow.id.desc())
        )
    )


def revoke_token(
    session: Session, *, token_id: int, user_id: int, now: datetime
) -> bool:
    """Revoke one of a user's tokens; False if it is not theirs."""
    result = session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.id == token_id, ApiTokenRow.user_id == user_id)
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_by_hash(
    session: Session, *, token_hash: str, kind: str, now: datetime
) -> None:
    """Revoke a token of ``kind`` by its hash (logout)."""
    session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.token_hash == token_hash, ApiTokenRow.kind == kind)
        .values(revoked_at=now)
    )


def add_enrollment_token(
    session: Session,
    *,
    client_id: int,
    token_hash: str,
    label: str,
    now: datetime,
    expires_at: datetime | None,
) -> EnrollmentTokenRow:
    """Insert an enrollment token."""
    row = EnrollmentTokenRow(
        client_id=client_id,
        token_hash=token_hash,
        label=label,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        use_count=0,
    )
    session.add(row)
    session.flush()
    return row


def live_enrollment_token(
    session: Session, *, token_hash: str, now: datetime
) -> EnrollmentTokenRow | None:
    """An unrevoked, unexpired enrollment token."""
    return session.scalar(
        select(EnrollmentTokenRow).where(
            EnrollmentTokenRow.token_hash == token_hash,
            EnrollmentTokenRow.revoked_at.is_(None),
            or_(
                EnrollmentTokenRow.expires_at.is_(None),
                EnrollmentTokenRow.expires_at > now,
            ),
        )
    )


def enrollment_tokens(session: Session, client_id: int) -> list[EnrollmentTokenRow]:
    """A client's enrollment tokens, newest first."""
    return list(
        session.scalars(
            select(EnrollmentTokenRow)
            .where(EnrollmentTokenRow.client_id == client_id)
            .order_by(EnrollmentTokenRow.id.desc())
        )
    )


def revoke_enrollment_token(
    session: Session, *, token_id: int, client_ids: tuple[int, ...], now: datetime
) -> bool:
    """Revoke an enrollment token within the given clients."""
    result = session.execute(
        update(EnrollmentTokenRow)
        .where(
            EnrollmentTokenRow.id == token_id,
            EnrollmentTokenRow.client_id.in_(client_ids),
        )
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
