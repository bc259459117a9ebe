"""The HTTP API for benchmarks that measure it the way a caller meets it, with its own SQLite
account store and one API key: served in this process (uvicorn on a free loopback port,
`served_api`), or as its own process the way it is deployed (`tiktok-publisher api`,
`api_process`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn

from account_store.api_keys import ApiKeys
from account_store.database import open_database
from account_store.oauth_states import OAuthStates
from account_store.store import AccountStore
from starter.api import PostPublisher
from starter.children import stop_child
from starter.connect import ConnectFlow
from starter.connected_accounts import ConnectedAccounts
from starter.dev_api import EmbeddedApiServer
from starter.http_api.app import create_app
from starter.service import Service
from starter.tiktok_oauth import OAuthSettings
from telemetry.http import free_loopback_port


@dataclass(frozen=True)
class ServedApi:
    url: str
    port: int
    key: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=60,
            trust_env=False,
        )

    async def poster(self) -> KeepAlivePoster:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return KeepAlivePoster(reader, writer, self.key)


class KeepAlivePoster:
    """POSTs JSON over one kept-alive HTTP/1.1 connection, with almost no client work of its
    own (httpx spends about as much CPU per request as the route itself, in the same
    process), so a rate measured through it is the server's."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str):
        self.reader, self.writer, self.key = reader, writer, key

    async def post(
        self, path: str, body: bytes, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.key}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await self.reader.readexactly(length)
        return int(status_line.split()[1]), answer

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def served_api(publisher: PostPublisher, http: str = "auto") -> AsyncIterator[ServedApi]:
    """`create_app` around `publisher`, served until the block ends; `http`: uvicorn's HTTP
    parser (auto: httptools when installed, else h11)."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as data_dir:
        database = open_database({"TIKTOK_DATA_DIR": data_dir})
        keys = ApiKeys(database)
        _, key = keys.create("bench")
        store = AccountStore(database)
        flow = ConnectFlow(store, OAuthStates(database), OAuthSettings(), publisher.client)
        service = Service(publisher, database, store, keys, flow, ConnectedAccounts(store))
        port = free_loopback_port()
        config = uvicorn.Config(
            create_app(service, mcp=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            http=http,
        )
        server = EmbeddedApiServer(config)
        task = asyncio.create_task(server.serve())
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if task.done():
            task.result()
        try:
            yield ServedApi(f"http://127.0.0.1:{port}", port, key)
        finally:
            server.should_exit = True
            await task
            database.dispose()


@contextlib.asynccontextmanager
async def api_process(
    env: dict[str, str], http: str = "auto", loop: str = "auto"
) -> AsyncIterator[ServedApi]:
    """`tiktok-publisher api` as a child process, configured from `env` (TEMPORAL_ADDRESS,
    TIKTOK_TASK_QUEUE, ...) like any deployment, with its defaults (uvloop, httptools, the
    access log to a file), its account store a fresh SQLite file holding one key."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as data_dir:
        database = open_database({"TIKTOK_DATA_DIR": data_dir})
        _, key = ApiKeys(database).create("bench")
        database.dispose()
        port = free_loopback_port()
        log = open(os.path.join(data_dir, "api.log"), "wb")
        command = ["api", "--host", "127.0.0.1", "--port", str(port), "--http", http]
        command += ["--loop", loop]
        process = subprocess.Popen(
            [sys.executable, "-m", "starter.cli", *command],
            env={**os.environ, **env, "TIKTOK_DATA_DIR": data_dir, "LOG_LEVEL": "WARNING"},
            stdout=log,
            stderr=log,
        )
        log.close()
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            async with httpx.AsyncClient(trust_env=False) as client:
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{url}/healthz")).status_code == 200:
                            break
                    if process.poll() is not None or time.monotonic() > deadline:
                        text = open(os.path.join(data_dir, "api.log")).read()[-2000:]
                        raise SystemExit(f"tiktok-publisher api did not start:\n{text}")
                    await asyncio.sleep(0.2)
            yield ServedApi(url, port, key)
        finally:
            stop_child(process, grace=10)
