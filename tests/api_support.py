"""The HTTP API as a user meets it: a real uvicorn server on a loopback port, the product's
worker on the dev server, the simulator for TikTok, and a SQLite account store."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from account_store.api_keys import ApiKeys
from account_store.database import Database
from account_store.oauth_states import OAuthStates
from account_store.store import AccountStore
from activities.tokens import StoredToken
from simulator import Simulator
from starter.api import PostPublisher
from starter.connect import ConnectFlow
from starter.connected_accounts import ConnectedAccounts
from starter.dev_api import EmbeddedApiServer
from starter.http_api.app import create_app
from starter.service import Service
from starter.tiktok_oauth import OAuthSettings
from telemetry.http import free_loopback_port as free_port
from tests.db_support import open_test_database
from tests.workflow_support import FAST
from worker import main as worker_main
from worker.config import MediaSettings, WorkerSettings
from workflows.account_contracts import account_workflow_id


@dataclass
class LiveApi:
    base_url: str
    key: str
    service: Service
    store: AccountStore
    database: Database

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60, **kwargs)


@contextlib.asynccontextmanager
async def serve(app: Any, port: int) -> AsyncIterator[None]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = EmbeddedApiServer(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def live_api(
    client: Client,
    sim: Simulator,
    tmp_path: Path,
    task_queue: str,
    *,
    db_url: str | None = None,
    worker: bool = True,
) -> AsyncIterator[LiveApi]:
    database = open_test_database(db_url or f"sqlite:///{tmp_path / 'accounts.db'}")
    store = AccountStore(database)
    await store.save(
        "acct_demo", StoredToken("act.demo", "rft.demo", open_id="", scope="video.publish")
    )
    port = free_port()
    oauth = OAuthSettings(
        client_key="sim-client-key",
        client_secret="sim-client-secret",
        api_base_url=sim.base_url,
        authorize_url=f"{sim.base_url}/v2/auth/authorize/",
        redirect_uri=f"http://127.0.0.1:{port}/v1/oauth/tiktok/callback",
    )
    publisher = PostPublisher(client, task_queue=task_queue, settings=FAST)
    flow = ConnectFlow(store, OAuthStates(database), oauth, client, task_queue=task_queue)
    service = Service(publisher, database, store, ApiKeys(database), flow, ConnectedAccounts(store))
    _, key = service.api_keys.create("tests")
    settings = WorkerSettings(
        tiktok_base_url=sim.base_url,
        client_key="sim-client-key",
        client_secret="sim-client-secret",
        task_queue=task_queue,
        strict_sandbox=True,  # a restricted call in a workflow module fails the tests
    )
    media = dataclasses.replace(MediaSettings.from_env())
    async with contextlib.AsyncExitStack() as stack:
        if worker:
            await stack.enter_async_context(
                worker_main.running_worker(
                    client, settings, media, tiktok_timeout=httpx.Timeout(5.0), token_store=store
                )
            )
        await stack.enter_async_context(serve(create_app(service), port))
        try:
            yield LiveApi(f"http://127.0.0.1:{port}", key, service, store, database)
        finally:
            await end_account_entities(client, task_queue, await store.accounts())
    database.dispose()


async def end_account_entities(client: Client, task_queue: str, accounts: list[str]) -> None:
    """Account entities outlive a test; end those of this test's task queue so the next test
    (another task queue, the same account ids) gets entities its own worker serves."""
    ids = {account_workflow_id(a) for a in [*accounts, "acct_demo"]}
    query = f"WorkflowType = 'TikTokAccount' AND TaskQueue = '{task_queue}'"
    with contextlib.suppress(RPCError):
        async for execution in client.list_workflows(query):
            ids.add(execution.id)
    for wf_id in ids:
        handle = client.get_workflow_handle(wf_id)
        with contextlib.suppress(RPCError):
            described = await handle.describe()
            if (
                described.status == WorkflowExecutionStatus.RUNNING
                and described.task_queue == task_queue
            ):
                await handle.terminate("test finished")
