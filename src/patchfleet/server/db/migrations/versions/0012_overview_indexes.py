"""overview indexes

The Overview's missing-patch chart and security tiles read this index alone, in
order (``ix_device_updates_overview``, declared on ``DeviceUpdateRow``): at 1 M device-patch rows the chart
took 6 s on SQLite (a sort of every row) and two full table scans on PostgreSQL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 00:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = ["classification", "severity", "patch_id", "state", "device_id"]


def upgrade() -> None:
    with op.batch_alter_table("device_updates", schema=None) as batch_op:
        batch_op.create_index("ix_device_updates_overview", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("device_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_device_updates_overview")
