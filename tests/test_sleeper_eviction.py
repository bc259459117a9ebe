"""A post that goes to sleep far ahead leaves the worker's workflow cache.

worker/sleeper_eviction.py, WORKER_EVICT_SLEEPERS_AFTER_SECONDS.

What is cached is read from the SDK's own `temporal_sticky_cache_size` gauge (a MetricBuffer
on the worker's client runtime) and the engine's `tiktok_worker_sleepers_evicted_total`.
Time-skipping server, real activities, the real simulator over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.bridge.proto.workflow_activation import (
    FireTimer,
    ResolveActivity,
    WorkflowActivation,
    WorkflowActivationJob,
)
from temporalio.bridge.proto.workflow_commands import (
    CancelTimer,
    CompleteWorkflowExecution,
    ScheduleActivity,
    StartTimer,
    WorkflowCommand,
)
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.client import Client
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from telemetry.metrics import REGISTRY
from tests.workflow_support import (
    recorded,
    running_worker,
    start,
    state_of,
    target_of,
    video_request,
    wait_for,
)
from worker.sandbox import workflow_runner
from worker.sleeper_eviction import PendingWork, SleeperEviction, _core_eviction
from workflows.contracts import Phase
from workflows.publish_post import PublishPost

DAY = timedelta(days=1)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


# -- the decision, from activations and completions ------------------------------------------


def completion(*commands: WorkflowCommand) -> WorkflowActivationCompletion:
    done = WorkflowActivationCompletion(run_id="r")
    done.successful.commands.extend(commands)
    return done


def timer(seq: int, delay: timedelta) -> WorkflowCommand:
    duration = Duration()
    duration.FromTimedelta(delay)
    return WorkflowCommand(start_timer=StartTimer(seq=seq, start_to_fire_timeout=duration))


def activation(*jobs: WorkflowActivationJob) -> WorkflowActivation:
    return WorkflowActivation(run_id="r", jobs=jobs)


POLICY = SleeperEviction(3600)


def test_a_run_sleeping_a_day_with_nothing_in_flight_is_evicted() -> None:
    pending = PendingWork()
    pending.completed(completion(timer(1, DAY)), NOW)
    assert POLICY.should_evict(pending, NOW)


def test_a_run_due_in_minutes_stays() -> None:
    pending = PendingWork()
    pending.completed(completion(timer(1, timedelta(minutes=5))), NOW)
    assert not POLICY.should_evict(pending, NOW)
    # and the earliest timer decides: a day-long one beside it changes nothing
    pending.completed(completion(timer(2, DAY)), NOW)
    assert not POLICY.should_evict(pending, NOW)


def test_a_sleeper_with_an_activity_in_flight_stays_until_it_resolves() -> None:
    pending = PendingWork()
    pending.completed(
        completion(timer(1, DAY), WorkflowCommand(schedule_activity=ScheduleActivity(seq=1))), NOW
    )
    assert not POLICY.should_evict(pending, NOW)
    pending.activated(activation(WorkflowActivationJob(resolve_activity=ResolveActivity(seq=1))))
    assert POLICY.should_evict(pending, NOW)


def test_a_fired_or_cancelled_timer_no_longer_counts() -> None:
    pending = PendingWork()
    pending.completed(completion(timer(1, timedelta(seconds=5)), timer(2, DAY)), NOW)
    pending.activated(activation(WorkflowActivationJob(fire_timer=FireTimer(seq=1))))
    assert POLICY.should_evict(pending, NOW)
    pending.completed(completion(WorkflowCommand(cancel_timer=CancelTimer(seq=2))), NOW)
    assert not POLICY.should_evict(pending, NOW), "no timer left: it waits for a signal"


def test_a_finished_run_is_left_to_core() -> None:
    pending = PendingWork()
    pending.completed(
        completion(
            timer(1, DAY),
            WorkflowCommand(complete_workflow_execution=CompleteWorkflowExecution()),
        ),
        NOW,
    )
    assert not POLICY.should_evict(pending, NOW)


async def test_the_sdk_still_offers_cores_eviction_call(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    """The one private part (temporalio.worker.Worker._bridge_worker): fails loudly when an
    SDK upgrade moves it, rather than the eviction silently stopping."""
    worker = Worker(
        time_skipping_env.client,
        task_queue=f"tq-{uuid.uuid4()}",
        workflows=[PublishPost],
        workflow_runner=workflow_runner(),
    )
    assert callable(_core_eviction(worker))


# -- on a server: what the worker keeps, and the evicted post still publishes ---------------


class CacheGauge:
    """The SDK's `temporal_sticky_cache_size` of the worker running on `client`."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self._buffer = buffer
        self.value = 0

    def read(self) -> int:
        for update in self._buffer.retrieve_updates():
            if update.metric.name.endswith("sticky_cache_size"):
                self.value = int(update.value)
        return self.value

    async def settles_at(self, expected: int, within: float = 15) -> int:
        deadline = time.monotonic() + within
        while True:
            if self.read() == expected or time.monotonic() > deadline:
                await asyncio.sleep(1)  # and stays there
                return self.read()
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def metered_worker(
    env: WorkflowEnvironment, sim: Simulator, token_file: Path, task_queue: str, evict: float
) -> AsyncIterator[CacheGauge]:
    """tests.workflow_support.running_worker with WORKER_EVICT_SLEEPERS_AFTER_SECONDS=`evict`,
    on a client whose runtime buffers metrics."""
    buffer = MetricBuffer(10_000)
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        data_converter=env.client.data_converter,
        runtime=Runtime(telemetry=TelemetryConfig(metrics=buffer)),
    )
    overrides = {"evict_sleepers_after_seconds": evict}
    async with running_worker(client, sim, token_file, task_queue, worker=overrides):
        yield CacheGauge(buffer)


def evicted() -> float:
    value = REGISTRY.get_sample_value(
        "tiktok_worker_sleepers_evicted_total", {"workflow_type": "PublishPost"}
    )
    return value or 0.0


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("sleepers/video.mp4", sample_video(), "video/mp4")


async def sleeping_posts(env: WorkflowEnvironment, task_queue: str, video_url: str) -> tuple:
    """One post due in a day, one due in five minutes, both staged and asleep."""
    now = await env.get_current_time()
    handles = []
    for name, ahead in (("day", DAY), ("soon", timedelta(minutes=5))):
        request = video_request(f"p-{name}-{uuid.uuid4().hex[:8]}", video_url)
        request["scheduledFor"] = (now + ahead).isoformat()
        handle = await start(env.client, task_queue, target_of(request))
        await wait_for(handle, lambda s: bool(s.staged_media) and s.phase is Phase.SCHEDULED)
        handles.append(handle)
    return tuple(handles)


async def test_a_post_a_day_ahead_leaves_the_cache_and_still_publishes_when_it_wakes(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = time_skipping_env
    before = evicted()
    async with metered_worker(env, simulator, token_file, task_queue, evict=3600) as cache:
        day, soon = await sleeping_posts(env, task_queue, video_url)
        # Cached: the post due in five minutes and the account's entity; not the sleeper.
        assert await cache.settles_at(2) == 2
        assert evicted() > before
        # A state query replays the sleeper to answer; then it leaves again.
        assert (await state_of(day)).phase is Phase.SCHEDULED
        assert await cache.settles_at(2) == 2
        results = [await soon.result(), await day.result()]  # skips a day ahead
        states = [await state_of(soon), await state_of(day)]

    assert [r.phase for r in results] == [Phase.PUBLISHED, Phase.PUBLISHED]
    assert len(recorded(simulator, "video_init")) == 2
    woke = states[1].publishing_started_at
    assert woke is not None and states[1].scheduled_for is not None
    assert woke >= states[1].scheduled_for


async def test_guard_without_eviction_the_sleeper_stays_cached(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    """The measure above can fail: with WORKER_EVICT_SLEEPERS_AFTER_SECONDS=0 (the code
    before) the same two posts and the entity are all cached."""
    env = time_skipping_env
    before = evicted()
    async with metered_worker(env, simulator, token_file, task_queue, evict=0) as cache:
        posts = await sleeping_posts(env, task_queue, video_url)
        assert await cache.settles_at(3) == 3
        assert evicted() == before
    # Ended once the worker is gone (a sleeping post would stall the time-skipping server
    # for the next tests; terminating cached runs under a live worker leaves coroutines to
    # be collected without their loop).
    for handle in posts:
        await handle.terminate("test finished")
