"""What crosses the boundary of the TikTokAccount entity: its settings, its state, and the
messages posts and operators exchange with it.

The entity knows times, counts and ids of one TikTok account, never a token: `TokenFacts`
carries expiry times and a one-way fingerprint of the stored credentials.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

ACCOUNT_WORKFLOW_TYPE = "TikTokAccount"

#: Signals of the TikTokAccount entity (sent by posts and starters) and the one it sends back
#: to a post (PublishPost.account_answer).
REQUEST_SLOT = "request_slot"
CALL_OUTCOME = "call_outcome"
WITHDRAW_SLOT = "withdraw_slot"
ANSWER_SIGNAL = "account_answer"


def account_workflow_id(account_id: str) -> str:
    return f"tiktok-account/{account_id}"


class AccountHealth(StrEnum):
    """Whether the account's posts can reach TikTok now."""

    ACTIVE = "ACTIVE"
    NEEDS_RECONNECT = "NEEDS_RECONNECT"
    """The tokens cannot be renewed (revoked, expired, scope withdrawn): posts wait for a
    reconnect (a new token stored for the account) and then continue by themselves."""
    BANNED = "BANNED"
    """TikTok banned the creator from posting: posts fail with TikTok's code."""
    PAUSED = "PAUSED"
    """An operator paused the account: posts wait until it is resumed."""


class CallKind(StrEnum):
    """TikTok calls that count against a per-token, per-minute budget."""

    CREATOR_INFO = "creator_info"
    INIT = "init"
    STATUS = "status"
    ANALYTICS = "analytics"
    """video/query and user/info (TikTok's Display API, its own 600/min per token): granted
    after every waiting post call, on their own budget, never from the posting budgets."""


class CapKind(StrEnum):
    """Which daily posting cap a post counts against."""

    DIRECT = "direct"
    """TikTok's daily direct-post cap per creator (no exact number is published)."""
    INBOX = "inbox"
    """At most 5 pending inbox shares per creator per 24 h."""


class WaitReason(StrEnum):
    """What a post waits for before its next TikTok call (shown in `state`, `status`, `list`
    and the TikTokWaitingFor search attribute)."""

    PACING = "pacing"
    """The account's per-minute budget for this call is used up; a slot opens shortly."""
    RATE_LIMITED = "rate_limited"
    """TikTok answered 429 (perhaps another app on the same token): the account pauses."""
    DAILY_POST_CAP = "daily_post_cap"
    INBOX_SHARE_CAP = "inbox_share_cap"
    ACTIVE_USER_CAP = "active_user_cap"
    TOKEN_REFRESH = "token_refresh"
    NEEDS_RECONNECT = "needs_reconnect"
    PAUSED = "paused"

    @property
    def is_quota(self) -> bool:
        """Waits bounded by the longest quota wait (QUOTA_WAIT_EXCEEDED)."""
        return self in (
            WaitReason.DAILY_POST_CAP,
            WaitReason.INBOX_SHARE_CAP,
            WaitReason.ACTIVE_USER_CAP,
        )


class AccountSettings(BaseModel):
    """How the entity paces one account. Defaults are TikTok's documented limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    creator_info_per_minute: int = Field(default=20, ge=1)
    init_per_minute: int = Field(default=6, ge=1)
    status_per_minute: int = Field(default=30, ge=1)
    analytics_per_minute: int = Field(
        default=60,
        ge=1,
        description="video/query and user/info calls (post metrics, follower counts): well "
        "under TikTok's 600/min, served after the posts' own calls.",
    )
    window_seconds: float = Field(
        default=60, gt=0, description="TikTok's sliding window for the per-minute limits."
    )
    safety_margin_seconds: float = Field(
        default=2,
        ge=0,
        description="Added to the window so that a call delayed on its way still falls "
        "outside the window of the call it replaces.",
    )
    rate_limit_pause_seconds: float = Field(
        default=60, ge=0, description="How long the account pauses after a 429."
    )
    daily_post_cap: int | None = Field(
        default=None,
        ge=1,
        description="Direct posts per creator per 24 h, when known; otherwise learned from "
        "TikTok's spam_risk_too_many_posts.",
    )
    inbox_share_cap: int = Field(default=5, ge=1, description="Pending inbox shares per 24 h.")
    webhooks_out: bool = Field(
        default=False,
        description="Announce account.needs_reconnect to the webhook endpoints (WEBHOOKS_OUT).",
    )
    cap_window_seconds: float = Field(default=24 * 3600, gt=0)
    cap_probe_seconds: float = Field(
        default=3600,
        gt=0,
        description="When a cap is hit and no post the engine knows explains it (another app "
        "posted), ask TikTok again after this long.",
    )
    refresh_ahead_seconds: float = Field(
        default=600, ge=0, description="Renew the access token this long before it expires."
    )
    reconnect_check_seconds: float = Field(
        default=300,
        gt=0,
        description="While NEEDS_RECONNECT, look for newly stored tokens this often (a connect "
        "through the API or CLI also wakes the account at once).",
    )
    max_history_events: int = Field(
        default=4000, ge=100, description="Continue-as-new beyond this many history events."
    )


class TokenFacts(BaseModel):
    """What the entity may know of the account's tokens: no secret, only times and a
    one-way fingerprint that changes whenever new credentials are stored."""

    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    fingerprint: str = ""
    open_id: str = ""
    scope: str = ""


class SlotRequest(BaseModel):
    """A post asks for permission to make one paced call (signal `request_slot`)."""

    request_id: str = Field(description="Unique per post run and call; echoed in the answer.")
    workflow_id: str = Field(description="The post's workflow id: where the answer goes.")
    call: CallKind
    due_at: datetime = Field(description="The post's due time: earlier posts are served first.")
    cap: CapKind | None = Field(
        default=None, description="Set on creator_info and init of a post: the cap it needs."
    )
    use_by: datetime | None = Field(
        default=None,
        description="A reservation, asked for ahead of the post's due time: the post makes "
        "the call no later than this (or asks again), and the account counts the call at "
        "this time, never earlier than TikTok does.",
    )


#: How long after the due time a reservation may still be used. The account counts the
#: reserved call at the end of this (`SlotRequest.use_by`), so a call made any time before
#: it is never counted earlier than TikTok counts it.
RESERVATION_GRACE = timedelta(seconds=10)


class RefreshRequest(BaseModel):
    """Renew one account's tokens, unless they changed since the caller looked."""

    account_id: str
    unless_changed_from: str | None = None


class AccountSlotInput(BaseModel):
    """The post's first slot request, delivered by signal-with-start (an activity)."""

    account_id: str
    slot: SlotRequest


class SlotAnswer(BaseModel):
    """The entity's answer to a SlotRequest (signal `account_answer` to the post)."""

    request_id: str
    granted: bool = False
    waiting_for: WaitReason | None = None
    until: datetime | None = Field(default=None, description="When the wait should end.")
    refused_code: str | None = Field(
        default=None,
        description="Set when the account can never serve the post (e.g. BANNED): the post "
        "fails with this code.",
    )


class CallOutcome(BaseModel):
    """What a paced call taught the account (signal `call_outcome`)."""

    request_id: str
    call: CallKind
    cap: CapKind | None = None
    code: str | None = Field(default=None, description="None: success; else the error code.")
    at: datetime
    retry_after_seconds: float | None = None
    rejected_fingerprint: str | None = Field(
        default=None,
        description="On a rejected token: the fingerprint of the token TikTok refused.",
    )
    publish_id: str | None = Field(default=None, description="Set by a successful init.")
    may_have_taken_effect: bool = Field(
        default=False,
        description="A failed init whose request may have reached TikTok: it keeps counting "
        "against the daily cap.",
    )


class SuccessReport(BaseModel):
    """Where the activity making a paced call reports that call's success itself (signal
    `call_outcome` to the account entity), in place of the post's workflow: one command
    and one workflow task fewer per post at the moment many fall due. `outcome` is filled
    in (publish_id, the time of TikTok's answer) by the activity."""

    account_workflow_id: str
    outcome: CallOutcome


class CapWindow(BaseModel):
    """A posting cap in force: calls needing it wait until `until`."""

    reason: WaitReason
    until: datetime
    code: str


class AccountState(BaseModel):
    """Everything the `state` query of a TikTokAccount tells (README: Accounts)."""

    account_id: str
    health: AccountHealth = AccountHealth.ACTIVE
    health_reason: str | None = None
    queued: int = 0
    queued_by_reason: dict[str, int] = Field(default_factory=dict)
    next_free_slot: dict[str, datetime] = Field(
        default_factory=dict, description="Per call kind: when its budget next has room."
    )
    posts_last_24h: int = 0
    inbox_shares_last_24h: int = 0
    learned_daily_cap: int | None = None
    caps: list[CapWindow] = Field(default_factory=list)
    paused_until: datetime | None = Field(default=None, description="After a 429.")
    token: TokenFacts | None = None
    next_refresh_at: datetime | None = None
    last_refresh_at: datetime | None = None
    rate_limited_answers: int = Field(default=0, description="429s seen since the entity began.")
    grants: dict[str, int] = Field(default_factory=dict, description="Slots granted per call kind.")
    history: list[str] = Field(default_factory=list, description="The latest events, newest last.")
