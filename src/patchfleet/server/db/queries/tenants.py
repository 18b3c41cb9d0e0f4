"""Partners, clients and users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patchfleet.core.tenancy import Principal, Role
from patchfleet.server.db.rows import ClientRow, PartnerRow, UserRow


def count_users(session: Session) -> int:
    """Number of users on this server."""
    return session.scalar(select(func.count()).select_from(UserRow)) or 0


def add_partner(session: Session, *, name: str, now: datetime) -> PartnerRow:
    """Insert a partner."""
    row = PartnerRow(name=name, created_at=now)
    session.add(row)
    session.flush()
    return row


def add_client(
    session: Session, *, partner_id: int, name: str, now: datetime
) -> ClientRow:
    """Insert a client of ``partner_id``."""
    row = ClientRow(partner_id=partner_id, name=name, created_at=now)
    session.add(row)
    session.flush()
    return row


def client_ids(session: Session, partner_id: int) -> list[int]:
    """Ids of all clients of a partner."""
    return list(
        session.scalars(select(ClientRow.id).where(ClientRow.partner_id == partner_id))
    )


def clients(session: Session, ids: tuple[int, ...]) -> list[ClientRow]:
    """Client rows by id, ordered by name."""
    return list(
        session.scalars(
            select(ClientRow).where(ClientRow.id.in_(ids)).order_by(ClientRow.name)
        )
    )


def client_by_name(session: Session, *, partner_id: int, name: str) -> ClientRow | None:
    """A partner's client by exact name."""
    return session.scalar(
        select(ClientRow).where(
            ClientRow.partner_id == partner_id, ClientRow.name == name
        )
    )


def add_user(
    session: Session,
    *,
    username: str,
    password_hash: str,
    partner_id: int,
    client_id: int | None,
    role: Role,
    email: str,
    now: datetime,
) -> UserRow:
    """Insert a user."""
    row = UserRow(
        username=username,
        password_hash=password_hash,
        partner_id=partner_id,
        client_id=client_id,
        role=str(role),
        email=email,
        created_at=now,
        disabled=False,
    )
    session.add(row)
    session.flush()
    return row


def user_by_name(session: Session, username: str) -> UserRow | None:
    """A user by username."""
    return session.scalar(select(UserRow).where(UserRow.username == username))


def to_principal(row: UserRow) -> Principal:
    """Row -> core principal."""
    return Principal(
        user_id=row.id,
        username=row.username,
        partner_id=row.partner_id,
        client_id=row.client_id,
        role=Role(row.role),
    )
