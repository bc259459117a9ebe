"""The HTTP API as an operator probes it: /healthz, /readyz (Temporal and the account store),
/metrics, and one trace from the API call through the workflow to each TikTok request."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import create_engine
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from tests.api_support import live_api
from tests.tracing_support import recording
from tests.workflow_support import video_request
from worker.config import connect


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    yield from recording()


async def test_the_api_answers_probes_and_names_what_is_not_ready(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> None:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue, worker=False) as live:
        async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200  # no API key needed
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"ready": True, "checks": {"temporal": True, "accounts": True}}
            metrics = (await http.get("/metrics")).text
            assert "tiktok_publisher_build_info{build_id=" in metrics and 'role="api"' in metrics
            assert "/readyz" not in (await http.get("/openapi.json")).text
            # The account store becomes unreachable: the API is not ready, and says why.
            unreachable = create_engine("sqlite:////nonexistent/dir/accounts.db")
            live.service.database = dataclasses.replace(live.database, engine=unreachable)
            down = await http.get("/readyz")
            assert down.status_code == 503
            assert down.json()["checks"] == {"temporal": True, "accounts": False}
            live.service.database = live.database


async def test_one_trace_from_the_api_call_to_each_tiktok_request(
    spans: InMemorySpanExporter,
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    tmp_path: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    client = await connect({"TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host})
    url = media_host.add("trace/api-video.mp4", sample_video(), "video/mp4")
    async with live_api(client, simulator, tmp_path, task_queue) as live, live.http() as http:
        created = await http.post("/v1/posts", json=video_request("trace-api-post", url))
        assert created.status_code in (200, 201, 202), created.text
        [target] = created.json()["targets"]
        await client.get_workflow_handle(target["workflowId"]).result()
    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.kind is SpanKind.SERVER and s.name == "POST /v1/posts"]
    in_trace = [s for s in finished if s.context.trace_id == request.context.trace_id]
    names = {s.name for s in in_trace}
    assert {"submit", "StartWorkflow:PublishPost", "RunActivity:init_publish"} <= names, names
    assert request.attributes and request.attributes["http.route"] == "/v1/posts"
    tiktok = [
        s
        for s in in_trace
        if any(str(v).startswith(simulator.base_url) for v in (s.attributes or {}).values())
    ]
    assert tiktok, "the TikTok requests belong to the API call's trace"
    assert all("trace-api-post" not in s.name for s in finished if s.kind is SpanKind.SERVER)


async def test_the_oauth_callbacks_span_keeps_parameter_names_only(
    spans: InMemorySpanExporter,
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    tmp_path: Path,
    task_queue: str,
) -> None:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue, worker=False) as live:
        async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as http:
            answer = await http.get(
                "/v1/oauth/tiktok/callback", params={"code": "SECRETCODE", "state": "SECRETSTATE"}
            )
    assert answer.status_code == 400  # an unknown state: refused, and still traced
    [server] = [
        s
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.SERVER and "/v1/oauth/" in str((s.attributes or {}).get("url.path"))
    ]
    assert (server.attributes or {}).get("url.query") == "code=…&state=…"
    recorded = [str(v) for s in spans.get_finished_spans() for v in (s.attributes or {}).values()]
    assert not [v for v in recorded if "SECRET" in v], recorded
