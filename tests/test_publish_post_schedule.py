"""Scheduling, drafts and cancellation on the time-skipping server (a week passes in seconds).

Activities are the real ones, talking to the real simulator over HTTP.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.api import ActionRejected, PostPublisher
from starter.media_host import MediaHost, sample_video
from tests.workflow_support import (
    recorded,
    running_worker,
    save_history,
    start,
    state_of,
    target_of,
    video_request,
    wait_for,
)
from workflows.account_contracts import ACCOUNT_WORKFLOW_TYPE, account_workflow_id
from workflows.contracts import Phase
from workflows.pacing import AccountInput


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("schedule/video.mp4", sample_video(), "video/mp4")


def post_id() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


async def test_week_ahead_post_publishes_once_with_the_right_body(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    due = await env.get_current_time() + timedelta(days=7)
    target = target_of(
        video_request(post_id(), video_url, scheduled_for=due, allowComments=True, isAigc=True)
    )
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        assert (await state_of(handle)).phase is Phase.SCHEDULED
        assert recorded(simulator, "video_init") == []
        result = await handle.result()
        state = await state_of(handle)
        await save_history(handle, "scheduled_week_ahead")

    assert result.phase is Phase.PUBLISHED
    assert state.publishing_started_at is not None and state.publishing_started_at >= due
    inits = recorded(simulator, "video_init")
    assert len(inits) == 1
    assert inits[0]["body"] == {
        "post_info": {
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "title": f"caption of {target.post_id}",
            "disable_comment": False,
            "disable_duet": True,
            "disable_stitch": True,
            "brand_content_toggle": False,
            "brand_organic_toggle": False,
            "is_aigc": True,
        },
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": 256 * 1024,
            "chunk_size": 256 * 1024,
            "total_chunk_count": 1,
        },
    }
    assert state.init_attempts == 1 and state.publish_id == result.publish_id
    [chunk] = recorded(simulator, "upload")
    assert chunk["content_range"] == f"bytes 0-{256 * 1024 - 1}/{256 * 1024}"


@pytest.mark.parametrize("shift_days", [-6, 3], ids=["earlier", "later"])
async def test_reschedule_moves_the_publish_time(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
    shift_days: int,
) -> None:
    env = time_skipping_env
    now = await env.get_current_time()
    first = now + timedelta(days=7)
    moved = first + timedelta(days=shift_days)
    target = target_of(video_request(post_id(), video_url, scheduled_for=first))
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        updated = await handle.execute_update("reschedule", moved)
        assert updated["scheduled_for"] is not None
        await handle.result()
        state = await state_of(handle)
        await save_history(handle, f"rescheduled_{'earlier' if shift_days < 0 else 'later'}")
    assert state.phase is Phase.PUBLISHED
    assert state.publishing_started_at is not None
    started = state.publishing_started_at
    # It started at the new time, not the old one.
    assert moved <= started < moved + timedelta(hours=1)
    assert len(recorded(simulator, "video_init")) == 1


async def test_cancel_while_waiting_sends_nothing(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    due = await env.get_current_time() + timedelta(days=2)
    target = target_of(video_request(post_id(), video_url, scheduled_for=due))
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        await handle.execute_update("cancel", "campaign pulled")
        result = await handle.result()
        state = await state_of(handle)
        await save_history(handle, "cancelled_while_scheduled")
    assert result.phase is Phase.CANCELLED
    assert any("cancelled: campaign pulled" in line for line in state.history)
    assert "staged media deleted" in state.history[-1], "nothing is kept for a cancelled post"
    assert recorded(simulator, "creator_info") == [] and recorded(simulator, "video_init") == []


async def test_system_draft_waits_for_publish_now(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    target = target_of(video_request(post_id(), video_url, system_draft=True))
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        await wait_for(handle, lambda s: bool(s.staged_media))  # custody first, even drafts
        await env.sleep(timedelta(days=30))
        state = await state_of(handle)
        assert state.phase is Phase.DRAFT
        assert recorded(simulator, "creator_info") == []
        await handle.execute_update("publish_now")
        result = await handle.result()
        await save_history(handle, "draft_published_now")
    assert result.phase is Phase.PUBLISHED
    assert len(recorded(simulator, "video_init")) == 1


async def test_draft_can_be_scheduled(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    target = target_of(video_request(post_id(), video_url, system_draft=True))
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        at = await env.get_current_time() + timedelta(days=1)
        await handle.execute_update("schedule", at)
        assert (await state_of(handle)).phase is Phase.SCHEDULED
        await handle.result()
        state = await state_of(handle)
    assert state.phase is Phase.PUBLISHED
    assert state.publishing_started_at is not None and state.publishing_started_at >= at


async def test_actions_on_a_finished_post_are_refused_with_a_reason(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    target = target_of(video_request(post_id(), video_url, system_draft=True))
    api = PostPublisher(env.client, task_queue=task_queue)
    async with running_worker(env.client, simulator, token_file, task_queue):
        await api.start_target(target)
        await api.cancel(target.post_id, target.account_id, "not needed")
        handle = env.client.get_workflow_handle(target.workflow_id)
        await handle.result()
        with pytest.raises(ActionRejected) as err:
            await api.publish_now(target.post_id, target.account_id)
    assert err.value.code == "POST_CLOSED"
    assert "already ended (CANCELLED, run COMPLETED)" in str(err.value), err.value


async def test_schedule_is_refused_for_a_post_that_is_not_a_draft(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    due = await env.get_current_time() + timedelta(days=1)
    target = target_of(video_request(post_id(), video_url, scheduled_for=due))
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await handle.execute_update("schedule", due)
        await handle.execute_update("cancel")
        # Let the run finish (it deletes its staged media) while its worker is up: a run left
        # with a pending activity would stop the shared server from skipping time.
        await handle.result()
    assert isinstance(err.value.cause, ApplicationError)
    assert err.value.cause.type == "INVALID_PHASE"
    assert "already SCHEDULED" in err.value.cause.message


async def test_an_account_entity_left_on_a_dead_queue_does_not_stall_the_next_test(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    # The harness's own guard (tests/workflow_support.running_worker): an earlier test whose
    # cleanup failed leaves acct_demo's entity on a queue nobody polls; the next test's posts
    # would wait on it for answers that never come. running_worker ends it first.
    env = time_skipping_env
    left = await env.client.start_workflow(
        ACCOUNT_WORKFLOW_TYPE,
        AccountInput(account_id="acct_demo"),
        id=account_workflow_id("acct_demo"),
        task_queue=f"tq-dead-{uuid.uuid4()}",
    )
    target = target_of(video_request(post_id(), video_url))
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.phase is Phase.PUBLISHED
    assert (await left.describe()).status is WorkflowExecutionStatus.TERMINATED
