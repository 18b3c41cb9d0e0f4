"""The activity log (LOG-*): who did what, when, to which object, in which client."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from patchfleet.core.tenancy import Principal, Scope
from patchfleet.server.db.queries import activity
from patchfleet.server.services.views import ActivityView, Page


class ObjectType(StrEnum):
    """Kinds of objects the log speaks of."""

    PATCH = "Patch"
    BULK = "Bulk Actions"
    CLIENT = "Client"
    DEVICE = "Device"
    INSTALL = "Install"
    CONFIGURATION = "Configuration"
    RULE = "Approval Rule"
    SCAN = "Scan"
    COMPLIANCE = "Compliance"


def record(
    session: Session,
    *,
    principal: Principal | None,
    partner_id: int,
    client_id: int | None,
    object_type: ObjectType,
    action: str,
    now: datetime,
    object_id: str = "",
    object_name: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append an entry inside the caller's transaction (the system acts as "patchfleet")."""
    activity.record(
        session,
        at=now,
        partner_id=partner_id,
        client_id=client_id,
        actor_id=principal.user_id if principal else None,
        actor=principal.username if principal else "patchfleet",
        object_type=str(object_type),
        object_id=object_id,
        object_name=object_name[:600],
        action=action,
        details=details or {},
    )


def list_entries(
    session: Session,
    *,
    scope: Scope,
    page: int,
    page_size: int,
    since: datetime | None = None,
    until: datetime | None = None,
    object_type: str = "",
    action: str = "",
    search: str = "",
) -> Page[ActivityView]:
    """Entries in scope, newest first; partner level includes partner-wide entries."""
    with session.begin():
        rows, total = activity.entries(
            session,
            partner_id=scope.partner_id,
            client_ids=None if scope.is_partner_level else scope.client_ids,
            since=since,
            until=until,
            object_type=object_type,
            action=action,
            search=search,
            page=page,
            page_size=page_size,
        )
        items = [ActivityView.model_validate(r) for r in rows]
    return Page[ActivityView](items=items, total=total, page=page, page_size=page_size)
