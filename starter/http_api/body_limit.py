"""The HTTP API reads no body larger than API_MAX_BODY_BYTES.

Routes read the whole body (a post, an NDJSON batch), so without a bound one request could
make the process buffer whatever a client sends. A declared Content-Length over the limit is
answered 413 before anything is read; a chunked body is counted as it arrives and refused at
the first byte past the limit.
"""

from __future__ import annotations

from typing import Any

from starter.http_api.problems import response
from starter.service import ServiceProblem

Scope = dict[str, Any]
Message = dict[str, Any]


def too_large(limit: int) -> ServiceProblem:
    return ServiceProblem(
        413,
        "BODY_TOO_LARGE",
        "Request body too large",
        f"The body is over {limit} bytes (API_MAX_BODY_BYTES): send fewer posts per batch.",
    )


class BodyLimit:
    """ASGI middleware. Its 413 is a ServiceProblem, answered as every problem document."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await response(too_large(self.max_bytes))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message: Message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large(self.max_bytes)  # the app's problem handler answers it
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
