"""RefreshFollowers: one refresh of an account's follower count (`user/info`), stored in the
account store.

Each connected account has a Temporal Schedule, `account-followers/<account_id>`
(starter/followers.py), that starts this short workflow daily; the schedule is what operators
see and control (`tiktok-publisher account followers`, or `temporal schedule ...`). The call
is granted by the account entity like every other TikTok call (an `analytics` slot, served
after the posts' own calls). A run that cannot refresh fails with a stable code; the
schedule's next run tries again. No run loops, so no history grows.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.account_contracts import ANSWER_SIGNAL, SlotAnswer
    from workflows.analytics_calls import AnalyticsCallFailed, AnalyticsLine

FOLLOWERS_TYPE = "RefreshFollowers"


def followers_schedule_id(account_id: str) -> str:
    """The account's follower schedule; its runs are `<this id>-<time>`."""
    return f"account-followers/{account_id}"


class FollowerCount(BaseModel):
    account_id: str
    follower_count: int
    fetched_at: datetime


class FollowersWaiting(BaseModel):
    account_id: str
    waiting_for: str | None = None


@workflow.defn(name=FOLLOWERS_TYPE)
class RefreshFollowers:
    @workflow.init
    def __init__(self, account_id: str) -> None:
        self._account_id = account_id
        self._line = AnalyticsLine(account_id)

    @workflow.signal(name=ANSWER_SIGNAL)
    def account_answer(self, answer: SlotAnswer) -> None:
        self._line.answer(answer)

    @workflow.query
    def state(self) -> FollowersWaiting:
        waiting = self._line.waiting
        reason = waiting.waiting_for.value if waiting and waiting.waiting_for else None
        return FollowersWaiting(account_id=self._account_id, waiting_for=reason)

    @workflow.run
    async def run(self, account_id: str) -> FollowerCount:
        try:
            result: FollowerCount = await self._line.call(
                "refresh_account_followers",
                account_id,
                FollowerCount,
                f"followers of {account_id}",
            )
        except AnalyticsCallFailed as err:
            raise ApplicationError(str(err), type=err.code, non_retryable=True) from None
        workflow.set_current_details(f"{result.follower_count} followers")
        return result
