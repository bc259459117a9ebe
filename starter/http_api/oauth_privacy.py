"""What of TikTok's OAuth callback may be recorded: its parameter names, never their values.

The callback's query carries the creator's authorization code (which, with the client secret,
buys their tokens) and our state. uvicorn's access log and FastAPI's request span would both
record it whole; here both keep `code=…&state=…`, so a line or a span still says which answer
came back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

OAUTH_PATHS = "/v1/oauth/"
"""Where TikTok's redirect lands."""


def names_only(query: str) -> str:
    """`code=abc&state=xyz` -> `code=…&state=…`."""
    names = [part.partition("=")[0] for part in query.split("&") if part]
    return "&".join(f"{name}=…" for name in names)


def hide_in_request_spans(scope: Mapping[str, Any]) -> None:
    """Overwrite `url.query` on the request's SERVER span, which FastAPI sets from the raw
    query (FastAPI keeps that span in the scope; the current span in a route is FastAPI's
    operation span, its child)."""
    query: bytes = scope.get("query_string", b"")
    if not query:
        return
    shown = names_only(query.decode("latin-1"))
    spans = {trace.get_current_span(), getattr(scope.get("fastapi.telemetry"), "span", None)}
    for span in spans:
        attributes = getattr(span, "attributes", None) or {}
        if span is not None and span.is_recording() and "url.query" in attributes:
            span.set_attribute("url.query", shown)


class _OAuthQueryHidden(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, path with query, HTTP version, status).
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, sep, query = args[2].partition("?")
            if sep and path.startswith(OAUTH_PATHS):
                record.args = (*args[:2], f"{path}?{names_only(query)}", *args[3:])
        return True


def hide_oauth_queries(access_log: logging.Logger) -> None:
    """Install the filter on uvicorn's access logger (once)."""
    if not any(isinstance(f, _OAuthQueryHidden) for f in access_log.filters):
        access_log.addFilter(_OAuthQueryHidden())
