"""TikTok's webhooks in: verify, deduplicate, answer at once, route in the background.

TikTok signs every delivery with the app's client secret (`TikTok-Signature: t=<ts>,s=<hex>`,
HMAC-SHA256 over `"<t>.<raw body>"`). A bad or stale (> 5 minutes) signature is refused
before anything is read from the body. A verified event is recorded once (TikTok delivers at
least once) and routed:

* publish events go to the post whose search attribute `TikTokPublishId` matches, as the
  `tiktok_event` signal: the post wakes and confirms with one status fetch;
* a publish event no running post takes (a ghost of an init whose answer was lost) goes to
  the account entity of the creator (`user_openid`), which attributes it to the one post
  waiting for such evidence, if exactly one can own it (workflows/claims.py); with no entity
  running there is no claimant, and the event is dropped;
* `authorization.removed` goes to the account entity of the creator (`user_openid`), which
  turns NEEDS_RECONNECT.

Routing runs after the 200, retried briefly (Temporal's visibility lags the search attribute
by a moment); an event that finds nobody is logged and left to the post's fallback polling.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from account_store.store import AccountStore
from account_store.webhook_events import ReceivedEvents
from starter.account_entity import signal_account
from telemetry.metrics import record_webhook_received, record_webhook_routed
from workflows import search_attributes as sa
from workflows.claims import EVIDENCE_EVENTS, UNKNOWN_PUBLISH_EVENT_SIGNAL
from workflows.tiktok_events import (
    AUTHORIZATION_REMOVED,
    AUTHORIZATION_REMOVED_SIGNAL,
    PUBLISH_EVENTS,
    TIKTOK_EVENT_SIGNAL,
    EnvelopeInvalid,
    TikTokEvent,
    parse_envelope,
)

log = structlog.get_logger()

SIGNATURE_HEADER = "TikTok-Signature"
#: Deliveries signed longer ago than this are refused (replays).
TOLERANCE_SECONDS = 300
#: How long routing looks for the post before leaving the event to fallback polling.
ROUTE_PATIENCE_SECONDS = 30.0
#: How often (at most) a receipt also forgets deduplication records past their 96 h.
PRUNE_EVERY_SECONDS = 3600.0


class SignatureRejected(Exception):
    """The delivery is not TikTok's (or not fresh); its reason is safe to show."""


def sign(secret: str, timestamp: int, raw: bytes) -> str:
    """The `TikTok-Signature` header value TikTok would send (the simulator uses it too)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return f"t={timestamp},s={digest.hexdigest()}"


def verify(header: str | None, raw: bytes, secret: str, *, now: float | None = None) -> None:
    """Raise SignatureRejected unless `header` signs `raw` with `secret` and is fresh."""
    if not secret:
        raise SignatureRejected("webhooks are not configured (no TIKTOK_CLIENT_SECRET)")
    if not header:
        raise SignatureRejected(f"no {SIGNATURE_HEADER} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    stamps, signatures = parts.get("t", []), parts.get("s", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        raise SignatureRejected(f"{SIGNATURE_HEADER} must be t=<seconds>,s=<hex>")
    timestamp = int(stamps[0])
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise SignatureRejected("the signature's timestamp is more than 5 minutes off")
    expected = sign(secret, timestamp, raw).split("s=", 1)[1]
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureRejected("the signature does not match")


def event_of(raw: bytes) -> TikTokEvent:
    """The verified body as the engine's event; raises EnvelopeInvalid."""
    body = parse_envelope(raw)
    content = body["content"]
    canonical = json.dumps(
        [body["event"], body.get("user_openid", ""), body.get("create_time", 0), content],
        sort_keys=True,
        separators=(",", ":"),
    )
    create_time = body.get("create_time", 0)
    return TikTokEvent(
        event_key=hashlib.sha256(canonical.encode()).hexdigest(),
        event=body["event"],
        publish_id=str(content.get("publish_id", "")),
        user_openid=str(body.get("user_openid", "")),
        post_id=str(content.get("post_id", "")),
        reason=str(content.get("reason", content.get("fail_reason", ""))),
        create_time=create_time if isinstance(create_time, int) else 0,
        received_at=datetime.now(UTC),
    )


@dataclass
class Receipt:
    """What the endpoint answers: accepted, and whether it was a repeat."""

    event: str
    duplicate: bool


@dataclass
class TikTokWebhookInbox:
    client: Client
    received: ReceivedEvents
    accounts: AccountStore
    client_secret: str
    patience: float = ROUTE_PATIENCE_SECONDS
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _pruned_at: float = 0.0

    async def receive(self, raw: bytes, signature: str | None) -> Receipt:
        """Verify and record; routing continues after the answer. Raises SignatureRejected
        or EnvelopeInvalid (nothing is recorded then)."""
        try:
            verify(signature, raw, self.client_secret)
        except SignatureRejected:
            record_webhook_received(None, "rejected")
            raise
        try:
            event = event_of(raw)
        except EnvelopeInvalid:
            record_webhook_received(None, "invalid")
            raise
        if not await self.received.first_time(event.event_key, event.event):
            log.info("webhook.duplicate", tiktok_event=event.event, publish_id=event.publish_id)
            record_webhook_received(event.event, "duplicate")
            return Receipt(event.event, duplicate=True)
        record_webhook_received(event.event, "accepted")
        self._background(self.route(event))
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            self._background(self._prune())
        return Receipt(event.event, duplicate=False)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _prune(self) -> None:
        """Forget events older than TikTok's retries could repeat (account_store KEEP)."""
        try:
            removed = await self.received.forget_old()
        except Exception as err:  # the next receipt an hour later tries again
            log.warning("webhook.prune_failed", error=repr(err))
            return
        if removed:
            log.info("webhook.pruned", removed=removed)

    async def drain(self) -> None:
        """Wait for routing in progress (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def route(self, event: TikTokEvent) -> None:
        started = time.monotonic()
        result = "ignored"
        try:
            if event.event in PUBLISH_EVENTS and event.publish_id:
                if await self._to_post(event):
                    result = "routed"
                elif event.event in EVIDENCE_EVENTS and await self._to_claims(event):
                    result = "routed"  # to the account entity
                else:
                    result = "unrouted"
            elif event.event == AUTHORIZATION_REMOVED:
                result = "routed" if await self._to_account(event) else "unrouted"
            else:
                log.info("webhook.ignored", tiktok_event=event.event)
        except Exception as err:  # logged, never raised: TikTok already has its 200
            result = "failed"
            log.warning("webhook.route_failed", tiktok_event=event.event, error=repr(err))
        record_webhook_routed(event.event, result, time.monotonic() - started)

    async def _to_post(self, event: TikTokEvent) -> bool:
        query = (
            f"{sa.PUBLISH_ID.name} = '{_quoted(event.publish_id)}' AND ExecutionStatus = 'Running'"
        )
        deadline = time.monotonic() + self.patience
        pause = 0.2
        while True:
            ids = [wf.id async for wf in self.client.list_workflows(query, limit=5)]
            for wf_id in ids:
                try:
                    await self.client.get_workflow_handle(wf_id).signal(TIKTOK_EVENT_SIGNAL, event)
                except RPCError as err:
                    if err.status is not RPCStatusCode.NOT_FOUND:
                        raise
            if ids:
                log.info("webhook.routed", tiktok_event=event.event, workflow_ids=ids)
                return True
            if time.monotonic() >= deadline:
                log.info("webhook.unrouted", tiktok_event=event.event, publish_id=event.publish_id)
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

    async def _to_claims(self, event: TikTokEvent) -> bool:
        """No post knows this publish_id: it may be the ghost of a lost init, which only the
        account entity can attribute (to a post waiting for evidence, if exactly one)."""
        account_id = await self.accounts.account_for_open_id(event.user_openid)
        if account_id is None:
            log.info("webhook.unknown_creator", tiktok_event=event.event)
            return False
        told = await signal_account(self.client, account_id, UNKNOWN_PUBLISH_EVENT_SIGNAL, event)
        log.info(
            "webhook.to_account",
            tiktok_event=event.event,
            publish_id=event.publish_id,
            account_id=account_id,
            entity_told=told,
        )
        return told

    async def _to_account(self, event: TikTokEvent) -> bool:
        account_id = await self.accounts.account_for_open_id(event.user_openid)
        if account_id is None:
            log.info("webhook.unknown_creator", tiktok_event=event.event)
            return False
        told = await signal_account(
            self.client, account_id, AUTHORIZATION_REMOVED_SIGNAL, event.reason or "0"
        )
        log.info("webhook.authorization_removed", account_id=account_id, entity_told=told)
        return bool(told)


def _quoted(value: str) -> str:
    """A visibility-query string literal (publish ids never hold quotes; be safe anyway)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
