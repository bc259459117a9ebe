"""An init armed just before its due time (`PublishSettings.arm_seconds`).

A post that got ready hands its init to the worker a few seconds before the due time; the
activity sends it at the due instant, so posts due together do not queue behind a durable
timer and a workflow task each. From then on the post is PUBLISHING: it cannot be cancelled.
A worker stopped while an init waits sends nothing, and the post starts its init again.
A dev server of its own per test (no account entity left on another test's task queue) and
wall-clock time (the never-early check needs real time).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.api import PostPublisher
from starter.media_host import MediaHost, sample_jpeg
from tests.workflow_support import (
    FAST,
    photo_request,
    recorded,
    running_worker,
    save_history,
    state_of,
    wait_for,
)
from workflows.contracts import Phase, PublishResult, PublishSettings


def due_in(seconds: int) -> datetime:
    """A due time in whole seconds (a request's time has second precision)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now + timedelta(seconds=seconds)


async def submit_photo(
    env: WorkflowEnvironment,
    task_queue: str,
    media_host: MediaHost,
    due: datetime,
    settings: PublishSettings,
) -> WorkflowHandle[Any, PublishResult]:
    pid = f"arm-{uuid.uuid4().hex[:8]}"
    url = media_host.add(f"arm/{pid}.jpg", sample_jpeg(), "image/jpeg")
    request = photo_request(pid, [url])
    request["scheduledAt"] = due.isoformat()
    publisher = PostPublisher(env.client, task_queue=task_queue, settings=settings)
    [submitted] = await publisher.submit(request)
    return env.client.get_workflow_handle(
        submitted.workflow_id, run_id=submitted.run_id, result_type=PublishResult
    )


def init_inputs(history: WorkflowHistory) -> list[tuple[datetime, dict[str, Any]]]:
    """When the workflow decided each init (the start of the workflow task that scheduled it:
    the workflow's own clock, not the moment a busy worker got round to completing the task),
    and its input."""
    found = []
    decided = None
    for event in history.events:
        if event.HasField("workflow_task_started_event_attributes"):
            decided = event.event_time.ToDatetime(tzinfo=UTC)
        if not event.HasField("activity_task_scheduled_event_attributes"):
            continue
        attributes = event.activity_task_scheduled_event_attributes
        if attributes.activity_type.name == "init_publish":
            assert decided is not None
            found.append((decided, json.loads(attributes.input.payloads[0].data)))
    return found


def failures(history: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_failed_event_attributes.failure.application_failure_info.type
        for e in history.events
        if e.HasField("activity_task_failed_event_attributes")
    ]


async def test_an_armed_init_reaches_tiktok_at_its_due_time_never_before(
    own_dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    settings = FAST.model_copy(update={"prepare_seconds": 8, "arm_seconds": 3})
    async with running_worker(own_dev_env.client, simulator, token_file, task_queue):
        due = due_in(14)  # from when the worker is up: its start takes a while
        handle = await submit_photo(own_dev_env, task_queue, media_host, due, settings)
        result = await handle.result()
        state = await state_of(handle)
        history = await handle.fetch_history()
        await save_history(handle, "armed_init_sent_at_due")

    assert result.phase is Phase.PUBLISHED
    [(decided, sent)] = init_inputs(history)
    # Handed to the worker before the due time, to be sent at it ...
    assert decided < due
    assert datetime.fromisoformat(sent["send_at"]) == due
    assert 0 < sent["wait_seconds"] <= 3
    # ... and TikTok saw it at the due time, not a moment before.
    [init] = recorded(simulator, "content_init")
    assert init["time"] >= due.timestamp(), (init["time"], due.timestamp())
    assert state.publishing_started_at == due
    assert any(f"init is sent at {due:%Y-%m-%d %H:%M:%S}" in line for line in state.history)


async def test_an_armed_post_can_no_longer_be_cancelled(
    own_dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    settings = FAST.model_copy(update={"prepare_seconds": 14, "arm_seconds": 8})
    async with running_worker(own_dev_env.client, simulator, token_file, task_queue):
        due = due_in(20)  # from when the worker is up: its start takes a while
        handle = await submit_photo(own_dev_env, task_queue, media_host, due, settings)
        armed = await wait_for(handle, lambda s: s.phase is Phase.PUBLISHING, within=30)
        assert armed.publishing_started_at == due
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("cancel", "too late")
        result = await handle.result()

    assert "can no longer be stopped" in str(refused.value.cause)
    assert result.phase is Phase.PUBLISHED
    assert len(recorded(simulator, "content_init")) == 1


async def test_a_worker_stopped_while_an_init_waits_sends_nothing_and_the_post_inits_again(
    own_dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    settings = FAST.model_copy(update={"prepare_seconds": 14, "arm_seconds": 8})
    # No time to finish in-flight activities: the waiting init is stopped at once.
    async with running_worker(
        own_dev_env.client,
        simulator,
        token_file,
        task_queue,
        worker={"graceful_shutdown_seconds": 0},
    ):
        due = due_in(20)  # from when the worker is up: its start takes a while
        handle = await submit_photo(own_dev_env, task_queue, media_host, due, settings)
        await wait_for(handle, lambda s: s.phase is Phase.PUBLISHING, within=30)
    assert recorded(simulator, "content_init") == [], "the stopped worker sent the init"
    async with running_worker(own_dev_env.client, simulator, token_file, task_queue):
        result = await handle.result()
        history = await handle.fetch_history()
        await save_history(handle, "armed_init_not_sent")

    assert result.phase is Phase.PUBLISHED
    assert failures(history) == ["INIT_NOT_SENT"]
    assert len(recorded(simulator, "content_init")) == 1
