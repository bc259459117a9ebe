"""TikTok's publishing webhooks as the engine sees them once verified: the signal a post
receives, and how the API reads TikTok's envelope.

The webhook is a trigger, never the truth: a post that receives `tiktok_event` wakes from its
polling wait and confirms with one status fetch. A forged, duplicated or reordered event can
therefore cost at most one extra status call; it can never change a post's outcome.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

#: The PublishPost signal a verified TikTok event arrives as.
TIKTOK_EVENT_SIGNAL = "tiktok_event"
#: Posts started before webhooks existed keep their plain polling path on replay.
WEBHOOK_WAKE_PATCH = "tiktok-webhook-wake"

PUBLISH_EVENTS = frozenset(
    {
        "post.publish.failed",
        "post.publish.complete",
        "post.publish.inbox_delivered",
        "post.publish.publicly_available",
        "post.publish.publicaly_available",  # TikTok's older spelling
        "post.publish.no_longer_publicaly_available",
        "post.publish.no_longer_publicly_available",
    }
)
AUTHORIZATION_REMOVED = "authorization.removed"
#: The TikTokAccount signal `authorization.removed` arrives as (argument: TikTok's reason).
AUTHORIZATION_REMOVED_SIGNAL = "authorization_removed"


class TikTokEvent(BaseModel):
    """One verified TikTok webhook, reduced to what a post needs (no secrets in it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_key: str
    """Stable identity of the delivery's content, for deduplication."""
    event: str
    publish_id: str = ""
    user_openid: str = ""
    post_id: str = ""
    reason: str = ""
    create_time: int = 0
    received_at: datetime | None = None


class EnvelopeInvalid(ValueError):
    """The body is not TikTok's webhook envelope."""


def parse_envelope(raw: bytes) -> dict[str, Any]:
    """TikTok's envelope with `content` (a JSON string) decoded into a dict."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise EnvelopeInvalid("the body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        raise EnvelopeInvalid("the body has no `event`")
    content = body.get("content") or "{}"
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            raise EnvelopeInvalid("`content` is not a JSON string") from None
    if not isinstance(content, dict):
        raise EnvelopeInvalid("`content` is not an object")
    body["content"] = content
    return body
