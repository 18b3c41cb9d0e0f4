"""Logs: the activity log with date, object type, action and name filters (LOG-*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from patchfleet.core.errors import InvalidInputError
from patchfleet.server.services import activity
from patchfleet.server.services.activity import ObjectType
from patchfleet.server.web.deps import PageNumber, Search, SessionDep, ViewerDep
from patchfleet.server.web.rendering import PageRoute, is_htmx, render

router = APIRouter(include_in_schema=False, route_class=PageRoute)

PAGE_SIZE = 50
# Actions the services record, offered as suggestions (the filter matches exactly).
KNOWN_ACTIONS = (
    "approve",
    "unapprove",
    "allowlisted",
    "blocklisted",
    "unrate",
    "install now",
    "create",
    "delete",
    "run (run now)",
    "run (schedule)",
    "settings",
    "create schedule",
    "delete schedule",
)
DateText = Annotated[str, Query(max_length=10)]
ShortText = Annotated[str, Query(max_length=40)]


def day(text: str, field: str) -> date | None:
    """A ``YYYY-MM-DD`` filter value, or None when empty."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"{field}: expected a date YYYY-MM-DD", loc=("query", field)
        ) from None


@dataclass(frozen=True)
class LogQuery:
    """The filters and page of the log, as sent in the query string."""

    since: str
    until: str
    object_type: str
    action: str
    search: str
    page: int

    @property
    def since_at(self) -> datetime | None:
        """Start of the ``since`` day in UTC (inclusive)."""
        start = day(self.since, "since")
        return datetime.combine(start, time(), UTC) if start else None

    @property
    def until_at(self) -> datetime | None:
        """End of the ``until`` day in UTC (exclusive: the next midnight)."""
        end = day(self.until, "until")
        return datetime.combine(end, time(), UTC) + timedelta(days=1) if end else None

    @property
    def is_filtered(self) -> bool:
        """Whether any filter is set."""
        return any((self.since, self.until, self.object_type, self.action, self.search))

    def params(self, **changes: object) -> dict[str, object]:
        """Query parameters of this listing with ``changes`` applied."""
        current: dict[str, object] = {
            "since": self.since,
            "until": self.until,
            "object_type": self.object_type,
            "action": self.action,
            "search": self.search,
            "page": self.page,
        }
        return {**current, **changes}


def log_query(
    since: DateText = "",
    until: DateText = "",
    object_type: ShortText = "",
    action: ShortText = "",
    search: Search = "",
    page: PageNumber = 1,
) -> LogQuery:
    """Filters of the log page."""
    return LogQuery(since, until, object_type, action.strip(), search.strip(), page)


def message(details: dict[str, object]) -> str:
    """An entry's details as one line: ``key: value · key: a, b``."""
    parts = []
    for key, value in details.items():
        if value in ("", None):
            continue
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value) or "—"
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return " · ".join(parts)


@router.get("/logs")
def logs(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    q: Annotated[LogQuery, Depends(log_query)],
) -> Response:
    """Activity entries in scope, newest first; htmx filters get the results only."""
    found = activity.list_entries(
        session,
        scope=viewer.scope,
        page=q.page,
        page_size=PAGE_SIZE,
        since=q.since_at,
        until=q.until_at,
        object_type=q.object_type,
        action=q.action,
        search=q.search,
    )
    template = "_log_results.html" if is_htmx(request) else "logs.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="logs",
        found=found,
        q=q,
        path="/logs",
        object_types=[str(t) for t in ObjectType],
        actions=KNOWN_ACTIONS,
        message=message,
    )
