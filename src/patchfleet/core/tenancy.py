"""Partners, clients and who may see what (FEATURES MT-01..MT-06, MT-12)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from patchfleet.core.errors import NotFoundError, PermissionDeniedError


class Role(StrEnum):
    """What a user may do within its partner or client."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user: partner users have ``client_id`` None."""

    user_id: int
    username: str
    partner_id: int
    client_id: int | None
    role: Role

    @property
    def is_partner_user(self) -> bool:
        """True for users of the MSP itself (may see all its clients)."""
        return self.client_id is None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a request looks at: one client, or all clients of a partner."""

    partner_id: int
    client_ids: tuple[int, ...]
    client_id: int | None

    @property
    def is_partner_level(self) -> bool:
        """True for "All Clients"."""
        return self.client_id is None

    def sees(self, owner_client_id: int | None) -> bool:
        """Whether an object owned by a client (or, None, by the partner) is in scope.

        Partner-level objects are visible at All Clients only (MT-02).
        """
        if owner_client_id is None:
            return self.is_partner_level
        return owner_client_id in self.client_ids


def resolve_scope(
    principal: Principal,
    requested_client_id: int | None,
    partner_client_ids: Collection[int],
) -> Scope:
    """Return the scope a request may see.

    A client user is pinned to its client whatever it asks for, except that asking for
    another client is answered as "not found" (MT-01), never with its data. A partner
    user sees all its clients or one of them.
    """
    owned = tuple(sorted(partner_client_ids))
    if principal.client_id is not None:
        if requested_client_id not in (None, principal.client_id):
            raise NotFoundError(f"client {requested_client_id} not found")
        return Scope(principal.partner_id, (principal.client_id,), principal.client_id)
    if requested_client_id is None:
        return Scope(principal.partner_id, owned, None)
    if requested_client_id not in owned:
        raise NotFoundError(f"client {requested_client_id} not found")
    return Scope(principal.partner_id, (requested_client_id,), requested_client_id)


def require_role(principal: Principal, needed: Role) -> None:
    """Raise ``PermissionDeniedError`` unless the principal has at least ``needed``."""
    if _RANK[principal.role] < _RANK[needed]:
        raise PermissionDeniedError(
            f"role {principal.role} may not do this; {needed} needed"
        )


def require_partner_user(principal: Principal) -> None:
    """Raise unless the principal is a partner-level user."""
    if not principal.is_partner_user:
        raise PermissionDeniedError("only partner users may do this")
