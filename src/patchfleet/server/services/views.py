"""Read models returned by services and rendered by the API and the web UI."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class View(BaseModel):
    """Base of read models."""

    model_config = ConfigDict(from_attributes=True)


class Page(View, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    page: int
    page_size: int


class ClientView(View):
    """A client company."""

    id: int
    name: str
    created_at: datetime


class DeviceSummary(View):
    """One row of the devices list and of Missing Patches BY DEVICE (DEC-02)."""

    id: uuid.UUID
    hostname: str
    client_id: int
    client_name: str
    os_family: str
    os_name: str
    os_version: str
    ips: list[str]
    package_manager: str
    agent_version: str
    last_seen_at: datetime
    last_scan_at: datetime | None
    last_scan_status: str
    reboot_required: bool
    missing: int
    missing_security: int
    approved: int = 0
    installable_now: int


class DeviceDetail(DeviceSummary):
    """A device with all its facts."""

    kernel: str
    arch: str
    enrolled_at: datetime
    inventory_at: datetime | None
    package_count: int
    last_scan_error: str


class PackageView(View):
    """One installed package."""

    name: str
    version: str
    arch: str
    source_name: str
    source_version: str


class MissingPatch(View):
    """One missing patch on one device (BY DEVICE detail, device Patches tab)."""

    patch_id: str
    name: str
    arch: str
    backend: str
    installed_version: str
    candidate_version: str
    classification: str
    severity: str
    raw_severity: str
    source: str
    advisory_id: str
    cves: list[str]
    state: str
    first_seen_at: datetime


class PatchSummary(View):
    """One row of Missing Patches BY PATCH (MP-02, MP-04)."""

    patch_id: str
    vendor_id: str
    name: str
    backend: str
    candidate_version: str
    installed_versions: list[str]
    classification: str
    severity: str
    raw_severity: str
    source: str
    advisory_id: str
    cves: list[str]
    devices: int
    installable_now: int
    first_seen_at: datetime
    rating: str = "not_rated"
    approval: str = (
        ""  # one client in scope: the decision (approved, not_approved, ...)
    )
    approval_reason: str = ""
    kev: bool = False
    epss: float | None = None
    cvss: float | None = None
    priority: int = 0
    priority_band: str = "none"
    priority_explanation: str = ""


class PatchDevice(View):
    """A device missing one patch (MP-16 side pane)."""

    id: uuid.UUID
    hostname: str
    client_name: str
    installed_version: str
    state: str


class ScanView(View):
    """One scan of a device."""

    id: uuid.UUID
    started_at: datetime
    finished_at: datetime
    received_at: datetime
    backend: str
    status: str
    error: str
    update_count: int


class ActivityView(View):
    """One activity log entry."""

    id: int
    at: datetime
    client_id: int | None
    actor: str
    object_type: str
    object_id: str
    object_name: str
    action: str
    details: dict[str, object]


class JobPatchView(View):
    """One patch of an install job and its state (CFG-37 progress)."""

    patch_id: str
    name: str
    arch: str
    version: str
    advisory_id: str
    status: str
    message: str
    updated_at: datetime


class JobView(View):
    """An install job on one device."""

    id: uuid.UUID
    device_id: uuid.UUID
    hostname: str
    client_name: str
    status: str
    reboot: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    deadline_at: datetime | None
    message: str
    reboot_required: bool
    rebooted: bool
    patches: list[JobPatchView] = []


# CVE Insights and Details (CVE-04..08) ----------------------------------------------


class CveSummary(View):
    """One row of BY CVE: facts, exposure, fix states and priority (BP-07)."""

    cve: str
    severity: str
    cvss: float | None
    description: str
    kev: bool
    kev_due: date | None
    epss: float | None
    devices: int
    installable: int
    not_installable: int
    no_fix: int
    priority: int
    band: str
    explanation: str
    first_seen_at: datetime | None


class CveDevice(View):
    """A device affected by one CVE, through one package."""

    device_id: uuid.UUID
    hostname: str
    client_name: str
    os_name: str
    package: str
    version: str
    fixed: str
    state: str
    first_seen_at: datetime


class FixingPatch(View):
    """A missing patch that fixes the CVE, and on how many devices it is offered."""

    patch_id: str
    devices: int


class CveDetail(View):
    """CVE Details: the summary (None when no device in scope is affected)."""

    cve: str
    summary: CveSummary | None
    devices: list[CveDevice]
    patches: list[FixingPatch]


class DeviceCve(View):
    """One CVE of one device."""

    cve: str
    package: str
    version: str
    fixed: str
    state: str
    severity: str
    cvss: float | None
    kev: bool
    epss: float | None
    description: str
    priority: int
    band: str
    explanation: str
    first_seen_at: datetime


class DeviceCveCount(View):
    """One row of BY DEVICE (CVE-08)."""

    device_id: uuid.UUID
    hostname: str
    client_name: str
    ips: list[str]
    os_name: str
    cves: int
    kev: int


class CveInsights(View):
    """The CVE Insights widgets (CVE-04)."""

    devices: int
    impacted_devices: int
    cves: int
    by_severity: dict[str, int]
    kev: int
    installable: int
    top: list[CveSummary]
    by_os: dict[str, dict[str, int]]
    trend: list[tuple[date, int]]
