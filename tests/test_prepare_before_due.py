"""Getting ready before the due time (`PublishSettings.prepare_seconds`).

A scheduled post reads and checks the creator's settings shortly before its due time and
reserves its init (and first status check) with the account, so that at the due time only
the init is left to do. A reschedule or cancel after that gives the reservation back.
Time-skipping server, real activities, the real simulator over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.publishing import report_success
from simulator import Simulator
from starter.api import PostPublisher
from starter.local_s3 import s3_client
from starter.media_host import MediaHost, sample_jpeg, sample_video
from tests.workflow_support import (
    FAST,
    photo_request,
    recorded,
    running_worker,
    save_history,
    start,
    state_of,
    target_of,
    video_request,
    wait_for,
)
from workflows.account_contracts import (
    AccountState,
    CallKind,
    CallOutcome,
    SuccessReport,
    account_workflow_id,
)
from workflows.contracts import Phase, PostState, PublishResult
from workflows.request import PublishTarget

LEAD = 300.0
"""The longest lead: a test that acts on a ready post (reschedule, cancel) does so minutes of
real time before the post's next timer (the arm, 5 s before the due time). The time-skipping
server wedges a run, and with it the module's clock, when a workflow task cancels a timer
that fired while the task ran (temporalio/sdk-java#2606); with a 60 s lead that window was
25 s of real time, and a loaded CI machine once took that long."""
SETTINGS = FAST.model_copy(update={"prepare_seconds": LEAD})


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("prepare/video.mp4", sample_video(), "video/mp4")


def post_id() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


async def account_state(client: Client, account_id: str = "acct_demo") -> AccountState:
    handle = client.get_workflow_handle(account_workflow_id(account_id))
    state: AccountState = await handle.query("state", result_type=AccountState)
    return state


async def entity_up(client: Client, within: float = 30) -> AccountState:
    """The account entity's state once it answers: the post wakes it at acceptance, but a
    busy worker may not have run that start yet when the staging is seen done."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await account_state(client)
        except (RPCError, WorkflowQueryFailedError) as err:
            if time.monotonic() > deadline:
                raise AssertionError(f"the account entity never answered: {err}") from err
        await asyncio.sleep(0.2)


def creator_reads_for(sim: Simulator) -> int:
    return len(recorded(sim, "creator_info"))


async def start_ready(
    env: WorkflowEnvironment, task_queue: str, video_url: str
) -> tuple[WorkflowHandle[Any, Any], datetime, PostState]:
    """A post due in two hours, staged, then carried (skipping time) to when it is ready."""
    due = await env.get_current_time() + timedelta(hours=2)
    target = target_of(video_request(post_id(), video_url, scheduled_for=due))
    handle = await start(env.client, task_queue, target, SETTINGS)
    await wait_for(handle, lambda s: bool(s.staged_media))
    # Two hours ahead, the account's entity is already up (woken at acceptance), so the
    # rush before the due time does not pay for its start.
    assert (await entity_up(env.client)).account_id == "acct_demo"
    await env.sleep(timedelta(hours=2) - timedelta(seconds=LEAD / 2))
    ready = await wait_for(handle, lambda s: s.prepared_at is not None)
    return handle, due, ready


async def test_a_scheduled_post_is_ready_before_its_due_time_and_inits_at_it(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    async with running_worker(env.client, simulator, token_file, task_queue):
        before = creator_reads_for(simulator)
        handle, due, ready = await start_ready(env, task_queue, video_url)
        # Ready, still SCHEDULED (so it can still be cancelled), nothing posted yet.
        assert ready.phase is Phase.SCHEDULED
        assert ready.creator_username
        assert creator_reads_for(simulator) == before + 1
        assert recorded(simulator, "video_init") == []
        result = await handle.result()
        state = await state_of(handle)
        await save_history(handle, "prepared_before_due")

    assert result.phase is Phase.PUBLISHED
    assert state.prepared_at is not None and state.prepared_at < due
    assert state.prepared_at >= due - timedelta(seconds=LEAD)
    assert state.publishing_started_at is not None and state.publishing_started_at >= due
    assert len(recorded(simulator, "video_init")) == 1
    # Read once, ahead: the due time itself asks TikTok for nothing but the post.
    assert creator_reads_for(simulator) == before + 1


async def test_rescheduling_a_ready_post_gives_its_reservation_back(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    async with running_worker(env.client, simulator, token_file, task_queue):
        before = creator_reads_for(simulator)
        handle, due, _ = await start_ready(env, task_queue, video_url)
        # The reserved init counts against the creator's daily posts until it is given back.
        assert (await account_state(env.client)).posts_last_24h == 1

        later = due + timedelta(days=1)
        await handle.execute_update("reschedule", later)
        undone = await wait_for(handle, lambda s: s.prepared_at is None)
        assert undone.scheduled_for == later
        assert any("given back (the post's time changed)" in e for e in undone.history)
        counted = await wait_until_counted(env.client, 0)
        assert counted == 0, "the given-back reservation still counts against the daily cap"

        result = await handle.result()
        state = await state_of(handle)
        await save_history(handle, "prepared_then_rescheduled")
        entity = env.client.get_workflow_handle(account_workflow_id("acct_demo"))
        await save_history(entity, "account_reservation_given_back")

    assert result.phase is Phase.PUBLISHED
    assert state.publishing_started_at is not None and state.publishing_started_at >= later
    assert state.prepared_at is not None and state.prepared_at > due
    # Read again for the new time, posted once.
    assert creator_reads_for(simulator) == before + 2
    assert len(recorded(simulator, "video_init")) == 1


async def test_cancelling_a_ready_post_sends_tiktok_no_post(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle, _, _ = await start_ready(env, task_queue, video_url)
        await handle.execute_update("cancel", "campaign pulled")
        result = await handle.result()
        state = await state_of(handle)
        assert await wait_until_counted(env.client, 0) == 0

    assert result.phase is Phase.CANCELLED
    assert recorded(simulator, "video_init") == []
    assert any("reserved init given back (the post was cancelled)" in e for e in state.history)


async def wait_until_counted(client: Client, expected: int, within: float = 30) -> int:
    """The account's count of today's posts, once it is `expected` (or after `within` s)."""
    deadline = time.monotonic() + within
    while True:
        counted = (await account_state(client)).posts_last_24h
        if counted == expected or time.monotonic() > deadline:
            return counted
        await asyncio.sleep(0.2)


async def photo_due_in_two_hours(
    env: WorkflowEnvironment, media_host: MediaHost, *, photos: int
) -> tuple[dict[str, Any], PublishTarget]:
    """A photo post request (and its target) scheduled two hours from the env's now."""
    pid = post_id()
    urls = [
        media_host.add(f"prepare/{pid}-{i}.jpg", sample_jpeg(), "image/jpeg") for i in range(photos)
    ]
    request = photo_request(pid, urls)
    request["scheduledAt"] = (await env.get_current_time() + timedelta(hours=2)).isoformat()
    return request, target_of(request)


def bucket_client() -> Any:
    return s3_client(os.environ["MEDIA_S3_ENDPOINT_URL"])


async def test_a_ready_photo_post_has_its_pulled_copies_made_before_the_due_time(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    env = time_skipping_env
    _, target = await photo_due_in_two_hours(env, media_host, photos=2)
    bucket, s3 = os.environ["MEDIA_BUCKET"], bucket_client()
    prefix = f"staged/{target.post_id}/acct_demo/attempts/1-1/"
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target, SETTINGS)
        await wait_for(handle, lambda s: bool(s.staged_media))
        assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount") == 0
        await env.sleep(timedelta(hours=2) - timedelta(seconds=LEAD / 2))
        await wait_for(handle, lambda s: s.prepared_at is not None)
        await wait_for_keys(s3, bucket, prefix, 2)
        assert recorded(simulator, "content_init") == []
        result = await handle.result()
        await save_history(handle, "prepared_photo_copies_made")

    assert result.phase is Phase.PUBLISHED
    [init] = recorded(simulator, "content_init")
    pulled = init["body"]["source_info"]["photo_images"]
    assert len(pulled) == 2 and all("/attempts/1-1/" in url for url in pulled)


async def wait_for_keys(s3: Any, bucket: str, prefix: str, count: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) < count:
        assert time.monotonic() < deadline, f"no {count} objects under {prefix}"
        await asyncio.sleep(0.2)


async def test_at_its_due_time_a_ready_post_waits_for_no_signal_and_no_extra_activity(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    # What the due time costs a ready post: the init activity tells the account of its
    # success itself (no call_outcome signal to wait for), and the status check that sees
    # the post live deletes the staged media (no delete activity after it).
    env = time_skipping_env
    request, target = await photo_due_in_two_hours(env, media_host, photos=1)
    bucket, s3 = os.environ["MEDIA_BUCKET"], bucket_client()
    async with running_worker(env.client, simulator, token_file, task_queue):
        # Started as every starter starts it (summary and search attributes at the start).
        publisher = PostPublisher(env.client, task_queue=task_queue, settings=SETTINGS)
        [submitted] = await publisher.submit(request)
        handle = env.client.get_workflow_handle(
            submitted.workflow_id, run_id=submitted.run_id, result_type=PublishResult
        )
        await wait_for(handle, lambda s: bool(s.staged_media))
        await env.sleep(timedelta(hours=2) - timedelta(seconds=LEAD / 2))
        await wait_for(handle, lambda s: s.prepared_at is not None)
        # Past the due time: a handle not from start_workflow does not skip time itself.
        await env.sleep(timedelta(seconds=LEAD))
        result = await handle.result()
        state = await state_of(handle)
        await save_history(handle, "due_status_waited_in_activity")
        history = await handle.fetch_history()
        entity = await env.client.get_workflow_handle(
            account_workflow_id("acct_demo")
        ).fetch_history()

    assert result.phase is Phase.PUBLISHED and result.publish_id
    staged = s3.list_objects_v2(Bucket=bucket, Prefix=f"staged/{target.post_id}/")
    assert staged.get("KeyCount") == 0, "the staged media outlived the published post"
    assert any("staged media deleted" in line for line in state.history)
    post_signals = [
        e.signal_external_workflow_execution_initiated_event_attributes.signal_name
        for e in history.events
        if e.HasField("signal_external_workflow_execution_initiated_event_attributes")
    ]
    activities = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert "call_outcome" not in post_signals
    assert "delete_staged_media" not in activities
    # The first poll interval (short) is waited out by the status check's activity: no
    # durable timer, and one workflow task (the init's answer), from the init to that check.
    between = events_between(history, "init_publish", "fetch_publish_status")
    assert EventType.EVENT_TYPE_TIMER_STARTED not in between
    assert between.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1
    # One patch marker (the baseline, at the start) instead of one, each with a search
    # attribute upsert, per patch along the way; and the starter's search attributes are
    # not upserted again.
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    upserted = [
        sorted(
            e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        )
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    assert len(markers) == 1
    assert ["TikTokPostState"] == upserted[-1] and "TikTokPostId" not in str(upserted), upserted
    # ... and the account still learned the init's publish_id, from the activity.
    outcomes = [
        json.loads(e.workflow_execution_signaled_event_attributes.input.payloads[0].data)
        for e in entity.events
        if e.HasField("workflow_execution_signaled_event_attributes")
        and e.workflow_execution_signaled_event_attributes.signal_name == "call_outcome"
    ]
    assert [o["publish_id"] for o in outcomes if o["call"] == "init"] == [result.publish_id]


def events_between(history: WorkflowHistory, first: str, then: str) -> list[int]:
    """The event types after activity `first` was scheduled, up to activity `then`."""
    scheduled = [
        (i, e.activity_task_scheduled_event_attributes.activity_type.name)
        for i, e in enumerate(history.events)
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    start = next(i for i, name in scheduled if name == first)
    end = next(i for i, name in scheduled if name == then and i > start)
    return [e.event_type for e in history.events[start + 1 : end]]


async def test_an_init_that_cannot_tell_the_account_leaves_the_telling_to_the_workflow(
    dev_env: WorkflowEnvironment,
) -> None:
    # No entity to signal (or no client): the activity says so, and the workflow then
    # sends call_outcome itself (InitPublishResult.outcome_reported False).
    report = SuccessReport(
        account_workflow_id=account_workflow_id(f"acct_gone_{uuid.uuid4().hex[:6]}"),
        outcome=CallOutcome(request_id="run/1", call=CallKind.INIT, at=datetime.now(UTC)),
    )
    told = await ActivityEnvironment(client=dev_env.client).run(report_success, report, "p_1")
    assert told is False
    assert await ActivityEnvironment().run(report_success, report, "p_1") is False
