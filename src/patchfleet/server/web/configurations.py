"""Configurations: the list, the three-step wizard, the detail view and Run Now (CFG-*).

The wizard is one form in three steps (Devices → Patches → Schedule) switched by CSS;
it posts once, and a service error is shown next to the field it is about, on its step.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import fields
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Form, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from patchfleet.core.errors import ConflictError, InvalidInputError
from patchfleet.core.jobs import RebootPolicy
from patchfleet.core.queries import DEVICE_FIELDS, PATCH_FIELDS, QueryError
from patchfleet.core.schedules import Frequency, Schedule
from patchfleet.server.services import activity, configurations, devices, patches
from patchfleet.server.services.activity import ObjectType
from patchfleet.server.services.configurations import (
    ConfigurationSpec,
    PatchSelection,
)
from patchfleet.server.web.approvals import toast
from patchfleet.server.web.deps import NowDep, SessionDep, Viewer, ViewerDep
from patchfleet.server.web.rendering import PageRoute, render

router = APIRouter(
    prefix="/configurations", include_in_schema=False, route_class=PageRoute
)

PICKER_SIZE = 500
FREQUENCIES = {
    Frequency.ON_DEMAND: "On demand",
    Frequency.ONCE: "Once",
    Frequency.DAILY: "Daily",
    Frequency.WEEKLY: "Weekly",
    Frequency.MONTHLY: "Monthly",
    Frequency.YEARLY: "Yearly",
    Frequency.PATCH_TUESDAY: "Patch Tuesday",
}
# The step a field sits on, to open the wizard where an error is; step 1 also shows
# the general fields (name, precedence) above the steps.
PATCH_STEP = frozenset({"patch_selection", "patch_query", "selected_patches"})
SCHEDULE_STEP = frozenset(f.name for f in fields(Schedule)) | {"reboot", "notify"}
LOC_FIELDS = {"ids": "selected_patches"}  # the bulk guard names its items "ids"
Text = Annotated[str, Field(max_length=2000)]


def step_of(field: str) -> int:
    """The wizard step showing ``field``."""
    return 3 if field in SCHEDULE_STEP else 2 if field in PATCH_STEP else 1


def invalid(field: str, message: str) -> InvalidInputError:
    """An input error located at one wizard field."""
    return InvalidInputError(message, loc=("body", field))


def _number(text: str, field: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise invalid(field, f"{field}: enter a whole number") from None
    if not low <= value <= high:
        raise invalid(field, f"{field}: must be between {low} and {high}")
    return value


def _day(text: str, field: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise invalid(field, f"{field}: expected a date YYYY-MM-DD") from None


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise invalid("time_of_day", "time: expected HH:MM") from None


class WizardForm(BaseModel):
    """The wizard's fields as posted; ``to_spec`` turns them into a spec."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, Field(max_length=200)] = ""
    description: Text = ""
    precedence: Annotated[str, Field(max_length=12)] = "10"
    enabled: bool = False
    device_mode: Annotated[str, Field(max_length=10)] = "query"
    device_query: Text = ""
    static_devices: Annotated[list[str], Field(max_length=10_000)] = []
    patch_selection: Annotated[str, Field(max_length=10)] = "approved"
    patch_query: Text = ""
    selected_patches: Annotated[list[Text], Field(max_length=1000)] = []
    frequency: Annotated[str, Field(max_length=20)] = "weekly"
    time_of_day: Annotated[str, Field(max_length=8)] = "03:00"
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    weekdays_only: bool = False
    weekdays: list[int] = []
    month_days: list[int] = []
    months: list[int] = []
    offset_days: Annotated[str, Field(max_length=4)] = "0"
    start_date: Annotated[str, Field(max_length=10)] = ""
    end_date: Annotated[str, Field(max_length=10)] = ""
    reboot: Annotated[str, Field(max_length=8)] = "no"
    notify: Text = ""

    @property
    def is_static(self) -> bool:
        """Devices picked by hand rather than by query."""
        return self.device_mode == "static"

    def schedule(self) -> Schedule:
        """The schedule; options of other frequencies (hidden inputs) are dropped."""
        try:
            frequency = Frequency(self.frequency)
        except ValueError:
            raise invalid("frequency", "choose how often it runs") from None
        tuesday = frequency is Frequency.PATCH_TUESDAY
        return Schedule(
            frequency=frequency,
            time_of_day=_clock(self.time_of_day),
            timezone=self.timezone.strip(),
            start_date=_day(self.start_date, "start_date"),
            end_date=_day(self.end_date, "end_date"),
            weekdays_only=self.weekdays_only and frequency is Frequency.DAILY,
            weekdays=frozenset(self.weekdays if frequency is Frequency.WEEKLY else ()),
            month_days=frozenset(
                self.month_days if frequency is Frequency.MONTHLY else ()
            ),
            months=frozenset(self.months if frequency is Frequency.YEARLY else ()),
            offset_days=_number(self.offset_days, "offset_days", 0, 26)
            if tuesday
            else 0,
        )

    def to_spec(self) -> ConfigurationSpec:
        """The configuration to create; raises InvalidInputError at the field."""
        if not self.name.strip():
            raise invalid("name", "give the configuration a name")
        try:
            selection = PatchSelection(self.patch_selection)
            reboot = RebootPolicy(self.reboot)
            picked = tuple(uuid.UUID(d) for d in self.static_devices)
        except ValueError as exc:
            raise invalid("form", f"unexpected choice: {exc}") from None
        return ConfigurationSpec(
            name=self.name.strip(),
            schedule=self.schedule(),
            precedence=_number(self.precedence, "precedence", 1, 10_000),
            description=self.description.strip(),
            enabled=self.enabled,
            device_query="" if self.is_static else self.device_query.strip(),
            static_devices=picked if self.is_static else (),
            patch_selection=selection,
            patch_query=self.patch_query.strip()
            if selection is PatchSelection.DYNAMIC
            else "",
            selected_patches=tuple(self.selected_patches)
            if selection is PatchSelection.SELECT
            else (),
            reboot=reboot,
            notify=tuple(self.notify.replace(",", " ").split()),
        )

    def error_field(self, exc: InvalidInputError | ConflictError) -> str:
        """The wizard field a service error is about ("form" when none fits)."""
        if isinstance(exc, ConflictError):
            return "name"
        if isinstance(exc, QueryError):
            is_device = not self.is_static and exc.text == self.device_query.strip()
            return "device_query" if is_device else "patch_query"
        field = exc.loc[-1] if len(exc.loc) > 1 else "form"
        field = LOC_FIELDS.get(field, field)
        return field if field in WizardForm.model_fields else "form"


NEW_FORM = WizardForm(enabled=True)
WizardDep = Annotated[WizardForm, Form()]


def schedule_text(data: dict[str, Any]) -> str:
    """A stored schedule in words, with its time zone."""
    s = configurations.schedule_from_json(data)
    at = f"at {s.time_of_day:%H:%M} ({s.timezone})"
    days = {
        Frequency.ON_DEMAND: "On demand",
        Frequency.ONCE: f"Once on {s.start_date}",
        Frequency.DAILY: "Every weekday" if s.weekdays_only else "Every day",
        Frequency.WEEKLY: "Weekly on "
        + ", ".join(calendar.day_name[d] for d in sorted(s.weekdays)),
        Frequency.MONTHLY: "Monthly on day "
        + ", ".join(map(str, sorted(s.month_days))),
        Frequency.YEARLY: f"Yearly on day {s.start_date.day if s.start_date else '?'} of "
        + ", ".join(calendar.month_name[m] for m in sorted(s.months)),
        Frequency.PATCH_TUESDAY: "Patch Tuesday"
        + (f" + {s.offset_days} d" if s.offset_days else ""),
    }[s.frequency]
    if s.frequency is Frequency.ON_DEMAND:
        return days
    until = f", until {s.end_date}" if s.end_date else ""
    return f"{days} {at}{until}"


def local_text(at: datetime | None, zone: str) -> str:
    """An instant as local wall time in ``zone``: ``2026-12-04 03:00 Europe/Berlin``."""
    if at is None:
        return "—"
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return f"{aware.astimezone(tz):%Y-%m-%d %H:%M} {zone}"


def picker_url(viewer: Viewer, path: str, picked: list[str]) -> str:
    """A picker fragment's URL that keeps the picked ids checked."""
    url = viewer.url(path)
    extra = urlencode([("picked", p) for p in picked])
    return f"{url}{'&' if '?' in url else '?'}{extra}" if extra else url


HELPERS: dict[str, Any] = {
    "schedule_text": schedule_text,
    "local_text": local_text,
    "frequencies": FREQUENCIES,
    "weekday_names": list(calendar.day_name),
    "month_names": list(calendar.month_name)[1:],
}


def wizard(
    request: Request,
    viewer: Viewer,
    form: WizardForm,
    errors: dict[str, str] | None = None,
) -> Response:
    """The wizard, opened on the step of the first error."""
    errors = errors or {}
    step = min((step_of(f) for f in errors), default=1)
    return render(
        request,
        "configuration_new.html",
        status_code=422 if errors else 200,
        viewer=viewer,
        section="configurations",
        form=form,
        errors=errors,
        step=step,
        devices_url=picker_url(
            viewer, "/configurations/new/devices", form.static_devices
        ),
        patches_url=picker_url(
            viewer, "/configurations/new/patches", form.selected_patches
        ),
        **HELPERS,
    )


@router.get("")
def configuration_list(
    request: Request, viewer: ViewerDep, session: SessionDep
) -> Response:
    """Name, schedule, devices, precedence, next and last run (DEC-10), Run Now."""
    rows = configurations.list_in_scope(session, scope=viewer.scope)
    return render(
        request,
        "configurations.html",
        viewer=viewer,
        section="configurations",
        rows=rows,
        client_names={c.id: c.name for c in viewer.clients},
        **HELPERS,
    )


@router.get("/new")
def new_configuration(request: Request, viewer: ViewerDep) -> Response:
    """+ Add: the three-step wizard (CFG-01)."""
    return wizard(request, viewer, NEW_FORM)


@router.post("/new")
def create_configuration(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
    form: WizardDep,
) -> Response:
    """Save the wizard: to the new configuration, or back to the field in error."""
    try:
        row = configurations.create(
            session,
            principal=viewer.principal,
            scope=viewer.scope,
            spec=form.to_spec(),
            now=now,
        )
    except (InvalidInputError, ConflictError) as exc:
        return wizard(request, viewer, form, {form.error_field(exc): str(exc)})
    target = viewer.url(f"/configurations/{row.uuid}")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


Picked = Annotated[list[str], Query(default_factory=list, max_length=1000)]


@router.get("/new/devices")
def device_picker(
    request: Request, viewer: ViewerDep, session: SessionDep, picked: Picked
) -> Response:
    """Step 1, static: devices in scope as checkboxes."""
    found = devices.list_devices(
        session, scope=viewer.scope, page=1, page_size=PICKER_SIZE
    )
    return render(
        request, "_pick_devices.html", viewer=viewer, found=found, picked=set(picked)
    )


@router.get("/new/patches")
def patch_picker(
    request: Request, viewer: ViewerDep, session: SessionDep, picked: Picked
) -> Response:
    """Step 2, select: missing patches in scope as checkboxes (at most 100 count)."""
    found = patches.by_patch(session, scope=viewer.scope, page=1, page_size=PICKER_SIZE)
    return render(
        request, "_pick_patches.html", viewer=viewer, found=found, picked=set(picked)
    )


@router.get("/query-help")
def query_help(request: Request, viewer: ViewerDep) -> Response:
    """The query language in short: fields, kinds and operators."""
    return render(
        request,
        "query_help.html",
        viewer=viewer,
        section="configurations",
        device_fields=list(DEVICE_FIELDS),
        patch_fields=list(PATCH_FIELDS),
    )


@router.get("/{config_id}")
def configuration_page(
    request: Request, config_id: uuid.UUID, viewer: ViewerDep, session: SessionDep
) -> Response:
    """Properties, devices, patches, schedule with next and last run; logs below."""
    row = configurations.get(session, scope=viewer.scope, config_id=config_id)
    return render(
        request,
        "configuration.html",
        viewer=viewer,
        section="configurations",
        row=row,
        client_names={c.id: c.name for c in viewer.clients},
        **HELPERS,
    )


@router.get("/{config_id}/logs")
def configuration_logs(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    name: Annotated[str, Query(max_length=200)],
) -> Response:
    """The Logs tab: configuration entries whose name contains this one's (CFG-36)."""
    found = activity.list_entries(
        session,
        scope=viewer.scope,
        page=1,
        page_size=50,
        object_type=str(ObjectType.CONFIGURATION),
        search=name,
    )
    entries = [e for e in found.items if e.object_id == str(config_id)]
    return render(request, "_configuration_logs.html", viewer=viewer, entries=entries)


@router.post("/{config_id}/run")
def run_now(
    request: Request,
    config_id: uuid.UUID,
    viewer: ViewerDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Run Now: one install job per device it patches (SCH-10)."""
    run_id = configurations.run_now(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        config_id=config_id,
        now=now,
    )
    message = f"Run started (run {str(run_id)[:8]}): jobs created for its devices."
    return toast(
        request, message, link=viewer.url("/jobs"), event="configurations-changed"
    )


@router.post("/{config_id}/delete")
def delete_configuration(
    config_id: uuid.UUID, viewer: ViewerDep, session: SessionDep, now: NowDep
) -> Response:
    """Delete, then back to the list."""
    configurations.delete(
        session,
        principal=viewer.principal,
        scope=viewer.scope,
        config_id=config_id,
        now=now,
    )
    target = viewer.url("/configurations")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
