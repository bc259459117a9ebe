"""Reading a post while no worker answers: a finished post is read from Temporal's record of
its run (no worker needed), an open one is POST_NOT_READY in seconds, never a hang."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.api import STATE_QUERY_TIMEOUT, ActionRejected
from starter.media_host import MediaHost, sample_video
from tests.workflow_support import (
    failure_of,
    inject,
    publisher,
    running_worker,
    start,
    target_of,
    video_request,
    wait_for,
)
from workflows.contracts import Phase


async def test_finished_posts_are_read_without_a_worker(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    media_host: MediaHost,
    token_file: Path,
    task_queue: str,
) -> None:
    url = media_host.add("closed/video.mp4", sample_video(), "video/mp4")
    published = target_of(video_request(f"closed-{uuid.uuid4().hex[:8]}", url))
    refused = target_of(video_request(f"closed-{uuid.uuid4().hex[:8]}", url))
    async with running_worker(dev_env.client, simulator, token_file, task_queue):
        ok = await start(dev_env.client, task_queue, published)
        await ok.result()
        inject(simulator, "video_init", fail_reason="frame_rate_check_failed")
        failure = await failure_of(await start(dev_env.client, task_queue, refused))
    # Every worker of this task queue is gone now.
    api = publisher(dev_env.client, task_queue)
    began = time.monotonic()
    state = await api.state(published.post_id, published.account_id)
    assert time.monotonic() - began < STATE_QUERY_TIMEOUT.total_seconds() + 10
    assert state.phase is Phase.PUBLISHED
    assert state.public_post_ids and state.publish_id
    assert "no worker answered" in state.summary
    failed = await api.state(refused.post_id, refused.account_id)
    assert failed.phase is Phase.FAILED
    assert failed.error is not None and failed.error.code == failure.type


async def test_a_sleeping_post_whose_worker_left_is_not_ready_quickly(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    media_host: MediaHost,
    token_file: Path,
    task_queue: str,
) -> None:
    url = media_host.add("closed/open.mp4", sample_video(), "video/mp4")
    later = datetime.now(UTC) + timedelta(days=1)
    target = target_of(video_request(f"open-{uuid.uuid4().hex[:8]}", url, scheduled_for=later))
    async with running_worker(dev_env.client, simulator, token_file, task_queue):
        handle = await start(dev_env.client, task_queue, target)
        await wait_for(handle, lambda s: s.phase is Phase.SCHEDULED and bool(s.staged_media))
    api = publisher(dev_env.client, task_queue)
    began = time.monotonic()
    with pytest.raises(ActionRejected) as caught:
        await api.state(target.post_id, target.account_id)
    assert caught.value.code == "POST_NOT_READY"
    assert time.monotonic() - began < STATE_QUERY_TIMEOUT.total_seconds() + 10
    # An action is not ready either, after its own timeout, rather than waiting for a worker.
    api.action_timeout = timedelta(seconds=25)
    began = time.monotonic()
    with pytest.raises(ActionRejected) as caught:
        await api.cancel(target.post_id, target.account_id, "nobody home")
    assert caught.value.code == "POST_NOT_READY"
    assert "did not take the cancel within 25 s" in str(caught.value)
    assert time.monotonic() - began < 25 + 10
    # When a worker comes back, the state says whether Temporal kept the cancel for the post
    # (the dev server does; one restarted meanwhile would not), as the message says.
    async with running_worker(dev_env.client, simulator, token_file, task_queue):
        state = await api.state(target.post_id, target.account_id)
        if state.phase is not Phase.CANCELLED:
            state = await api.cancel(target.post_id, target.account_id, "again")
        assert state.phase is Phase.CANCELLED
