"""Compliance: the list, the three-step wizard, the detail tabs and Run Now (CMP-*).

The wizard is the configuration wizard (Devices → Patches → Schedule) with an OS type,
Select Clients at partner level, no Approved Patches option, an approval toggle and
no reboot or notification options (CMP-02, CMP-11). It also edits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import Field

from patchfleet.core.compliance import FREQUENCIES as COMPLIANCE_FREQUENCIES
from patchfleet.core.compliance import ComplianceSpec, OsType, PatchMode
from patchfleet.core.errors import ConflictError, InvalidInputError
from patchfleet.server.services import compliance, tenants
from patchfleet.server.services.compliance_views import (
    ComplianceRunView,
    ComplianceView,
)
from patchfleet.server.web.approvals import toast
from patchfleet.server.web.configurations import (
    FREQUENCIES,
    HELPERS,
    WizardForm,
    invalid,
    picker_url,
    step_of,
)
from patchfleet.server.web.deps import NowDep, SessionDep, Viewer, ViewerDep
from patchfleet.server.web.rendering import PageRoute, render

router = APIRouter(prefix="/compliance", include_in_schema=False, route_class=PageRoute)

OS_TYPES = {OsType.LINUX: "Linux", OsType.WINDOWS: "Windows", OsType.MACOS: "macOS"}
STATUSES = {
    "compliant": ("Compliant", "good"),
    "non_compliant": ("Non-Compliant", "bad"),
    "unknown": ("Unknown", "warn"),
}
TABS = (
    ("properties", "Properties"),
    ("devices", "Devices"),
    ("patches", "Patches"),
    ("logs", "Logs"),
)
CHART_RUNS = 30
PAGE_HELPERS: dict[str, Any] = {
    **{k: v for k, v in HELPERS.items() if k != "month_names"},  # no yearly runs
    "frequencies": {
        f: t for f, t in FREQUENCIES.items() if f in COMPLIANCE_FREQUENCIES
    },
    "os_types": OS_TYPES,
    "statuses": STATUSES,
}
Ids = Annotated[list[uuid.UUID], Form(default_factory=list, max_length=1000)]


class ComplianceForm(WizardForm):
    """The wizard's fields as posted; ``to_compliance_spec`` makes the spec."""

    os_type: Annotated[str, Field(max_length=10)] = "linux"
    client_mode: Annotated[str, Field(max_length=10)] = "all"
    clients: list[int] = Field(default_factory=list, max_length=10_000)
    patch_selection: Annotated[str, Field(max_length=10)] = "select"
    approve_missing: bool = False

    def to_compliance_spec(self) -> ComplianceSpec:
        """The configuration to save; raises InvalidInputError at the field."""
        if not self.name.strip():
            raise invalid("name", "give the compliance configuration a name")
        try:
            os_type = OsType(self.os_type)
            mode = PatchMode(self.patch_selection)
            picked = tuple(uuid.UUID(d) for d in self.static_devices)
        except ValueError as exc:
            raise invalid("form", f"unexpected choice: {exc}") from None
        return ComplianceSpec(
            name=self.name.strip(),
            os_type=os_type,
            schedule=self.schedule(),
            description=self.description.strip(),
            enabled=self.enabled,
            device_query="" if self.is_static else self.device_query.strip(),
            static_devices=picked if self.is_static else (),
            clients=tuple(self.clients) if self.client_mode == "select" else None,
            patch_selection=mode,
            patch_query=self.patch_query.strip() if mode is PatchMode.DYNAMIC else "",
            selected_patches=tuple(self.selected_patches)
            if mode is PatchMode.SELECT
            else (),
            approve_missing=self.approve_missing,
        )

    def error_field(self, exc: InvalidInputError | ConflictError) -> str:
        """The wizard field a service error is about ("form" when none fits)."""
        field = super().error_field(exc)
        if isinstance(exc, InvalidInputError) and exc.loc[-1:] == ("schedule",):
            return "frequency"  # a frequency compliance does not run (CMP-08)
        if isinstance(exc, InvalidInputError) and exc.loc[-1:] == ("clients",):
            return "clients"  # a field of this form only
        if field == "device_query" and self.is_static:
            return "static_devices"
        return field

    @classmethod
    def of(cls, view: ComplianceView) -> ComplianceForm:
        """The form of a saved configuration (Edit)."""
        s = view.schedule
        return cls(
            name=view.name,
            description=view.description,
            enabled=view.enabled,
            os_type=view.os_type,
            device_mode="static" if view.static_devices else "query",
            device_query=view.device_query,
            static_devices=list(view.static_devices),
            client_mode="all" if view.clients is None else "select",
            clients=list(view.clients or []),
            patch_selection=view.patch_selection,
            patch_query=view.patch_query,
            selected_patches=list(view.selected_patches),
            approve_missing=view.approve_missing,
            frequency=str(s["frequency"]),
            time_of_day=str(s["time_of_day"]),
            timezone=str(s["timezone"]),
            start_date=str(s.get("start_date") or ""),
            end_date=str(s.get("end_date") or ""),
            weekdays_only=bool(s.get("weekdays_only")),
            weekdays=list(_ints(s.get("weekdays"))),
            month_days=list(_ints(s.get("month_days"))),
        )


def _ints(value: object) -> list[int]:
    return [int(v) for v in value] if isinstance(value, list) else []


NEW_FORM = ComplianceForm(enabled=True, frequency="daily")
FormDep = Annotated[ComplianceForm, Form()]


@dataclass(frozen=True)
class ChartPoint:
    """One run on the trend chart."""

    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    """A small SVG line chart of compliance % per full run, oldest left."""

    width: int
    height: int
    points: list[ChartPoint]

    @property
    def polyline(self) -> str:
        """The ``points`` attribute of the line."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def trend_chart(
    runs: list[ComplianceRunView], width: int = 480, height: int = 120
) -> Chart:
    """Chart the newest full runs (partial runs cover chosen devices only)."""
    full = [r for r in runs if not r.is_partial and r.percent is not None]
    full = list(reversed(full[:CHART_RUNS]))
    pad = 8
    step = (width - 2 * pad) / max(len(full) - 1, 1)
    points = [
        ChartPoint(
            x=pad + i * step,
            y=pad + (100 - (r.percent or 0)) * (height - 2 * pad) / 100,
            label=f"{r.started_at:%Y-%m-%d %H:%M} UTC: {r.percent}% compliant",
        )
        for i, r in enumerate(full)
    ]
    return Chart(width, height, points)


def wizard(
    request: Request,
    viewer: Viewer,
    form: ComplianceForm,
    *,
    errors: dict[str, str] | None = None,
    row: ComplianceView | None = None,
) -> Response:
    """The wizard (new, or editing ``row``), opened on the step of the first error."""
    errors = errors or {}
    partner_level = (
        row.level == "partner" if row is not None else viewer.scope.is_partner_level
    )
    action = f"/compliance/{row.id}/edit" if row is not None else "/compliance/new"
    return render(
        request,
        "compliance_new.html",
        status_code=422 if errors else 200,
        viewer=viewer,
        section="compliance",
        form=form,
        errors=errors,
        step=min((step_of(f) for f in errors), default=1),
        row=row,
        action=viewer.url(action),
        partner_level=partner_level,
        devices_url=picker_url(
            viewer, "/configurations/new/devices", form.static_devices
        ),
        patches_url=picker_url(
            viewer, "/configurations/new/patches", form.selected_patches
        ),
        **PAGE_HELPERS,
    )


@router.get("")
def compliance_list(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    search: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Name, OS type, devices, patches, device group and the counts now (CMP-14)."""
    rows = compliance.list_in_scope(session, scope=viewer.scope, now=now, search=search)
    return render(
        request,
        "compliance_list.html",
        viewer=viewer,
        section="compliance",
        rows=rows,
        search=search,
        client_names={c.id: c.name for c in viewer.clients},
        **PAGE_HELPERS,
    )


@router.get("/new")
def new_compliance(request: Request, viewer: ViewerDep) -> Response:
    """+ Add: Devices → Patches → Schedule (CMP-02)."""
    return wizard(request, viewer, NEW_FORM)


@router.post("/new")
def create_compliance(
    request: Request, viewer: ViewerDep, session: SessionDep, now: NowDep, form: FormDep
) -> Response:
    """Save the wizard: to the new configuration, or back to the field in error."""
    try:
        row = compliance.create(
            session,
            principal=viewer.principal,
            scope=viewer.scope,
            spec=form.to_compliance_spec(),
            now=now,
        )
    except (InvalidInputError, ConflictError) as exc:
        return wizard(request, viewer, form, errors={form.error_field(exc): str(exc)})
    target = viewer.url(f"/compliance/{row.id}")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/run")
def run_checked(
    request: Request, viewer: ViewerDep, session: SessionDep, now: NowDep, id: Ids
) -> Response:
    """Run Now on the checked configurations (at most 100)."""
    runs = compliance.run_now(
        session, principal=viewer.principal, scope=viewer.scope, config_ids=id, now=now
    )
    noun = "configuration" if len(runs) == 1 else "configurations"
    return toast(
        request,
        f"Compliance evaluated for {len(runs)} {noun}.",
        event="compliance-changed",
    )


@router.post("/remove")
def remove_checked(
    request: Request, viewer: ViewerDep, session: SessionDep, now: NowDep, id: Ids
) -> Response:
    """Remove the checked configurations (at most 100)."""
    removed = compliance.delete(
        session, principal=viewer.principal, scope=viewer.scope, config_ids=id, now=now
    )
    noun = "configuration" if removed == 1 else "configurations"
    return toast(request, f"Removed {removed} {noun}.", event="compliance-changed")


@router.get("/{config_id}")
def compliance_page(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    tab: Annotated[str, Query(max_length=20)] = "properties",
) -> Response:
    """The counts now, the trend per run, and the tabs (CMP-17)."""
    row = compliance.get(session, scope=viewer.scope, config_id=config_id, now=now)
    runs = compliance.runs(
        session, scope=viewer.scope, config_id=config_id, limit=CHART_RUNS * 2
    )
    return render(
        request,
        "compliance.html",
        viewer=viewer,
        section="compliance",
        row=row,
        chart=trend_chart(runs),
        tab=tab if tab in dict(TABS) else "properties",
        **PAGE_HELPERS,
    )


def _tab(
    request: Request, viewer: Viewer, config_id: uuid.UUID, tab: str, **context: Any
) -> Response:
    return render(
        request,
        f"_compliance_{tab}.html",
        viewer=viewer,
        config_id=config_id,
        tab=tab,
        tabs=TABS,
        **context,
        **PAGE_HELPERS,
    )


@router.get("/{config_id}/properties")
def properties_tab(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Properties: OS type, devices, patches, schedule with next and last run."""
    row = compliance.get(session, scope=viewer.scope, config_id=config_id, now=now)
    # A fragment's viewer carries no client list: load the names shown here.
    clients = tenants.list_clients(session, scope=viewer.scope)
    names = {c.id: c.name for c in clients}
    return _tab(request, viewer, config_id, "properties", row=row, client_names=names)


@router.get("/{config_id}/devices")
def devices_tab(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Devices: status and missing selected patches; Run Now for checked devices."""
    found = compliance.devices(
        session, scope=viewer.scope, config_id=config_id, now=now
    )
    return _tab(request, viewer, config_id, "devices", devices=found)


@router.get("/{config_id}/patches")
def patches_tab(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Patches: each selected patch and how many selected devices miss it."""
    found = compliance.patches(
        session, scope=viewer.scope, config_id=config_id, now=now
    )
    return _tab(request, viewer, config_id, "patches", patches=found)


@router.get("/{config_id}/logs")
def logs_tab(
    request: Request, config_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    """Logs: this configuration's activity entries and its recorded runs."""
    entries = compliance.logs(session, scope=viewer.scope, config_id=config_id)
    runs = compliance.runs(session, scope=viewer.scope, config_id=config_id, limit=50)
    return _tab(request, viewer, config_id, "logs", entries=entries, runs=runs)


@router.get("/{config_id}/edit")
def edit_compliance(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Edit: the wizard with the saved settings."""
    row = compliance.get(session, scope=viewer.scope, config_id=config_id, now=now)
    return wizard(request, viewer, ComplianceForm.of(row), row=row)


@router.post("/{config_id}/edit")
def save_compliance(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    form: FormDep,
) -> Response:
    """Save an edit: back to the configuration, or to the field in error."""
    try:
        spec = form.to_compliance_spec()
        compliance.update(
            session,
            principal=viewer.principal,
            scope=viewer.scope,
            config_id=config_id,
            changes={f: getattr(spec, f) for f in compliance.SPEC_FIELDS},
            now=now,
        )
    except (InvalidInputError, ConflictError) as exc:
        row = compliance.get(session, scope=viewer.scope, config_id=config_id, now=now)
        errors = {form.error_field(exc): str(exc)}
        return wizard(request, viewer, form, errors=errors, row=row)
    target = viewer.url(f"/compliance/{config_id}")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/{config_id}/run")
def run_now(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    device_id: Ids,
) -> Response:
    """Run Now: evaluate and record, for the checked devices if any (CMP-15)."""
    (run,) = compliance.run_now(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        config_ids=[config_id],
        now=now,
        device_ids=device_id or None,
    )
    checked = f" on {len(device_id)} checked device(s)" if device_id else ""
    message = (
        f"Compliance evaluated{checked}: {run.compliant} compliant, "
        f"{run.non_compliant} non-compliant, {run.unknown} unknown"
        + (f"; {run.approved} patch approvals added." if run.approved else ".")
    )
    return toast(request, message, event="compliance-changed")


@router.post("/{config_id}/approve")
def approve_missing(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Approve: the selection's missing patches, for each device's client (CMP-15)."""
    added = compliance.approve_now(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        config_id=config_id,
        now=now,
    )
    noun = "approval" if added == 1 else "approvals"
    return toast(request, f"{added} patch {noun} added.", event="compliance-changed")


@router.post("/{config_id}/delete")
def delete_compliance(
    config_id: uuid.UUID, viewer: ViewerDep, session: SessionDep, now: NowDep
) -> Response:
    """Remove, then back to the list."""
    compliance.delete(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        config_ids=[config_id],
        now=now,
    )
    target = viewer.url("/compliance")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
