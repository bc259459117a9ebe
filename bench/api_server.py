"""The HTTP API served in this process (uvicorn on a free loopback port) for benchmarks that
measure it the way a caller meets it: its own SQLite account store and one API key."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn

from account_store.api_keys import ApiKeys
from account_store.database import open_database
from account_store.oauth_states import OAuthStates
from account_store.store import AccountStore
from starter.api import PostPublisher
from starter.connect import ConnectFlow
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

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
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
async def served_api(publisher: PostPublisher) -> AsyncIterator[ServedApi]:
    """`create_app` around `publisher`, served until the block ends."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as data_dir:
        database = open_database({"TIKTOK_DATA_DIR": data_dir})
        keys = ApiKeys(database)
        _, key = keys.create("bench")
        store = AccountStore(database)
        flow = ConnectFlow(store, OAuthStates(database), OAuthSettings(), publisher.client)
        service = Service(publisher, database, store, keys, flow)
        port = free_loopback_port()
        config = uvicorn.Config(
            create_app(service, mcp=False), host="127.0.0.1", port=port, log_level="warning"
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
