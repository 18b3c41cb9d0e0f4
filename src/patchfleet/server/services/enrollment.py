"""Enrollment tokens and device enrollment (per-client secret -> per-device credential)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from patchfleet.core.advisories import release_key
from patchfleet.core.errors import AuthenticationError, NotFoundError
from patchfleet.core.tenancy import Principal, Role, Scope, require_role
from patchfleet.protocol import v1
from patchfleet.server.db.queries import devices, tokens
from patchfleet.server.services.auth import digest, new_secret


def create_token(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    client_id: int,
    label: str,
    now: datetime,
    lifetime: timedelta | None,
) -> tuple[int, str]:
    """A new enrollment token for a client in scope; the secret is returned once."""
    require_role(principal, Role.OPERATOR)
    if client_id not in scope.client_ids:
        raise NotFoundError(f"client {client_id} not found")
    secret = new_secret()
    with session.begin():
        row = tokens.add_enrollment_token(
            session,
            client_id=client_id,
            token_hash=digest(secret),
            label=label,
            now=now,
            expires_at=now + lifetime if lifetime else None,
        )
    return row.id, secret


def list_tokens(
    session: Session, *, scope: Scope, client_id: int
) -> list[dict[str, object]]:
    """A client's enrollment tokens, without secrets."""
    if client_id not in scope.client_ids:
        raise NotFoundError(f"client {client_id} not found")
    with session.begin():
        return [
            {
                "id": t.id,
                "label": t.label,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
                "use_count": t.use_count,
            }
            for t in tokens.enrollment_tokens(session, client_id)
        ]


def revoke_token(
    session: Session,
    *,
    principal: Principal,
    scope: Scope,
    token_id: int,
    now: datetime,
) -> None:
    """Revoke an enrollment token; devices enrolled with it stay enrolled."""
    require_role(principal, Role.OPERATOR)
    with session.begin():
        if not tokens.revoke_enrollment_token(
            session, token_id=token_id, client_ids=scope.client_ids, now=now
        ):
            raise NotFoundError(f"enrollment token {token_id} not found")


def enroll(
    session: Session, *, request: v1.EnrollRequest, now: datetime, checkin_interval: int
) -> v1.EnrollResponse:
    """Register a device in the token's client and issue its credential."""
    credential = new_secret()
    device_uuid = uuid.uuid4()
    facts = request.facts
    with session.begin():
        token = tokens.live_enrollment_token(
            session, token_hash=digest(request.enrollment_token), now=now
        )
        if token is None:
            raise AuthenticationError("invalid, expired or revoked enrollment token")
        token.use_count += 1
        devices.add_device(
            session,
            uuid=device_uuid,
            client_id=token.client_id,
            credential_hash=digest(credential),
            enrolled_at=now,
            last_seen_at=now,
            inventory_hash="",
            **facts_values(facts),
        )
    return v1.EnrollResponse(
        device_id=device_uuid,
        credential=credential,
        checkin_interval_seconds=checkin_interval,
    )


def facts_values(facts: v1.Facts) -> dict[str, object]:
    """Device columns from reported facts."""
    return {
        "hostname": facts.hostname,
        "os_family": facts.os_family,
        "os_name": facts.os_name,
        "os_version": facts.os_version,
        "kernel": facts.kernel,
        "arch": facts.arch,
        "ips": list(facts.ips),
        "agent_version": facts.agent_version,
        "package_manager": facts.package_manager,
        "release": device_release(facts.os_id, facts.os_name, facts.os_version),
    }


def device_release(os_id: str, os_name: str, os_version: str) -> str:
    """The release key CVE matching uses; older agents send no ``os_id``."""
    words = os_name.split()
    return release_key(os_id or (words[0] if words else ""), os_version)
