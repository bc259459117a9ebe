"""The TikTok client's HTTP transport: httpx's interface, aiohttp underneath.

The client keeps httpx's requests, responses and errors (the metered and traced transports
wrap this one, and anything else can be passed in). Underneath, aiohttp's C parser and
connection pool cost 0.28-0.35x the CPU per request of httpx's own transport (0.67-0.96 ms
against 2.4-2.75 ms for 100 concurrent requests to the simulator; bench/README.md,
`http_client`), which is what a worker spends most of its time on when many posts fall due.

Errors map to httpx's classes by the rule the engine's promise rests on (never two posts):
only a failure before the request left this process is a connect error (`httpx.ConnectError`,
`ConnectTimeout`). A connection closed, reset or silent after the request went out is a read
or protocol error, which an init reads as "TikTok may have it" (`TikTokClient._transport_error`).
"""

from __future__ import annotations

import ssl
import sys
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx

from workflows.source_addresses import redact_url

MAX_CONNECTIONS = 100
"""Connections open at once, as httpx's default pool."""
KEEPALIVE_SECONDS = 5.0
"""How long an idle connection is kept for the next request, as httpx's default."""


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp session, opened on first use (inside the
    event loop that uses it) and closed by `aclose`. Bodies are read whole both ways: every
    TikTok call sends JSON or one chunk and reads a small JSON answer."""

    def __init__(
        self,
        *,
        max_connections: int = MAX_CONNECTIONS,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str] = {}
        self._traced: httpx.AsyncBaseTransport | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Read once per session, as httpx reads them once per client.
        self._proxies = urllib.request.getproxies_environment()
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=self._keepalive_seconds,
            # httpx's trust store (certifi, or SSL_CERT_FILE): the same CAs as before.
            ssl=self._ssl_context or httpx.create_ssl_context(),
        )
        return aiohttp.ClientSession(
            connector=connector,
            # httpx above keeps the cookies and decodes the content. Proxies: `_proxy_for`
            # (aiohttp's trust_env would read ~/.netrc on a thread for every request).
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if _httpx_instrumented():
            # Traced like httpx's own transport whenever httpx is instrumented (tracing on:
            # telemetry/tracing.py), with the same span and attributes.
            if self._traced is None:
                from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport

                self._traced = AsyncOpenTelemetryTransport(
                    _Untraced(self._send), request_hook=redact_span_url_async
                )
            return await self._traced.handle_async_request(request)
        return await self._send(request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._open()
        body = await request.aread()
        timeout = request.extensions.get("timeout", {})
        headers = [(k, v) for k, v in request.headers.multi_items() if k != "transfer-encoding"]
        with _as_httpx_errors(request):
            async with session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                proxy=self._proxy_for(request.url),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as answer:
                content = await answer.read()
                status, raw_headers, reason = answer.status, answer.raw_headers, answer.reason
        return httpx.Response(
            status_code=status,
            headers=list(raw_headers),
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (reason or "").encode()},
        )

    def _proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, in
        either case), as httpx's own transport would use it: httpx ignores them when it is
        given a transport, so this one reads them itself."""
        if not self._proxies or urllib.request.proxy_bypass(url.host):
            return None
        return self._proxies.get(url.scheme)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Untraced(httpx.AsyncBaseTransport):
    """The transport's own sending, for the tracing wrapper to call."""

    def __init__(self, send: Callable[[httpx.Request], Awaitable[httpx.Response]]) -> None:
        self._send = send

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._send(request)


_URL_ATTRIBUTES = ("http.url", "url.full")
"""Where OpenTelemetry's httpx spans keep the request's URL (old and stable conventions)."""


def redact_span_url(span: Any, request: Any) -> None:
    """OpenTelemetry request hook: the span keeps the URL without its query. OpenTelemetry
    redacts a few signature parameters of its own choosing, not S3's X-Amz-Signature,
    X-Amz-Credential and X-Amz-Security-Token nor TikTok's upload_token, and a span goes to
    whatever collector is configured."""
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, redact_url(value))


async def redact_span_url_async(span: Any, request: Any) -> None:
    redact_span_url(span, request)


def _httpx_instrumented() -> bool:
    """Whether OpenTelemetry's httpx instrumentation is on. Never imports it: a process that
    did not turn tracing on has not imported it."""
    module: Any = sys.modules.get("opentelemetry.instrumentation.httpx")
    return module is not None and bool(
        module.HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    )


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """aiohttp's errors as httpx's, connect errors only where nothing was sent."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:  # DNS, refused, TLS handshake: not sent
        raise httpx.ConnectError(_describe(exc), request=request) from exc
    except aiohttp.ConnectionTimeoutError as exc:  # no connection within the timeout
        raise httpx.ConnectTimeout(_describe(exc), request=request) from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:  # sent, no answer
        raise httpx.ReadTimeout(_describe(exc), request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(_describe(exc), request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(_describe(exc), request=request) from exc
    except aiohttp.ClientError as exc:  # reset, broken answer: the request may have arrived
        raise httpx.ReadError(_describe(exc), request=request) from exc


def _describe(exc: BaseException) -> str:
    """The error's class and message; never the URL's query (upload URLs carry tokens)."""
    return type(exc).__name__
