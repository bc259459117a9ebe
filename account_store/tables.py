"""The store's tables. Changing one means a new Alembic migration in migrations/versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A connected TikTok account: who it is (never a secret)."""

    __tablename__ = "accounts"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    open_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    username: Mapped[str] = mapped_column(String(255), default="")
    display_name: Mapped[str] = mapped_column(String(255), default="")
    avatar_url: Mapped[str] = mapped_column(Text, default="")
    connected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccountToken(Base):
    """The account's credentials, encrypted (AES-GCM, key id beside them)."""

    __tablename__ = "account_tokens"

    account_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(String(32))
    access_token: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    open_id: Mapped[str] = mapped_column(String(255), default="")
    scope: Mapped[str] = mapped_column(Text, default="")
    generation: Mapped[int] = mapped_column(Integer, default=1)
    """Counts saves: every refresh or reconnect adds one."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """A caller of the HTTP API and MCP tools. Only a hash of the secret is kept."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OAuthState(Base):
    """One connect attempt: the `state` sent to TikTok and the PKCE verifier (encrypted)."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), default="")
    """The id the caller asked for; empty: derived from the creator's username."""
    redirect_uri: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32))
    code_verifier: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str] = mapped_column(String(32), default="")
    """'' pending, 'connected' or an error code: what `account connect` waits for."""
    outcome_detail: Mapped[str] = mapped_column(Text, default="")
    connected_account_id: Mapped[str] = mapped_column(String(128), default="")


class PlatformSet(Base):
    """A named set of accounts (Ampost's `platformSetId`): a post to the set is one target per
    account in it."""

    __tablename__ = "platform_sets"

    set_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PlatformSetMember(Base):
    """One account of a platform set, in the order the set lists them. Not a foreign key to
    accounts: forgetting an account must not silently shrink a set (its posts would wait
    for a reconnect instead, visibly)."""

    __tablename__ = "platform_set_members"

    set_id: Mapped[str] = mapped_column(
        String(128), ForeignKey("platform_sets.set_id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class TikTokWebhookEvent(Base):
    """A TikTok webhook already received (its content's hash): TikTok delivers at least
    once and retries for up to 72 h, so a repeat must change nothing."""

    __tablename__ = "tiktok_webhook_events"

    event_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WebhookEndpoint(Base):
    """A caller's URL that receives the engine's signed events, for every account
    (account_id '') or one. Its signing secrets are encrypted; during a rotation the
    previous one stays valid until `previous_until`."""

    __tablename__ = "webhook_endpoints"

    endpoint_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    account_id: Mapped[str] = mapped_column(String(128), default="", index=True)
    events: Mapped[str] = mapped_column(Text, default="")
    """Comma-separated event types; empty: every event."""
    key_id: Mapped[str] = mapped_column(String(32))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    previous_key_id: Mapped[str] = mapped_column(String(32), default="")
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    previous_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One attempt to deliver one event to one endpoint: the delivery log `state` shows."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    workflow_id: Mapped[str] = mapped_column(String(300), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(String(32))
    """delivered, failed (retried), refused (the URL may not be called)."""
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PostMetric(Base):
    """One refresh of a live post's numbers (video/query)."""

    __tablename__ = "post_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(String(128), index=True)
    account_id: Mapped[str] = mapped_column(String(128))
    video_id: Mapped[str] = mapped_column(String(64))
    views: Mapped[int] = mapped_column(Integer)
    likes: Mapped[int] = mapped_column(Integer)
    comments: Mapped[int] = mapped_column(Integer)
    shares: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccountFollowers(Base):
    """An account's follower count (user/info), refreshed at most daily."""

    __tablename__ = "account_followers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    follower_count: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
