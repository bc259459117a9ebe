"""Analytics end to end over HTTP: a live public post's numbers are refreshed on its
schedule (through continue-as-new), each refresh granted by the account entity, stored, and
shown by the metrics route and `state`."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from tests.api_support import LiveApi, live_api
from tests.workflow_support import FAST, recorded, save_history, video_request
from workflows.analytics import AnalyticsSchedule, analytics_id

#: Six refreshes over five seconds: more than one run's worth (continue-as-new after four).
SCHEDULE = AnalyticsSchedule(first_seconds=[0.5, 1.0], every_seconds=1.0, for_seconds=5.0)


def test_the_default_schedule_is_1h_6h_then_every_12h_for_7_days() -> None:
    hours = [s / 3600 for s in AnalyticsSchedule().offsets()]
    assert hours[:3] == [1, 6, 18] and hours[-1] == 162 and len(hours) == 15
    assert all(b - a == 12 for a, b in itertools.pairwise(hours[1:]))


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> AsyncIterator[LiveApi]:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue) as live:
        live.service.publisher.settings = FAST.model_copy(update={"analytics": SCHEDULE})
        yield live


@pytest.fixture
def video(media_host: MediaHost) -> str:
    return media_host.add("analytics/video.mp4", sample_video(), "video/mp4")


async def until(check: Any, within: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.3)


async def test_a_live_post_is_followed_and_its_numbers_grow(
    api: LiveApi, simulator: Simulator, video: str
) -> None:
    client = api.service.publisher.client
    async with api.http() as http:
        unknown = await http.get("/v1/posts/an-1/targets/acct_demo/metrics")
        assert unknown.status_code == 404 and unknown.json()["code"] == "POST_NOT_FOUND"
        assert (await http.post("/v1/posts", json=video_request("an-1", video))).status_code == 202
        empty = await http.get("/v1/posts/an-1/targets/acct_demo/metrics")
        assert empty.status_code == 200 and empty.json()["history"] == []
        handle = client.get_workflow_handle(analytics_id("an-1", "acct_demo"))

        async def finished() -> Any:
            try:
                described = await handle.describe()
            except Exception:
                return None
            return described.status == WorkflowExecutionStatus.COMPLETED

        await until(finished)
        metrics = (await http.get("/v1/posts/an-1/targets/acct_demo/metrics")).json()
        state = (await http.get("/v1/posts/an-1/targets/acct_demo")).json()
        account = (await http.get("/v1/accounts/acct_demo")).json()

    history = metrics["history"]
    assert len(history) == 6
    assert {p["videoId"] for p in history} == set(state["public_post_ids"])
    views = [p["views"] for p in history]
    assert views == sorted(views) and views[-1] > views[0]
    assert state["metrics"]["views"] == views[-1] and state["metrics"]["refreshes"] == 6
    assert len(recorded(simulator, "video_query")) == 6
    # Every video/query was granted by the account entity, on the analytics budget.
    assert account["entity"]["grants"]["analytics"] == 6
    # Followers have their own schedule per connected account (tests/test_followers.py).
    assert recorded(simulator, "user_info") == [] and metrics["followerCount"] is None
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{handle.id}'")]
    assert len(runs) == 2  # continued as new after four refreshes
    await save_history(client.get_workflow_handle(state["workflow_id"]), "analytics_followed")
    await save_history(handle, "post_analytics")


async def test_a_private_post_is_not_followed(
    api: LiveApi, simulator: Simulator, video: str
) -> None:
    async with api.http() as http:
        request = video_request("an-2", video, privacy="SELF_ONLY")
        assert (await http.post("/v1/posts", json=request)).status_code == 202

        async def published() -> Any:
            state = (await http.get("/v1/posts/an-2/targets/acct_demo")).json()
            return state if state["phase"] == "PUBLISHED" else None

        state = await until(published)
    assert not any("metrics refreshes scheduled" in line for line in state["history"])
    assert recorded(simulator, "video_query") == []
