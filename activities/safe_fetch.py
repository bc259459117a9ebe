"""The one way the worker downloads a caller's URL: only from the public internet.

`guarded_client(rule)` is an `httpx.Client` whose connections go through `GuardedBackend`, the
seam where httpcore opens a TCP connection. There, for every connection (the first request
and every redirect hop alike):

1. the host is resolved once (an address literal in any spelling is decoded, not resolved);
2. every address it resolves to is checked against `workflows.source_addresses` (loopback,
   private, link-local, CGNAT, multicast, reserved, and IPv6 forms that carry one of those);
   one bad address refuses the host, so a name cannot mix a public and a private record;
3. the socket connects to an address that was checked, never to a second resolution (no
   DNS-rebinding gap). TLS still verifies the certificate against the host name and sends it
   as SNI, and the Host header is the original one, because httpcore does both from the URL.

A refusal raises `SourceForbidden` (`TT_SOURCE_FORBIDDEN`, not retryable) before a single
byte is sent to the target. Redirects are capped (`MAX_REDIRECTS`); the bytes are capped by
the copy that reads the body (`MediaStore.stream_from_url`'s `max_bytes`). Environment
proxies are ignored: a proxy would connect on our behalf, past the check.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

import httpcore
import httpx
from httpcore._backends.sync import SyncBackend

from activities.media_store import StagingError
from workflows.source_addresses import (
    TT_SOURCE_FORBIDDEN,
    IPAddress,
    SourceRule,
    literal_address,
)

MAX_REDIRECTS = 5

Resolver = Callable[[str, int], list[str]]
"""host, port -> the addresses it resolves to (tests inject names; the default is DNS)."""


class SourceForbidden(StagingError):
    """The source's host is (or resolves to) an address the engine never fetches from."""

    def __init__(self, message: str) -> None:
        super().__init__(TT_SOURCE_FORBIDDEN, message, retryable=False)


def system_resolver(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def checked_addresses(host: str, port: int, rule: SourceRule, resolve: Resolver) -> list[str]:
    """The addresses to connect to, each one checked; raises `SourceForbidden`."""
    literal = literal_address(host)
    if literal is not None:
        candidates: list[IPAddress] = [literal]
    else:
        candidates = [_parse(a) for a in resolve(host, port)]
    if not candidates:
        raise httpcore.ConnectError(f"{host} resolves to no address")
    for address in candidates:
        reason = rule.refusal(address)
        if reason:
            shown = host if literal is None else f"{host} ({address})"
            raise SourceForbidden(
                f"the media host {shown} is refused: {reason}. The engine downloads media "
                "only from the public internet; send a link on a public host."
            )
    return [str(a) for a in candidates]


def _parse(address: str) -> IPAddress:
    parsed = literal_address(address.split("%", 1)[0])
    if parsed is None:  # getaddrinfo returns numeric addresses only
        raise httpcore.ConnectError(f"the resolver returned {address!r}, not an address")
    return parsed


class GuardedBackend(SyncBackend):
    """httpcore's network backend, connecting only to addresses `rule` allows."""

    def __init__(self, rule: SourceRule, resolve: Resolver = system_resolver) -> None:
        self._rule = rule
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = checked_addresses(host, port, self._rule, self._resolve)
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


class GuardedTransport(httpx.HTTPTransport):
    """An HTTP transport whose every connection goes through `GuardedBackend`."""

    def __init__(self, rule: SourceRule, resolve: Resolver = system_resolver) -> None:
        super().__init__(trust_env=False)
        ssl_context = httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            network_backend=GuardedBackend(rule, resolve),
        )


def guarded_client(
    rule: SourceRule,
    *,
    resolve: Resolver = system_resolver,
    max_redirects: int = MAX_REDIRECTS,
) -> httpx.Client:
    """The client every media download uses (redirects followed, each hop checked)."""
    return httpx.Client(
        transport=GuardedTransport(rule, resolve),
        follow_redirects=True,
        max_redirects=max_redirects,
        trust_env=False,
    )


__all__ = [
    "MAX_REDIRECTS",
    "GuardedBackend",
    "GuardedTransport",
    "SourceForbidden",
    "checked_addresses",
    "guarded_client",
    "system_resolver",
]
