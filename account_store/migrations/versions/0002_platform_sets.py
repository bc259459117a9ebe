"""Platform sets: named sets of accounts (Ampost's platformSetId).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "platform_sets",
        sa.Column("set_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "platform_set_members",
        sa.Column(
            "set_id",
            sa.String(128),
            sa.ForeignKey("platform_sets.set_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("platform_set_members")
    op.drop_table("platform_sets")
