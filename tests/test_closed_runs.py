"""Reading a post while no worker answers: a finished post is read from Temporal's record of
its run (no worker needed), an open one is POST_NOT_READY in seconds, never a hang."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

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
from workflows.contracts import Phase, PostState, PublishResult


@workflow.defn(name="PublishPost")
class PostWhoseWorkerCannotAnswer:
    """Stands in for a run its worker cannot replay: it ends (or waits) as a post does, and
    its `state` query fails the way a replay gone wrong does."""

    @workflow.run
    async def run(self, post_id: str, account_id: str, finish: bool) -> PublishResult:
        await workflow.wait_condition(lambda: finish)
        return PublishResult(
            post_id=post_id, account_id=account_id, phase=Phase.PUBLISHED, publish_id="v_pub_1"
        )

    @workflow.query
    def state(self) -> PostState:
        raise RuntimeError("[TMPRL1100] Nondeterminism error (a stand-in)")


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


async def test_a_finished_post_whose_worker_fails_the_query_is_read_from_its_record(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    """Seen once in CI: the state query of a finished post failed in the worker's replay, and
    the caller got the worker's error. A finished post's record answers instead; an open
    post says it is not ready and why, instead of a stack trace."""
    api = publisher(dev_env.client, task_queue)
    ended, waiting = f"q-{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    runner = UnsandboxedWorkflowRunner()
    async with Worker(
        dev_env.client,
        task_queue=task_queue,
        workflows=[PostWhoseWorkerCannotAnswer],
        workflow_runner=runner,
    ):
        for post_id, finish in ((ended, True), (waiting, False)):
            await dev_env.client.start_workflow(
                "PublishPost",
                args=[post_id, "acct_demo", finish],
                id=f"tiktok-post/{post_id}/acct_demo",
                task_queue=task_queue,
            )
        await api.handle(ended, "acct_demo").result()
        state = await api.state(ended, "acct_demo")
        assert state.phase is Phase.PUBLISHED and state.publish_id == "v_pub_1"
        with pytest.raises(ActionRejected) as caught:
            await api.state(waiting, "acct_demo")
        await api.handle(waiting, "acct_demo").terminate("test over")
    assert caught.value.code == "POST_NOT_READY"
    assert "could not answer" in str(caught.value) and "Nondeterminism" in str(caught.value)
