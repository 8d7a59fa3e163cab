"""counter cache: late-write markers seen; day ends kept

The counter cache now reads the gateway's late-write markers and copies again
the days they name, which needs the first and last reading of every day in
the cache. A cache compacted before kept only the ends of flat runs, so it is
forgotten here: the next refresh (in the background, or before the next split)
copies the settled slots from InfluxDB again.

Revision ID: 0002_counter_late_write
Revises: 0001
Create Date: 2026-11-29 23:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_counter_late_write"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counter_late_write",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("day_ms", sa.BigInteger(), nullable=False),
        sa.Column("written_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["device.id"],
            name=op.f("fk_counter_late_write_device_id_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "day_ms", name=op.f("pk_counter_late_write")),
    )
    op.execute("DELETE FROM counter_slot")
    op.execute("DELETE FROM counter_watermark")


def downgrade() -> None:
    op.drop_table("counter_late_write")
