"""Which TikTok webhooks were already received: the first delivery counts, repeats are
recognised for longer than TikTok retries (72 h)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from account_store.database import Database
from account_store.tables import TikTokWebhookEvent

#: TikTok retries a delivery for up to 72 h; remember events a day longer than that.
KEEP = timedelta(hours=96)


class ReceivedEvents:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def first_time(self, event_key: str, event: str) -> bool:
        """Record the event; False if it was received before (a redelivery)."""
        now = datetime.now(UTC)

        def work(session: Session) -> None:
            session.add(TikTokWebhookEvent(event_key=event_key, event=event[:64], received_at=now))
            session.flush()

        try:
            await self.database.run(work)
        except IntegrityError:
            return False
        return True

    async def forget_old(self) -> int:
        cutoff = datetime.now(UTC) - KEEP

        def work(session: Session) -> int:
            result = session.execute(
                delete(TikTokWebhookEvent).where(TikTokWebhookEvent.received_at < cutoff)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

        return await self.database.run(work)
