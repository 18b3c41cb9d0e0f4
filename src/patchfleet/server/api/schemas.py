"""Request and response models of the management API (read models live in services.views)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from patchfleet.core.jobs import RebootPolicy
from patchfleet.core.policy import ApprovalType, Rating, RuleAction
from patchfleet.core.schedules import Frequency, Schedule
from patchfleet.core.tenancy import Role
from patchfleet.server.services.configurations import PatchSelection

Name = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    """Request bodies reject unknown fields."""

    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    """Username and password."""

    username: Name
    password: Annotated[str, Field(min_length=1, max_length=1000)]


class TokenOut(BaseModel):
    """A new secret, shown once."""

    id: int | None = None
    token: str


class TokenCreate(Strict):
    """Name and optional lifetime of a new API token."""

    name: Name
    expires_in_days: Annotated[int | None, Field(ge=1, le=3650)] = None


class TokenInfo(BaseModel):
    """An API token without its secret."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class MeOut(BaseModel):
    """The caller."""

    user_id: int
    username: str
    partner_id: int
    client_id: int | None
    role: Role


class ClientCreate(Strict):
    """A new client."""

    name: Name


class UserCreate(Strict):
    """A new user of the partner or of one client."""

    username: Name
    password: Annotated[str, Field(min_length=10, max_length=1000)]
    client_id: int | None = None
    role: Role = Role.VIEWER
    email: Annotated[str, Field(max_length=300)] = ""


class UserOut(BaseModel):
    """The id of a created user."""

    id: int


class EnrollmentTokenCreate(Strict):
    """Label and optional lifetime of an enrollment token."""

    label: Annotated[str, Field(max_length=200)] = ""
    expires_in_days: Annotated[int | None, Field(ge=1, le=3650)] = None


class EnrollmentTokenOut(BaseModel):
    """A new enrollment token, with the command that enrolls an agent."""

    id: int
    token: str
    command: str


class EnrollmentTokenInfo(BaseModel):
    """An enrollment token without its secret."""

    id: int
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    use_count: int


class ScanNowIn(Strict):
    """Devices to scan now (at most 100)."""

    device_ids: Annotated[list[uuid.UUID], Field(min_length=1)]


class ScanNowOut(BaseModel):
    """Devices that got a scan order (the others already had one open)."""

    ordered: list[uuid.UUID]


class PatchIds(Strict):
    """Patches named by id (``backend:name@version``), at most 100 (DEC-12)."""

    patch_ids: Annotated[
        list[Annotated[str, Field(max_length=600)]], Field(min_length=1)
    ]


class RateIn(PatchIds):
    """Allowlist, blocklist or unrate patches."""

    rating: Rating
    comment: Annotated[str, Field(max_length=2000)] = ""


class ClientSettingsIn(Strict):
    """A client's rating inheritance and approval type."""

    use_parent_level: bool
    approval_type: ApprovalType


class InstallNowIn(Strict):
    """Install approved patches on devices now (MP-10)."""

    device_ids: Annotated[list[uuid.UUID], Field(min_length=1)]
    patch_ids: list[Annotated[str, Field(max_length=600)]] | None = None
    reboot: RebootPolicy = RebootPolicy.NEVER


class InstallNowOut(BaseModel):
    """The jobs created (devices with nothing approved to install get none)."""

    jobs: list[uuid.UUID]


class ScheduleIn(Strict):
    """When something runs (SCH-*); fields that do not apply to the frequency stay empty."""

    frequency: Frequency
    time_of_day: time = time(0, 0)
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    start_date: date | None = None
    weekdays_only: bool = False
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = []
    month_days: list[Annotated[int, Field(ge=1, le=31)]] = []
    months: list[Annotated[int, Field(ge=1, le=12)]] = []
    offset_days: Annotated[int, Field(ge=0, le=26)] = 0
    end_date: date | None = None

    def to_core(self) -> Schedule:
        """The core value."""
        return Schedule(
            frequency=self.frequency,
            time_of_day=self.time_of_day,
            timezone=self.timezone,
            start_date=self.start_date,
            weekdays_only=self.weekdays_only,
            weekdays=frozenset(self.weekdays),
            month_days=frozenset(self.month_days),
            months=frozenset(self.months),
            offset_days=self.offset_days,
            end_date=self.end_date,
        )


class ConfigurationIn(Strict):
    """A new patch configuration (three steps: devices, patches, schedule)."""

    name: Name
    description: Annotated[str, Field(max_length=2000)] = ""
    enabled: bool = True
    precedence: Annotated[int, Field(ge=1, le=10_000)] = 10
    device_query: Annotated[str, Field(max_length=2000)] = ""
    static_devices: Annotated[list[uuid.UUID], Field(max_length=10_000)] = []
    clients: list[int] | None = None
    patch_selection: PatchSelection = PatchSelection.APPROVED
    patch_query: Annotated[str, Field(max_length=2000)] = ""
    selected_patches: list[Annotated[str, Field(max_length=600)]] = []
    schedule: ScheduleIn
    reboot: RebootPolicy = RebootPolicy.NEVER
    notify: list[Annotated[str, Field(max_length=300)]] = []


class ConfigurationOut(BaseModel):
    """A patch configuration with its next and last run."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    level: str
    client_id: int | None
    enabled: bool
    precedence: int
    device_query: str
    static_devices: list[str]
    patch_selection: str
    patch_query: str
    selected_patches: list[str]
    schedule: dict[str, object]
    reboot: str
    notify: list[str]
    created_at: datetime
    last_run_at: datetime | None
    next_run_at: datetime | None


class RunOut(BaseModel):
    """A started configuration run."""

    run_id: uuid.UUID


class RuleIn(Strict):
    """An approval rule (BP-11): a patch query and what to do with matching patches."""

    name: Name
    query: Annotated[str, Field(min_length=1, max_length=2000)]
    action: RuleAction
    defer_days: Annotated[int, Field(ge=0, le=365)] = 0
    os_families: list[Annotated[str, Field(max_length=32)]] = []
    clients: list[int] | None = None
    enabled: bool = True


class RuleOut(BaseModel):
    """A stored approval rule."""

    id: uuid.UUID
    name: str
    level: str
    client_id: int | None
    clients: list[int] | None
    query: str
    action: str
    defer_days: int
    os_families: list[str]
    enabled: bool
    created_at: datetime


class ScanScheduleIn(Strict):
    """A scan schedule: devices by query (or list, for one client) and when."""

    name: Name
    device_query: Annotated[str, Field(max_length=2000)] = ""
    static_devices: Annotated[list[uuid.UUID], Field(max_length=10_000)] = []
    clients: list[int] | None = None
    schedule: ScheduleIn
    enabled: bool = True
    notify: list[Annotated[str, Field(max_length=300)]] = []


class ScanScheduleOut(BaseModel):
    """A scan schedule with its next and last run (SCH-09)."""

    id: uuid.UUID
    name: str
    level: str
    client_id: int | None
    device_query: str
    static_devices: list[str]
    schedule: dict[str, object]
    enabled: bool
    notify: list[str] = []
    created_at: datetime
    last_run_at: datetime | None
    next_run_at: datetime | None


class OrderedOut(BaseModel):
    """How many devices got a scan order."""

    ordered: int
