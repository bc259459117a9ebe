"""/v1/webhooks: TikTok's publishing webhooks in (`/tiktok`, no API key: TikTok's signature
authenticates the call; see starter.tiktok_webhooks), and callers' endpoints for the
engine's own signed events (webhooks out, behind the API key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from account_store.webhook_endpoints import WebhookEndpoints
from starter.http_api.services import CALLER_CHECKS, ServiceDep
from starter.service import ServiceProblem, invalid, not_found
from starter.tiktok_webhooks import SignatureRejected
from starter.webhook_registry import EVENT_TYPES, EndpointInvalid, check_endpoint, endpoint_view
from workflows.request import ID_PATTERN
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


# -- webhooks out: callers' endpoints ------------------------------------------------------

outgoing = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=CALLER_CHECKS)
EndpointId = Annotated[str, Path(pattern=r"^wh_[0-9a-f]{16}$")]


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="Where the signed events are POSTed.")
    accountId: str | None = Field(
        default=None, pattern=ID_PATTERN, description="Only this account's events (default all)."
    )
    events: list[str] = Field(
        default_factory=list, max_length=20, description="Event types wanted (default all)."
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    accountId: str | None = None
    events: list[str]
    createdAt: str
    rotatingUntil: str | None = Field(
        default=None, description="Until then the previous secret signs too (a rotation)."
    )
    secret: str | None = Field(
        default=None, description="The signing secret: shown only when created or rotated."
    )


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


class EndpointRemoved(BaseModel):
    id: str
    removed: bool = True


def _store(svc: ServiceDep) -> WebhookEndpoints:
    return WebhookEndpoints(svc.database)


def _missing(endpoint_id: str) -> ServiceProblem:
    return not_found("WEBHOOK_NOT_FOUND", f"No webhook endpoint {endpoint_id}.")


@outgoing.post(
    "",
    status_code=201,
    response_model=EndpointOut,
    summary="Register a webhook endpoint (global, or for one account)",
    description="Events: " + ", ".join(f"`{e}`" for e in EVENT_TYPES) + ". Each delivery "
    "is signed: `X-TikTok-Publisher-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "
    '"<t>.<body>")>` (two v1 values during a rotation); `X-TikTok-Publisher-Event-Id` '
    "identifies the event for deduplication. The secret is in this answer only.",
)
async def add_endpoint(body: EndpointBody, svc: ServiceDep) -> EndpointOut:
    try:
        events = check_endpoint(body.url, body.events)
    except EndpointInvalid as err:
        raise invalid([Problem("TT_FIELD_INVALID", err.field, str(err))]) from None
    info, secret = await _store(svc).create(
        body.url, account_id=body.accountId or "", events=events
    )
    return EndpointOut(**endpoint_view(info, secret))


@outgoing.get("", response_model=EndpointList, summary="Registered webhook endpoints")
async def list_endpoints(svc: ServiceDep) -> EndpointList:
    found = await _store(svc).all()
    return EndpointList(endpoints=[EndpointOut(**endpoint_view(i)) for i in found])


@outgoing.post(
    "/{endpointId}/rotate-secret",
    response_model=EndpointOut,
    summary="A new signing secret; the previous one keeps signing for 24 h",
)
async def rotate_secret(endpointId: EndpointId, svc: ServiceDep) -> EndpointOut:
    rotated = await _store(svc).rotate(endpointId)
    if rotated is None:
        raise _missing(endpointId)
    return EndpointOut(**endpoint_view(*rotated))


@outgoing.delete("/{endpointId}", response_model=EndpointRemoved, summary="Remove an endpoint")
async def remove_endpoint(endpointId: EndpointId, svc: ServiceDep) -> EndpointRemoved:
    if not await _store(svc).remove(endpointId):
        raise _missing(endpointId)
    return EndpointRemoved(id=endpointId)
