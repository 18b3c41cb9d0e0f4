"""Users, passwords (argon2), API tokens, web sessions and first-start bootstrap."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from patchfleet.core.errors import AuthenticationError, ConflictError, InvalidInputError
from patchfleet.core.tenancy import Principal, Role, require_partner_user, require_role
from patchfleet.server.db.queries import tenants, tokens

_HASHER = PasswordHasher()
SESSION = "session"
API = "api"


def new_secret() -> str:
    """A fresh 256-bit URL-safe secret."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (argon2 is for low-entropy passwords)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _HASHER.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class BootstrapResult:
    """What first start created; the password and token are shown once."""

    username: str
    password: str
    partner_id: int
    client_id: int
    client_name: str
    enrollment_token: str


def bootstrap(
    session: Session,
    *,
    now: datetime,
    username: str = "admin",
    password: str | None = None,
    partner_name: str = "My MSP",
    client_name: str = "Default Client",
) -> BootstrapResult | None:
    """On an empty server, create the partner, an admin, a client and an enrollment token."""
    with session.begin():
        if tenants.count_users(session):
            return None
        password = password or secrets.token_urlsafe(12)
        partner = tenants.add_partner(session, name=partner_name, now=now)
        client = tenants.add_client(
            session, partner_id=partner.id, name=client_name, now=now
        )
        tenants.add_user(
            session,
            username=username,
            password_hash=hash_password(password),
            partner_id=partner.id,
            client_id=None,
            role=Role.ADMIN,
            email="",
            now=now,
        )
        token = new_secret()
        tokens.add_enrollment_token(
            session,
            client_id=client.id,
            token_hash=digest(token),
            label="bootstrap",
            now=now,
            expires_at=None,
        )
    return BootstrapResult(
        username, password, partner.id, client.id, client.name, token
    )


def login(
    session: Session,
    *,
    username: str,
    password: str,
    kind: str,
    now: datetime,
    lifetime: timedelta | None,
) -> str:
    """Check a password and return a new session or API token."""
    with session.begin():
        user = tenants.user_by_name(session, username)
        if user is None or user.disabled or not _verify(user.password_hash, password):
            raise AuthenticationError("unknown user or wrong password")
        token = new_secret()
        expires_at = now + lifetime if lifetime else None
        tokens.add_api_token(
            session,
            user_id=user.id,
            name=kind,
            token_hash=digest(token),
            kind=kind,
            now=now,
            expires_at=expires_at,
        )
    return token


def authenticate(
    session: Session, *, token: str, kind: str, now: datetime
) -> Principal:
    """The principal owning a live token of ``kind`` (API bearer or web session)."""
    with session.begin():
        user = tokens.live_token_user(
            session, token_hash=digest(token), kind=kind, now=now
        )
        if user is None:
            raise AuthenticationError("invalid, expired or revoked token")
        return tenants.to_principal(user)


def logout(session: Session, *, token: str, now: datetime) -> None:
    """Revoke a web session token."""
    with session.begin():
        tokens.revoke_by_hash(session, token_hash=digest(token), kind=SESSION, now=now)


def create_api_token(
    session: Session,
    *,
    principal: Principal,
    name: str,
    now: datetime,
    lifetime: timedelta | None,
) -> tuple[int, str]:
    """A new API token for the caller; the secret is returned once."""
    token = new_secret()
    with session.begin():
        row = tokens.add_api_token(
            session,
            user_id=principal.user_id,
            name=name,
            token_hash=digest(token),
            kind=API,
            now=now,
            expires_at=now + lifetime if lifetime else None,
        )
    return row.id, token


def list_api_tokens(
    session: Session, *, principal: Principal
) -> list[dict[str, object]]:
    """The caller's API tokens, without secrets."""
    with session.begin():
        return [
            {
                "id": t.id,
                "name": t.name,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
            }
            for t in tokens.user_tokens(session, principal.user_id)
        ]


def revoke_api_token(
    session: Session, *, principal: Principal, token_id: int, now: datetime
) -> bool:
    """Revoke one of the caller's tokens."""
    with session.begin():
        return tokens.revoke_token(
            session, token_id=token_id, user_id=principal.user_id, now=now
        )


def create_user(
    session: Session,
    *,
    principal: Principal,
    username: str,
    password: str,
    client_id: int | None,
    role: Role,
    email: str,
    now: datetime,
) -> int:
    """Create a partner user (client_id None) or a user of one of the partner's clients."""
    require_partner_user(principal)
    require_role(principal, Role.ADMIN)
    if len(password) < 10:
        raise InvalidInputError(
            "password must have at least 10 characters", loc=("body", "password")
        )
    with session.begin():
        if tenants.user_by_name(session, username):
            raise ConflictError(f"user {username!r} exists")
        if client_id is not None and client_id not in tenants.client_ids(
            session, principal.partner_id
        ):
            raise InvalidInputError(
                f"client {client_id} not found", loc=("body", "client_id")
            )
        row = tenants.add_user(
            session,
            username=username,
            password_hash=hash_password(password),
            partner_id=principal.partner_id,
            client_id=client_id,
            role=role,
            email=email,
            now=now,
        )
        return row.id
