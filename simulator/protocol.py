"""TikTok's wire format: the envelope, error codes, log ids, and the response value type.

Kept apart from the handlers so that every response, including injected faults, is built
by the same few functions and cannot drift from tiktok-api.md.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"

_log_counter = itertools.count(1)
_log_lock = threading.Lock()


def new_log_id() -> str:
    """A unique id shaped like TikTok's (timestamp + hex), also sent as X-Tt-Logid."""
    with _log_lock:
        n = next(_log_counter)
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    return f"{stamp}{n:06d}{secrets.token_hex(5).upper()}"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit TikTok counts titles in (emoji count as 2)."""
    return len(text.encode("utf-16-le")) // 2


class ApiError(Exception):
    """A TikTok error envelope to send back: HTTP status, `error.code`, `error.message`."""

    def __init__(self, http_status: int, code: str, message: str = "") -> None:
        super().__init__(f"{http_status} {code}: {message}")
        self.http_status = http_status
        self.code = code
        self.message = message


class OAuthError(Exception):
    """An OAuth failure: TikTok answers these flat, without the envelope."""

    def __init__(self, http_status: int, error: str, description: str) -> None:
        super().__init__(f"{http_status} {error}: {description}")
        self.http_status = http_status
        self.error = error
        self.description = description


@dataclass
class Response:
    """What a handler wants sent. The server decides whether it is sent (see faults)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        all_headers = {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
        return cls(status=status, body=body, headers=all_headers)


def envelope(
    status: int,
    data: dict[str, Any] | None,
    code: str = "ok",
    message: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """`{"data": {...}, "error": {"code", "message", "log_id"}}` plus X-Tt-Logid."""
    log_id = new_log_id()
    payload = {
        "data": data if data is not None else {},
        "error": {"code": code, "message": message, "log_id": log_id},
    }
    return Response.json(status, payload, {"X-Tt-Logid": log_id, **(headers or {})})


def ok(data: dict[str, Any]) -> Response:
    return envelope(200, data)


def error_response(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    return envelope(exc.http_status, None, exc.code, exc.message, headers)


def oauth_error_response(exc: OAuthError) -> Response:
    log_id = new_log_id()
    payload = {"error": exc.error, "error_description": exc.description, "log_id": log_id}
    return Response.json(exc.http_status, payload, {"X-Tt-Logid": log_id})


# Shorthands for the errors the handlers raise, so call sites read like tiktok-api.md.
def invalid_params(message: str) -> ApiError:
    return ApiError(400, "invalid_params", message)


def access_token_invalid(message: str = "The access token is invalid or not found.") -> ApiError:
    return ApiError(401, "access_token_invalid", message)


def scope_not_authorized(scope: str) -> ApiError:
    return ApiError(
        401, "scope_not_authorized", f"The user did not authorize the scope required: {scope}."
    )


def rate_limit_exceeded() -> ApiError:
    return ApiError(429, "rate_limit_exceeded", "API rate limit exceeded, try again later.")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class BodyReader:
    """Reads exactly Content-Length bytes from the socket, in pieces, never all at once.

    Tracks what is left so the server can drain an unread body (keeping the connection
    usable) or decide it is too large to drain and close the connection instead.
    """

    def __init__(self, stream: Readable, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int) -> bytes:
        """Up to `size` bytes, b"" at the end; ConnectionAbortedError if the client left."""
        if self.remaining <= 0:
            return b""
        piece = self._stream.read(min(size, self.remaining))
        if not piece:
            self.remaining = 0
            raise ConnectionAbortedError("client closed the connection mid-body")
        self.remaining -= len(piece)
        return piece

    def read_all(self) -> bytes:
        parts = []
        while self.remaining > 0:
            parts.append(self.read(1 << 20))
        return b"".join(parts)

    def drain(self, limit: int) -> bool:
        """Discard the rest of the body if it is at most `limit` bytes; False if it is not."""
        if self.remaining > limit:
            return False
        while self.remaining > 0:
            self.read(1 << 20)
        return True
