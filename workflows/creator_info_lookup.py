"""Short workflows the service edge runs on the worker, so the starter side (HTTP API, MCP,
CLI) never calls TikTok itself: a live creator_info for a composer, and revoking an
account's access at TikTok when it is disconnected."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.publishing import TikTokActivities
    from workflows.account_contracts import (
        ANSWER_SIGNAL,
        CallKind,
        CapKind,
        SlotAnswer,
        WaitReason,
    )
    from workflows.account_link import AccountLink, WaitEnded
    from workflows.contracts import CreatorInfoQuery, FailureDetails
    from workflows.pacing import ACCOUNT_CODES
    from workflows.tiktok import CreatorInfo

CREATOR_INFO_LOOKUP_TYPE = "CreatorInfoLookup"
REVOKE_ACCESS_TYPE = "RevokeAccess"
ACCOUNT_BUSY = "ACCOUNT_BUSY"
"""The account holds its TikTok calls for now (paused, or creator_info kept refused)."""
#: How long a composer's creator_info may wait for the account's budget.
LOOKUP_PATIENCE = timedelta(seconds=20)
#: A caller is waiting: a few quick tries, then the error goes back to it.
_QUICK = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=3,
)


class RevokeOutcome(BaseModel):
    revoked: bool
    """True when TikTok confirmed; False when it refused (the code says why)."""
    code: str | None = None
    message: str = ""


def _stop_unless_brief(answer: SlotAnswer | None) -> None:
    """A composer cannot wait for a reconnect or an operator: say so at once."""
    reason = answer.waiting_for if answer else None
    if reason is WaitReason.NEEDS_RECONNECT:
        raise WaitEnded("ACCOUNT_NEEDS_RECONNECT", reason, workflow.now())
    if reason is WaitReason.PAUSED:
        raise WaitEnded(ACCOUNT_BUSY, reason, workflow.now())


@workflow.defn(name=CREATOR_INFO_LOOKUP_TYPE)
class CreatorInfoLookup:
    """creator_info for a composer, paced by the account entity like every other call."""

    def __init__(self) -> None:
        self._link: AccountLink | None = None

    @workflow.signal(name=ANSWER_SIGNAL)
    def account_answer(self, answer: SlotAnswer) -> None:
        if self._link is not None:
            self._link.answer(answer)

    @workflow.run
    async def run(self, account_id: str) -> CreatorInfo:
        self._link = link = AccountLink(
            account_id=account_id,
            cap=CapKind.DIRECT,
            due_at=workflow.now,
            on_wait=_stop_unless_brief,
            resend_after=timedelta(seconds=10),
        )
        # A caller is waiting: a slot soon, or the account's reason goes back to it.
        give_up = workflow.now() + LOOKUP_PATIENCE
        for _ in range(3):
            try:
                await link.slot(
                    CallKind.CREATOR_INFO,
                    give_up_at=give_up,
                    quota_limit=LOOKUP_PATIENCE,
                    reconnect_limit=LOOKUP_PATIENCE,
                )
            except WaitEnded as ended:
                reason = ended.reason.value if ended.reason else ended.code
                raise ApplicationError(
                    f"The account holds TikTok calls for now ({reason}); see "
                    f"`tiktok-publisher account show {account_id}`.",
                    type=ACCOUNT_BUSY if ended.code == "DEADLINE" else ended.code,
                    non_retryable=True,
                ) from None
            try:
                return await workflow.execute_activity_method(
                    TikTokActivities.creator_info,
                    CreatorInfoQuery(account_id=account_id),
                    start_to_close_timeout=timedelta(seconds=15),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                    summary=f"creator_info for {account_id}",
                )
            except ActivityError as err:
                details = FailureDetails.of(err)
                if details is None or details.code not in ACCOUNT_CODES:
                    raise
                await link.outcome(
                    CallKind.CREATOR_INFO,
                    code=details.code,
                    retry_after_seconds=details.retry_after_seconds,
                    rejected_fingerprint=details.rejected_fingerprint,
                )
        raise ApplicationError(
            "TikTok kept refusing creator_info for this account; try again shortly.",
            type=ACCOUNT_BUSY,
            non_retryable=True,
        )


@workflow.defn(name=REVOKE_ACCESS_TYPE)
class RevokeAccess:
    @workflow.run
    async def run(self, account_id: str) -> RevokeOutcome:
        outcome: RevokeOutcome = await workflow.execute_activity(
            "revoke_access",
            account_id,
            result_type=RevokeOutcome,
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=_QUICK,
            summary=f"revoke TikTok access of {account_id}",
        )
        return outcome
