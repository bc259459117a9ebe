"""Events: TikTok webhooks already received (deduplication), callers' webhook endpoints and
the delivery log, post metrics and follower counts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tiktok_webhook_events",
        sa.Column("event_key", sa.String(64), primary_key=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
    )
    op.create_index(
        "ix_tiktok_webhook_events_received_at", "tiktok_webhook_events", ["received_at"]
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("endpoint_id", sa.String(32), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("previous_key_id", sa.String(32), nullable=False),
        sa.Column("previous_secret", sa.LargeBinary(), nullable=True),
        sa.Column("previous_until", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_webhook_endpoints_account_id", "webhook_endpoints", ["account_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("workflow_id", sa.String(300), nullable=False),
        sa.Column("endpoint_id", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    op.create_index("ix_webhook_deliveries_workflow_id", "webhook_deliveries", ["workflow_id"])
    op.create_table(
        "post_metrics",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("post_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("video_id", sa.String(64), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("fetched_at", TZ, nullable=False),
    )
    op.create_index("ix_post_metrics_post_id", "post_metrics", ["post_id"])
    op.create_table(
        "account_followers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("follower_count", sa.Integer(), nullable=False),
        sa.Column("fetched_at", TZ, nullable=False),
    )
    op.create_index("ix_account_followers_account_id", "account_followers", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_account_followers_account_id", "account_followers")
    op.drop_table("account_followers")
    op.drop_index("ix_post_metrics_post_id", "post_metrics")
    op.drop_table("post_metrics")
    op.drop_index("ix_webhook_deliveries_workflow_id", "webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_event_id", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_endpoints_account_id", "webhook_endpoints")
    op.drop_table("webhook_endpoints")
    op.drop_index("ix_tiktok_webhook_events_received_at", "tiktok_webhook_events")
    op.drop_table("tiktok_webhook_events")
