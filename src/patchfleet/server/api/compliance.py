"""Patch compliance (CMP-*): configurations, Run Now, devices, patches, history, summary.

Scoped like configurations: ``client_id`` picks one client, none means All Clients
(partner level). Compliance measures and never installs, so reboot, maintenance and
notification fields are refused with a 422 that says so (CMP-02, CMP-11).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response, status
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from patchfleet.core.compliance import ComplianceSpec, OsType, PatchMode
from patchfleet.core.errors import InvalidInputError
from patchfleet.server.api.deps import (
    CurrentUser,
    NowDep,
    ScopeDep,
    SessionDep,
    reject_unknown_query,
)
from patchfleet.server.api.schemas import ScheduleIn, Strict
from patchfleet.server.services import compliance
from patchfleet.server.services.compliance_views import (
    ComplianceDeviceView,
    ComplianceItem,
    CompliancePatchView,
    ComplianceRunDetail,
    ComplianceRunView,
    ComplianceSummary,
    ComplianceView,
    NonCompliantDeviceView,
    TrendPointView,
)

router = APIRouter(
    prefix="/api/v1/compliance",
    tags=["compliance"],
    dependencies=[Depends(reject_unknown_query)],
)

Text = Annotated[str, Field(max_length=2000)]
PatchId = Annotated[str, Field(max_length=600)]
NOT_FOR_COMPLIANCE = ("reboot", "notify", "notifications", "maintenance_window")
Refused = SkipJsonSchema[Any]


class _RefusesInstallOptions(Strict):
    """Names the install-only options, so sending one gets a clear message."""

    reboot: Refused = None
    notify: Refused = None
    notifications: Refused = None
    maintenance_window: Refused = None

    @field_validator(*NOT_FOR_COMPLIANCE, mode="before")
    @classmethod
    def _refuse(cls, _value: object, info: ValidationInfo) -> None:
        raise ValueError(
            f"compliance configurations only measure and never install, so "
            f"'{info.field_name}' does not apply (no reboot, maintenance or "
            "notification options, CMP-11)"
        )


class _Settings(_RefusesInstallOptions):
    """The settings with defaults, shared by creation and partial updates."""

    description: Text = ""
    device_query: Text = ""
    static_devices: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=10_000,
        description="Client level only, at most 100",
    )
    clients: list[int] | None = Field(
        default=None,
        description="Partner level only: Select Clients; omit for All Clients",
    )
    patch_selection: PatchMode = PatchMode.SELECT
    patch_query: Text = ""
    selected_patches: list[PatchId] = Field(
        default_factory=list, max_length=10_000, description="At most 100 patch ids"
    )
    approve_missing: bool = Field(
        default=False,
        description="Approve the selection's missing patches at run time (CMP-10)",
    )
    enabled: bool = True

    def changes(self, only_set: bool = False) -> dict[str, Any]:
        """The spec fields of this body (only those sent, for a partial update)."""
        names = self.model_fields_set if only_set else set(type(self).model_fields)
        found = {}
        for name in sorted(names & compliance.SPEC_FIELDS):
            value = getattr(self, name)
            if value is None and name in REQUIRED:
                raise InvalidInputError(f"{name} may not be null", loc=("body", name))
            found[name] = _converted(name, value)
        return found


REQUIRED = frozenset({"name", "os_type", "schedule"})


def _converted(name: str, value: Any) -> Any:
    if name == "schedule":
        return value.to_core()
    if name in ("static_devices", "selected_patches"):
        return tuple(value)
    if name == "clients" and value is not None:
        return tuple(value)
    return value


class ComplianceIn(_Settings):
    """A compliance configuration: OS type, devices, patches, schedule (CMP-02)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    os_type: OsType = Field(description="The one OS family it checks (CMP-05)")
    schedule: ScheduleIn = Field(
        description="On demand, once, daily, weekly or monthly (CMP-08)"
    )

    def to_spec(self) -> ComplianceSpec:
        """The spec to create."""
        return ComplianceSpec(**self.changes())


class CompliancePatch(_Settings):
    """A partial update: only the fields sent change."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    os_type: OsType | None = None
    schedule: ScheduleIn | None = None


class ConfigurationIds(Strict):
    """Compliance configurations named by id (multi-select, at most 100)."""

    ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=1000)]


class RunIn(Strict):
    """Run Now, optionally for chosen devices only (CMP-15)."""

    device_ids: Annotated[list[uuid.UUID], Field(max_length=1000)] | None = None


class RunsOut(BaseModel):
    """The runs that were recorded."""

    runs: list[ComplianceRunView]


class ApprovedOut(BaseModel):
    """How many patch approvals were added."""

    approved: int


@router.get("")
def list_compliance(
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
    search: Annotated[str, Query(max_length=200)] = "",
) -> list[ComplianceItem]:
    """Configurations in scope (Search by name), each with its counts now (CMP-14)."""
    return compliance.list_in_scope(session, scope=scope, now=now, search=search)


@router.post("", status_code=status.HTTP_201_CREATED)
def create(
    body: ComplianceIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ComplianceView:
    """Create at partner level (All Clients: query, All or Select Clients) or for one
    client (query or a static list of at most 100 devices), CMP-16."""
    return compliance.create(
        session, principal=principal, scope=scope, spec=body.to_spec(), now=now
    )


@router.get("/summary")
def summary(scope: ScopeDep, session: SessionDep, now: NowDep) -> ComplianceSummary:
    """Per enabled configuration: counts and percent; distinct non-compliant devices."""
    return compliance.compliance_summary(session, scope=scope, now=now)


@router.get("/non-compliant-devices")
def non_compliant(
    scope: ScopeDep, session: SessionDep, now: NowDep
) -> list[NonCompliantDeviceView]:
    """Devices non-compliant in any enabled configuration in scope (OV-04)."""
    return compliance.non_compliant_devices(session, scope=scope, now=now)


@router.get("/trend")
def trend(
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
    days: Annotated[int, Query(ge=1, le=compliance.MAX_TREND_DAYS)] = 30,
) -> list[TrendPointView]:
    """Compliance % per UTC day from the recorded runs (history)."""
    return compliance.trend(session, scope=scope, days=days, now=now)


@router.post("/run", status_code=status.HTTP_202_ACCEPTED)
def run_many(
    body: ConfigurationIds,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> RunsOut:
    """Run Now on several configurations (multi-select, at most 100)."""
    runs = compliance.run_now(
        session, principal=principal, scope=scope, config_ids=body.ids, now=now
    )
    return RunsOut(runs=runs)


@router.post("/remove", status_code=status.HTTP_204_NO_CONTENT)
def remove_many(
    body: ConfigurationIds,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Remove several configurations (multi-select, at most 100)."""
    compliance.delete(
        session, principal=principal, scope=scope, config_ids=body.ids, now=now
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{config_id}")
def get(
    config_id: uuid.UUID, scope: ScopeDep, session: SessionDep, now: NowDep
) -> ComplianceItem:
    """Properties with the counts now (CMP-17)."""
    return compliance.get(session, scope=scope, config_id=config_id, now=now)


@router.put("/{config_id}")
def replace_configuration(
    config_id: uuid.UUID,
    body: ComplianceIn,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ComplianceView:
    """Edit: replace every setting (the level stays)."""
    return compliance.update(
        session,
        principal=principal,
        scope=scope,
        config_id=config_id,
        changes=body.changes(),
        now=now,
    )


@router.patch("/{config_id}")
def patch_configuration(
    config_id: uuid.UUID,
    body: CompliancePatch,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ComplianceView:
    """Edit: change only the fields sent."""
    return compliance.update(
        session,
        principal=principal,
        scope=scope,
        config_id=config_id,
        changes=body.changes(only_set=True),
        now=now,
    )


@router.delete("/{config_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(
    config_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> Response:
    """Remove one configuration with its history."""
    compliance.delete(
        session, principal=principal, scope=scope, config_ids=[config_id], now=now
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{config_id}/run", status_code=status.HTTP_202_ACCEPTED)
def run_now(
    config_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
    body: Annotated[RunIn | None, Body()] = None,
) -> ComplianceRunView:
    """Run Now: evaluate and record (approve too if toggled), optionally for chosen
    devices only; such a partial run is left out of trends."""
    (run,) = compliance.run_now(
        session,
        principal=principal,
        scope=scope,
        config_ids=[config_id],
        now=now,
        device_ids=body.device_ids if body else None,
    )
    return run


@router.post("/{config_id}/approve")
def approve(
    config_id: uuid.UUID,
    principal: CurrentUser,
    scope: ScopeDep,
    session: SessionDep,
    now: NowDep,
) -> ApprovedOut:
    """Approve the selection's missing patches for each device's client now (CMP-15);
    blocklisted patches and patches decided by hand are left alone."""
    return ApprovedOut(
        approved=compliance.approve_now(
            session, principal=principal, scope=scope, config_id=config_id, now=now
        )
    )


@router.get("/{config_id}/devices")
def devices(
    config_id: uuid.UUID, scope: ScopeDep, session: SessionDep, now: NowDep
) -> list[ComplianceDeviceView]:
    """Each selected device with its status and missing selected patches (CMP-13)."""
    return compliance.devices(session, scope=scope, config_id=config_id, now=now)


@router.get("/{config_id}/patches")
def patches(
    config_id: uuid.UUID, scope: ScopeDep, session: SessionDep, now: NowDep
) -> list[CompliancePatchView]:
    """Each selected patch with how many selected devices miss it."""
    return compliance.patches(session, scope=scope, config_id=config_id, now=now)


@router.get("/{config_id}/runs")
def runs(
    config_id: uuid.UUID,
    scope: ScopeDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=compliance.RUNS_KEPT)] = 100,
) -> list[ComplianceRunView]:
    """The recorded runs (history), newest first."""
    return compliance.runs(session, scope=scope, config_id=config_id, limit=limit)


@router.get("/{config_id}/runs/{run_id}")
def run_detail(
    config_id: uuid.UUID, run_id: uuid.UUID, scope: ScopeDep, session: SessionDep
) -> ComplianceRunDetail:
    """One run with its per-device results (kept for the newest runs)."""
    return compliance.run_detail(
        session, scope=scope, config_id=config_id, run_id=run_id
    )
