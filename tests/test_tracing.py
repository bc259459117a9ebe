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
    other_traces = {
        s.context.trace_id
        for s in finished
        if any(str(v).startswith(simulator.base_url) for v in (s.attributes or {}).values())
    } - {trace_id}
    assert not other_traces, "every TikTok request belongs to the post's trace"


def test_tracing_is_off_without_an_endpoint() -> None:
    assert tracing.configure(None, "x") is False
    assert tracing.client_interceptors() == []
