"""The HTTP API in the local stack (`make run`): served on 127.0.0.1:8000 (or
TIKTOK_API_PORT) with a fresh development API key, connecting accounts through the
simulator's authorize page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from temporalio.client import Client

from account_store.api_keys import ApiKeys
from account_store.database import Database
from account_store.oauth_states import OAuthStates
from account_store.store import AccountProfile, AccountStore
from activities.tokens import StoredToken
from simulator import Simulator, SimulatorConfig
from starter.api import PostPublisher
from starter.connect import ConnectFlow
from starter.connected_accounts import ConnectedAccounts
from starter.http_api.app import create_app
from starter.service import Service
from starter.tiktok_oauth import OAuthSettings
from worker.settings import load_settings

DEV_KEY_NAME = "dev"


class EmbeddedApiServer(uvicorn.Server):
    """uvicorn inside a process that owns its signals (the local stack, the tests): uvicorn
    would otherwise take SIGINT/SIGTERM over and stop only itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class DevApi:
    url: str
    key: str


async def seed_demo_account(store: AccountStore, account_id: str, open_id: str) -> None:
    """The simulator's demo creator as an account of the store (what a connect would do)."""
    token = StoredToken(
        access_token="act.demo",
        refresh_token="rft.demo",
        open_id=open_id,
        scope="user.info.basic,video.publish,video.upload",
    )
    profile = AccountProfile(open_id=open_id, username="demo_creator")
    await store.save_connection(account_id, token, profile)


@contextlib.asynccontextmanager
async def dev_api(
    client: Client,
    publisher: PostPublisher,
    sim: Simulator,
    sim_config: SimulatorConfig,
    database: Database,
) -> AsyncIterator[DevApi]:
    port = load_settings().api_port
    url = f"http://127.0.0.1:{port}"
    keys = ApiKeys(database)
    keys.revoke(DEV_KEY_NAME)  # a new key each start; the last one stops working
    _, key = keys.create(DEV_KEY_NAME)
    oauth = OAuthSettings(
        client_key=sim_config.client_key,
        client_secret=sim_config.client_secret,
        api_base_url=sim.base_url,
        authorize_url=f"{sim.base_url}/v2/auth/authorize/",
        redirect_uri=f"{url}/v1/oauth/tiktok/callback",
    )
    store = AccountStore(database)
    followers = publisher.task_queue if publisher.settings.analytics else None
    flow = ConnectFlow(store, OAuthStates(database), oauth, client, task_queue=followers)
    service = Service(publisher, database, store, keys, flow, ConnectedAccounts(store))
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    server = EmbeddedApiServer(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if task.done():
        task.result()  # raises why it could not start (e.g. the port is taken)
    try:
        yield DevApi(url, key)
    finally:
        server.should_exit = True
        await task
