"""Post metrics (views, likes, comments, shares per refresh) and follower counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from account_store.database import Database
from account_store.tables import AccountFollowers, PostMetric


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MetricPoint:
    video_id: str
    views: int
    likes: int
    comments: int
    shares: int
    fetched_at: datetime


@dataclass(frozen=True)
class FollowerPoint:
    follower_count: int
    fetched_at: datetime


class Analytics:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def record_post(self, post_id: str, account_id: str, points: list[MetricPoint]) -> None:
        def work(session: Session) -> None:
            for p in points:
                session.add(
                    PostMetric(
                        post_id=post_id,
                        account_id=account_id,
                        video_id=p.video_id,
                        views=p.views,
                        likes=p.likes,
                        comments=p.comments,
                        shares=p.shares,
                        fetched_at=p.fetched_at,
                    )
                )

        await self.database.run(work)

    async def post_history(self, post_id: str, account_id: str) -> list[MetricPoint]:
        def work(session: Session) -> list[MetricPoint]:
            rows = session.scalars(
                select(PostMetric)
                .where(PostMetric.post_id == post_id, PostMetric.account_id == account_id)
                .order_by(PostMetric.id)
            )
            return [
                MetricPoint(r.video_id, r.views, r.likes, r.comments, r.shares, _utc(r.fetched_at))
                for r in rows
            ]

        return await self.database.run(work)

    async def record_followers(self, account_id: str, count: int) -> None:
        row = AccountFollowers(
            account_id=account_id, follower_count=count, fetched_at=datetime.now(UTC)
        )
        await self.database.run(lambda s: s.add(row))

    async def latest_followers(self, account_id: str) -> FollowerPoint | None:
        def work(session: Session) -> FollowerPoint | None:
            row = session.scalars(
                select(AccountFollowers)
                .where(AccountFollowers.account_id == account_id)
                .order_by(AccountFollowers.id.desc())
                .limit(1)
            ).first()
            return FollowerPoint(row.follower_count, _utc(row.fetched_at)) if row else None

        return await self.database.run(work)

    async def followers_due(self, account_id: str, every: timedelta) -> bool:
        latest = await self.latest_followers(account_id)
        return latest is None or datetime.now(UTC) - latest.fetched_at >= every
