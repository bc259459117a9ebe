"""The follower count's own daily schedule, end to end over HTTP: connecting an account
creates it (and refreshes at once, granted by the account entity), the account view shows
count and schedule, operators pause, refresh and resume it from the CLI, and disconnecting
deletes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import ScheduleActionExecutionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from tests.api_support import LiveApi, live_api
from tests.conftest_simulator import fresh_creator
from tests.db_support import TEST_KEYS
from tests.test_cli import cli_env, run_cli
from tests.test_connect import begin, browser
from tests.workflow_support import recorded, save_history
from workflows.account_contracts import account_workflow_id
from workflows.followers import followers_schedule_id


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> AsyncIterator[LiveApi]:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue) as live:
        yield live


async def until(check: Any, within: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.3)


def user_info_calls(simulator: Simulator) -> int:
    return len(recorded(simulator, "user_info"))


async def connect(api: LiveApi, simulator: Simulator, account_id: str) -> int:
    """Connect a new creator as `account_id`; returns the user/info calls before the
    follower schedule's (the connect itself reads the creator's profile once)."""
    creator = fresh_creator(simulator)
    before = user_info_calls(simulator)
    simulator.update_config(authorize_open_id=creator.open_id)
    async with api.http() as http:
        landed = await browser(await begin(http, accountId=account_id))
    assert landed.status_code == 200, landed.text
    assert landed.json()["followersScheduled"] is True
    return before + 1


async def test_a_connected_account_gets_a_daily_follower_schedule(
    api: LiveApi, simulator: Simulator, task_queue: str
) -> None:
    account_id = f"fol_{task_queue[-8:]}"
    baseline = await connect(api, simulator, account_id)
    async with api.http() as http:

        async def counted() -> Any:
            account = (await http.get(f"/v1/accounts/{account_id}")).json()
            return account if account["followers"]["followerCount"] is not None else None

        account = await until(counted)
        followers = account["followers"]
        schedule = followers["schedule"]
        assert followers["followerCount"] >= 1000
        assert schedule["everySeconds"] == 86400 and not schedule["paused"]
        assert schedule["taskQueue"] == task_queue
        next_run = datetime.fromisoformat(schedule["nextRunAt"])
        assert abs(next_run - (datetime.now(UTC) + timedelta(days=1))) < timedelta(minutes=5)
        assert user_info_calls(simulator) == baseline + 1
        # The call was granted by the account's entity, on the analytics budget.
        assert account["entity"]["grants"] == {"analytics": 1}

        listed = (await http.get("/v1/accounts")).json()["items"]
        [mine] = [a for a in listed if a["accountId"] == account_id]
        assert mine["followers"]["followerCount"] == followers["followerCount"]
        client = api.service.publisher.client
        described = await client.get_schedule_handle(followers_schedule_id(account_id)).describe()
        [run] = described.info.recent_actions
        assert isinstance(run.action, ScheduleActionExecutionStartWorkflow)
        await save_history(
            client.get_workflow_handle(run.action.workflow_id), "followers_refreshed"
        )
        entity = client.get_workflow_handle(account_workflow_id(account_id))
        await save_history(entity, "account_analytics_granted")

        assert (await http.delete(f"/v1/accounts/{account_id}")).status_code == 200
        gone = (await http.get(f"/v1/accounts/{account_id}")).json()
    assert gone["followers"]["schedule"] is None
    assert gone["followers"]["followerCount"] == followers["followerCount"], "history stays"


def view_count(rendered: str) -> str:
    """The count in `account followers`' first line: "ID: N followers (fetched …)"."""
    return rendered.splitlines()[0].split(": ", 1)[1].split()[0]


async def test_operators_pause_refresh_and_resume_it_from_the_cli(
    api: LiveApi, simulator: Simulator, dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    account_id = f"ops_{task_queue[-8:]}"
    baseline = await connect(api, simulator, account_id)
    env = cli_env(
        dev_env,
        task_queue,
        DATABASE_URL=api.database.engine.url.render_as_string(hide_password=False),
        TIKTOK_TOKEN_KEYS=TEST_KEYS,
    )

    async def refreshed(times: int) -> bool:
        return user_info_calls(simulator) >= baseline + times

    await until(lambda: refreshed(1))
    paused = await run_cli(env, "account", "followers", account_id, "--pause", "--reason", "audit")
    assert paused.code == 0, paused.err
    assert "PAUSED (audit)" in paused.out and "followers (fetched" in paused.out
    async with api.http() as http:
        view = (await http.get(f"/v1/accounts/{account_id}")).json()["followers"]["schedule"]
    assert view["paused"] and view["note"] == "audit"
    shown = await run_cli(env, "account", "show", account_id)
    assert shown.code == 0, shown.err
    assert f"followers: {view_count(paused.out)} (fetched" in shown.out
    assert "schedule paused" in shown.out
    resumed = await run_cli(env, "account", "followers", account_id, "--resume")
    assert resumed.code == 0 and "every 24 h" in resumed.out
    now = await run_cli(env, "account", "followers", account_id, "--refresh")
    assert now.code == 0, now.err
    await until(lambda: refreshed(2))
    stopped = await run_cli(env, "account", "followers", account_id, "--stop")
    assert stopped.code == 0 and "no follower schedule (--start creates it)" in stopped.out
    missing = await run_cli(env, "account", "followers", account_id, "--refresh")
    assert missing.code == 3 and "--start creates it" in missing.err
