"""Helpers for workflow tests: build requests, run a worker against the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from simulator import Simulator
from starter.api import PostPublisher
from worker import main as worker_main
from worker.config import MediaSettings, WorkerSettings
from workflows.account_contracts import AccountSettings, account_workflow_id
from workflows.contracts import PostState, PublishPostInput, PublishResult, PublishSettings
from workflows.request import PublishTarget, parse_post

FAST = PublishSettings(poll_initial_seconds=0.2, poll_max_seconds=1.0)
HISTORY_DIR = Path(__file__).parent / "histories"


def video_request(
    post_id: str,
    video_url: str,
    *,
    account: str = "acct_demo",
    privacy: str | None = "PUBLIC_TO_EVERYONE",
    scheduled_for: datetime | None = None,
    inbox: bool = False,
    system_draft: bool = False,
    **options: Any,
) -> dict[str, Any]:
    tiktok: dict[str, Any] = {**options}
    if privacy:
        tiktok["privacy"] = privacy
    if inbox:
        tiktok["isDraft"] = True
    request: dict[str, Any] = {
        "postId": post_id,
        "content": f"caption of {post_id}",
        "media": [
            {"url": video_url, "type": "video", "mimeType": "video/mp4", "durationSeconds": 15}
        ],
        "platforms": [{"accountId": account, "platformOptions": {"tiktok": tiktok}}],
        "isDraft": system_draft,
    }
    if scheduled_for:
        request["scheduledFor"] = scheduled_for.isoformat()
    return request


def photo_request(post_id: str, photo_urls: list[str], *, inbox: bool = False) -> dict[str, Any]:
    tiktok: dict[str, Any] = {"privacy": "PUBLIC_TO_EVERYONE", "photoTitle": "Carousel"}
    if inbox:
        tiktok["isDraft"] = True
    return {
        "postId": post_id,
        "caption": "three photos",
        "targets": [
            {
                "socialAccountId": "acct_demo",
                "media": [
                    {"url": u, "type": "photo", "mimeType": "image/jpeg"} for u in photo_urls
                ],
                "platformOptions": {"tiktok": tiktok},
            }
        ],
    }


def target_of(request: dict[str, Any]) -> PublishTarget:
    return parse_post(request).targets[0]


def recorded(sim: Simulator, endpoint: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{sim.base_url}/_sim/requests", params={"endpoint": endpoint}, timeout=10)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["requests"]
    return result


def sim_admin(sim: Simulator, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{sim.base_url}/_sim/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def inject(sim: Simulator, endpoint: str, count: int = 1, **spec: Any) -> None:
    """Fault injection: the next `count` calls to `endpoint` behave as `spec` says."""
    sim_admin(sim, "POST", "faults", json={"endpoint": endpoint, "count": count, **spec})


@contextlib.asynccontextmanager
async def running_worker(
    client: Client,
    sim: Simulator,
    token_file: Path,
    task_queue: str,
    account_settings: AccountSettings | None = None,
    worker: Mapping[str, Any] | None = None,
    **media: Any,
) -> AsyncIterator[None]:
    """The product's worker on the simulator and the tests' bucket (MEDIA_* from the
    environment); `worker` overrides WorkerSettings fields (e.g. max_cached_workflows),
    `media` MediaSettings fields (e.g. chunk_size, video_source)."""
    settings = WorkerSettings(
        tiktok_base_url=sim.base_url,
        client_key="sim-client-key",
        client_secret="sim-client-secret",
        token_file=str(token_file),
        task_queue=task_queue,
        # The SDK's own sandbox: a restricted call in a workflow module fails the tests.
        strict_sandbox=True,
        **(worker or {}),
    )
    media_settings = dataclasses.replace(MediaSettings.from_env(), **media)
    # An entity an earlier test left running (its cleanup failed) sits on a task queue no
    # worker polls: this test's posts would wait on it without an answer. End it first.
    await end_account_entities(client, task_queue, token_file, left_elsewhere=True)
    try:
        async with worker_main.running_worker(
            client,
            settings,
            media_settings,
            tiktok_timeout=httpx.Timeout(5.0),
            account_settings=account_settings,
        ):
            yield
    finally:
        await end_account_entities(client, task_queue, token_file)


async def end_account_entities(
    client: Client, task_queue: str, token_file: Path, *, left_elsewhere: bool = False
) -> None:
    """Account entities live as long as their account; a test's end is theirs, so that the
    next test (another task queue, same account id) starts its own. `left_elsewhere`: end
    the token file's entities running on any *other* task queue instead (left by an earlier
    test). A failure to end one is raised, not swallowed: a leftover entity makes every
    later test of its account wait for answers that never come."""
    try:
        accounts = list(json.loads(token_file.read_text()).get("accounts", {}))
    except (OSError, ValueError):
        accounts = []
    for account in accounts:
        handle = client.get_workflow_handle(account_workflow_id(account))
        try:
            described = await handle.describe()
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                continue
            raise
        if described.status != WorkflowExecutionStatus.RUNNING:
            continue
        if (described.task_queue == task_queue) != left_elsewhere:
            try:
                await handle.terminate("test finished")
            except RPCError as err:
                if err.status is not RPCStatusCode.NOT_FOUND:  # ended meanwhile: fine
                    raise


async def start(
    client: Client,
    task_queue: str,
    target: PublishTarget,
    settings: PublishSettings = FAST,
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        "PublishPost",
        PublishPostInput(target=target, settings=settings),
        id=target.workflow_id,
        task_queue=task_queue,
        result_type=PublishResult,
    )


async def failure_of(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    """Await a run that must fail and return its typed ApplicationError."""
    try:
        await handle.result()
    except WorkflowFailureError as err:
        assert isinstance(err.cause, ApplicationError), err.cause
        return err.cause
    raise AssertionError("the workflow succeeded but was expected to fail")


QUERY_TRIES = 10


async def state_of(handle: WorkflowHandle[Any, Any]) -> PostState:
    """The post's `state` query. A query of a run that has just ended replays its whole
    history in the worker, and under load that replay has failed with a nondeterminism
    error for a few seconds (seen failing three times over 2 s, and once for a single try
    that the next one answered) although the same history replays cleanly in the SDK's
    Replayer; the product reads the run's record then (starter.api `state`). Asked again
    for up to 10 s: a real nondeterminism fails every replay of the same history, so it
    still fails here."""
    for _ in range(QUERY_TRIES - 1):
        try:
            return await handle.query("state", result_type=PostState)
        except WorkflowQueryFailedError as err:
            if "Nondeterminism" not in str(err):
                raise
        await asyncio.sleep(1)
    return await handle.query("state", result_type=PostState)


async def wait_for(
    handle: WorkflowHandle[Any, Any],
    predicate: Callable[[PostState], bool],
    *,
    within: float = 30,
) -> PostState:
    """The post's state once `predicate` holds; fails after `within` seconds, also when the
    post does not answer at all by then (e.g. its first task has not run)."""
    deadline = time.monotonic() + within
    while True:
        try:
            state = await asyncio.wait_for(
                state_of(handle), timeout=max(deadline - time.monotonic(), 0.1)
            )
        except TimeoutError:
            raise AssertionError(f"{handle.id} did not answer within {within} s") from None
        if predicate(state):
            return state
        assert time.monotonic() < deadline, f"state never matched: {state.phase} {state.history}"
        await asyncio.sleep(0.1)


async def save_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With RECORD_HISTORIES=1, keep this run's history for the replay test."""
    if os.environ.get("RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    HISTORY_DIR.mkdir(exist_ok=True)
    (HISTORY_DIR / f"{name}.json").write_text(json.dumps(history.to_json_dict(), indent=1))


def publisher(client: Client, task_queue: str) -> PostPublisher:
    return PostPublisher(client, task_queue=task_queue, settings=FAST)
