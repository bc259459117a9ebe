"""With tracing on, one trace runs from the starter's submit to each request to TikTok."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from telemetry import tracing
from tests.tracing_support import recording
from tests.workflow_support import publisher, running_worker, video_request
from worker.config import connect


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    yield from recording()


async def test_one_trace_from_submit_to_each_tiktok_request(
    spans: InMemorySpanExporter,
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    # The production connect(): with tracing on it adds Temporal's TracingInterceptor.
    client = await connect({"TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host})
    url = media_host.add("trace/video.mp4", sample_video(), "video/mp4")
    async with running_worker(client, simulator, token_file, task_queue):
        [submitted] = await publisher(client, task_queue).submit(video_request("trace-post", url))
        await client.get_workflow_handle(submitted.workflow_id).result()
    finished = spans.get_finished_spans()
    [submit] = [s for s in finished if s.name == "submit"]
    trace_id = submit.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    assert {
        "StartWorkflow:PublishPost",
        "RunWorkflow:PublishPost",
        "RunActivity:stage_media",
        "RunActivity:init_publish",
        "RunActivity:fetch_publish_status",
    } <= names, names
    tiktok_calls = [
        s
        for s in in_trace
        if any(str(v).startswith(simulator.base_url) for v in (s.attributes or {}).values())
    ]
    paths = {str(v) for s in tiktok_calls for v in (s.attributes or {}).values()}
    assert any("/v2/post/publish/video/init/" in p for p in paths), paths
    assert any("/v2/post/publish/status/fetch/" in p for p in paths), paths
    # The chunk upload's span names its URL without the upload_token that authorises it.
    assert any("/upload/" in p for p in paths), paths
    assert not [p for p in paths if "upload_token" in p or "?" in p], paths
    other_traces = {
        s.context.trace_id
        for s in finished
        if any(str(v).startswith(simulator.base_url) for v in (s.attributes or {}).values())
    } - {trace_id}
    assert not other_traces, "every TikTok request belongs to the post's trace"


def test_tracing_is_off_without_an_endpoint() -> None:
    assert tracing.configure(None, "x") is False
    assert tracing.client_interceptors() == []


def test_a_span_url_loses_its_query_and_keeps_the_rest() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from activities.http_transport import redact_span_url

    signed = (
        "https://media.example.com:9000/staged/p/v.mp4?X-Amz-Credential=AKIA%2F&"
        "X-Amz-Signature=abc&X-Amz-Security-Token=tok"
    )
    with TracerProvider().get_tracer("t").start_as_current_span("PUT") as span:
        span.set_attribute("url.full", signed)
        span.set_attribute("http.method", "PUT")
        redact_span_url(span, None)
        attributes = dict(span.attributes or {})  # type: ignore[attr-defined]
    assert attributes == {
        "url.full": "https://media.example.com:9000/staged/p/v.mp4",
        "http.method": "PUT",
    }


async def test_leaving_a_publisher_block_exports_the_buffered_spans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A script's last spans sit in the batch exporter's buffer: `async with` (or `close()`)
    exports them before the process ends."""
    from types import SimpleNamespace
    from typing import Any

    from starter.api import PostPublisher

    flushed: list[str] = []
    monkeypatch.setattr(tracing, "flush", lambda: flushed.append("flush"))
    client: Any = SimpleNamespace(namespace="default")
    async with PostPublisher(client) as publisher:
        assert not flushed
    assert flushed == ["flush"]
    await publisher.close()
    assert flushed == ["flush", "flush"]
