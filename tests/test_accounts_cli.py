"""Operators and accounts: `accounts`, `account show|pause|resume` against a running worker."""

from __future__ import annotations

import json
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from tests.test_cli import cli_env, run_cli
from tests.workflow_support import publisher, recorded, video_request, wait_for
from workflows.account_contracts import AccountState
from workflows.contracts import PublishResult


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("accounts/video.mp4", sample_video(), "video/mp4")


async def test_an_operator_pauses_and_resumes_an_account(
    dev_env: WorkflowEnvironment, simulator: Simulator, worker: None, task_queue: str,
    video_url: str,
) -> None:  # fmt: skip
    env = cli_env(dev_env, task_queue)
    api = publisher(dev_env.client, task_queue)
    [first] = await api.submit(video_request(f"acc-{uuid.uuid4().hex[:8]}", video_url))
    await dev_env.client.get_workflow_handle(first.workflow_id, result_type=PublishResult).result()

    listed = await run_cli(env, "accounts")
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[0].startswith("ACCOUNT")
    assert any(row.startswith("acct_demo") and "ACTIVE" in row for row in listed.out.splitlines())

    paused = await run_cli(env, "account", "pause", "acct_demo", "--reason", "brand review")
    assert paused.code == 0 and "acct_demo: PAUSED" in paused.out and "brand review" in paused.out
    [second] = await api.submit(video_request(f"acc-{uuid.uuid4().hex[:8]}", video_url))
    handle = dev_env.client.get_workflow_handle(second.workflow_id, result_type=PublishResult)
    held = await wait_for(handle, lambda s: s.waiting_for == "paused")
    status = await run_cli(env, "status", held.post_id, "acct_demo")
    assert "waiting for paused" in status.out and "account show acct_demo" in status.out
    listed = await run_cli(env, "list", "--query", "TikTokWaitingFor = 'paused'")
    row = next(line for line in listed.out.splitlines() if line.startswith(second.post_id))
    assert "acct_demo" in row and "waiting for paused" in row
    assert len(recorded(simulator, "video_init")) == 1, "nothing reaches TikTok while paused"

    shown = await run_cli(env, "account", "show", "acct_demo", "--json")
    state = AccountState.model_validate(json.loads(shown.out))
    assert state.health.value == "PAUSED" and state.queued == 1
    assert state.token is not None and "act." not in shown.out

    resumed = await run_cli(env, "account", "resume", "acct_demo")
    assert resumed.code == 0 and "acct_demo: ACTIVE" in resumed.out
    assert (await handle.result()).phase.value == "PUBLISHED"


async def test_an_unknown_account_is_a_clear_not_found(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = cli_env(dev_env, task_queue)
    shown = await run_cli(env, "account", "show", "acct_nobody")
    assert shown.code == 3 and "No account entity for acct_nobody" in shown.err
    resumed = await run_cli(env, "account", "resume", "acct_nobody")
    assert resumed.code == 3 and "Traceback" not in resumed.err
