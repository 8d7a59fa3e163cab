"""login throttle

Revision ID: 0004_login_throttle
Revises: 0003_device_revoked_at
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_login_throttle"
down_revision: str | None = "0003_device_revoked_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_ms", sa.BigInteger(), nullable=False),
        sa.Column("locked_until_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_index(
        op.f("ix_login_throttle_last_failure_ms"),
        "login_throttle",
        ["last_failure_ms"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_throttle_last_failure_ms"), table_name="login_throttle")
    op.drop_table("login_throttle")
