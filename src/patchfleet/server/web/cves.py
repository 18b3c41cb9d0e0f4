"""CVE Insights and CVE Details pages: BY CVE, BY DEVICE and one CVE (CVE-04..08).

Every number on the Insights page links to the list it counts (CVE-05); the charts are
inline SVG or plain HTML bars drawn from figures computed here, so the page needs no
script and no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from patchfleet.core.advisories import FixState
from patchfleet.core.errors import InvalidInputError
from patchfleet.core.updates import split_patch_id
from patchfleet.server.services import cves
from patchfleet.server.services.cves import SEVERITIES, CveSort
from patchfleet.server.services.views import CveInsights, FixingPatch
from patchfleet.server.web.deps import (
    ListQuery,
    NowDep,
    PageNumber,
    Search,
    SessionDep,
    ViewerDep,
)
from patchfleet.server.web.rendering import PageRoute, is_htmx, render

router = APIRouter(prefix="/cves", include_in_schema=False, route_class=PageRoute)

PAGE_SIZE = 50

# Fix states a CVE can be filtered by (a listed CVE is never "not affected").
FILTER_STATES: tuple[str, ...] = (
    str(FixState.FIXED_INSTALLABLE),
    str(FixState.FIXED_NOT_INSTALLABLE),
    str(FixState.NO_FIX_YET),
)
KEV_CHOICES = {"": None, "true": True, "false": False}

# Geometry of the inline SVG charts, in SVG user units.
SEVERITY_BAR_MAX = 300
TREND_BAR_WIDTH = 10
TREND_BAR_GAP = 2
TREND_HEIGHT = 56


@dataclass(frozen=True)
class CveQuery(ListQuery):
    """BY CVE: search, sort, page and the severity, fix state and KEV filters."""

    severity: str = ""
    state: str = ""
    kev: bool | None = None

    def params(self, **changes: object) -> dict[str, object]:
        """Query parameters of this listing with ``changes`` applied."""
        current: dict[str, object] = {
            **super().params(),
            "severity": self.severity,
            "state": self.state,
            "kev": self.kev,
        }
        return {**current, **changes}

    @property
    def is_filtered(self) -> bool:
        """Whether the search or a filter narrows the list."""
        return bool(self.search or self.severity or self.state or self.kev is not None)


def cve_query(
    search: Search = "",
    sort: CveSort = CveSort.PRIORITY,
    descending: bool = True,
    page: PageNumber = 1,
    severity: Annotated[str, Query(max_length=20)] = "",
    state: Annotated[str, Query(max_length=32)] = "",
    kev: Annotated[str, Query(max_length=5)] = "",
) -> CveQuery:
    """Filters, sort and page of BY CVE; empty filters (from the form) mean "any"."""
    if severity and severity not in SEVERITIES:
        raise InvalidInputError(
            f"severity must be one of {', '.join(SEVERITIES)}",
            loc=("query", "severity"),
        )
    if state and state not in FILTER_STATES:
        raise InvalidInputError(
            f"state must be one of {', '.join(FILTER_STATES)}", loc=("query", "state")
        )
    if kev.lower() not in KEV_CHOICES:
        raise InvalidInputError("kev must be true or false", loc=("query", "kev"))
    return CveQuery(
        search,
        str(sort),
        descending,
        page,
        severity=severity,
        state=state,
        kev=KEV_CHOICES[kev.lower()],
    )


def device_query(search: Search = "", page: PageNumber = 1) -> ListQuery:
    """Search and page of BY DEVICE (the order is fixed: most CVEs first)."""
    return ListQuery(search=search, sort="", descending=False, page=page)


CveQueryDep = Annotated[CveQuery, Depends(cve_query)]
DeviceQueryDep = Annotated[ListQuery, Depends(device_query)]


# Insights charts ------------------------------------------------------------------


@dataclass(frozen=True)
class SeverityBar:
    """One bar of "Severity by CVE": its CVE count and width in the SVG."""

    severity: str
    count: int
    width: int


@dataclass(frozen=True)
class Segment:
    """One severity's part of an OS bar, as a percentage of that bar."""

    severity: str
    count: int
    percent: float


@dataclass(frozen=True)
class OsRow:
    """One OS in "By OS": CVEs per severity; ``percent`` of the widest row."""

    os_name: str
    total: int
    percent: float
    segments: list[Segment]


@dataclass(frozen=True)
class TrendBar:
    """One day of the detections trend, placed in the SVG."""

    day: date
    count: int
    x: int
    y: int
    height: int


@dataclass(frozen=True)
class Charts:
    """What the Insights charts draw."""

    severity: list[SeverityBar]
    by_os: list[OsRow]
    trend: list[TrendBar]
    trend_total: int
    trend_width: int


def _severity_bars(by_severity: dict[str, int]) -> list[SeverityBar]:
    top = max(by_severity.values(), default=0) or 1
    bars = []
    for severity in SEVERITIES:
        count = by_severity.get(severity, 0)
        width = round(SEVERITY_BAR_MAX * count / top)
        bars.append(SeverityBar(severity, count, max(width, 2) if count else 0))
    return bars


def _os_rows(by_os: dict[str, dict[str, int]]) -> list[OsRow]:
    totals = {name: sum(counts.values()) for name, counts in by_os.items()}
    top = max(totals.values(), default=0) or 1
    rows = []
    for name in sorted(totals, key=lambda n: (-totals[n], n)):
        total = totals[name]
        segments = [
            Segment(s, by_os[name].get(s, 0), round(100 * by_os[name][s] / total, 2))
            for s in SEVERITIES
            if by_os[name].get(s, 0)
        ]
        rows.append(OsRow(name, total, round(100 * total / top, 1), segments))
    return rows


def _trend_bars(trend: list[tuple[date, int]]) -> list[TrendBar]:
    top = max((n for _, n in trend), default=0) or 1
    bars = []
    for i, (day, count) in enumerate(trend):
        height = round(TREND_HEIGHT * count / top)
        if count and height < 2:
            height = 2
        x = i * (TREND_BAR_WIDTH + TREND_BAR_GAP)
        bars.append(TrendBar(day, count, x, TREND_HEIGHT - height, height))
    return bars


def charts(data: CveInsights) -> Charts:
    """The chart geometry of the Insights widgets."""
    trend = _trend_bars(data.trend)
    return Charts(
        severity=_severity_bars(data.by_severity),
        by_os=_os_rows(data.by_os),
        trend=trend,
        trend_total=sum(b.count for b in trend),
        trend_width=max(len(trend) * (TREND_BAR_WIDTH + TREND_BAR_GAP), 1),
    )


# Fixing patches -------------------------------------------------------------------


@dataclass(frozen=True)
class PatchLink:
    """A patch fixing the CVE, and the BY PATCH search that shows it."""

    patch_id: str
    name: str
    version: str
    devices: int
    search: str


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def patch_links(cve: str, patches: list[FixingPatch]) -> list[PatchLink]:
    """Each fixing patch with a BY PATCH query selecting it (name and this CVE)."""
    links = []
    for p in patches:
        try:
            _backend, name, version = split_patch_id(p.patch_id)
        except ValueError:
            links.append(PatchLink(p.patch_id, p.patch_id, "", p.devices, cve))
            continue
        search = f"$name = {_quoted(name)} and cve = {_quoted(cve)}"
        links.append(PatchLink(p.patch_id, name, version, p.devices, search))
    return links


# Pages ----------------------------------------------------------------------------


@router.get("/insights")
def insights(
    request: Request, viewer: ViewerDep, session: SessionDep, now: NowDep
) -> Response:
    """Widgets, severity chart, top CVEs, by OS and the detection trend (CVE-04)."""
    data = cves.insights(session, scope=viewer.scope, now=now)
    return render(
        request,
        "cve_insights.html",
        viewer=viewer,
        section="cve-insights",
        data=data,
        charts=charts(data),
    )


@router.get("")
def by_cve(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    q: CveQueryDep,
) -> Response:
    """BY CVE (CVE-07): one row per CVE in scope, highest priority first."""
    found = cves.list_cves(
        session,
        scope=viewer.scope,
        now=now,
        page=q.page,
        page_size=PAGE_SIZE,
        sort=CveSort(q.sort),
        descending=q.descending,
        search=q.search,
        severity=q.severity,
        state=FixState(q.state) if q.state else None,
        kev=q.kev,
    )
    template = "_cve_results.html" if is_htmx(request) else "cves.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="cves",
        view="cve",
        found=found,
        q=q,
        path="/cves",
        severities=SEVERITIES,
        states=FILTER_STATES,
    )


@router.get("/devices")
def by_device(
    request: Request, viewer: ViewerDep, session: SessionDep, q: DeviceQueryDep
) -> Response:
    """BY DEVICE (CVE-08): devices with their CVE and KEV counts, most CVEs first."""
    found = cves.devices_by_cves(
        session,
        scope=viewer.scope,
        page=q.page,
        page_size=PAGE_SIZE,
        search=q.search,
    )
    template = "_cve_device_results.html" if is_htmx(request) else "cves.html"
    return render(
        request,
        template,
        viewer=viewer,
        section="cve-devices",
        view="device",
        found=found,
        q=q,
        path="/cves/devices",
    )


@router.get("/{cve}")
def cve_page(
    request: Request,
    cve: Annotated[str, Path(max_length=64)],
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """One CVE: facts, priority, affected devices with their state, fixing patches."""
    detail = cves.cve_detail(session, scope=viewer.scope, cve=cve, now=now)
    return render(
        request,
        "cve.html",
        viewer=viewer,
        section="cves",
        detail=detail,
        patches=patch_links(detail.cve, detail.patches),
        impacted=len({d.device_id for d in detail.devices}),
        today=now.date(),
    )
