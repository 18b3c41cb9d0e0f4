"""Rows of remediation SLAs (BP-08): policies and the history of remediations.

Kept apart from ``rows.py`` (same ``Base``, same portable types); ``db/queries/sla``
converts them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patchfleet.server.db.rows import Base


class SlaPolicyRow(Base):
    """Days to remediate by priority: a partner's default or one client's override."""

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("partner_id", "owner"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE")
    )
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    owner: Mapped[str] = mapped_column(String(32))  # "partner" or "client:<id>"
    use_parent_level: Mapped[bool] = mapped_column(Boolean, default=False)
    kev_days: Mapped[int] = mapped_column(Integer)
    critical_days: Mapped[int] = mapped_column(Integer)
    high_days: Mapped[int] = mapped_column(Integer)
    medium_days: Mapped[int] = mapped_column(Integer)
    low_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class RemediationRow(Base):
    """One patch of an install job on one device, from detection to install.

    Written when the job's first report arrives (the device's missing-patch row still
    holds ``first_seen_at`` then) and completed with ``installed_at`` when the patch is
    reported installed; rows of patches that end otherwise are deleted.  The band and
    deadline are frozen at that time, and the row outlives the missing-patch row, the
    job and the device.
    """

    __tablename__ = "remediations"
    __table_args__ = (
        UniqueConstraint("order_id", "name", "arch", "version"),
        Index("ix_remediations_client_installed", "client_id", "installed_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    device_uuid: Mapped[uuid.UUID]
    hostname: Mapped[str] = mapped_column(String(256))
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(256))
    arch: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(256))
    patch_id: Mapped[str] = mapped_column(String(600))
    cves: Mapped[str] = mapped_column(Text, default="")
    band: Mapped[str] = mapped_column(String(10))
    kev: Mapped[bool] = mapped_column(Boolean, default=False)
    kev_due_date: Mapped[date | None] = mapped_column(Date)
    first_seen_at: Mapped[datetime]
    due_at: Mapped[datetime]
    rule: Mapped[str] = mapped_column(String(24))
    recorded_at: Mapped[datetime]
    installed_at: Mapped[datetime | None]
