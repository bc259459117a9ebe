"""`/metrics`, `/healthz` and `/readyz`, for the worker and (mounted) for the HTTP API.

    probes = OpsProbes(checks={"temporal": temporal_reachable(client)}, sdk_metrics_url=url)
    server = await serve(probes, "0.0.0.0:9464")       # the worker: a tiny built-in server
    app.include_router(probes.router())                 # the FastAPI app: same three paths
    app.mount("/ops", probes.asgi())                     # or any ASGI app, under a prefix

- `/healthz`: 200 while the process runs (liveness: restart me only if this fails).
- `/readyz`: 200 when every check passes, else 503; the JSON body names each check.
- `/metrics`: the engine's series (`telemetry.metrics.REGISTRY`) followed by the Temporal
  SDK's own (`temporal_*`), fetched from the SDK's Prometheus exporter on loopback, so one
  scrape target has both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from telemetry.metrics import REGISTRY

Check = Callable[[], Awaitable[bool]]
Response = tuple[int, str, bytes]

CHECK_TIMEOUT_SECONDS = 3.0


class OpsProbes:
    def __init__(
        self, checks: Mapping[str, Check] | None = None, *, sdk_metrics_url: str | None = None
    ) -> None:
        self.checks: dict[str, Check] = dict(checks or {})
        self.sdk_metrics_url = sdk_metrics_url

    async def healthz(self) -> Response:
        return 200, "text/plain; charset=utf-8", b"ok\n"

    async def readyz(self) -> Response:
        results: dict[str, bool] = {}
        for name, check in self.checks.items():
            try:
                results[name] = bool(await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS))
            except Exception:
                results[name] = False
        ready = all(results.values())
        body = json.dumps({"ready": ready, "checks": results}).encode() + b"\n"
        return (200 if ready else 503), "application/json", body

    async def metrics(self) -> Response:
        text = generate_latest(REGISTRY)
        if self.sdk_metrics_url:
            try:
                async with httpx.AsyncClient(timeout=2.0) as http:
                    sdk = await http.get(self.sdk_metrics_url)
                text += b"\n" + sdk.content
            except httpx.HTTPError:
                text += b"# Temporal SDK metrics unavailable\n"
        return 200, CONTENT_TYPE_LATEST, text

    async def respond(self, path: str) -> Response:
        handler = {"/healthz": self.healthz, "/readyz": self.readyz, "/metrics": self.metrics}
        found = handler.get(path.split("?", 1)[0])
        if found is None:
            return 404, "text/plain; charset=utf-8", b"not found\n"
        return await found()

    def asgi(self) -> Callable[..., Awaitable[None]]:
        """A plain ASGI app serving the three paths (mount it anywhere)."""

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            status, content_type, body = await self.respond(scope.get("path", "/"))
            headers = [(b"content-type", content_type.encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return app

    def router(self) -> Any:
        """A FastAPI APIRouter with GET /healthz, /readyz and /metrics (FastAPI imported only
        here, so the worker does not need it)."""
        from fastapi import APIRouter
        from fastapi import Response as FastAPIResponse

        router = APIRouter(tags=["operations"])

        def route(path: str) -> None:
            async def endpoint() -> FastAPIResponse:
                status, content_type, body = await self.respond(path)
                return FastAPIResponse(body, status_code=status, media_type=content_type)

            router.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)

        for path in ("/healthz", "/readyz", "/metrics"):
            route(path)
        return router


async def serve(probes: OpsProbes, address: str) -> asyncio.Server:
    """A minimal HTTP/1.1 server for the probes (GET only, one request per connection)."""
    host, _, port = address.rpartition(":")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
                status, content_type, body = 405, "text/plain", b"GET only\n"
            else:
                status, content_type, body = await probes.respond(parts[1])
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}.get(
                status, "Service Unavailable"
            )
            head = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head + (body if parts[0] != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host or "0.0.0.0", int(port))


# -- the Temporal side ---------------------------------------------------------------------


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prometheus_runtime() -> tuple[Runtime, str]:
    """A Temporal runtime exporting the SDK's metrics on a loopback port, and the URL that
    `OpsProbes` folds into `/metrics`."""
    address = f"127.0.0.1:{free_loopback_port()}"
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=address, durations_as_seconds=True)
        )
    )
    return runtime, f"http://{address}/metrics"


def temporal_reachable(client: Client) -> Check:
    """Whether Temporal answers for the client's namespace: DescribeNamespace of it. That call
    is namespace-scoped, so an API key limited to one Temporal Cloud namespace may make it;
    gRPC's health check is not, and Cloud refuses it to such keys (Request unauthorized:
    temporalio/temporal-worker-controller#225), which would keep every pod unready. It also
    fails when the namespace does not exist or the credentials do not open it."""

    async def check() -> bool:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace),
            timeout=timedelta(seconds=CHECK_TIMEOUT_SECONDS),
        )
        return True

    return check
