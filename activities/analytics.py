"""Refreshing a live post's numbers (video/query) and its account's follower count
(user/info), stored in the account store.

These are Display API calls with their own TikTok budget (600 per minute per token, apart
from the posting endpoints). The workflows ask the account entity for an `analytics` slot
before each of these activities (workflows/analytics_calls.py), and report a failure to it:
a rejected token is renewed by the entity, the call is tried again under a new slot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from temporalio import activity

from account_store.analytics import Analytics, MetricPoint
from activities.failures import engine_error, to_application_error, token_error
from activities.tiktok_client import FOLLOWER_FIELDS, TikTokApiError, TikTokClient
from activities.tokens import TokenError, TokenStore
from workflows.analytics import RefreshQuery, RefreshResult
from workflows.followers import FollowerCount


class AnalyticsActivities:
    def __init__(
        self, client: TikTokClient, tokens: TokenStore, analytics: Callable[[], Analytics]
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._factory = analytics
        self._analytics: Analytics | None = None

    def _store(self) -> Analytics:
        if self._analytics is None:
            self._analytics = self._factory()
        return self._analytics

    @activity.defn(name="refresh_post_metrics")
    async def refresh_post_metrics(self, query: RefreshQuery) -> RefreshResult:
        store = self._store()
        try:
            stored = await self._tokens.load(query.account_id)
            videos = await self._client.video_query(stored.access_token, query.video_ids[:20])
            followers: int | None = None
            every = timedelta(seconds=query.followers_every_seconds)
            if query.include_followers and await store.followers_due(query.account_id, every):
                info = await self._client.user_info(stored.access_token, fields=FOLLOWER_FIELDS)
                followers = info.follower_count
        except TikTokApiError as err:
            raise to_application_error(err) from None
        except TokenError as err:
            raise token_error(err) from None
        now = datetime.now(UTC)
        points = [
            MetricPoint(v.video_id, v.views, v.likes, v.comments, v.shares, now) for v in videos
        ]
        await store.record_post(query.post_id, query.account_id, points)
        if followers is not None:
            await store.record_followers(query.account_id, followers)
        return RefreshResult(
            views=sum(p.views for p in points),
            likes=sum(p.likes for p in points),
            comments=sum(p.comments for p in points),
            shares=sum(p.shares for p in points),
            follower_count=followers,
            fetched_at=now,
        )

    @activity.defn(name="refresh_account_followers")
    async def refresh_account_followers(self, account_id: str) -> FollowerCount:
        """One `user/info` call: the account's follower count, stored."""
        try:
            stored = await self._tokens.load(account_id)
            info = await self._client.user_info(stored.access_token, fields=FOLLOWER_FIELDS)
        except TikTokApiError as err:
            raise to_application_error(err) from None
        except TokenError as err:
            raise token_error(err) from None
        if info.follower_count is None:
            raise engine_error(
                "FOLLOWERS_UNAVAILABLE",
                "TikTok's user/info carried no follower_count (the user.info.stats scope is "
                "missing?)",
                retryable=False,
            )
        await self._store().record_followers(account_id, info.follower_count)
        return FollowerCount(
            account_id=account_id, follower_count=info.follower_count, fetched_at=datetime.now(UTC)
        )
