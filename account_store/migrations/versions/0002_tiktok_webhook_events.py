"""TikTok webhooks already received (deduplication).

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


def upgrade() -> None:
    op.create_table(
        "tiktok_webhook_events",
        sa.Column("event_key", sa.String(64), primary_key=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_tiktok_webhook_events_received_at", "tiktok_webhook_events", ["received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_tiktok_webhook_events_received_at", "tiktok_webhook_events")
    op.drop_table("tiktok_webhook_events")
