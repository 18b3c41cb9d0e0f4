"""Compliance rows (CMP-*): configurations and their bounded evaluation history.

The current status of every device is evaluated on read from the latest scans; runs
(scheduled, Run Now) also store their counts and per-device results so trends can be
drawn. ``services.compliance`` prunes the history on every run (see ``RUNS_KEPT``
there).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patchfleet.server.db.rows import Base


class ComplianceConfigurationRow(Base):
    """A compliance configuration: OS type, devices, patches, schedule, approval toggle."""

    __tablename__ = "compliance_configurations"
    __table_args__ = (UniqueConstraint("partner_id", "client_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(unique=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    # Partner level: None = All Clients (later ones too), else Select Clients.
    clients: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    os_type: Mapped[str] = mapped_column(String(10))
    device_query: Mapped[str] = mapped_column(Text, default="")
    static_devices: Mapped[list[str]] = mapped_column(JSON, default=list)
    patch_selection: Mapped[str] = mapped_column(String(20))
    patch_query: Mapped[str] = mapped_column(Text, default="")
    selected_patches: Mapped[list[str]] = mapped_column(JSON, default=list)
    schedule: Mapped[dict[str, object]] = mapped_column(JSON)
    approve_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)


class ComplianceRunRow(Base):
    """One recorded evaluation of a configuration: when, why, and the counts."""

    __tablename__ = "compliance_runs"
    __table_args__ = (
        Index("ix_compliance_runs_configuration_at", "configuration_id", "started_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    configuration_id: Mapped[int] = mapped_column(
        ForeignKey("compliance_configurations.id", ondelete="CASCADE")
    )
    trigger: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    # Run Now for chosen devices (CMP-15): counts cover those only; trends skip it.
    is_partial: Mapped[bool] = mapped_column(Boolean, default=False)
    compliant: Mapped[int] = mapped_column(Integer, default=0)
    non_compliant: Mapped[int] = mapped_column(Integer, default=0)
    unknown: Mapped[int] = mapped_column(Integer, default=0)
    # Patch approvals the toggle added at run time (CMP-10).
    approved: Mapped[int] = mapped_column(Integer, default=0)


class ComplianceResultRow(Base):
    """One device's status in one run, with the selected patches it missed."""

    __tablename__ = "compliance_results"
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("compliance_runs.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    missing_count: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[list[str]] = mapped_column(JSON, default=list)
