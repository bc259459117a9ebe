"""What crosses the workflow boundary: its input, its queryable state, its result.

These models are the language-neutral contract (their JSON Schemas are exported to
`schema/`), so names are the domain's and every field is documented.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.account_contracts import SuccessReport
from workflows.analytics_contracts import AnalyticsSchedule
from workflows.errors import ENGINE_CODES, Retryability
from workflows.post import PublishTarget, workflow_id
from workflows.tiktok import CreatorInfo, PublishStatus

WORKFLOW_TYPE = "PublishPost"
TASK_QUEUE = "tiktok-publisher"


class Phase(StrEnum):
    """Where a post is in its life. The last four are terminal."""

    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    PUBLISHING = "PUBLISHING"
    PUBLISHED = "PUBLISHED"
    DELIVERED_TO_INBOX = "DELIVERED_TO_INBOX"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (
            Phase.PUBLISHED,
            Phase.DELIVERED_TO_INBOX,
            Phase.CANCELLED,
            Phase.FAILED,
        )


class PublishSettings(BaseModel):
    """How patient the workflow is with TikTok. Defaults suit production."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    publish_deadline_seconds: float = Field(
        default=24 * 3600,
        gt=0,
        description="Give up waiting for TikTok's final status this long after the first "
        "init; the post then ends FAILED with PUBLISH_UNCONFIRMED (PUBLISH_TIMEOUT on runs "
        "started before account pacing), which may be live.",
    )
    poll_initial_seconds: float = Field(
        default=5, gt=0, description="First wait between status polls."
    )
    poll_max_seconds: float = Field(
        default=300,
        gt=0,
        description="Longest wait between status polls (moderation can take hours).",
    )
    poll_backoff: float = Field(default=1.5, ge=1, description="Growth of the poll interval.")
    public_id_wait_seconds: float = Field(
        default=3600,
        ge=0,
        description="After PUBLISH_COMPLETE, keep polling a public post this long for TikTok's "
        "public post id (it appears after moderation). The post is live either way.",
    )
    staged_media_retention_seconds: float = Field(
        default=0,
        ge=0,
        description="Keep staged media this long after a post ends well, then delete it "
        "(failed posts keep theirs for a retry; a bucket lifecycle rule is the backstop).",
    )
    init_timeout_seconds: float = Field(
        default=90,
        gt=0,
        description="Longest wait for one upload init (token refresh included). An init "
        "still unanswered then ends the post AMBIGUOUS_INIT: it may have reached TikTok.",
    )
    transfer_heartbeat_seconds: float = Field(
        default=60,
        gt=0,
        description="A staging or upload attempt silent this long is presumed dead and "
        "retried (resuming where it stopped).",
    )
    max_quota_wait_seconds: float = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="Longest wait for a posting cap (daily posts, inbox shares, the app's "
        "active-user cap) to reopen; then the post ends QUOTA_WAIT_EXCEEDED.",
    )
    max_reconnect_wait_seconds: float = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="Longest wait for an account in NEEDS_RECONNECT to be connected again "
        "before the post's first init; then it ends ACCOUNT_NEEDS_RECONNECT. A post TikTok "
        "already has waits until its publish deadline instead.",
    )
    account_resend_seconds: float = Field(
        default=600,
        gt=0,
        description="Ask the account entity again when a slot request stays unanswered this "
        "long (it ignores duplicates).",
    )
    max_publish_attempts: int = Field(
        default=3,
        ge=1,
        description="Inits allowed when TikTok reports a retryable failure (the failed "
        "upload never went live, so a new one cannot duplicate it).",
    )
    read_timeout_seconds: float = Field(
        default=90,
        gt=0,
        description="Longest wait for one paced read (creator_info, status). A read with no "
        "answer by then (a lost worker, a hung connection) is asked again.",
    )
    prepare_seconds: float = Field(
        default=20,
        ge=0,
        le=300,
        description="How long before its due time a scheduled post gets ready: it reads and "
        "checks the creator's settings (creator_info, read right before posting as TikTok "
        "asks) and reserves its init with the account, so that at the due time only the init "
        "is left to do. 0: everything happens at the due time.",
    )
    arm_seconds: float = Field(
        default=5,
        ge=0,
        le=30,
        description="How long before its due time a post that got ready hands its init to "
        "the worker (between this and half of it, spread per post), which sends it at the "
        "due instant (by the worker's clock) instead of after a durable timer and a workflow "
        "task: posts due together reach TikTok on time. From then on the post is PUBLISHING: "
        "it can no longer be cancelled or rescheduled. 0: the init is scheduled at the due "
        "time.",
    )
    max_ghost_inits: int = Field(
        default=3,
        ge=0,
        description="FILE_UPLOAD video inits whose answer was lost (sent, no answer; or a "
        "timeout) that are started again by themselves. Such a ghost publish can never go "
        "live: its bytes can only reach the upload URL that was in the lost answer.",
    )
    webhook_fallback_poll_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Set when TikTok's webhooks reach the API: each TikTok event wakes the "
        "post for one confirming status fetch, and polling runs only this often, as a "
        "fallback for lost events. Unset: poll with the backoff above.",
    )
    ambiguity_evidence_window_seconds: float = Field(
        default=900,
        ge=0,
        description="With TikTok's webhooks configured (webhook_fallback_poll_seconds): after "
        "a pulled init's answer was lost, wait this long for TikTok's event about that ghost "
        "publish (adopt it if live, start again if its pull failed) before ending the post "
        "AMBIGUOUS_INIT. 0: end it AMBIGUOUS_INIT at once, as without webhooks.",
    )
    webhooks_out: bool = Field(
        default=False,
        description="Announce every phase change as a signed event to the webhook "
        "endpoints registered for the post's account (README, Webhooks out).",
    )
    analytics: AnalyticsSchedule | None = Field(
        default=None,
        description="Set: once live with a public id, the post's views, likes, comments and "
        "shares are refreshed on this schedule (and the account's follower count daily) "
        "into the account store. Unset: no analytics.",
    )
    webhook_retry_initial_seconds: float = Field(
        default=10,
        gt=0,
        description="First wait before an undelivered webhook is sent again; it doubles up "
        "to an hour, for up to 72 h.",
    )


class RetryOf(BaseModel):
    """Set on a run started by `retry`: which failed run it replaces and why that one failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    error_code: str
    fixes: list[str] = Field(default_factory=list, description="What the retry changed.")


class PublishPostInput(BaseModel):
    """The PublishPost workflow's one argument."""

    model_config = ConfigDict(extra="forbid")

    target: PublishTarget
    settings: PublishSettings = Field(default_factory=PublishSettings)
    retry_of: RetryOf | None = Field(
        default=None, description="Only on runs started by `retry`; null for a new post."
    )

    @model_validator(mode="wrap")
    @classmethod
    def _undecodable_input_fails_the_run(
        cls, data: Any, handler: ModelWrapValidatorHandler[PublishPostInput]
    ) -> PublishPostInput:
        """In a workflow, an input that is not a PublishPostInput fails the run at once.

        The SDK turns any other decoding error into a failed workflow *task*, retried forever:
        a starter in another language that sent a wrong key would get a run that never
        answers, and its fixed resubmission would attach to it. An ApplicationError is the
        one error decoding passes through as the run's failure. Outside a workflow (the
        starter, the operator's tools) the ValidationError stays as it is.
        """
        try:
            return handler(data)
        except ValidationError as err:
            # Decoding runs on the workflow's sandboxed thread, before its event loop does.
            if not (workflow.unsafe.in_sandbox() or workflow.in_workflow()):
                raise
            raise input_invalid(err) from None


def input_invalid(err: ValidationError) -> ApplicationError:
    """The run's failure for an undecodable input: where and why, never the values (an input
    carries source URLs, which may be signed)."""
    where = [
        f"{'.'.join(str(part) for part in problem['loc']) or '(input)'}: {problem['msg']}"
        for problem in err.errors(include_url=False, include_input=False)
    ]
    rule = ENGINE_CODES["INPUT_INVALID"]
    error = PostError(
        code=rule.code,
        message="The workflow input is not a PublishPostInput: " + "; ".join(where[:20]),
        remedy=rule.remedy,
    )
    return ApplicationError(
        error.message, error.model_dump(mode="json"), type=error.code, non_retryable=True
    )


# -- staged media --------------------------------------------------------------------------


class StagedItem(BaseModel):
    """One media file in our bucket, with what its bytes really are (measured, not declared)."""

    index: int
    key: str
    source_url_host: str = Field(description="Host of the source (never the full URL).")
    size_bytes: int
    mime_type: str
    duration_seconds: float | None = None
    width: int | None = Field(default=None, description="As shown (rotation applied).")
    height: int | None = None
    container: str | None = Field(default=None, description="As libmediainfo names it.")
    video_codec: str | None = Field(default=None, description="AVC, HEVC, VP8, VP9, ...")
    frame_rate: float | None = None
    rotation: int = 0
    bitrate: int | None = Field(default=None, description="Overall, bits per second.")
    reused: bool = Field(default=False, description="Already staged by an earlier attempt.")


VideoDelivery = Literal["file_upload", "pull_from_url"]


class StagedMedia(BaseModel):
    items: list[StagedItem]
    video_source: VideoDelivery | None = Field(
        default=None,
        description="How TikTok gets this video, fixed when it is staged (the worker's "
        "MEDIA_VIDEO_SOURCE then); None for photos and for runs staged before it was recorded.",
    )


class GhostInit(BaseModel):
    """A FILE_UPLOAD init whose answer never came: TikTok may hold a publish for it, stuck
    before upload for good, because only the lost answer carried its upload URL."""

    at: datetime
    publish_attempt: int
    code: str = Field(description="Why the answer is missing: NO_RESPONSE, a timeout, ...")
    reason: str


EvidenceOutcome = Literal[
    "waiting", "adopted", "ghost_failed", "contested", "no_evidence", "refuted"
]


class AmbiguityEvidence(BaseModel):
    """What settled (or did not settle) a pulled init whose answer was lost: the TikTok
    event the account attributed to this post, how it was confirmed, or why none decided."""

    since: datetime = Field(description="When the init that lost its answer was sent.")
    window_until: datetime
    outcome: EvidenceOutcome
    event: str | None = Field(
        default=None, description="The TikTok event, e.g. post.publish.complete."
    )
    publish_id: str | None = Field(default=None, description="The ghost's publish_id, if known.")
    confirmed_status: str | None = Field(
        default=None, description="TikTok's status of that publish_id (the status fetch)."
    )
    fail_reason: str | None = None
    decided_at: datetime | None = None
    explanation: str = ""


class AttemptMedia(BaseModel):
    """One init attempt's pulled copies of a target's staged media (see `init_publish`)."""

    post_id: str
    account_id: str
    attempt: str = Field(description="`<publish attempt>-<try>`, as in InitPublishInput.")


class StagedTarget(BaseModel):
    """Names the staged objects of one post target (for cleanup)."""

    post_id: str
    account_id: str


class MediaProgress(BaseModel):
    """Signalled by the staging and upload activities so `state` and the UI show progress."""

    step: str = Field(description="staging or uploading")
    done_bytes: int
    total_bytes: int | None = None

    @property
    def percent(self) -> int | None:
        if not self.total_bytes:
            return None
        return min(100, int(100 * self.done_bytes / self.total_bytes))


class StagingRetry(BaseModel):
    """Signalled by the staging activity when an attempt failed and Temporal will try again,
    so `state`, the UI's details and TikTokStagingError show a post whose media keeps
    failing instead of a plain SCHEDULED."""

    attempt: int = Field(description="The attempt that failed (1 = the first).")
    code: str
    message: str
    retry_in_seconds: float | None = Field(
        default=None, description="When Temporal starts the next attempt; null if none comes."
    )
    index: bool = Field(
        default=False,
        description="The namespace has TikTokStagingError registered: the workflow sets it "
        "(an unregistered attribute would fail the workflow task).",
    )


class ChunkUpload(BaseModel):
    """A FILE_UPLOAD in progress: where the bytes are and which TikTok upload takes them.

    TikTok's upload URL (it carries the upload token) is not here: the worker keeps it,
    keyed by `publish_id` (`activities.upload_sessions`). Histories written before that
    carry it in `upload_url`, which is still honoured.
    """

    key: str
    publish_id: str | None = Field(
        default=None, description="The TikTok upload whose URL the worker keeps."
    )
    upload_url: str | None = Field(
        default=None,
        description="Only in histories written before the URL was kept worker-side.",
    )
    video_size: int
    chunk_size: int
    total_chunk_count: int
    content_type: str


class FailureDetails(BaseModel):
    """What every activity failure of the engine carries as its ApplicationError details:
    written by the activities, read by the workflows through this one model."""

    model_config = ConfigDict(extra="ignore")

    code: str = ""
    retryability: Retryability | None = None
    meaning: str = ""
    remedy: str = ""
    endpoint: str | None = None
    http_status: int | None = None
    log_id: str | None = None
    retry_after_seconds: float | None = None
    message: str = ""
    needs_reconnect: bool = Field(
        default=False, description="The account's tokens cannot be renewed: reconnect it."
    )
    rejected_fingerprint: str | None = Field(
        default=None, description="Fingerprint of an access token TikTok refused."
    )

    @classmethod
    def of(cls, error: BaseException | None) -> FailureDetails | None:
        """The details of an ApplicationError (directly or as an activity's cause)."""
        cause = getattr(error, "cause", None) if not isinstance(error, ApplicationError) else error
        if not isinstance(cause, ApplicationError):
            return None
        raw = cause.details[0] if cause.details else None
        details = cls.model_validate(raw) if isinstance(raw, dict) else cls()
        if not details.code:
            details.code = cause.type or "ACTIVITY_FAILED"
        return details


class PostError(BaseModel):
    """Why a post failed: a stable code, a sentence, and whether a retry can help."""

    code: str
    message: str
    remedy: str = ""
    retryable: bool = False
    may_be_live: bool = Field(
        default=False,
        description="TikTok may have the post (an init was sent and TikTok never reported the "
        "upload FAILED): `retry` then needs --confirm-not-posted.",
    )
    field: str | None = None
    http_status: int | None = None
    log_id: str | None = None
    details: list[dict[str, Any]] = Field(default_factory=list)


class PostState(BaseModel):
    """Everything the `state` query tells about a post (documented in README)."""

    workflow_id: str
    post_id: str
    account_id: str
    mode: str
    phase: Phase
    summary: str
    scheduled_for: datetime | None = None
    accepted_at: datetime
    publishing_started_at: datetime | None = None
    finished_at: datetime | None = None
    publish_id: str | None = None
    tiktok_status: str | None = None
    public_post_ids: list[str] = Field(default_factory=list)
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0
    init_attempts: int = 0
    polls: int = 0
    next_poll_at: datetime | None = None
    creator_username: str | None = None
    prepared_at: datetime | None = Field(
        default=None,
        description="When the post got ready for its due time (creator settings read and "
        "checked, init reserved with the account); null if it has not, or a reschedule "
        "undid it.",
    )
    waiting_for: str | None = Field(
        default=None,
        description="What the post waits for before its next TikTok call (a WaitReason: "
        "daily_post_cap, rate_limited, needs_reconnect, ...), or null.",
    )
    waiting_until: datetime | None = Field(
        default=None, description="When that wait should end, where it is known."
    )
    staged_media: list[StagedItem] = Field(default_factory=list)
    ghost_inits: list[GhostInit] = Field(
        default_factory=list,
        description="FILE_UPLOAD inits whose answer was lost and that were started again by "
        "themselves (each one is a TikTok publish that can never go live).",
    )
    ambiguity_evidence: AmbiguityEvidence | None = Field(
        default=None,
        description="Pulled media whose init answer was lost: the evidence the post waits "
        "for or that decided it (runbook, AMBIGUOUS_INIT).",
    )
    staging_failures: int = Field(
        default=0, description="Staging attempts that failed so far (Temporal retries them)."
    )
    staging_error: str | None = Field(
        default=None,
        description="The last failed staging attempt's code and message, while staging "
        "retries; null once staging succeeded or ended.",
    )
    next_staging_attempt_at: datetime | None = Field(
        default=None, description="When the next staging attempt starts (approximately)."
    )
    progress: MediaProgress | None = Field(
        default=None, description="Bytes staged or uploaded so far, while that runs."
    )
    error: PostError | None = None
    history: list[str] = Field(
        default_factory=list, description="Human timeline: one line per step."
    )
    metrics: dict[str, Any] | None = Field(
        default=None,
        description="The latest analytics refresh (views, likes, comments, shares, "
        "follower_count, fetched_at), filled from the account store by the API and CLI.",
    )
    webhook_deliveries: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Delivery log of the post's webhooks out (filled from the account store "
        "by the API and CLI, not by the workflow): event, endpoint, attempt, HTTP status, "
        "outcome.",
    )

    def armed_init_at(self, now: datetime) -> datetime | None:
        """When a worker sends this post's armed init, if that is still ahead of `now`
        (PublishSettings.arm_seconds): it can no longer be cancelled, and TikTok has nothing yet."""
        sends = self.publishing_started_at
        if self.phase is Phase.PUBLISHING and sends is not None and sends > now:
            return sends
        return None


def pull_attempt(request: InitPublishInput) -> str:
    """The name of an init attempt's pulled copies."""
    return f"{request.attempt}-{request.try_number}"


class PublishResult(BaseModel):
    """The workflow's result for posts that end well (FAILED runs raise instead)."""

    post_id: str
    account_id: str
    phase: Phase
    publish_id: str | None = None
    public_post_ids: list[str] = Field(default_factory=list)


# -- activity arguments ------------------------------------------------------------------


class InitPublishInput(BaseModel):
    target: PublishTarget
    attempt: int
    try_number: int = Field(
        default=1, description="Which try of this publish attempt (each pulls its own copy)."
    )
    staged: StagedMedia
    paced: bool = Field(
        default=False,
        description="Paced by the account entity: a rejected token is reported, not renewed "
        "by the activity (False only on runs started before the account entity).",
    )
    copies_made: bool = Field(
        default=False,
        description="Pulled media: this attempt's copies were made ahead (while the post got "
        "ready); the init only names them.",
    )
    report_success_to: SuccessReport | None = Field(
        default=None,
        description="Set: the activity tells the account entity of a successful init "
        "itself (InitPublishResult.outcome_reported says whether it could).",
    )
    send_at: datetime | None = Field(
        default=None,
        description="Armed before the due time (PublishSettings.arm_seconds): the activity "
        "waits until this moment (by the worker's clock, for at most `wait_seconds`) and only "
        "then sends the init.",
    )
    wait_seconds: float = Field(
        default=0,
        ge=0,
        description="With send_at: how far ahead it was when the workflow armed the init "
        "(the longest the activity waits, whatever its clock says).",
    )


class CreatorInfoQuery(BaseModel):
    account_id: str


class InitPublishResult(BaseModel):
    publish_id: str
    upload: ChunkUpload | None = Field(
        default=None, description="Set for FILE_UPLOAD: the chunks still to send."
    )
    outcome_reported: bool = Field(
        default=False,
        description="The account entity was told of this init by the activity "
        "(InitPublishInput.report_success_to): the workflow need not tell it again.",
    )


class StatusQuery(BaseModel):
    account_id: str
    publish_id: str
    paced: bool = False
    release_staged: StagedTarget | None = Field(
        default=None,
        description="Set: if TikTok's answer is final success (PUBLISH_COMPLETE or "
        "SEND_TO_USER_INBOX), this check also deletes the target's staged media, which "
        "nothing can need again (PublishStatus.staged_media_released).",
    )
    wait_seconds: float = Field(
        default=0,
        ge=0,
        description="Wait this long before asking (a short poll interval, waited out in the "
        "activity instead of on a durable timer).",
    )


__all__ = [
    "TASK_QUEUE",
    "WORKFLOW_TYPE",
    "CreatorInfo",
    "InitPublishInput",
    "InitPublishResult",
    "Phase",
    "PostError",
    "PostState",
    "PublishPostInput",
    "PublishResult",
    "PublishSettings",
    "PublishStatus",
    "StagedItem",
    "StagedMedia",
    "StatusQuery",
    "workflow_id",
]
