"""Signed webhooks out to callers: the events, their body, and `DeliverEvent`, the durable
workflow that delivers one event to every endpoint that wants it.

A post announces each phase it enters by starting one `DeliverEvent` child (abandoned when
the post ends, so deliveries outlive it). The child asks the account store which endpoints
want the event and delivers to each with an activity that Temporal retries with backoff for
up to 72 hours. Secrets never enter history: the activity loads them by endpoint id.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import Phase, PostState

DELIVER_EVENT_TYPE = "DeliverEvent"
#: Posts started before webhooks out existed announce nothing on replay.
WEBHOOKS_OUT_PATCH = "webhooks-out"
#: How long a delivery is retried before it is given up.
DELIVERY_WINDOW = timedelta(hours=72)
#: The endpoint id a post's own callbackUrl is logged under.
CALLBACK_ENDPOINT = "callback"
NEEDS_ATTENTION_CODES = frozenset({"AMBIGUOUS_INIT", "PUBLISH_UNCONFIRMED", "PUBLISH_TIMEOUT"})


class EventType(StrEnum):
    SCHEDULED = "post.scheduled"
    PUBLISHING = "post.publishing"
    PUBLISHED = "post.published"
    DELIVERED_TO_INBOX = "post.delivered_to_inbox"
    FAILED = "post.failed"
    CANCELLED = "post.cancelled"
    NEEDS_ATTENTION = "post.needs_attention"
    """Ambiguous or unconfirmed: the post may be live; a person decides."""
    ACCOUNT_NEEDS_RECONNECT = "account.needs_reconnect"


def event_for(state: PostState) -> EventType | None:
    """The event a post's current phase announces (None: nothing to announce)."""
    phase = state.phase
    if phase is Phase.FAILED:
        error = state.error
        if error is not None and (error.code in NEEDS_ATTENTION_CODES or error.may_be_live):
            return EventType.NEEDS_ATTENTION
        return EventType.FAILED
    return {
        Phase.SCHEDULED: EventType.SCHEDULED,
        Phase.PUBLISHING: EventType.PUBLISHING,
        Phase.PUBLISHED: EventType.PUBLISHED,
        Phase.DELIVERED_TO_INBOX: EventType.DELIVERED_TO_INBOX,
        Phase.CANCELLED: EventType.CANCELLED,
    }.get(phase)


class OutgoingEvent(BaseModel):
    """The body every endpoint receives (JSON), minus nothing: it holds no secret."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Unique per event: deduplicate on it (also a header).")
    type: EventType
    created_at: datetime
    account_id: str
    post_id: str | None = None
    workflow_id: str = ""
    data: dict[str, Any] = Field(
        default_factory=dict, description="The post's state (as `state` shows it)."
    )


class DeliverEventInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    event: OutgoingEvent
    retry_initial_seconds: float = 10.0
    callback_url: str | None = None
    """The post's own `callbackUrl`: it gets every event too."""


class EndpointsQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_id: str
    event_type: str


class DeliveryInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    endpoint_id: str
    event: OutgoingEvent
    callback_url: str | None = None
    """Set: deliver to the post's callbackUrl, signed with the account's endpoint secret."""


class DeliveryOutcome(BaseModel):
    endpoint_id: str
    delivered: bool
    detail: str = ""


@workflow.defn(name=DELIVER_EVENT_TYPE)
class DeliverEvent:
    """One event to every endpoint that wants it, each retried for up to 72 h."""

    @workflow.run
    async def run(self, request: DeliverEventInput) -> list[DeliveryOutcome]:
        event = request.event
        endpoints: list[str] = await workflow.execute_activity(
            "webhook_endpoints_for",
            EndpointsQuery(account_id=event.account_id, event_type=event.type.value),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            schedule_to_close_timeout=DELIVERY_WINDOW,
            result_type=list[str],
            summary=f"endpoints for {event.type.value}",
        )
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=request.retry_initial_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(hours=1),
        )

        async def one(endpoint_id: str, callback_url: str | None = None) -> DeliveryOutcome:
            try:
                await workflow.execute_activity(
                    "deliver_webhook",
                    DeliveryInput(endpoint_id=endpoint_id, event=event, callback_url=callback_url),
                    start_to_close_timeout=timedelta(seconds=60),
                    schedule_to_close_timeout=DELIVERY_WINDOW,
                    retry_policy=retry,
                    summary=f"{event.type.value} to {endpoint_id}",
                )
            except ActivityError as err:
                cause = err.cause
                return DeliveryOutcome(
                    endpoint_id=endpoint_id, delivered=False, detail=str(cause or err)
                )
            return DeliveryOutcome(endpoint_id=endpoint_id, delivered=True)

        deliveries = [one(e) for e in endpoints]
        if request.callback_url:
            deliveries.append(one(CALLBACK_ENDPOINT, request.callback_url))
        return list(await asyncio.gather(*deliveries))


def child_id(event_id: str) -> str:
    return f"webhook-event/{event_id}"
