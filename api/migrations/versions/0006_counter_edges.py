"""counter cache: each slot's first and last reading at their own moments

Revision ID: 0006_counter_edges
Revises: 0005_downlink
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_counter_edges"
down_revision: str | None = "0005_downlink"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The cached points were each slot's last reading keyed by the slot's end;
    # the split now reads the first and last readings at their own moments
    # (api/services/counter_cache.py). Mixed, the old points would say the
    # counter held still to each slot's end: empty the cache, and the next
    # refresh reads InfluxDB again.
    op.execute("DELETE FROM counter_slot")
    op.execute("DELETE FROM counter_watermark")


def downgrade() -> None:
    # The older code reads the cache the same way: emptied, it fills it again.
    op.execute("DELETE FROM counter_slot")
    op.execute("DELETE FROM counter_watermark")
