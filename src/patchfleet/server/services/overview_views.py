"""Read models of the Overview (OV-01..OV-15): tiles, charts, Client Overview, rows.

Each tile drills down to a list of one row type; ``COLUMNS`` names the fields (and
their titles) that the web table and the CSV export show, in order.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from patchfleet.server.services.views import Page, View


class Tile(StrEnum):
    """The Overview tiles, in their fixed layout order (OV-13).

    The values are the drill-down paths (``/overview/{tile}``); three keep the names
    the first Overview used for its tiles.
    """

    DEVICES = "devices"
    SCANNED = "scanned"
    UNSCANNED = "never-scanned"
    SECURITY = "security"
    SECURITY_INSTALLABLE = "security-installable"
    FAILED = "failed"
    INSTALLED = "installed"
    REBOOT = "reboot"
    REBOOTED = "rebooted"
    NON_COMPLIANT = "non-compliant"
    RUNS = "runs"
    CVE_DEVICES = "cve-devices"
    KEV = "kev"


class TileView(View):
    """One tile: its count (None while its data source is not available)."""

    key: Tile
    label: str
    unit: str
    definition: str
    count: int | None

    @property
    def is_available(self) -> bool:
        """False when the tile's source (compliance) is not installed yet."""
        return self.count is not None


class SeverityCount(View):
    """Missing patches of one normalised severity (the chart)."""

    severity: str
    missing: int
    installable: int
    patches: int


class ClassificationCount(View):
    """Missing patches of one classification (the chart)."""

    classification: str
    missing: int
    patches: int


class ClientOverviewRow(View):
    """OV-11: one client with its key counts (each one a drill-down of its own)."""

    client_id: int
    client_name: str
    counts: dict[Tile, int | None]


class ComplianceConfiguration(View):
    """OV-05: one compliance configuration in scope and where its devices stand."""

    id: uuid.UUID
    name: str
    compliant: int
    non_compliant: int
    unknown: int
    percent: float | None


class TrendPoint(View):
    """One day of the compliance trend (percent of devices compliant)."""

    day: date
    value: float


# Drill-down rows ---------------------------------------------------------------


class OverviewDevice(View):
    """A device (Devices, Scanned, Unscanned, Reboot Required, Rebooted, CVEs)."""

    device_id: uuid.UUID
    hostname: str
    client_name: str
    os_name: str
    last_seen_at: datetime
    last_scan_at: datetime | None
    last_scan_status: str
    reboot_required: bool


class OverviewMissing(View):
    """A missing patch on one device, from its latest scan (Missing Critical & Security)."""

    device_id: uuid.UUID
    hostname: str
    client_name: str
    patch_id: str
    name: str
    arch: str
    installed_version: str
    candidate_version: str
    classification: str
    severity: str
    state: str
    first_seen_at: datetime


class OverviewResult(View):
    """The latest install result of one patch on one device (Failed, Installed)."""

    job_id: uuid.UUID
    device_id: uuid.UUID
    hostname: str
    client_name: str
    patch_id: str
    name: str
    arch: str
    version: str
    status: str
    message: str
    updated_at: datetime


class OverviewRun(View):
    """A configuration or scan schedule that ran in the last 24 h or runs in the next."""

    kind: str
    id: uuid.UUID
    name: str
    client_name: str
    at: datetime
    timing: str
    trigger: str


class OverviewCve(View):
    """A known exploited CVE (CISA KEV) affecting devices in scope."""

    cve: str
    devices: int
    cvss: float | None
    date_added: date | None
    due_date: date | None
    description: str


class NonCompliantDevice(View):
    """A device non-compliant in at least one compliance configuration (CMP-13)."""

    device_id: uuid.UUID
    hostname: str
    client_id: int
    client_name: str
    configurations: str
    missing: int


OverviewRow = (
    OverviewDevice
    | OverviewMissing
    | OverviewResult
    | OverviewRun
    | OverviewCve
    | NonCompliantDevice
)


class Drilldown(Page[OverviewRow]):
    """One page of the list behind a tile; ``total`` always equals the tile (OV-12)."""

    tile: Tile
    label: str
    definition: str


class OverviewView(View):
    """Everything the Overview page shows, computed with SQL aggregates."""

    generated_at: datetime
    is_partner_level: bool
    tiles: list[TileView]
    missing_by_severity: list[SeverityCount]
    missing_by_classification: list[ClassificationCount]
    runs: list[OverviewRun]
    clients: list[ClientOverviewRow]
    compliance: list[ComplianceConfiguration]
    compliance_trend: list[TrendPoint] | None

    def tile(self, key: str) -> TileView:
        """The tile ``key`` (a ``Tile`` value)."""
        return next(t for t in self.tiles if t.key == key)


# Field, title: what a drill-down table and its CSV show, in order.
COLUMNS: dict[type[View], tuple[tuple[str, str], ...]] = {
    OverviewDevice: (
        ("hostname", "Device"),
        ("client_name", "Client"),
        ("os_name", "OS"),
        ("last_seen_at", "Last seen"),
        ("last_scan_at", "Last scan"),
        ("last_scan_status", "Scan status"),
        ("reboot_required", "Reboot required"),
    ),
    OverviewMissing: (
        ("hostname", "Device"),
        ("client_name", "Client"),
        ("patch_id", "Patch"),
        ("arch", "Arch"),
        ("installed_version", "Installed"),
        ("classification", "Classification"),
        ("severity", "Severity"),
        ("state", "State"),
        ("first_seen_at", "First seen"),
    ),
    OverviewResult: (
        ("hostname", "Device"),
        ("client_name", "Client"),
        ("patch_id", "Patch"),
        ("arch", "Arch"),
        ("status", "Result"),
        ("updated_at", "At"),
        ("message", "Message"),
    ),
    OverviewRun: (
        ("timing", "When"),
        ("at", "At"),
        ("kind", "Kind"),
        ("name", "Name"),
        ("client_name", "Client"),
        ("trigger", "Trigger"),
    ),
    OverviewCve: (
        ("cve", "CVE"),
        ("devices", "Devices"),
        ("cvss", "CVSS"),
        ("date_added", "KEV since"),
        ("due_date", "KEV due"),
        ("description", "Description"),
    ),
    NonCompliantDevice: (
        ("hostname", "Device"),
        ("client_name", "Client"),
        ("configurations", "Compliance"),
        ("missing", "Selected patches missing"),
    ),
}
