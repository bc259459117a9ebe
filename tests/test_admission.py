"""New posts are admitted while few runs wait for an activity (worker/admission.py).

The gate alone (no server), then the product's worker with the tightest setting on the
time-skipping server: a burst of posts is held back, not lost.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from tests.workflow_support import running_worker, start, target_of, video_request, wait_for
from worker import admission
from worker.admission import AdmissionGate
from workflows.contracts import Phase


def poll(*, sticky: bool = False, kind: str = "workflow") -> Any:
    return SimpleNamespace(
        slot_type=kind,
        is_sticky=sticky,
        task_queue="q",
        worker_identity="w",
        worker_build_id="",
        worker_deployment_version=None,
    )


async def test_a_new_posts_task_waits_while_runs_wait_for_activities_a_known_ones_never() -> None:
    gate = AdmissionGate(slots=10, most_waiting=2)
    await gate.reserve_slot(poll())  # nothing waits yet: taken at once
    gate.waiting("run-1", True)
    gate.waiting("run-2", True)
    held = asyncio.create_task(gate.reserve_slot(poll()))
    # A task of a run the worker knows (sticky), e.g. a post falling due: no wait.
    await asyncio.wait_for(gate.reserve_slot(poll(sticky=True)), 1)
    await asyncio.wait_for(gate.reserve_slot(poll(kind="activity")), 1)
    await asyncio.sleep(0.1)
    assert not held.done(), "admitted while two runs wait for their activities"
    gate.waiting("run-1", False)  # its copy finished
    await asyncio.wait_for(held, 1)
    assert gate.runs_waiting == 1


async def test_the_slots_bound_every_task_and_come_back_on_release() -> None:
    gate = AdmissionGate(slots=1, most_waiting=5)
    permit = await gate.reserve_slot(poll(sticky=True))
    assert gate.try_reserve_slot(poll(sticky=True)) is None
    second = asyncio.create_task(gate.reserve_slot(poll(sticky=True)))
    await asyncio.sleep(0.1)
    assert not second.done()
    gate.release_slot(SimpleNamespace(slot_info=None, permit=permit))  # type: ignore[arg-type]
    await asyncio.wait_for(second, 1)


async def test_a_run_the_gate_never_hears_of_again_lapses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should an eviction go unreported, new posts are held for a while, never for good."""
    monkeypatch.setattr(admission, "STALE_AFTER_SECONDS", 0.3)
    gate = AdmissionGate(slots=10, most_waiting=1)
    gate.waiting("run-lost", True)
    await asyncio.wait_for(gate.reserve_slot(poll()), 3)
    assert gate.runs_waiting == 0


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("admission/video.mp4", sample_video(), "video/mp4")


async def test_with_room_for_one_a_burst_of_posts_is_admitted_in_turn_and_all_sleep(
    time_skipping_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    """WORKER_ADMISSION_WAITING_RUNS=1: each post is taken once the one before it has its
    copy. None is lost or left unstarted (a run the gate kept counting would hold the rest
    for STALE_AFTER_SECONDS, past this test's wait)."""
    env = time_skipping_env
    # Five pollers (the fewest the SDK takes): Core reserves a slot before each poll, so
    # polls reserved before runs start waiting are let through; fewer pollers, fewer such.
    overrides = {"admission_waiting_runs": 1, "max_task_polls": 5}
    async with running_worker(env.client, simulator, token_file, task_queue, worker=overrides):
        now = await env.get_current_time()
        handles = []
        for n in range(12):
            request = video_request(f"p-adm{n}-{uuid.uuid4().hex[:8]}", video_url)
            request["scheduledFor"] = (now + timedelta(days=1)).isoformat()
            handles.append(await start(env.client, task_queue, target_of(request)))
        states = [
            await wait_for(handle, lambda s: bool(s.staged_media), within=20) for handle in handles
        ]
        for handle in handles:
            await handle.terminate("test finished")
    assert all(s.staged_media for s in states), "every post got its copy"
    assert [s.phase for s in states] == [Phase.SCHEDULED] * 12
