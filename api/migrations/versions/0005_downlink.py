"""signed downlink: version epoch per site, version counter per device

Revision ID: 0005_downlink
Revises: 0004_login_throttle
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_downlink"
down_revision: str | None = "0004_login_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("site") as batch_op:
        batch_op.add_column(
            sa.Column("downlink_epoch", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("device") as batch_op:
        batch_op.add_column(
            sa.Column("downlink_version", sa.BigInteger(), nullable=False, server_default="0")
        )
    # The sweep compares what the broker holds with the database now; a digest
    # of the last publish told nothing about what the node got.
    with op.batch_alter_table("machine") as batch_op:
        batch_op.alter_column("acl_version", existing_type=sa.Integer(), type_=sa.BigInteger())
        batch_op.drop_column("acl_digest")
    for table, column in (("site", "downlink_epoch"), ("device", "downlink_version")):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("machine") as batch_op:
        batch_op.add_column(
            sa.Column("acl_digest", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.alter_column("acl_version", existing_type=sa.BigInteger(), type_=sa.Integer())
    with op.batch_alter_table("device") as batch_op:
        batch_op.drop_column("downlink_version")
    with op.batch_alter_table("site") as batch_op:
        batch_op.drop_column("downlink_epoch")
