"""SQLAlchemy 2.0 typed rows; portable types only (SQLite and PostgreSQL).

Rows are never core values: ``db/queries`` converts between them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import Uuid

from patchfleet.server.db.types import UTCDateTime


class Base(DeclarativeBase):
    """Declarative base with portable type defaults."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
    }


class PartnerRow(Base):
    """An MSP (or one enterprise IT organisation)."""

    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    auto_scan: Mapped[bool] = mapped_column(Boolean, default=True)


class ClientRow(Base):
    """A client company of a partner."""

    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("partner_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    use_parent_level: Mapped[bool] = mapped_column(Boolean, default=False)
    approval_type: Mapped[str] = mapped_column(String(20), default="manual")


class UserRow(Base):
    """A platform user: partner user when ``client_id`` is NULL."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiTokenRow(Base):
    """A bearer token for the management API (stored as SHA-256)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="api")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class EnrollmentTokenRow(Base):
    """A per-client secret that lets agents enroll (stored as SHA-256)."""

    __tablename__ = "enrollment_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    use_count: Mapped[int] = mapped_column(Integer, default=0)


class DeviceRow(Base):
    """An endpoint with the agent, in exactly one client."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(unique=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    credential_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hostname: Mapped[str] = mapped_column(String(256))
    os_family: Mapped[str] = mapped_column(String(64), default="")
    os_name: Mapped[str] = mapped_column(String(256), default="")
    os_version: Mapped[str] = mapped_column(String(64), default="")
    kernel: Mapped[str] = mapped_column(String(256), default="")
    arch: Mapped[str] = mapped_column(String(32), default="")
    ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    agent_version: Mapped[str] = mapped_column(String(64), default="")
    package_manager: Mapped[str] = mapped_column(String(32), default="")
    enrolled_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    inventory_hash: Mapped[str] = mapped_column(String(64), default="")
    inventory_at: Mapped[datetime | None]
    last_scan_at: Mapped[datetime | None]
    last_scan_status: Mapped[str] = mapped_column(String(20), default="")
    last_scan_error: Mapped[str] = mapped_column(Text, default="")
    reboot_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Release key for vulnerability matching (core.advisories.release_key).
    release: Mapped[str] = mapped_column(String(64), default="")
    # Inventory or pending updates changed since the CVE states were last derived.
    cves_dirty: Mapped[bool] = mapped_column(Boolean, default=True, index=True)


class DevicePackageRow(Base):
    """One installed package on one device."""

    __tablename__ = "device_packages"
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    arch: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(256))
    source_name: Mapped[str] = mapped_column(String(256), default="")
    source_version: Mapped[str] = mapped_column(String(256), default="")


class DeviceUpdateRow(Base):
    """One missing patch on one device, from the device's latest scan."""

    __tablename__ = "device_updates"
    __table_args__ = (
        Index("ix_device_updates_patch", "name", "candidate_version"),
        # The Overview's chart and security tiles read this index alone, in order.
        Index(
            "ix_device_updates_overview",
            "classification",
            "severity",
            "patch_id",
            "state",
            "device_id",
        ),
    )
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    arch: Mapped[str] = mapped_column(String(32), primary_key=True)
    backend: Mapped[str] = mapped_column(String(32))
    installed_version: Mapped[str] = mapped_column(String(256))
    candidate_version: Mapped[str] = mapped_column(String(256))
    classification: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    raw_severity: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(256), default="")
    advisory_id: Mapped[str] = mapped_column(String(256), default="")
    cves: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20))
    source_package: Mapped[str] = mapped_column(String(256), default="")
    patch_id: Mapped[str] = mapped_column(String(600), default="", index=True)
    first_seen_at: Mapped[datetime]


class ScanRow(Base):
    """One missing-patch scan reported by an agent; ``id`` is the agent's scan id."""

    __tablename__ = "scans"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[uuid.UUID | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    received_at: Mapped[datetime]
    backend: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str] = mapped_column(Text, default="")
    update_count: Mapped[int] = mapped_column(Integer, default=0)


class OrderRow(Base):
    """Work for one agent (Scan Now); delivered at least once, done at most once."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_device_status", "device_id", "status"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    delivered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    reboot: Mapped[str] = mapped_column(String(10), default="no")
    started_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    message: Mapped[str] = mapped_column(Text, default="")
    reboot_required: Mapped[bool] = mapped_column(Boolean, default=False)
    rebooted: Mapped[bool] = mapped_column(Boolean, default=False)
    run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("configuration_runs.id", ondelete="SET NULL"), index=True
    )


class JobPatchRow(Base):
    """One patch of an install order and what happened to it."""

    __tablename__ = "job_patches"
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    arch: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(256), primary_key=True)
    patch_id: Mapped[str] = mapped_column(String(600))
    advisory_id: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


class JobReportRow(Base):
    """Agent job reports already applied (idempotency of at-least-once delivery)."""

    __tablename__ = "job_reports"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime]


class PatchRatingRow(Base):
    """A partner's or a client's rating of one patch (MP-11..MP-13, MP-15)."""

    __tablename__ = "patch_ratings"
    __table_args__ = (UniqueConstraint("partner_id", "owner", "patch_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE")
    )
    owner: Mapped[str] = mapped_column(String(32))  # "partner" or "client:<id>"
    patch_id: Mapped[str] = mapped_column(String(600))
    rating: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    rated_at: Mapped[datetime]


class ApprovalRow(Base):
    """A manual approval or unapproval of a patch for one client (MP-07, MP-08)."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("client_id", "patch_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    patch_id: Mapped[str] = mapped_column(String(600))
    approved: Mapped[bool] = mapped_column(Boolean)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime]


class ActivityRow(Base):
    """One entry of the append-only activity log (LOG-*)."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_partner_at", "partner_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE")
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="SET NULL"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    actor: Mapped[str] = mapped_column(String(200))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(600), default="")
    object_name: Mapped[str] = mapped_column(String(600), default="")
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


class ConfigurationRow(Base):
    """A patch configuration (CFG-*): which devices, which patches, when, reboot."""

    __tablename__ = "configurations"
    __table_args__ = (UniqueConstraint("partner_id", "client_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(unique=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE")
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    clients: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    precedence: Mapped[int] = mapped_column(Integer)
    device_query: Mapped[str] = mapped_column(Text, default="")
    static_devices: Mapped[list[str]] = mapped_column(JSON, default=list)
    patch_selection: Mapped[str] = mapped_column(String(20))
    patch_query: Mapped[str] = mapped_column(Text, default="")
    selected_patches: Mapped[list[str]] = mapped_column(JSON, default=list)
    schedule: Mapped[dict[str, object]] = mapped_column(JSON)
    reboot: Mapped[str] = mapped_column(String(10), default="no")
    notify: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    last_run_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)


class ConfigurationRunRow(Base):
    """One run of a configuration: its jobs and its summary e-mail."""

    __tablename__ = "configuration_runs"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    configuration_id: Mapped[int] = mapped_column(
        ForeignKey("configurations.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    summary_due_at: Mapped[datetime]
    summary_sent_at: Mapped[datetime | None]


class LeaseRow(Base):
    """A named lease: one scheduler acts at a time (SCH-11)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class ApprovalRuleRow(Base):
    """An approval rule (BP-11): partner level (All or Select Clients) or one client."""

    __tablename__ = "approval_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(unique=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE")
    )
    clients: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(10))
    defer_days: Mapped[int] = mapped_column(Integer, default=0)
    os_families: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class ScanScheduleRow(Base):
    """A patch scan schedule (SCN-*): devices by query or list, and when to scan."""

    __tablename__ = "scan_schedules"
    __table_args__ = (UniqueConstraint("partner_id", "client_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(unique=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE")
    )
    clients: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    name: Mapped[str] = mapped_column(String(200))
    device_query: Mapped[str] = mapped_column(Text, default="")
    static_devices: Mapped[list[str]] = mapped_column(JSON, default=list)
    schedule: Mapped[dict[str, object]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    notify: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_run_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)


class ScanRunRow(Base):
    """One run of a scan schedule: which devices were ordered, and its summary e-mail."""

    __tablename__ = "scan_runs"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("scan_schedules.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    device_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    summary_due_at: Mapped[datetime]
    summary_sent_at: Mapped[datetime | None]


# Vulnerability intelligence (CVE-*) --------------------------------------------------


class AdvisoryRow(Base):
    """A vendor advisory or per-CVE record from a feed, or reported by agents."""

    __tablename__ = "advisories"
    __table_args__ = (UniqueConstraint("source", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))  # osv, oval, agent
    key: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(40), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    published: Mapped[datetime | None]
    modified: Mapped[datetime | None]
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    cves: Mapped[list[str]] = mapped_column(JSON, default=list)
    digest: Mapped[str] = mapped_column(String(64), default="")


class AffectedRangeRow(Base):
    """One package's affected range in one release, as an advisory states it."""

    __tablename__ = "affected_ranges"
    __table_args__ = (
        Index("ix_affected_ranges_release_package", "release", "package"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    advisory_id: Mapped[int] = mapped_column(
        ForeignKey("advisories.id", ondelete="CASCADE"), index=True
    )
    release: Mapped[str] = mapped_column(String(64))
    package: Mapped[str] = mapped_column(String(256))
    scheme: Mapped[str] = mapped_column(String(8))
    introduced: Mapped[str] = mapped_column(String(256), default="")
    fixed: Mapped[str] = mapped_column(String(256), default="")
    last_affected: Mapped[str] = mapped_column(String(256), default="")
    not_affected: Mapped[bool] = mapped_column(Boolean, default=False)


class CveRow(Base):
    """What NVD says about a CVE: text, best CVSS score, CWEs."""

    __tablename__ = "cves"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[datetime | None]
    modified: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(40), default="")
    cvss_score: Mapped[float | None] = mapped_column(Float)
    cvss_version: Mapped[str] = mapped_column(String(8), default="")
    cvss_vector: Mapped[str] = mapped_column(String(200), default="")
    cvss_severity: Mapped[str] = mapped_column(String(20), default="")
    cwes: Mapped[list[str]] = mapped_column(JSON, default=list)


class KevRow(Base):
    """An entry of CISA's Known Exploited Vulnerabilities catalog."""

    __tablename__ = "kev_entries"
    cve: Mapped[str] = mapped_column(String(32), primary_key=True)
    date_added: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    ransomware: Mapped[bool] = mapped_column(Boolean, default=False)
    vendor: Mapped[str] = mapped_column(String(200), default="")
    product: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(400), default="")
    required_action: Mapped[str] = mapped_column(Text, default="")


class EpssRow(Base):
    """FIRST's exploit prediction for a CVE."""

    __tablename__ = "epss_scores"
    cve: Mapped[str] = mapped_column(String(32), primary_key=True)
    probability: Mapped[float] = mapped_column(Float)
    percentile: Mapped[float] = mapped_column(Float)
    score_date: Mapped[date | None] = mapped_column(Date)


class FeedRow(Base):
    """A configured feed: where to refresh it from (URL or local mirror path)."""

    __tablename__ = "feeds"
    __table_args__ = (UniqueConstraint("kind", "location"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    location: Mapped[str] = mapped_column(String(2000))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_hours: Mapped[int] = mapped_column(Integer, default=24)
    next_run_at: Mapped[datetime | None]


class FeedImportRow(Base):
    """One import of a feed file: when, what, how it ended."""

    __tablename__ = "feed_imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    location: Mapped[str] = mapped_column(String(2000))
    digest: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))  # ok, unchanged, failed
    records: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")


class VulnTupleRow(Base):
    """A distinct installed (release, package, version) somewhere in the fleet."""

    __tablename__ = "vuln_tuples"
    release: Mapped[str] = mapped_column(String(64), primary_key=True)
    package: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[str] = mapped_column(String(256), primary_key=True)


class VulnFindingRow(Base):
    """A distinct installed tuple is affected by a CVE (computed per tuple)."""

    __tablename__ = "vuln_findings"
    release: Mapped[str] = mapped_column(String(64), primary_key=True)
    package: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[str] = mapped_column(String(256), primary_key=True)
    cve: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    fixed: Mapped[str] = mapped_column(String(256), default="")
    advisories: Mapped[str] = mapped_column(Text, default="")


class VulnFixRow(Base):
    """Candidate version ``candidate`` of a package fixes ``cve`` in a release."""

    __tablename__ = "vuln_fixes"
    release: Mapped[str] = mapped_column(String(64), primary_key=True)
    package: Mapped[str] = mapped_column(String(256), primary_key=True)
    candidate: Mapped[str] = mapped_column(String(256), primary_key=True)
    cve: Mapped[str] = mapped_column(String(32), primary_key=True)


class DeviceCveRow(Base):
    """Where one device stands with one CVE through one package (FixState)."""

    __tablename__ = "device_cves"
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    cve: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    package: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[str] = mapped_column(String(256))
    fixed: Mapped[str] = mapped_column(String(256), default="")
    state: Mapped[str] = mapped_column(String(24))
    first_seen_at: Mapped[datetime]


class DeviceCveNextRow(Base):
    """Staging for a recompute of ``device_cves`` (set-based diff, keeps first_seen)."""

    __tablename__ = "device_cves_next"
    device_id: Mapped[int] = mapped_column(primary_key=True)
    cve: Mapped[str] = mapped_column(String(32), primary_key=True)
    package: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[str] = mapped_column(String(256))
    fixed: Mapped[str] = mapped_column(String(256), default="")
    state: Mapped[str] = mapped_column(String(24))


class VulnStateRow(Base):
    """One row: feed generation vs the generation the findings were computed for."""

    __tablename__ = "vuln_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Random per database: keys in-process caches of the matching index.
    token: Mapped[str] = mapped_column(String(32), default="")
    generation: Mapped[int] = mapped_column(Integer, default=0)
    computed_generation: Mapped[int] = mapped_column(Integer, default=-1)
    computed_at: Mapped[datetime | None]
