"""A post's analytics as the API, the CLI and `state` show them (from the account store)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from account_store.analytics import Analytics
from workflows.contracts import PostState


class MetricPointOut(BaseModel):
    videoId: str
    views: int
    likes: int
    comments: int
    shares: int
    fetchedAt: datetime


class PostMetricsOut(BaseModel):
    postId: str
    accountId: str
    latest: list[MetricPointOut] = Field(
        default_factory=list, description="The newest numbers of each public video."
    )
    history: list[MetricPointOut] = Field(
        default_factory=list, description="Every refresh, oldest first."
    )
    followerCount: int | None = None
    followersFetchedAt: datetime | None = None


async def post_metrics(store: Analytics, post_id: str, account_id: str) -> PostMetricsOut:
    points = await store.post_history(post_id, account_id)
    history = [
        MetricPointOut(
            videoId=p.video_id,
            views=p.views,
            likes=p.likes,
            comments=p.comments,
            shares=p.shares,
            fetchedAt=p.fetched_at,
        )
        for p in points
    ]
    latest = list({p.videoId: p for p in history}.values())
    followers = await store.latest_followers(account_id)
    return PostMetricsOut(
        postId=post_id,
        accountId=account_id,
        latest=latest,
        history=history,
        followerCount=followers.follower_count if followers else None,
        followersFetchedAt=followers.fetched_at if followers else None,
    )


async def with_metrics(state: PostState, store: Analytics) -> PostState:
    found = await post_metrics(store, state.post_id, state.account_id)
    if not found.latest:
        return state
    latest = {
        "views": sum(p.views for p in found.latest),
        "likes": sum(p.likes for p in found.latest),
        "comments": sum(p.comments for p in found.latest),
        "shares": sum(p.shares for p in found.latest),
        "follower_count": found.followerCount,
        "fetched_at": max(p.fetchedAt for p in found.latest).isoformat(),
        "refreshes": len({p.fetchedAt for p in found.history}),
    }
    return state.model_copy(update={"metrics": latest})
