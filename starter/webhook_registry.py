"""Registering callers' webhook endpoints (API `POST /v1/webhooks`, CLI `webhook add`),
checking their URLs, and the delivery log shown with a post's state."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from account_store.webhook_endpoints import EndpointInfo, WebhookEndpoints
from worker.custody import CustodySettings
from workflows.contracts import PostState
from workflows.source_addresses import callback_refusal
from workflows.webhooks_out import EventType

EVENT_TYPES = tuple(e.value for e in EventType)


class EndpointInvalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_endpoint(url: str, events: list[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
    """Refuse what can never be delivered to: not http(s), no host, an address literal the
    engine never connects to (loopback, private, metadata, ...). Names are checked again,
    resolved, on every delivery (activities.safe_fetch). Returns the events, normalised."""
    refusal = callback_refusal(url, CustodySettings.from_env().source_rule)
    if refusal:
        raise EndpointInvalid("url", f"the URL {refusal}")
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise EndpointInvalid(
            "events", f"unknown event type(s) {unknown}; known: {', '.join(EVENT_TYPES)}"
        )
    return tuple(dict.fromkeys(events))


def endpoint_view(info: EndpointInfo, secret: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": info.endpoint_id,
        "url": info.url,
        "accountId": info.account_id or None,
        "events": list(info.events),
        "createdAt": info.created_at.isoformat(),
        "rotatingUntil": info.rotating_until.isoformat() if info.rotating_until else None,
    }
    if secret is not None:
        view["secret"] = secret
    return view


async def with_delivery_log(state: PostState, endpoints: WebhookEndpoints) -> PostState:
    """The post's state with its webhook delivery log from the account store."""
    attempts = await endpoints.deliveries(state.workflow_id)
    if not attempts:
        return state
    log = [{**asdict(a), "at": a.at.isoformat()} for a in attempts]
    return state.model_copy(update={"webhook_deliveries": log})
