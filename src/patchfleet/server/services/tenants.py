"""Clients and request scopes (All Clients or one client)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from patchfleet.core.errors import ConflictError
from patchfleet.core.tenancy import (
    Principal,
    Role,
    Scope,
    require_partner_user,
    require_role,
    resolve_scope,
)
from patchfleet.server.db.queries import tenants
from patchfleet.server.services.views import ClientView


def scope_for(
    session: Session, *, principal: Principal, client_id: int | None
) -> Scope:
    """Resolve the scope a request may see (MT-01, MT-02)."""
    with session.begin():
        ids = tenants.client_ids(session, principal.partner_id)
    return resolve_scope(principal, client_id, ids)


def list_clients(session: Session, *, scope: Scope) -> list[ClientView]:
    """The clients in scope, by name."""
    with session.begin():
        return [
            ClientView.model_validate(c)
            for c in tenants.clients(session, scope.client_ids)
        ]


def create_client(
    session: Session, *, principal: Principal, name: str, now: datetime
) -> ClientView:
    """Create a client of the caller's partner."""
    require_partner_user(principal)
    require_role(principal, Role.ADMIN)
    with session.begin():
        if tenants.client_by_name(session, partner_id=principal.partner_id, name=name):
            raise ConflictError(f"client {name!r} exists")
        row = tenants.add_client(
            session, partner_id=principal.partner_id, name=name, now=now
        )
        return ClientView.model_validate(row)
