"""One in-memory span exporter for every tracing test.

OpenTelemetry lets a process set its global tracer provider once; a second provider is
ignored (with a warning). So the tests share this one provider and clear its exporter
between tests, whichever test file runs first."""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from telemetry import tracing

EXPORTER = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))


def recording() -> Iterator[InMemorySpanExporter]:
    """The body of each test file's `spans` fixture: tracing on, the shared exporter empty."""
    EXPORTER.clear()
    tracing.enable(PROVIDER)
    try:
        yield EXPORTER
    finally:
        tracing.disable()
        EXPORTER.clear()
