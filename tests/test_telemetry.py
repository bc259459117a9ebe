"""What an operator scrapes: the engine's series after real posts, and the probes."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.tiktok_client import TikTokApiError
from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from telemetry.http import (
    OpsProbes,
    free_loopback_port,
    prometheus_runtime,
    serve,
    temporal_reachable,
)
from telemetry.instrument import MeteredTikTokClient, MetricsInterceptor
from telemetry.metrics import (
    REGISTRY,
    record_webhook_delivery,
    record_webhook_received,
    record_webhook_routed,
)
from telemetry.waits import WaitClock
from tests.workflow_support import (
    HISTORY_DIR,
    failure_of,
    inject,
    publisher,
    start,
    target_of,
    video_request,
)
from workflows.account import TikTokAccount
from workflows.account_contracts import SlotAnswer, WaitReason, account_workflow_id
from workflows.pacing import AccountInput
from workflows.publish_post import PublishPost


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def post_id() -> str:
    return f"metrics-{uuid.uuid4().hex[:10]}"


@pytest.mark.short_rate_limit_pause
async def test_a_published_post_shows_in_the_engine_series(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
) -> None:
    url = media_host.add("metrics/video.mp4", sample_video(), "video/mp4")
    size = len(sample_video())
    series: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {
        ("tiktok_posts_finished_total", (("outcome", "PUBLISHED"), ("code", ""))): 1,
        ("tiktok_api_requests_total", (("endpoint", "video_init"), ("status", "429"))): 1,
        ("tiktok_api_requests_total", (("endpoint", "video_init"), ("status", "200"))): 1,
        ("tiktok_api_rate_limited_total", (("endpoint", "video_init"),)): 1,
        ("tiktok_staged_bytes_total", ()): size,
        ("tiktok_staging_seconds_count", (("result", "ok"),)): 1,
        ("tiktok_uploaded_bytes_total", ()): size,
        ("tiktok_posts_submitted_total", (("created", "true"),)): 1,
        ("tiktok_posts_submitted_total", (("created", "false"),)): 1,
    }
    before = {key: sample(key[0], **dict(key[1])) for key in series}
    polls = sample("tiktok_api_request_seconds_count", endpoint="status_fetch")
    inject(
        simulator, "video_init", action="respond", http_status=429, error_code="rate_limit_exceeded"
    )
    api = publisher(dev_env.client, task_queue)
    request = video_request(post_id(), url)
    [submitted] = await api.submit(request)
    await api.submit(request)  # attaches to the running post: counted as not created
    result = await dev_env.client.get_workflow_handle(submitted.workflow_id).result()
    assert result["phase"] == "PUBLISHED"
    grown = {key: sample(key[0], **dict(key[1])) - before[key] for key in series}
    assert grown == series
    assert sample("tiktok_api_request_seconds_count", endpoint="status_fetch") > polls


async def test_a_failed_post_is_counted_with_its_code(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
) -> None:
    url = media_host.add("metrics/fail.mp4", sample_video(), "video/mp4")
    code = "invalid_params"  # non-retryable: the post fails at once with TikTok's code
    before = sample("tiktok_posts_finished_total", outcome="FAILED", code=code)
    inject(simulator, "video_init", action="respond", http_status=400, error_code=code)
    handle = await start(dev_env.client, task_queue, target_of(video_request(post_id(), url)))
    error = await failure_of(handle)
    assert error.type == code
    assert sample("tiktok_posts_finished_total", outcome="FAILED", code=code) == before + 1


async def test_a_wait_for_the_account_is_timed_under_its_reason(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
) -> None:
    url = media_host.add("metrics/paused.mp4", sample_video(), "video/mp4")
    request = video_request(post_id(), url)
    account = request["platforms"][0]["accountId"]
    entity = await dev_env.client.start_workflow(
        TikTokAccount.run,
        AccountInput(account_id=account),
        id=account_workflow_id(account),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    await entity.signal(TikTokAccount.pause, "metrics test")
    timed = sample("tiktok_pacing_wait_seconds_count", reason="paused")
    waited = sample("tiktok_pacing_wait_seconds_sum", reason="paused")
    started = sample("tiktok_pacing_waits_started_total", reason="paused")
    api = publisher(dev_env.client, task_queue)
    [submitted] = await api.submit(request)
    for _ in range(300):
        state = await api.state(submitted.post_id, submitted.account_id)
        if state.waiting_for == "paused":
            break
        await asyncio.sleep(0.1)
    assert state.waiting_for == "paused"
    assert sample("tiktok_pacing_waits_started_total", reason="paused") == started + 1
    assert sample("tiktok_pacing_wait_seconds_count", reason="paused") == timed  # still waiting
    await asyncio.sleep(1.5)
    await entity.signal(TikTokAccount.resume)
    result = await dev_env.client.get_workflow_handle(submitted.workflow_id).result()
    assert result["phase"] == "PUBLISHED"
    assert sample("tiktok_pacing_wait_seconds_count", reason="paused") == timed + 1
    assert sample("tiktok_pacing_wait_seconds_sum", reason="paused") - waited >= 1.0


def test_wait_segments_follow_the_reason_and_replay_records_nothing() -> None:
    recorded: list[tuple[str, float]] = []
    started: list[str] = []
    t0 = datetime(2026, 12, 1, tzinfo=UTC)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    def wait(reason: WaitReason) -> SlotAnswer:
        return SlotAnswer(request_id="r1", waiting_for=reason)

    clock = WaitClock(record=lambda r, s: recorded.append((r, s)), started=started.append)
    clock.answer(wait(WaitReason.PACING), at(0), live=True)
    clock.answer(wait(WaitReason.PACING), at(5), live=True)  # same wait, told again
    clock.answer(wait(WaitReason.DAILY_POST_CAP), at(20), live=True)
    clock.answer(SlotAnswer(request_id="r1", granted=True), at(80), live=True)
    assert recorded == [("pacing", 20.0), ("daily_post_cap", 60.0)]
    assert started == ["pacing", "daily_post_cap"]
    assert clock.waiting_for is None

    replayed = WaitClock(record=lambda r, s: recorded.append((r, s)), started=started.append)
    replayed.answer(wait(WaitReason.PACING), at(0), live=False)
    replayed.answer(SlotAnswer(request_id="r1", granted=True), at(9), live=False)
    assert len(recorded) == 2 and len(started) == 2  # replay rebuilds, never records

    # A wait begun in replayed history and ended in new history counts from its start.
    resumed = WaitClock(record=lambda r, s: recorded.append((r, s)), started=started.append)
    resumed.answer(wait(WaitReason.NEEDS_RECONNECT), at(0), live=False)
    resumed.answer(SlotAnswer(request_id="r1", refused_code="BANNED"), at(30), live=True)
    assert recorded[-1] == ("needs_reconnect", 30.0)


def test_webhook_series_take_bounded_labels() -> None:
    before = sample("tiktok_webhook_events_received_total", event="unknown", result="rejected")
    record_webhook_received(None, "rejected")
    record_webhook_received("<script>" * 20, "accepted")
    record_webhook_routed("post.publish.complete", "routed", 0.2)
    record_webhook_delivery("post.published", "delivered", 0.05)
    assert sample("tiktok_webhook_events_received_total", event="unknown", result="rejected") == (
        before + 1
    )
    assert sample("tiktok_webhook_events_received_total", event="other", result="accepted") >= 1
    assert (
        sample("tiktok_webhook_events_routed_total", event="post.publish.complete", result="routed")
        >= 1
    )
    assert (
        sample("tiktok_webhook_deliveries_total", event="post.published", result="delivered") >= 1
    )
    with pytest.raises(ValueError, match="one of"):
        record_webhook_delivery("post.published", "ok", 0.1)


async def test_replaying_a_finished_post_does_not_count_it_again() -> None:
    history_file = HISTORY_DIR / "direct_video_published.json"
    history = WorkflowHistory.from_json("replay", json.loads(history_file.read_text()))
    before = sample("tiktok_posts_finished_total", outcome="PUBLISHED", code="")
    replayer = Replayer(
        workflows=[PublishPost],
        data_converter=pydantic_data_converter,
        interceptors=[MetricsInterceptor()],
    )
    await replayer.replay_workflow(history)
    assert sample("tiktok_posts_finished_total", outcome="PUBLISHED", code="") == before


async def test_token_refreshes_are_counted_by_result(simulator: Simulator) -> None:
    ok = sample("tiktok_token_refreshes_total", result="ok")
    async with MeteredTikTokClient(simulator.base_url) as client:
        await client.refresh_access_token(
            client_key="sim-client-key", client_secret="sim-client-secret", refresh_token="rft.demo"
        )
        with pytest.raises(TikTokApiError) as err:
            await client.refresh_access_token(
                client_key="sim-client-key", client_secret="sim-client-secret", refresh_token="nope"
            )
    assert sample("tiktok_token_refreshes_total", result="ok") == ok + 1
    assert sample("tiktok_token_refreshes_total", result=err.value.code) >= 1


async def _get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"http://127.0.0.1:{port}{path}")


async def test_probes_report_alive_ready_and_both_kinds_of_metrics(
    dev_env: WorkflowEnvironment,
) -> None:
    runtime, sdk_url = prometheus_runtime()
    client = await Client.connect(dev_env.client.service_client.config.target_host, runtime=runtime)
    polling = True

    async def is_polling() -> bool:
        return polling

    probes = OpsProbes(
        {"temporal": temporal_reachable(client), "polling": is_polling}, sdk_metrics_url=sdk_url
    )
    port = free_loopback_port()
    server = await serve(probes, f"127.0.0.1:{port}")
    try:
        assert (await _get(port, "/healthz")).status_code == 200
        ready = await _get(port, "/readyz")
        assert ready.status_code == 200 and ready.json() == {
            "ready": True,
            "checks": {"temporal": True, "polling": True},
        }
        polling = False
        not_ready = await _get(port, "/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["checks"]["polling"] is False
        await client.count_workflows()  # some SDK traffic for its own series
        await asyncio.sleep(0.2)
        text = (await _get(port, "/metrics")).text
        assert "# TYPE tiktok_posts_finished_total counter" in text
        assert "temporal_request" in text, "the SDK's series are served on the same endpoint"
        assert (await _get(port, "/nope")).status_code == 404
    finally:
        server.close()
        await server.wait_closed()


async def test_a_namespace_temporal_does_not_open_is_not_ready(
    dev_env: WorkflowEnvironment,
) -> None:
    """The check asks for the client's own namespace (what a namespace-scoped Cloud API key
    may ask), so a server that is up but has no such namespace is not ready."""
    target = dev_env.client.service_client.config.target_host
    elsewhere = await Client.connect(target, namespace="no-such-namespace")
    status, _, body = await OpsProbes({"temporal": temporal_reachable(elsewhere)}).readyz()
    assert status == 503 and json.loads(body)["checks"] == {"temporal": False}
    here = await OpsProbes({"temporal": temporal_reachable(dev_env.client)}).readyz()
    assert here[0] == 200


async def test_an_unreachable_temporal_is_not_ready() -> None:
    async def down() -> bool:
        raise RuntimeError("connection refused")

    status, _, body = await OpsProbes({"temporal": down}).readyz()
    assert status == 503 and json.loads(body)["checks"] == {"temporal": False}


async def test_the_asgi_app_serves_the_same_paths() -> None:
    app = OpsProbes().asgi()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": "/readyz", "method": "GET"}, None, send)
    assert sent[0]["status"] == 200 and b'"ready": true' in sent[1]["body"]


def test_the_fastapi_router_mounts_the_probes() -> None:
    pytest.importorskip("fastapi")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()
    app.include_router(OpsProbes().router())
    with TestClient(app) as http:
        assert http.get("/healthz").text == "ok\n"
        assert "tiktok_api_requests" in http.get("/metrics").text


def test_free_heap_goes_back_to_the_os_on_glibc() -> None:
    from telemetry.memory import release_free_memory

    assert release_free_memory() is True  # this machine's libc has malloc_trim
