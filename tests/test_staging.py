"""Media custody: staged at submit time, checked from the bytes, published from the bucket."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.api import PostPublisher
from starter.local_s3 import LocalBucket
from starter.media_host import MediaHost, sample_video
from starter.operations import Operations
from tests.workflow_support import (
    FAST,
    end_account_entities,
    failure_of,
    inject,
    photo_request,
    recorded,
    running_worker,
    start,
    state_of,
    target_of,
    video_request,
    wait_for,
)
from workflows.contracts import Phase

CLI = str(Path(sys.executable).parent / "tiktok-publisher")


def new_id() -> str:
    return f"stg-{uuid.uuid4().hex[:10]}"


def staged_keys(bucket: LocalBucket, post_id: str) -> list[str]:
    listing = bucket.client().list_objects_v2(Bucket=bucket.bucket, Prefix=f"staged/{post_id}/")
    return [obj["Key"] for obj in listing.get("Contents", [])]


async def test_source_that_disappears_after_staging_still_publishes(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
    local_bucket: LocalBucket,
) -> None:
    env = time_skipping_env
    path = f"gone/{new_id()}.mp4"
    url = media_host.add(path, sample_video(), "video/mp4")
    due = await env.get_current_time() + timedelta(days=7)
    target = target_of(video_request(new_id(), url, scheduled_for=due))
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        state = await wait_for(handle, lambda s: bool(s.staged_media))
        assert state.phase is Phase.SCHEDULED and staged_keys(local_bucket, target.post_id)
        media_host.remove(path)  # the signed URL expired, the CDN file was deleted...
        result = await handle.result()
    assert result.phase is Phase.PUBLISHED
    assert media_host.downloads(path) == 1
    [chunk] = recorded(simulator, "upload")
    assert chunk["response_status"] == 201
    assert staged_keys(local_bucket, target.post_id) == [], "deleted after success"


async def test_web_page_instead_of_a_file_is_rejected_with_advice(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
    local_bucket: LocalBucket,
) -> None:
    page = b"\n<!DOCTYPE html><html><head><title>Google Drive</title></head></html>"
    url = media_host.add(f"share/{new_id()}", page, "text/html")
    target = target_of(video_request(new_id(), url))
    handle = await start(dev_env.client, task_queue, target)
    error = await failure_of(handle)
    assert error.type == "TT_SOURCE_IS_WEBPAGE"
    assert "direct" in error.message and "web page" in error.message
    assert staged_keys(local_bucket, target.post_id) == [], "nothing stored"
    assert recorded(simulator, "creator_info") == []


async def test_size_mismatch(
    dev_env: WorkflowEnvironment, task_queue: str, worker: None, media_host: MediaHost
) -> None:
    url = media_host.add(f"size/{new_id()}.mp4", sample_video(), "video/mp4")
    request = video_request(new_id(), url)
    request["media"][0]["sizeBytes"] = 999_999
    handle = await start(dev_env.client, task_queue, target_of(request))
    error = await failure_of(handle)
    assert error.type == "TT_SIZE_MISMATCH"
    assert "999" in error.message


async def test_too_long_video_is_measured_not_trusted(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
    local_bucket: LocalBucket,
) -> None:
    url = media_host.add(f"long/{new_id()}.mp4", sample_video(duration_seconds=700), "video/mp4")
    request = video_request(new_id(), url)  # declares 15 s
    handle = await start(dev_env.client, task_queue, target_of(request))
    error = await failure_of(handle)
    assert error.type == "TT_DURATION_OUT_OF_RANGE"
    assert "media[0].duration_seconds" in error.message and "700" in error.message
    assert recorded(simulator, "video_init") == []
    assert staged_keys(local_bucket, request["postId"]) == [], "what fails a check is deleted"


async def test_png_photo_and_mislabelled_media(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
    local_bucket: LocalBucket,
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
    url = media_host.add(f"png/{new_id()}.jpg", png, "image/jpeg")  # lies about its type
    error = await failure_of(
        await start(dev_env.client, task_queue, target_of(photo_request(new_id(), [url])))
    )
    assert error.type == "TT_UNSUPPORTED_FORMAT"

    video = media_host.add(f"mislabel/{new_id()}.jpg", sample_video(), "image/jpeg")
    mislabelled = target_of(photo_request(new_id(), [video]))
    error = await failure_of(await start(dev_env.client, task_queue, mislabelled))
    assert error.type == "TT_MEDIA_TYPE_MISMATCH"
    assert staged_keys(local_bucket, mislabelled.post_id) == [], "deleted at once"


async def test_progress_and_staged_facts_are_in_the_state(
    dev_env: WorkflowEnvironment, task_queue: str, worker: None, media_host: MediaHost
) -> None:
    url = media_host.add(f"facts/{new_id()}.mp4", sample_video(width=720, height=1280), "video/mp4")
    handle = await start(dev_env.client, task_queue, target_of(video_request(new_id(), url)))
    await handle.result()
    state = await state_of(handle)
    [item] = state.staged_media
    assert (item.mime_type, item.width, item.height) == ("video/mp4", 720, 1280)
    assert item.source_url_host == "127.0.0.1"
    assert any("media staged: 1 file(s)" in line for line in state.history)
    assert any("uploaded 262 kB in 1 chunk(s)" in line for line in state.history), state.history
    assert state.progress is None


async def test_retry_reuses_staged_media(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
    local_bucket: LocalBucket,
) -> None:
    path = f"retry/{new_id()}.mp4"
    url = media_host.add(path, sample_video(), "video/mp4")
    inject(simulator, "video_init", fail_reason="frame_rate_check_failed")
    target = target_of(video_request(new_id(), url))
    handle = await start(dev_env.client, task_queue, target)
    await failure_of(handle)
    assert staged_keys(local_bucket, target.post_id), "a failed post keeps its media"
    api = PostPublisher(dev_env.client, task_queue=task_queue, settings=FAST)
    outcome = await Operations(api).retry(target.workflow_id)
    assert outcome.action == "retried"
    await dev_env.client.get_workflow_handle(target.workflow_id).result()
    state = await state_of(dev_env.client.get_workflow_handle(target.workflow_id))
    assert state.phase is Phase.PUBLISHED
    assert media_host.downloads(path) == 1, "the retry did not download the source again"
    assert state.staged_media[0].reused
    assert any("(already staged)" in line for line in state.history)


async def test_worker_killed_mid_upload_publishes_once(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    size = 15_000_000  # three 5 MB chunks
    url = media_host.add(f"kill/{new_id()}.mp4", sample_video(size), "video/mp4")
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TIKTOK_TASK_QUEUE": task_queue,
        "TIKTOK_API_BASE_URL": simulator.base_url,
        "TIKTOK_TOKEN_FILE": str(token_file),
        "TIKTOK_CLIENT_KEY": "sim-client-key",
        "TIKTOK_CLIENT_SECRET": "sim-client-secret",
        "TIKTOK_CHUNK_SIZE": "5000000",
    }
    # The second chunk hangs, so the first worker dies with one chunk acknowledged.
    inject(simulator, "upload", action="hang", hang_seconds=60, after=1)

    workers: list[asyncio.subprocess.Process] = []

    async def spawn() -> None:
        workers.append(
            await asyncio.create_subprocess_exec(
                CLI,
                "worker",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        )

    try:
        await spawn()
        settings = FAST.model_copy(update={"transfer_heartbeat_seconds": 3})
        target = target_of(video_request(new_id(), url))
        handle = await start(dev_env.client, task_queue, target, settings)
        for _ in range(600):  # wait until TikTok (the simulator) holds the first chunk
            received = [p.get("uploaded_bytes", 0) for p in simulator.publishes()]
            if received and received[0] >= 5_000_000:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"TikTok never held the first chunk (received {received})")
        await asyncio.sleep(1)  # the second chunk is now hanging in the simulator
        workers[0].send_signal(signal.SIGKILL)
        await workers[0].wait()
        await spawn()
        result = await asyncio.wait_for(handle.result(), timeout=120)
        state = await state_of(handle)  # queries need a worker: ask before stopping it
    finally:
        for process in workers:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await process.wait()
        await end_account_entities(dev_env.client, task_queue, token_file)
    assert result.phase is Phase.PUBLISHED
    assert len(recorded(simulator, "video_init")) == 1
    accepted = [u["content_range"] for u in recorded(simulator, "upload")
                if u["response_status"] in (201, 206)]  # fmt: skip
    assert len(accepted) == 3 and len(set(accepted)) == 3, "no chunk was taken twice"
    assert state.init_attempts == 1
    assert any("uploaded 15.0 MB in 3 chunk(s)" in line for line in state.history)
    publishes = json.dumps(simulator.publishes())
    assert publishes.count(result.publish_id or "-") == 1
