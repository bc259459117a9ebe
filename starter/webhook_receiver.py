"""Verify the engine's webhooks in your receiver (standard library only: copy it freely).

    from starter.webhook_receiver import verify, InvalidSignature

    try:
        event = verify(raw_body, request.headers["X-TikTok-Publisher-Signature"], SECRETS)
    except InvalidSignature:
        return 401
    if seen(event["id"]):          # at-least-once: deduplicate on the event id
        return 200
    handle(event)                  # answer 2xx quickly; anything else is retried

`secrets` may hold two secrets while you rotate: a delivery signed with either is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

TOLERANCE_SECONDS = 300


class InvalidSignature(Exception):
    pass


def verify(
    body: bytes,
    header: str | None,
    secrets: str | Iterable[str],
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The event (parsed JSON) if `header` signs `body` with one of `secrets` and its
    timestamp is within `tolerance` seconds; else InvalidSignature."""
    if not header:
        raise InvalidSignature("no X-TikTok-Publisher-Signature header")
    stamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            stamp = value
        elif key == "v1":
            signatures.append(value)
    if stamp is None or not stamp.isdigit() or not signatures:
        raise InvalidSignature("the header must be t=<unix seconds>,v1=<hex>")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise InvalidSignature("the timestamp is too old (or in the future)")
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    signed = f"{stamp}.".encode() + body
    for secret in keys:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, s) for s in signatures):
            event: dict[str, Any] = json.loads(body)
            return event
    raise InvalidSignature("no signature matches")
