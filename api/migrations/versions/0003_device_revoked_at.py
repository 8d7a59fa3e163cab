"""device.revoked_at: a retired device, whose broker login is disabled

Revision ID: 0003_device_revoked_at
Revises: 0002_counter_late_write
Create Date: 2026-11-30 00:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_device_revoked_at"
down_revision: str | None = "0002_counter_late_write"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
