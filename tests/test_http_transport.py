"""The TikTok client's transport (activities/http_transport.py): httpx's behaviour over
aiohttp. Where a request was lost is covered with the simulator's faults in
test_tiktok_client.py (refused: not sent; dropped or silent after sending: ambiguous)."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from activities.http_transport import AiohttpTransport


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        sent = json.loads(self.rfile.read(size) or b"null")
        body = json.dumps(
            {
                "got": sent,
                "cookie": self.headers.get("Cookie"),
                "encoding": self.headers.get("Accept-Encoding"),
                "path": self.path,
            }
        ).encode()
        packed = gzip.compress(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Set-Cookie", "visit=1")
        self.send_header("Content-Length", str(len(packed)))
        self.end_headers()
        self.wfile.write(packed)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


async def test_a_compressed_answer_reads_as_httpx_would(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, transport=AiohttpTransport()) as client:
        first = await client.post("/echo", json={"publish_id": "p1"})
        second = await client.post("/echo", json={"publish_id": "p2"})
    assert first.status_code == 200
    assert first.json()["got"] == {"publish_id": "p1"}
    assert "gzip" in first.json()["encoding"]
    # httpx keeps the cookies, as it does over its own transport.
    assert first.json()["cookie"] is None
    assert second.json()["cookie"] == "visit=1"


async def test_an_error_never_shows_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "upload_token=s3cr3t"
    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        with pytest.raises(httpx.ConnectError) as err:
            await client.put(f"http://127.0.0.1:{port}/upload?{secret}", content=b"chunk")
    assert "s3cr3t" not in str(err.value)


async def test_the_session_closes_and_a_new_one_opens_on_next_use(server: str) -> None:
    transport = AiohttpTransport()
    async with httpx.AsyncClient(base_url=server, transport=transport) as client:
        await client.post("/echo", json=1)
    await transport.aclose()  # twice is harmless
    async with httpx.AsyncClient(base_url=server, transport=transport) as client:
        assert (await client.post("/echo", json=2)).json()["got"] == 2


async def test_a_proxy_from_the_environment_is_used(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `server` plays the proxy: it answers what it was asked for, the absolute URL.
    monkeypatch.setenv("HTTP_PROXY", server)
    monkeypatch.setenv("NO_PROXY", "bypassed.invalid")
    async with httpx.AsyncClient(transport=AiohttpTransport()) as client:
        answer = await client.post("http://open-api.tiktok.invalid/v2/x/", json=1)
        assert answer.json()["path"] == "http://open-api.tiktok.invalid/v2/x/"
        with pytest.raises(httpx.ConnectError):  # not proxied: the name does not resolve
            await client.post("http://bypassed.invalid/v2/x/", json=1)
