"""Version 1 of the agent <-> server messages (pydantic v2, frozen, forward-compatible)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from patchfleet.core.jobs import PatchStatus, RebootPolicy
from patchfleet.core.updates import Classification, Severity, UpdateState

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

MAX_PACKAGES = 50_000
MAX_UPDATES = 20_000

ShortStr = Annotated[str, Field(max_length=256)]
VersionStr = Annotated[str, Field(max_length=256)]
CveId = Annotated[str, Field(pattern=r"^CVE-\d{4}-\d{4,}$", max_length=32)]


class Message(BaseModel):
    """Base of every protocol model: frozen, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Facts(Message):
    """What the device is: sent at enrollment and whenever it changes."""

    hostname: ShortStr
    os_family: ShortStr = ""
    os_id: ShortStr = ""  # os-release ID: debian, ubuntu, rhel, almalinux...
    os_name: ShortStr = ""
    os_version: ShortStr = ""
    kernel: ShortStr = ""
    arch: ShortStr = ""
    ips: list[ShortStr] = Field(default_factory=list, max_length=64)
    agent_version: ShortStr = ""
    package_manager: ShortStr = ""


class EnrollRequest(Message):
    """First contact: a client's enrollment token and the device's facts."""

    protocol_version: int = PROTOCOL_VERSION
    enrollment_token: Annotated[str, Field(min_length=8, max_length=256)]
    facts: Facts


class EnrollResponse(Message):
    """The device's identity and its credential, shown once."""

    device_id: uuid.UUID
    credential: str
    checkin_interval_seconds: int


class OrderKind(StrEnum):
    """What the server asks the agent to do."""

    SCAN = "scan"
    INSTALL = "install"


class PatchTarget(Message):
    """One patch to install: an exact package version (never "upgrade all")."""

    name: ShortStr
    version: VersionStr
    arch: ShortStr = ""
    advisory_id: ShortStr = ""


class Order(Message):
    """One unit of work for the agent; ``id`` is its idempotency key.

    Install orders carry the exact targets and the reboot policy (DEC-11); older
    agents that do not know ``install`` ignore it and the server times the job out.
    """

    id: uuid.UUID
    kind: OrderKind
    issued_at: datetime
    patches: list[PatchTarget] = Field(default_factory=list, max_length=1_000)
    reboot: RebootPolicy = RebootPolicy.NEVER


class PatchResult(Message):
    """What happened to one patch of an install order."""

    name: ShortStr
    version: VersionStr
    arch: ShortStr = ""
    status: PatchStatus
    message: Annotated[str, Field(max_length=8_192)] = ""


class JobReport(Message):
    """Progress or the end of an install order; ``report_id`` makes delivery idempotent.

    The agent sends one report per state change (CFG-37) and a last one with
    ``final`` set. The server ignores reports for a job that is already final.
    """

    report_id: uuid.UUID
    order_id: uuid.UUID
    sent_at: datetime
    final: bool = False
    failed: bool = False
    message: Annotated[str, Field(max_length=8_192)] = ""
    patches: list[PatchResult] = Field(default_factory=list, max_length=1_000)
    reboot_required: bool = False
    rebooted: bool = False


class InventoryWanted(StrEnum):
    """What the server wants after a check-in."""

    NONE = "none"
    DELTA = "delta"
    FULL = "full"


class CheckIn(Message):
    """Periodic heartbeat; carries hashes so unchanged state costs nothing."""

    protocol_version: int = PROTOCOL_VERSION
    agent_version: ShortStr = ""
    inventory_hash: ShortStr = ""
    facts: Facts | None = None
    reboot_required: bool | None = None


class CheckInResponse(Message):
    """The server's answer: what inventory it needs and which orders are pending."""

    inventory: InventoryWanted
    orders: list[Order] = Field(default_factory=list)
    checkin_interval_seconds: int


class PackageItem(Message):
    """One installed package."""

    name: ShortStr
    version: VersionStr
    arch: ShortStr = ""
    source_name: ShortStr = ""
    source_version: VersionStr = ""


class PackageRef(Message):
    """Identity of a removed package."""

    name: ShortStr
    arch: ShortStr = ""


class InventoryReport(Message):
    """Installed packages, in full or as a delta from ``base_hash``."""

    kind: Literal["full", "delta"]
    base_hash: ShortStr = ""
    hash: ShortStr
    packages: list[PackageItem] = Field(default_factory=list, max_length=MAX_PACKAGES)
    removed: list[PackageRef] = Field(default_factory=list, max_length=MAX_PACKAGES)


class UpdateItem(Message):
    """One pending update as the device's package manager reports it."""

    name: ShortStr
    installed_version: VersionStr
    candidate_version: VersionStr
    arch: ShortStr = ""
    classification: Classification = Classification.OTHER
    severity: Severity = Severity.NONE
    raw_severity: ShortStr = ""
    source: ShortStr = ""
    advisory_id: ShortStr = ""
    cves: list[CveId] = Field(default_factory=list, max_length=5_000)
    state: UpdateState = UpdateState.INSTALLABLE
    source_package: ShortStr = ""


class ScanStatus(StrEnum):
    """How a scan ended."""

    OK = "ok"
    FAILED = "failed"


class ScanReport(Message):
    """The result of one missing-patch scan; ``scan_id`` makes delivery idempotent."""

    scan_id: uuid.UUID
    order_id: uuid.UUID | None = None
    started_at: datetime
    finished_at: datetime
    backend: ShortStr
    status: ScanStatus = ScanStatus.OK
    error: Annotated[str, Field(max_length=8_192)] = ""
    reboot_required: bool = False
    updates: list[UpdateItem] = Field(default_factory=list, max_length=MAX_UPDATES)


class LocalScan(Message):
    """Output of ``patchfleet agent scan --json``."""

    backend: str
    reboot_required: bool
    updates: list[UpdateItem]
