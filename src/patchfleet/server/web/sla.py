"""SLA pages (BP-08): status tiles, chart, policy form, partner roll-up, item list.

Every count links to the item list it counts, with the same kind and window, so a
tile always equals the length of its list.  The chart is inline SVG drawn from figures
computed here; the policy form is a plain form (no script needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from patchfleet.core.errors import InvalidInputError
from patchfleet.core.risk import Band
from patchfleet.core.sla import MAX_DAYS, MIN_DAYS, SlaPolicy
from patchfleet.core.tenancy import Role
from patchfleet.server.services import sla
from patchfleet.server.services.sla_views import (
    ClientFigures,
    ItemKind,
    SlaPolicyView,
    SlaSummary,
    StatusFilter,
)
from patchfleet.server.web.deps import (
    ListQuery,
    NowDep,
    PageNumber,
    Search,
    SessionDep,
    Viewer,
    ViewerDep,
)
from patchfleet.server.web.rendering import PageRoute, is_htmx, render

router = APIRouter(prefix="/sla", include_in_schema=False, route_class=PageRoute)

PAGE_SIZE = 50
WINDOWS = (30, 90, 180, 365)
OPEN_STATUSES = ("within", "due-soon", "overdue")
TILES = (
    ("open", "Open items"),
    ("within", "Within SLA"),
    ("due-soon", "Due soon"),
    ("overdue", "Overdue"),
    ("met", "Met"),
    ("missed", "Missed"),
)
STATUS_LABELS = {
    "open": "open",
    "closed": "remediated",
    "within": "within",
    "due-soon": "due soon",
    "overdue": "overdue",
    "met": "met",
    "missed": "missed",
}
STATUS_COLOURS = {"within": "#15803d", "due-soon": "#d97706", "overdue": "#b91c1c"}
POLICY_FIELDS = (
    ("kev_days", "KEV without a due date, or past it when detected"),
    ("critical_days", "Critical"),
    ("high_days", "High"),
    ("medium_days", "Medium"),
    ("low_days", "Low and none"),
)
# Geometry of the inline SVG chart, in SVG user units.
LABEL_WIDTH = 150
OPEN_BAR_MAX = 300
PERCENT_X = 560
PERCENT_BAR_MAX = 150
ROW_HEIGHT = 30


WindowDays = Annotated[int, Query()]


@dataclass(frozen=True)
class SlaQuery(ListQuery):
    """The item list: search, page and the status, kind, band and window filters."""

    status: str = ""
    kind: str = ""
    band: str = ""
    window_days: int = sla.DEFAULT_WINDOW_DAYS

    def params(self, **changes: object) -> dict[str, object]:
        """Query parameters of this listing with ``changes`` applied."""
        current: dict[str, object] = {
            "search": self.search,
            "status": self.status,
            "kind": self.kind,
            "band": self.band,
            "window_days": self.window_days,
            "page": self.page,
        }
        return {**current, **changes}

    @property
    def is_filtered(self) -> bool:
        """Whether a filter or the search narrows the list."""
        return bool(self.search or self.status or self.kind or self.band)


def _choice(name: str, value: str, allowed: type[StrEnum]) -> str:
    """A filter value from the query string; "" (the form's "any") is kept."""
    if value and value not in {str(v) for v in allowed}:
        choices = ", ".join(str(v) for v in allowed)
        raise InvalidInputError(f"{name} must be one of {choices}", loc=("query", name))
    return value


Choice = Annotated[str, Query(max_length=20)]


def sla_query(
    search: Search = "",
    page: PageNumber = 1,
    status: Choice = "",
    kind: Choice = "",
    band: Choice = "",
    window_days: WindowDays = sla.DEFAULT_WINDOW_DAYS,
) -> SlaQuery:
    """Filters and page of the item list (empty values from the form mean "any")."""
    return SlaQuery(
        search,
        "",
        False,
        page,
        status=_choice("status", status, StatusFilter),
        kind=_choice("kind", kind, ItemKind),
        band=_choice("band", band, Band),
        window_days=window_days,
    )


SlaQueryDep = Annotated[SlaQuery, Depends(sla_query)]


# Chart ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartSegment:
    """One status's part of a client's open-items bar."""

    status: str
    count: int
    x: int
    width: int
    colour: str


@dataclass(frozen=True)
class ChartRow:
    """One client in the chart: open items by status and % remediated within SLA."""

    client_id: int
    client_name: str
    y: int
    open: int
    segments: list[ChartSegment]
    percent: float | None
    percent_width: int


def chart_rows(clients: list[ClientFigures]) -> list[ChartRow]:
    """The chart geometry: bars scaled to the client with the most open items."""
    top = max((c.open for c in clients), default=0) or 1
    rows = []
    for i, c in enumerate(clients):
        x, segments = LABEL_WIDTH, []
        for s in OPEN_STATUSES:
            count = c.count(s)
            width = round(OPEN_BAR_MAX * count / top)
            if count:
                width = max(width, 2)
                segments.append(ChartSegment(s, count, x, width, STATUS_COLOURS[s]))
            x += width
        pct = c.within_sla_percent
        pct_width = round(PERCENT_BAR_MAX * pct / 100) if pct is not None else 0
        rows.append(
            ChartRow(
                c.client_id,
                c.client_name,
                8 + ROW_HEIGHT * i,
                c.open,
                segments,
                pct,
                pct_width,
            )
        )
    return rows


# Policy form ------------------------------------------------------------------------


class PolicyForm(BaseModel):
    """The policy form as posted; ``to_policy`` checks it field by field."""

    model_config = ConfigDict(extra="ignore")

    use_parent_level: bool = False
    kev_days: Annotated[str, Field(max_length=12)] = ""
    critical_days: Annotated[str, Field(max_length=12)] = ""
    high_days: Annotated[str, Field(max_length=12)] = ""
    medium_days: Annotated[str, Field(max_length=12)] = ""
    low_days: Annotated[str, Field(max_length=12)] = ""

    @classmethod
    def of(cls, view: SlaPolicyView) -> PolicyForm:
        """The form filled with the stored values (the effective ones when none)."""
        values = view.own or view.effective
        return cls(
            use_parent_level=view.use_parent_level,
            **{name: str(getattr(values, name)) for name, _ in POLICY_FIELDS},
        )

    def errors(self) -> dict[str, str]:
        """A message per field that is not a whole number of days in range."""
        found = {}
        for name, _label in POLICY_FIELDS:
            text = getattr(self, name).strip()
            if not text.isdigit() or not MIN_DAYS <= int(text) <= MAX_DAYS:
                found[name] = f"a whole number of days, {MIN_DAYS} to {MAX_DAYS}"
        return found

    def to_policy(self) -> SlaPolicy:
        """The policy entered (call after ``errors`` found none)."""
        return SlaPolicy(
            **{name: int(getattr(self, name)) for name, _ in POLICY_FIELDS}
        )


PolicyFormDep = Annotated[PolicyForm, Form()]


# Pages ------------------------------------------------------------------------------


def _dashboard(
    request: Request,
    viewer: Viewer,
    data: SlaSummary,
    policy: SlaPolicyView,
    *,
    form: PolicyForm | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> Response:
    return render(
        request,
        "sla.html",
        status_code=422 if errors else 200,
        viewer=viewer,
        section="sla",
        data=data,
        chart=chart_rows(data.clients),
        policy=policy,
        form=form or PolicyForm.of(policy),
        errors=errors or {},
        saved=saved,
        can_edit=viewer.principal.role is Role.ADMIN,
        tiles=TILES,
        windows=WINDOWS,
        fields=POLICY_FIELDS,
        labels=STATUS_LABELS,
        colours=STATUS_COLOURS,
        open_statuses=OPEN_STATUSES,
        kind=str(data.kind or ""),
    )


@router.get("")
def dashboard(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    kind: Choice = "",
    window_days: WindowDays = sla.DEFAULT_WINDOW_DAYS,
    saved: bool = False,
) -> Response:
    """Status tiles, the chart, the roll-up per client and the policy form."""
    data = sla.sla_summary(
        session,
        scope=viewer.scope,
        now=now,
        kind=ItemKind(_choice("kind", kind, ItemKind)) if kind else None,
        window_days=window_days,
    )
    policy = sla.get_policy(session, scope=viewer.scope)
    return _dashboard(request, viewer, data, policy, saved=saved)


@router.post("/policy")
def save_policy(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    form: PolicyFormDep,
) -> Response:
    """Save the policy of the scope; back to the page, or to the fields in error."""
    errors = form.errors()
    if errors and not (form.use_parent_level and len(errors) == len(POLICY_FIELDS)):
        data = sla.sla_summary(session, scope=viewer.scope, now=now)
        policy = sla.get_policy(session, scope=viewer.scope)
        return _dashboard(request, viewer, data, policy, form=form, errors=errors)
    sla.set_policy(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        use_parent_level=form.use_parent_level and not viewer.scope.is_partner_level,
        policy=None if errors else form.to_policy(),
        now=now,
    )
    target = viewer.url("/sla", saved=True) + "#sla-policy"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


@router.get("/items")
def items(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    q: SlaQueryDep,
) -> Response:
    """Items against their deadlines, most urgent first; the tiles drill down here."""
    found = sla.sla_items(
        session,
        scope=viewer.scope,
        now=now,
        status=StatusFilter(q.status) if q.status else None,
        kind=ItemKind(q.kind) if q.kind else None,
        band=Band(q.band) if q.band else None,
        search=q.search,
        window_days=q.window_days,
        page=q.page,
        page_size=PAGE_SIZE,
    )
    template = "_sla_items.html" if is_htmx(request) else "sla_items.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="sla",
        found=found,
        q=q,
        path="/sla/items",
        statuses=[str(s) for s in StatusFilter],
        kinds=[str(k) for k in ItemKind],
        bands=[str(b) for b in Band],
        windows=WINDOWS,
        labels=STATUS_LABELS,
    )
