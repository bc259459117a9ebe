"""Delivering the engine's signed events to callers' endpoints.

Each attempt POSTs the event's JSON with

    X-TikTok-Publisher-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]
    X-TikTok-Publisher-Event-Id: <event id>      (deduplicate on it)
    X-TikTok-Publisher-Event-Type: <type>

where each v1 is HMAC-SHA256(secret, "<t>.<body>") for every secret that signs now (two
during a rotation). The URL is checked before any connection (`activities.safe_fetch`: no
loopback, private, link-local or metadata addresses, every resolved address checked; no
redirects followed). A 2xx answer delivers; anything else raises a retryable error that
Temporal retries with backoff (the DeliverEvent workflow's policy); every attempt is logged
in the account store, which is what `state` shows.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from account_store.webhook_endpoints import DeliveryAttempt, WebhookEndpoints
from activities.safe_fetch import GuardedTransport, SourceForbidden
from telemetry.metrics import record_webhook_delivery
from workflows.source_addresses import SourceRule
from workflows.webhooks_out import CALLBACK_ENDPOINT, DeliveryInput, EndpointsQuery

SIGNATURE_HEADER = "X-TikTok-Publisher-Signature"
EVENT_ID_HEADER = "X-TikTok-Publisher-Event-Id"
EVENT_TYPE_HEADER = "X-TikTok-Publisher-Event-Type"
DELIVERY_FAILED = "WEBHOOK_DELIVERY_FAILED"
URL_FORBIDDEN = "WEBHOOK_URL_FORBIDDEN"
#: How long one attempt waits for the receiver's answer.
DEFAULT_TIMEOUT_SECONDS = 10.0


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    parts = [f"t={timestamp}"]
    for secret in secrets:
        digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        parts.append(f"v1={digest.hexdigest()}")
    return ",".join(parts)


class WebhookActivities:
    def __init__(
        self,
        endpoints: Callable[[], WebhookEndpoints],
        rule: SourceRule,
        *,
        timeout_seconds: float | None = None,
    ) -> None:
        """`endpoints` returns the account store's WebhookEndpoints (opened on first use)."""
        self._endpoints_factory = endpoints
        self._endpoints: WebhookEndpoints | None = None
        self.rule = rule
        self.timeout = timeout_seconds or DEFAULT_TIMEOUT_SECONDS

    def _store(self) -> WebhookEndpoints:
        if self._endpoints is None:
            self._endpoints = self._endpoints_factory()
        return self._endpoints

    @activity.defn(name="webhook_endpoints_for")
    async def webhook_endpoints_for(self, query: EndpointsQuery) -> list[str]:
        found = await self._store().for_account(query.account_id, query.event_type)
        return [e.endpoint_id for e in found]

    @activity.defn(name="deliver_webhook")
    async def deliver_webhook(self, request: DeliveryInput) -> None:
        store = self._store()
        event = request.event
        if request.callback_url:
            url, endpoint_id = request.callback_url, CALLBACK_ENDPOINT
            secrets = await store.account_signing_secrets(event.account_id)
            if not secrets:
                detail = (
                    "no signing secret for the post's callbackUrl: register a webhook endpoint "
                    "for the account or a global one (its secret signs callbacks)"
                )
                await store.record(
                    event.workflow_id, self._attempt(request, url, None, "refused", detail)
                )
                raise ApplicationError(detail, type=URL_FORBIDDEN, non_retryable=True)
        else:
            endpoint = await store.get(request.endpoint_id)
            found = await store.signing_secrets(request.endpoint_id)
            if endpoint is None or found is None:
                return  # removed since: nothing to deliver to
            url, endpoint_id, secrets = endpoint.url, endpoint.endpoint_id, found
        body = json.dumps(event.model_dump(mode="json"), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tiktok-publisher-webhooks",
            SIGNATURE_HEADER: signature_header(secrets, int(time.time()), body),
            EVENT_ID_HEADER: event.id,
            EVENT_TYPE_HEADER: event.type.value,
        }
        status: int | None = None
        outcome, detail = "failed", ""
        started = time.perf_counter()
        try:
            status = await asyncio.to_thread(self._post, url, body, headers)
            outcome = "delivered" if 200 <= status < 300 else "failed"
            detail = "" if outcome == "delivered" else f"answered HTTP {status}"
        except SourceForbidden as err:
            outcome, detail = "refused", str(err)
        except httpx.TimeoutException:
            detail = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as err:
            detail = f"{type(err).__name__}: {err}"
        record_webhook_delivery(event.type.value, outcome, time.perf_counter() - started)
        await store.record(
            event.workflow_id, self._attempt(request, url, status, outcome, detail, endpoint_id)
        )
        if outcome == "refused":
            raise ApplicationError(
                f"Webhook URL refused: {detail}", type=URL_FORBIDDEN, non_retryable=True
            )
        if outcome != "delivered":
            raise ApplicationError(
                f"Webhook to {endpoint_id} not delivered ({detail}); retried with "
                "backoff for up to 72 h.",
                type=DELIVERY_FAILED,
            )

    @staticmethod
    def _attempt(
        request: DeliveryInput,
        url: str,
        status: int | None,
        outcome: str,
        detail: str,
        endpoint_id: str = CALLBACK_ENDPOINT,
    ) -> DeliveryAttempt:
        return DeliveryAttempt(
            event_id=request.event.id,
            event_type=request.event.type.value,
            endpoint_id=endpoint_id,
            url=url,
            attempt=activity.info().attempt,
            http_status=status,
            outcome=outcome,
            detail=detail,
            at=datetime.now(UTC),
        )

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        with httpx.Client(
            transport=GuardedTransport(self.rule),
            follow_redirects=False,
            trust_env=False,
            timeout=self.timeout,
        ) as http:
            return http.post(url, content=body, headers=headers).status_code
