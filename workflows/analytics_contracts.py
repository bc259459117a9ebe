"""What PostAnalytics takes, does and tells: its schedule, input, refresh query and state
(apart from the workflow so that workflows/contracts.py can name the schedule)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
    include_followers: bool = True
    """False: the account's follower schedule refreshes followers, not this call."""


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
    waiting_for: str | None = Field(
        default=None, description="What the next refresh waits for at the account, if anything."
    )
