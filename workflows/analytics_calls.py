"""Analytics' line to the account entity: one `analytics` slot before every TikTok call.

Post metrics (`video/query`) and follower counts (`user/info`) are paced like every other
TikTok call of the account, on their own budget (`analytics_per_minute`), and granted after
every post call waiting at the same time, so analytics never delays a post. A failed call is
reported to the entity (a rejected token is renewed there, once, for every caller) and tried
again with a fresh slot while retrying can help. Deterministic: used from workflow code.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.account_contracts import CallKind, SlotAnswer
    from workflows.account_link import AccountLink, WaitEnded
    from workflows.contracts import FailureDetails
    from workflows.errors import Retryability

#: How long one refresh may wait for its slot (the account paused, reconnecting, 429)
#: before it is skipped; the next scheduled refresh asks again.
SLOT_WAIT = timedelta(hours=1)
ATTEMPTS = 3
FIRST_RETRY = timedelta(seconds=30)
#: Each attempt is one call under one slot: Temporal itself does not retry it unpaced.
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)


class AnalyticsCallFailed(Exception):
    """The call did not succeed within its attempts, or its slot never came."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class AnalyticsLine:
    def __init__(self, account_id: str) -> None:
        self.waiting: SlotAnswer | None = None
        self._link = AccountLink(
            account_id=account_id,
            cap=None,
            due_at=workflow.now,
            on_wait=self._on_wait,
            resend_after=timedelta(minutes=5),
        )

    def answer(self, answer: SlotAnswer) -> None:
        """The entity's `account_answer` signal, passed on by the workflow."""
        self._link.answer(answer)

    def _on_wait(self, answer: SlotAnswer | None) -> None:
        self.waiting = answer

    async def call(self, activity: str, arg: Any, result_type: type[Any], summary: str) -> Any:
        """Run one analytics activity (one TikTok call) under a granted slot."""
        delay = FIRST_RETRY
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await self._link.slot(
                    CallKind.ANALYTICS,
                    give_up_at=workflow.now() + SLOT_WAIT,
                    quota_limit=SLOT_WAIT,
                    reconnect_limit=SLOT_WAIT,
                )
            except WaitEnded as ended:
                waited = ended.reason.value if ended.reason else "the account"
                raise AnalyticsCallFailed(
                    "ANALYTICS_SKIPPED", f"no analytics slot within {SLOT_WAIT} ({waited})"
                ) from None
            try:
                return await workflow.execute_activity(
                    activity,
                    arg,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=ONE_ATTEMPT,
                    result_type=result_type,
                    summary=summary,
                )
            except ActivityError as err:
                details = FailureDetails.of(err) or FailureDetails(code="ANALYTICS_FAILED")
                await self._link.outcome(
                    CallKind.ANALYTICS,
                    code=details.code,
                    retry_after_seconds=details.retry_after_seconds,
                    rejected_fingerprint=details.rejected_fingerprint,
                )
                message = str(err.cause or err)
                if attempt == ATTEMPTS or not _worth_retrying(err, details):
                    raise AnalyticsCallFailed(details.code, message) from None
            await workflow.sleep(delay, summary="retry the analytics call")
            delay *= 2
        raise AssertionError("unreachable")


def _worth_retrying(err: ActivityError, details: FailureDetails) -> bool:
    if details.retryability is not None:
        # A read taken twice is harmless: an unanswered one is worth another try too.
        return details.retryability in (Retryability.RETRYABLE, Retryability.AMBIGUOUS)
    cause = err.cause
    return not (isinstance(cause, ApplicationError) and cause.non_retryable)
