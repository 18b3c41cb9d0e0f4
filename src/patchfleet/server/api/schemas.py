"""Request and response models of the management API (read models live in services.views)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from patchfleet.core.jobs import RebootPolicy
from patchfleet.core.policy import ApprovalType, Rating
from patchfleet.core.tenancy import Role

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
