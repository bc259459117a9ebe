"""/v1/webhooks/tiktok: TikTok's publishing webhooks in (no API key: TikTok's signature
authenticates the call; see starter.tiktok_webhooks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from starter.http_api.services import ServiceDep
from starter.service import ServiceProblem
from starter.tiktok_webhooks import SignatureRejected
from workflows.tiktok_events import EnvelopeInvalid
from workflows.validation import Problem

tiktok = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookReceipt(BaseModel):
    received: bool = True
    event: str
    duplicate: bool
    """True when this event was received before (TikTok delivers at least once)."""


_ENVELOPE = {
    "type": "object",
    "required": ["event"],
    "properties": {
        "client_key": {"type": "string"},
        "event": {"type": "string", "examples": ["post.publish.complete"]},
        "create_time": {"type": "integer"},
        "user_openid": {"type": "string"},
        "content": {"type": "string", "description": "A JSON object, as a string."},
    },
}


@tiktok.post(
    "/tiktok",
    response_model=WebhookReceipt,
    summary="TikTok's publishing webhooks (signed with the app's client secret)",
    description="Register this URL as the app's webhook callback in TikTok's developer "
    "portal. Answers 200 at once; a repeat is recognised and changes nothing. A missing, "
    "wrong or stale (> 5 min) `TikTok-Signature` is refused with 401 and nothing changes.",
    responses={
        400: {"description": "Signed correctly, but not TikTok's envelope."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ENVELOPE}},
        }
    },
)
async def tiktok_webhook(
    request: Request,
    svc: ServiceDep,
    signature: Annotated[str | None, Header(alias="TikTok-Signature", max_length=1024)] = None,
) -> WebhookReceipt:
    raw = await request.body()
    try:
        receipt = await svc.tiktok_webhooks.receive(raw, signature)
    except SignatureRejected as err:
        raise ServiceProblem(
            401, "WEBHOOK_SIGNATURE_INVALID", "The TikTok signature was refused", str(err)
        ) from None
    except EnvelopeInvalid as err:
        raise ServiceProblem(
            400,
            "WEBHOOK_BODY_INVALID",
            "Not a TikTok webhook",
            str(err),
            problems=[Problem("TT_FIELD_INVALID", "", str(err))],
        ) from None
    return WebhookReceipt(event=receipt.event, duplicate=receipt.duplicate)
