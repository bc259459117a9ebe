"""PostAnalytics: a live post's numbers refreshed on a schedule, stored in the account store.
Every refresh (one `video/query`) is granted by the account entity first (an `analytics`
slot, served after the posts' own calls); the account's follower count has its own daily
schedule (workflows/followers.py).

Started by PublishPost (a child abandoned when the post ends) once the post is live with a
public id. The schedule is relative to that moment: by default +1 h, +6 h, then every 12 h
for 7 days. The workflow continues as new after every few refreshes, so its history stays
small however long the schedule is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.account_contracts import ANSWER_SIGNAL, SlotAnswer
    from workflows.analytics_calls import AnalyticsCallFailed, AnalyticsLine
    from workflows.analytics_contracts import (
        AnalyticsInput,
        AnalyticsSchedule,
        AnalyticsState,
        RefreshQuery,
        RefreshResult,
    )

__all__ = [
    "ANALYTICS_PATCH",
    "AnalyticsInput",
    "AnalyticsSchedule",
    "AnalyticsState",
    "PostAnalytics",
    "RefreshQuery",
    "RefreshResult",
    "analytics_id",
]

ANALYTICS_TYPE = "PostAnalytics"
ANALYTICS_PATCH = "post-analytics"
#: Every video/query is granted by the account entity (an `analytics` slot), and follower
#: counts come from the account's own daily schedule (workflows/followers.py).
ANALYTICS_PACED_PATCH = "analytics-paced"
REFRESHES_PER_RUN = 4
REFRESH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=30),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=6,
)


def analytics_id(post_id: str, account_id: str) -> str:
    return f"post-analytics/{post_id}/{account_id}"


@workflow.defn(name=ANALYTICS_TYPE)
class PostAnalytics:
    @workflow.init
    def __init__(self, request: AnalyticsInput) -> None:
        self._request = request
        self._done = request.done
        self._offsets = request.schedule.offsets()
        self._latest: RefreshResult | None = None
        self._error: str | None = None
        self._line = AnalyticsLine(request.account_id)

    @workflow.signal(name=ANSWER_SIGNAL)
    def account_answer(self, answer: SlotAnswer) -> None:
        self._line.answer(answer)

    @workflow.query
    def state(self) -> AnalyticsState:
        return AnalyticsState(
            post_id=self._request.post_id,
            account_id=self._request.account_id,
            refreshes_done=self._done,
            refreshes_planned=len(self._offsets),
            next_refresh_at=self._next_at(),
            latest=self._latest,
            last_error=self._error,
            waiting_for=waiting.waiting_for.value
            if (waiting := self._line.waiting) and waiting.waiting_for
            else None,
        )

    def _next_at(self) -> datetime | None:
        if self._done >= len(self._offsets):
            return None
        return self._request.live_at + timedelta(seconds=self._offsets[self._done])

    @workflow.run
    async def run(self, request: AnalyticsInput) -> int:
        this_run = 0
        while (due := self._next_at()) is not None:
            if this_run >= REFRESHES_PER_RUN:
                workflow.continue_as_new(request.model_copy(update={"done": self._done}))
            wait = (due - workflow.now()).total_seconds()
            if wait > 0:
                await workflow.sleep(timedelta(seconds=wait), summary="next metrics refresh")
            if workflow.patched(ANALYTICS_PACED_PATCH):
                await self._paced_refresh(request)
            else:
                await self._refresh(request)
            self._done += 1
            this_run += 1
        return self._done

    async def _paced_refresh(self, request: AnalyticsInput) -> None:
        query = RefreshQuery(
            post_id=request.post_id,
            account_id=request.account_id,
            video_ids=request.video_ids,
            followers_every_seconds=request.schedule.followers_every_seconds,
            include_followers=False,
        )
        try:
            self._latest = await self._line.call(
                "refresh_post_metrics", query, RefreshResult, f"metrics of {request.post_id}"
            )
            self._error = None
        except AnalyticsCallFailed as err:
            # One missed refresh is no reason to stop following the post.
            self._error = str(err)

    async def _refresh(self, request: AnalyticsInput) -> None:
        """Runs started before ANALYTICS_PACED_PATCH: unpaced, followers as a side effect."""
        try:
            self._latest = await workflow.execute_activity(
                "refresh_post_metrics",
                RefreshQuery(
                    post_id=request.post_id,
                    account_id=request.account_id,
                    video_ids=request.video_ids,
                    followers_every_seconds=request.schedule.followers_every_seconds,
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=REFRESH_RETRY,
                result_type=RefreshResult,
                summary=f"metrics of {request.post_id}",
            )
            self._error = None
        except ActivityError as err:
            # One missed refresh is no reason to stop following the post.
            self._error = str(err.cause or err)
