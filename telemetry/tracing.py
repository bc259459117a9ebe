"""OpenTelemetry traces, on only when an OTLP endpoint is configured.

One trace runs from the starter's submit (or the HTTP API request around it) through
`StartWorkflow:PublishPost`, the workflow's tasks and activities (Temporal's
`TracingInterceptor`, which carries the context in workflow headers) to each HTTP request to
TikTok (httpx instrumentation; each span's URL without its query, where TikTok's upload
tokens and S3's signatures are). Nothing is traced, and nothing of OpenTelemetry's SDK is
imported, when `OTEL_EXPORTER_OTLP_ENDPOINT` is unset.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace

_enabled = False
tracer = trace.get_tracer("tiktok_publisher")


def enabled() -> bool:
    return _enabled


def configure(endpoint: str | None, service_name: str) -> bool:
    """Export spans over OTLP/HTTP to `endpoint` (the collector's base URL, as in
    OTEL_EXPORTER_OTLP_ENDPOINT). Returns whether tracing is now on."""
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    enable(provider)
    return True


def flush() -> None:
    """Export spans still buffered (before a short-lived process such as the CLI exits)."""
    if _enabled:
        provider = trace.get_tracer_provider()
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush(5000)


def enable(provider: Any) -> None:
    """Use `provider` (an SDK TracerProvider) and instrument httpx. Tests pass one with an
    in-memory exporter."""
    global _enabled
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    from activities.http_transport import redact_span_url, redact_span_url_async

    trace.set_tracer_provider(provider)
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        # Spans keep URLs without their query: upload tokens and signatures live there.
        instrumentor.instrument(
            tracer_provider=provider,
            request_hook=redact_span_url,
            async_request_hook=redact_span_url_async,
        )
    _enabled = True


def disable() -> None:
    global _enabled
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    _enabled = False


def client_interceptors() -> list[Any]:
    """Temporal client interceptors for tracing (empty when tracing is off). A worker built
    on the client inherits them."""
    if not _enabled:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


@contextlib.contextmanager
def span(name: str, **attributes: str) -> Iterator[None]:
    """A span around a starter operation (a no-op when tracing is off)."""
    if not _enabled:
        yield
        return
    with tracer.start_as_current_span(name, attributes=attributes):
        yield
