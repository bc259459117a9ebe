"""How PublishPost calls its activities and reads their failures.

Retry policies and timeouts, the patch names that changed which commands a post emits,
the internal exceptions its steps raise, turning an activity failure into the post's
error, and the text helpers its history lines use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.analytics import ANALYTICS_PATCH
    from workflows.claims import AMBIGUITY_EVIDENCE_PATCH
    from workflows.contracts import FailureDetails, PostError
    from workflows.errors import ENGINE_CODES, Retryability, classify_error, rule_for
    from workflows.tiktok_events import WEBHOOK_WAKE_PATCH
    from workflows.webhooks_out import WEBHOOKS_OUT_PATCH


# Reads are safe to repeat, so they retry generously; Temporal keeps the backoff durable.
READ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=8,
)
# Init creates a post and TikTok gives it no idempotency key, so Temporal must never repeat
# it on its own: a timed-out or crashed attempt may have reached TikTok. Each execution gets
# one attempt; the workflow itself tries again only after failures the error table says
# provably did nothing (a connection refused, a TikTok error envelope, a 429).
INIT_ONCE = RetryPolicy(maximum_attempts=1)
INIT_MAX_TRIES = 6
#: Paced calls get one attempt per slot: every try, retries included, is granted by the
#: account entity, so no retry can overrun TikTok's per-minute budget.
ONCE = RetryPolicy(maximum_attempts=1)
READ_TRIES = 8
#: Posts started before the account entity existed keep their own path on replay.
ACCOUNT_PACING = "account-entity-pacing"
#: FILE_UPLOAD inits whose answer was lost are started again (runs before it replay as before).
GHOST_INIT_RETRY = "ghost-init-retry"
#: A paced read with no answer at all (timeout, lost worker) is asked again, not fatal.
PACED_READ_SURVIVES_LOST_WORKERS = "paced-read-survives-lost-workers"
#: Pulled media: a lost answer withdraws that attempt's copies at once.
WITHDRAW_PULLED_ATTEMPT = "withdraw-pulled-attempt"
#: Failed staging attempts shown in `state` and TikTokStagingError (runs started earlier
#: never got the signal, so they replay unchanged either way).
STAGING_RETRY_VISIBLE = "staging-retry-visible"
#: A run started under an id that is not its target's (a starter outside Python) fails
#: INPUT_INVALID at once; only such runs ever ask for it, so others replay unchanged.
WORKFLOW_ID_CHECKED = "workflow-id-checked"
#: A scheduled post reads the creator's settings and reserves its init shortly before its
#: due time, so that at the due time only the init is left (runs before it replay as before).
PREPARE_BEFORE_DUE = "prepare-before-due"
#: At the due time: the init activity tells the account entity of its success itself, and
#: the status check that sees the post live deletes its staged media (two workflow tasks
#: fewer per post when many fall due together; runs before it replay as before).
INIT_REPORTS_ITSELF = "init-reports-itself"
STATUS_RELEASES_STAGED = "status-releases-staged"
#: A short poll interval (up to IN_ACTIVITY_WAIT_LIMIT) is waited out inside the status
#: check's activity, not on a durable timer: one workflow task and one timer fewer per poll.
STATUS_WAITS_IN_ACTIVITY = "status-waits-in-activity"
IN_ACTIVITY_WAIT_LIMIT = timedelta(seconds=15)
#: A post that got ready hands its init to the worker `arm_seconds` before the due time; the
#: activity sends it at the due instant (no durable timer or workflow task in between).
INIT_ARMED_BEFORE_DUE = "init-armed-before-due"
#: An activity that raised an exception the engine has no code for (a bug: a KeyError, say)
#: ends the post ACTIVITY_FAILED naming it; runs before it kept the class name as the code.
#: Asked only when such an exception ends a step, so other runs replay unchanged.
UNCODED_FAILURE_IS_ACTIVITY_FAILED = "uncoded-failure-is-activity-failed"
#: Runs started with a baseline marker have every patch of that baseline, so they skip those
#: checks: one marker (and one TemporalChangeVersion search attribute upsert, which the SDK
#: adds to each) at the start, instead of one of each per patch along the way, several of
#: them at the due time. A patch added after the newest baseline is checked with
#: `workflow.patched`; a new baseline covers it and every earlier one (newest first).
BASELINE = "baseline-2026-12"
BASELINE_PATCHES = frozenset(
    {
        ACCOUNT_PACING,
        GHOST_INIT_RETRY,
        PACED_READ_SURVIVES_LOST_WORKERS,
        WITHDRAW_PULLED_ATTEMPT,
        STAGING_RETRY_VISIBLE,
        PREPARE_BEFORE_DUE,
        INIT_REPORTS_ITSELF,
        STATUS_RELEASES_STAGED,
        WEBHOOK_WAKE_PATCH,
        WEBHOOKS_OUT_PATCH,
        ANALYTICS_PATCH,
        AMBIGUITY_EVIDENCE_PATCH,
    }
)
BASELINE_2 = "baseline-2026-12b"
BASELINE_3 = "baseline-2026-12c"
BASELINES: tuple[tuple[str, frozenset[str]], ...] = (
    (BASELINE_3, BASELINE_PATCHES | {STATUS_WAITS_IN_ACTIVITY, INIT_ARMED_BEFORE_DUE}),
    (BASELINE_2, BASELINE_PATCHES | {STATUS_WAITS_IN_ACTIVITY}),
    (BASELINE, BASELINE_PATCHES),
)
"""Newest first: a new run records only the first."""
CALL_TIMEOUT = timedelta(seconds=90)  # reads and deletes; init uses the post's settings
# Copying gigabytes takes a while; heartbeats (not this timeout) detect a dead attempt.
TRANSFER_TIMEOUT = timedelta(hours=3)
TRANSFER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
)


class DeadlineReached(Exception):
    """The publish deadline passed while the post waited for the account."""


class Interrupted(Exception):
    """A reschedule or cancel ended a wait for the account while the post got ready."""


class CancelledWhileHeld(Exception):
    """A cancel ended a PUBLISHING post's wait for its account before any init of it
    reached TikTok (a reconnect, a cap, a pause): nothing was sent, nothing will be."""


class PostFailed(Exception):
    """A step ended the post with this error (`PublishPost.run` turns it into FAILED)."""

    def __init__(self, error: PostError) -> None:
        super().__init__(error.code)
        self.error = error


def activity_error(err: ActivityError) -> PostError:
    """Turn an activity failure into the post's error, keeping TikTok's code and log id."""
    details = FailureDetails.of(err)
    if details is not None and not _uncoded(err, details.code):
        rule = classify_error(details.code, details.http_status)
        return PostError(
            code=details.code,
            message=details.meaning or rule.meaning,
            remedy=details.remedy or rule.remedy,
            retryable=details.retryability is Retryability.RETRYABLE,
            http_status=details.http_status,
            log_id=details.log_id or None,
        )
    cause = err.cause
    message = str(cause) if cause is not None else str(err)
    if isinstance(cause, ApplicationError) and cause.type and cause.type not in message:
        message = f"{cause.type}: {message}"  # which exception, where the SDK left it out
    rule = ENGINE_CODES["ACTIVITY_FAILED"]
    return PostError(
        code=rule.code,
        message=f"An engine step failed: {message}",
        remedy=rule.remedy,
        retryable=rule.retryable,
    )


def _uncoded(err: ActivityError, code: str) -> bool:
    """True if the failure is an exception the engine raised with no code of its own: the
    SDK made it an ApplicationError typed with its class name, with no details."""
    cause = err.cause
    return (
        isinstance(cause, ApplicationError)
        and not cause.details
        and rule_for(code) is None
        and workflow.patched(UNCODED_FAILURE_IS_ACTIVITY_FAILED)
    )


def retry_delay(err: ActivityError, attempt: int) -> timedelta:
    """TikTok's own delay where it gave one, else 2 s doubling per try."""
    details = FailureDetails.of(err)
    if details is not None and details.retry_after_seconds:
        return timedelta(seconds=details.retry_after_seconds)
    return timedelta(seconds=2**attempt)


def retryability_of(err: ActivityError) -> Retryability | None:
    """What the failure's classification says about trying again; None: the failure
    carries none (a timeout, a lost worker)."""
    details = FailureDetails.of(err)
    return details.retryability if details is not None else None


def fmt_size(n: int) -> str:
    """A byte count for history lines (kB or MB)."""
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def fmt_time(at: datetime) -> str:
    """A time for history lines and details, in UTC to the second."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
