"""Request bodies and answers of the HTTP API (camelCase on the wire). The post request
itself is the engine's own contract (schema/post-request.schema.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from starter.followers import FollowersOut
from workflows.account_contracts import AccountState
from workflows.tiktok import Privacy


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Links(BaseModel):
    self_: str = Field(alias="self", description="This target's state in the API.")
    ui: str = Field(description="The run in the Temporal UI.")

    model_config = ConfigDict(populate_by_name=True)


class SubmittedTargetOut(BaseModel):
    accountId: str
    workflowId: str
    runId: str
    state: str = Field(description="The post's phase (DRAFT, SCHEDULED, ...) when known.")
    created: bool = Field(description="False: this target existed already; nothing started.")
    links: Links


class SubmitWarning(BaseModel):
    code: str = Field(description="A code of docs/error-codes.md (TOKEN_MISSING).")
    accountId: str
    message: str


class SubmitResponse(BaseModel):
    postId: str
    targets: list[SubmittedTargetOut]
    warnings: list[SubmitWarning] = Field(
        default_factory=list,
        description="What was accepted but will not go as asked unless someone acts: a "
        "target whose account has no stored token (TOKEN_MISSING) waits for it to be "
        "connected, up to 7 days.",
    )


class TargetSummary(BaseModel):
    accountId: str
    workflowId: str
    runId: str
    runStatus: str = Field(description="How Temporal sees the latest run: RUNNING, FAILED, ...")
    state: str | None = Field(description="The post's phase, from its state or search attribute.")
    errorCode: str | None = None
    publicPostIds: list[str] = Field(default_factory=list)
    links: Links


class PostOverview(BaseModel):
    postId: str
    status: str = Field(
        description="published (every target published or delivered), partly_published, "
        "failed, cancelled, or in_progress while any target is not finished."
    )
    targets: list[TargetSummary]


class ListedTarget(BaseModel):
    postId: str
    accountId: str
    workflowId: str
    runId: str
    runStatus: str
    state: str | None
    errorCode: str | None
    startedAt: datetime | None
    closedAt: datetime | None


class PostList(BaseModel):
    items: list[ListedTarget]
    nextCursor: str | None = Field(description="Pass as cursor for the next page; null: done.")


class ScheduleBody(_Wire):
    at: AwareDatetime | None = Field(default=None, description="Omit or null to publish now.")


class RescheduleBody(_Wire):
    at: AwareDatetime


class CancelBody(_Wire):
    reason: str | None = Field(default=None, max_length=500)


CONFIRM_NOT_POSTED = (
    "Only after a person checked the creator's TikTok profile and inbox and the post is NOT "
    "there. A retry refused with RETRY_NEEDS_CONFIRMATION may already be live; setting "
    "this without checking can post it twice."
)


class RetryBody(_Wire):
    privacy: Privacy | None = None
    at: AwareDatetime | None = None
    caption: str | None = Field(default=None, max_length=4000)
    confirmNotPosted: bool = Field(default=False, description=CONFIRM_NOT_POSTED)


class RetryResponse(BaseModel):
    workflowId: str
    action: str
    reason: str
    errorCode: str | None
    runId: str | None


class ConnectBody(_Wire):
    accountId: str | None = Field(
        default=None,
        description="The id to give the account; default: the creator's TikTok username.",
    )


class ConnectResponse(BaseModel):
    authorizeUrl: str = Field(description="Open in the creator's browser.")
    state: str
    expiresAt: datetime


class ConnectedResponse(BaseModel):
    accountId: str
    openId: str
    username: str
    displayName: str
    entityWoken: bool = Field(description="True when waiting posts were woken at once.")
    followersScheduled: bool = Field(
        default=False, description="True when the daily follower schedule is in place."
    )


class AccountOut(BaseModel):
    accountId: str
    openId: str
    username: str
    displayName: str
    avatarUrl: str
    connectedAt: datetime | None
    hasTokens: bool
    scope: str
    tokenExpiresAt: datetime | None
    entity: AccountState | None = Field(
        description="Health, pacing and caps from the account's entity workflow, when it "
        "exists (an account that never posted has none)."
    )
    entityUnavailable: bool = Field(
        default=False, description="True when the entity exists but did not answer."
    )
    followers: FollowersOut | None = Field(
        default=None,
        description="The follower count (refreshed daily by the account's own schedule) and "
        "that schedule.",
    )


class AccountList(BaseModel):
    items: list[AccountOut]


class CreatorInfoOut(BaseModel):
    """What a composer needs for TikTok's Direct Post UX rules, live from TikTok."""

    accountId: str
    username: str
    nickname: str
    avatarUrl: str
    privacyLevelOptions: list[str]
    commentDisabled: bool
    duetDisabled: bool
    stitchDisabled: bool
    maxVideoPostDurationSec: int


class DisconnectResponse(BaseModel):
    accountId: str
    revokedAtTikTok: bool
    revokeError: str | None = Field(description="TikTok's code when it refused the revoke.")
    entitySignalled: bool


class FieldProblem(BaseModel):
    code: str = Field(description="A TT_* code (docs/error-codes.md).")
    field: str = Field(description="Path in the request, e.g. platforms[0].accountId.")
    message: str


class ProblemDocument(BaseModel):
    """An error answer (RFC 9457 problem details)."""

    type: str = Field(description="urn:tiktok-publisher:problem:<kind>")
    title: str
    status: int
    detail: str = ""
    code: str = Field(description="Stable machine-readable code of this error.")
    retryable: bool = Field(
        description="Whether the same request, sent again unchanged, can succeed (after "
        "the Retry-After header's seconds when given): true for 'not now' answers (429, "
        "503, TikTok's transient 502), false for refusals, invalid requests and bugs."
    )
    problems: list[FieldProblem] = Field(
        default_factory=list, description="For invalid requests: everything wrong with it."
    )
    errorCode: str | None = Field(
        default=None,
        description="For a refused retry (RETRY_*): the code the post's failed run ended "
        "with, e.g. AMBIGUOUS_INIT.",
    )


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)
