"""PostAnalytics: a live post's numbers refreshed on a schedule, the account's follower
count at most daily, all stored in the account store.

Started by PublishPost (a child abandoned when the post ends) once the post is live with a
public id. The schedule is relative to that moment: by default +1 h, +6 h, then every 12 h
for 7 days. The workflow continues as new after every few refreshes, so its history stays
small however long the schedule is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

ANALYTICS_TYPE = "PostAnalytics"
ANALYTICS_PATCH = "post-analytics"
REFRESHES_PER_RUN = 4
REFRESH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=30),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=6,
)


class AnalyticsSchedule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    first_seconds: list[float] = Field(default_factory=lambda: [3600.0, 6 * 3600.0])
    every_seconds: float = Field(default=12 * 3600.0, gt=0)
    for_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    followers_every_seconds: float = Field(default=24 * 3600.0, gt=0)

    def offsets(self) -> list[float]:
        """Seconds after going live of every refresh."""
        found = sorted(s for s in self.first_seconds if s <= self.for_seconds)
        at = found[-1] if found else 0.0
        while at + self.every_seconds <= self.for_seconds:
            at += self.every_seconds
            found.append(at)
        return found


class AnalyticsInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    post_id: str
    account_id: str
    video_ids: list[str]
    live_at: datetime
    schedule: AnalyticsSchedule = Field(default_factory=AnalyticsSchedule)
    done: int = 0
    """Refreshes done by earlier runs (continue-as-new carries it)."""


class RefreshQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    post_id: str
    account_id: str
    video_ids: list[str]
    followers_every_seconds: float


class RefreshResult(BaseModel):
    views: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    follower_count: int | None = None
    fetched_at: datetime | None = None


class AnalyticsState(BaseModel):
    post_id: str
    account_id: str
    refreshes_done: int
    refreshes_planned: int
    next_refresh_at: datetime | None
    latest: RefreshResult | None = None
    last_error: str | None = None


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
            self._done += 1
            this_run += 1
        return self._done
