"""Callers' webhook endpoints (signing secrets encrypted at rest) and the delivery log.

A secret is shown once, when the endpoint is created or its secret rotated. During a
rotation both secrets sign every delivery (two `v1=` values) until the previous one expires,
so a receiver can switch at its own pace.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from account_store.database import Database
from account_store.tables import WebhookDelivery, WebhookEndpoint

#: How long the previous secret keeps signing after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EndpointInfo:
    endpoint_id: str
    url: str
    account_id: str
    """'' for every account."""
    events: tuple[str, ...]
    """Empty: every event."""
    created_at: datetime
    rotating_until: datetime | None

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


@dataclass(frozen=True)
class DeliveryAttempt:
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    attempt: int
    http_status: int | None
    outcome: str
    detail: str
    at: datetime


def _info(row: WebhookEndpoint) -> EndpointInfo:
    until = _utc(row.previous_until)
    return EndpointInfo(
        endpoint_id=row.endpoint_id,
        url=row.url,
        account_id=row.account_id,
        events=tuple(e for e in row.events.split(",") if e),
        created_at=_utc(row.created_at) or row.created_at,
        rotating_until=until if until and until > datetime.now(UTC) else None,
    )


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoints:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _seal(self, endpoint_id: str, secret: str) -> tuple[str, bytes]:
        return self.database.keys.encrypt(secret, f"webhook_endpoints:{endpoint_id}")

    def _open(self, endpoint_id: str, key_id: str, sealed: bytes) -> str:
        return self.database.keys.decrypt(key_id, sealed, f"webhook_endpoints:{endpoint_id}")

    async def create(
        self, url: str, *, account_id: str = "", events: tuple[str, ...] = ()
    ) -> tuple[EndpointInfo, str]:
        """A new endpoint and its signing secret (shown only now)."""
        endpoint_id = "wh_" + secrets.token_hex(8)
        secret = new_secret()
        key_id, sealed = self._seal(endpoint_id, secret)
        row = WebhookEndpoint(
            endpoint_id=endpoint_id,
            url=url,
            account_id=account_id,
            events=",".join(events),
            key_id=key_id,
            secret=sealed,
            previous_key_id="",
            previous_secret=None,
            previous_until=None,
            created_at=datetime.now(UTC),
        )
        await self.database.run(lambda s: s.add(row))
        return _info(row), secret

    async def all(self) -> list[EndpointInfo]:
        def work(session: Session) -> list[EndpointInfo]:
            rows = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at))
            return [_info(r) for r in rows]

        return await self.database.run(work)

    async def get(self, endpoint_id: str) -> EndpointInfo | None:
        def work(session: Session) -> EndpointInfo | None:
            row = session.get(WebhookEndpoint, endpoint_id)
            return _info(row) if row else None

        return await self.database.run(work)

    async def remove(self, endpoint_id: str) -> bool:
        def work(session: Session) -> bool:
            row = session.get(WebhookEndpoint, endpoint_id)
            if row is None:
                return False
            session.delete(row)
            return True

        return await self.database.run(work)

    async def rotate(self, endpoint_id: str) -> tuple[EndpointInfo, str] | None:
        """A new secret; the current one keeps signing for ROTATION_OVERLAP."""
        secret = new_secret()

        def work(session: Session) -> EndpointInfo | None:
            row = session.get(WebhookEndpoint, endpoint_id)
            if row is None:
                return None
            row.previous_key_id, row.previous_secret = row.key_id, row.secret
            row.previous_until = datetime.now(UTC) + ROTATION_OVERLAP
            row.key_id, row.secret = self._seal(endpoint_id, secret)
            return _info(row)

        info = await self.database.run(work)
        return (info, secret) if info else None

    async def for_account(self, account_id: str, event_type: str) -> list[EndpointInfo]:
        """The endpoints an event of this account goes to (global ones and its own)."""

        def work(session: Session) -> list[EndpointInfo]:
            rows = session.scalars(
                select(WebhookEndpoint).where(
                    or_(WebhookEndpoint.account_id == "", WebhookEndpoint.account_id == account_id)
                )
            )
            return [i for i in (_info(r) for r in rows) if i.wants(event_type)]

        return await self.database.run(work)

    async def signing_secrets(self, endpoint_id: str) -> list[str] | None:
        """The secrets that sign now (current first); None if the endpoint is gone."""
        now = datetime.now(UTC)

        def work(session: Session) -> list[str] | None:
            row = session.get(WebhookEndpoint, endpoint_id)
            if row is None:
                return None
            found = [self._open(endpoint_id, row.key_id, row.secret)]
            until = _utc(row.previous_until)
            if row.previous_secret is not None and until is not None and until > now:
                found.append(self._open(endpoint_id, row.previous_key_id, row.previous_secret))
            return found

        return await self.database.run(work)

    async def account_signing_secrets(self, account_id: str) -> list[str] | None:
        """What signs a post's own callbackUrl: the secrets of the account's first endpoint,
        else of the first global one; None without either."""

        def work(session: Session) -> str | None:
            rows = session.scalars(
                select(WebhookEndpoint)
                .where(
                    or_(WebhookEndpoint.account_id == account_id, WebhookEndpoint.account_id == "")
                )
                .order_by(WebhookEndpoint.created_at)
            ).all()
            own = [r for r in rows if r.account_id == account_id]
            chosen = own or list(rows)
            return chosen[0].endpoint_id if chosen else None

        endpoint_id = await self.database.run(work)
        return await self.signing_secrets(endpoint_id) if endpoint_id else None

    async def record(self, workflow_id: str, attempt: DeliveryAttempt) -> None:
        row = WebhookDelivery(
            event_id=attempt.event_id,
            event_type=attempt.event_type,
            workflow_id=workflow_id,
            endpoint_id=attempt.endpoint_id,
            url=attempt.url,
            attempt=attempt.attempt,
            http_status=attempt.http_status,
            outcome=attempt.outcome,
            detail=attempt.detail[:500],
            at=attempt.at,
        )
        await self.database.run(lambda s: s.add(row))

    async def deliveries(self, workflow_id: str, limit: int = 200) -> list[DeliveryAttempt]:
        """The delivery log of one post target (its workflow id), oldest first."""

        def work(session: Session) -> list[DeliveryAttempt]:
            rows = session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.workflow_id == workflow_id)
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
            return [
                DeliveryAttempt(
                    event_id=r.event_id,
                    event_type=r.event_type,
                    endpoint_id=r.endpoint_id,
                    url=r.url,
                    attempt=r.attempt,
                    http_status=r.http_status,
                    outcome=r.outcome,
                    detail=r.detail,
                    at=_utc(r.at) or r.at,
                )
                for r in rows
            ]

        return await self.database.run(work)
