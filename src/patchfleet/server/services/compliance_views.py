"""Read models of compliance (CMP-*), returned by ``services.compliance``.

The API returns them as they are; the web pages render them. Percentages count
Unknown devices as not compliant (``core.compliance.Tally.percent``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from patchfleet.server.services.views import View


class ComplianceCounts(View):
    """How many selected devices stand where, now or in one run."""

    compliant: int = 0
    non_compliant: int = 0
    unknown: int = 0
    devices: int = 0
    percent: float | None = None


class ComplianceView(View):
    """A compliance configuration's properties (the Properties tab, CMP-17)."""

    id: uuid.UUID
    name: str
    description: str
    level: str
    client_id: int | None
    clients: list[int] | None
    os_type: str
    device_query: str
    static_devices: list[str]
    patch_selection: str
    patch_query: str
    selected_patches: list[str]
    schedule: dict[str, object]
    approve_missing: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime | None
    last_run_at: datetime | None
    next_run_at: datetime | None


class ComplianceItem(ComplianceView):
    """A configuration with its current counts, evaluated on read (CMP-14, CMP-19)."""

    counts: ComplianceCounts


class ComplianceDeviceView(View):
    """One selected device: its status and the selected patches it misses (Devices)."""

    id: uuid.UUID
    hostname: str
    client_id: int
    client_name: str
    os_family: str
    last_scan_at: datetime | None
    status: str
    missing_count: int
    missing: list[str]


class CompliancePatchView(View):
    """One selected patch and how many selected devices miss it (Patches)."""

    patch_id: str
    backend: str
    name: str
    version: str
    devices_missing: int


class ComplianceRunView(View):
    """One recorded evaluation (history)."""

    id: uuid.UUID
    trigger: str
    started_at: datetime
    is_partial: bool
    compliant: int
    non_compliant: int
    unknown: int
    approved: int
    percent: float | None


class ComplianceResultView(View):
    """One device's result in a recorded run."""

    device_id: uuid.UUID
    hostname: str
    client_name: str
    status: str
    missing_count: int
    missing: list[str]


class ComplianceRunDetail(ComplianceRunView):
    """A run with its per-device results (kept for the latest runs only)."""

    results: list[ComplianceResultView]


class ComplianceSummaryItem(View):
    """One configuration on the Overview (OV-05)."""

    id: uuid.UUID
    name: str
    compliant: int
    non_compliant: int
    unknown: int
    percent: float | None


class ComplianceSummary(View):
    """The Overview's compliance figures (OV-04, OV-05, CMP-18).

    ``non_compliant_devices`` counts distinct devices non-compliant in any enabled
    configuration in scope: the length of ``non_compliant_devices()``.
    """

    items: list[ComplianceSummaryItem]
    non_compliant_devices: int


class NonCompliantDeviceView(View):
    """A device non-compliant in at least one configuration in scope (OV-04)."""

    id: uuid.UUID
    hostname: str
    client_id: int
    client_name: str
    configurations: list[str]
    missing: list[str]


class TrendPointView(View):
    """Compliance over the configurations in scope on one UTC day."""

    day: date
    compliant: int
    non_compliant: int
    unknown: int
    percent: float | None
