"""Real-HTTP stand-ins for staging tests and the benchmark: an S3 endpoint and a media source.

- `moto_server()` runs moto's S3 in a thread on a free loopback port; `moto_server_process()`
  runs it in a child process (so a benchmark's memory figures are its own, not moto's).
- `s3_client(endpoint)` is a boto3 client that talks to it over HTTP like it would to R2 or
  MinIO: dummy credentials, us-east-1, path-style addressing. No `mock_aws` patching.
- `SourceServer` plays a customer's CDN: it GENERATES each file's bytes as it sends them
  (deterministic, never held whole), or answers with an error status, a web page, a redirect
  or a body cut short.

Tests use the fixtures `moto_endpoint` (one server per session) and `s3_bucket` (a fresh bucket
per test); import them into the test module (`from tests.s3_support import s3_bucket`).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest

from starter.local_s3 import REGION, allow_public_read, moto_server, s3_client
from starter.media_host import mp4_header as mp4_head

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

__all__ = ["REGION", "allow_public_read", "moto_server", "mp4_head", "s3_client"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def moto_server_process(startup_seconds: float = 30.0) -> Iterator[str]:
    """moto's S3 in a child process (`python -m moto.server`): yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                httpx.get(f"{url}/moto-api/", timeout=1.0)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on port {port}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class S3Bucket(NamedTuple):
    endpoint_url: str
    client: S3Client
    name: str


@contextlib.contextmanager
def moto_s3(bucket: str = "media") -> Iterator[tuple[str, S3Client]]:
    """A moto server with `bucket` created: yields (endpoint_url, client)."""
    with moto_server() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket=bucket)
        yield endpoint, client


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> S3Bucket:
    """A new, empty bucket on the session's moto server."""
    client = s3_client(moto_endpoint)
    name = f"media-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return S3Bucket(moto_endpoint, client, name)


# -- generated content ---------------------------------------------------------------------------

_PERIOD = 1_048_573  # a prime, so the pattern never lines up with part or chunk boundaries
_PATTERN = random.Random(20_26).randbytes(_PERIOD)
_DOUBLED = _PATTERN * 2


def generated(offset: int, length: int) -> bytes:
    """Bytes `offset`..`offset + length` of the endless deterministic pattern."""
    out = bytearray()
    while length > 0:
        start = offset % _PERIOD
        take = min(length, _PERIOD)
        out += _DOUBLED[start : start + take]
        offset, length = offset + take, length - take
    return bytes(out)


def iter_content(size: int, prefix: bytes = b"", piece: int = 64 * 1024) -> Iterator[bytes]:
    """A file of `size` bytes: `prefix`, then the pattern (offsets counted from the file start)."""
    sent = 0
    while sent < size:
        take = min(piece, size - sent)
        if sent < len(prefix):
            chunk = prefix[sent : sent + take]
        else:
            chunk = generated(sent, take)
        yield chunk
        sent += len(chunk)


def content_sha256(size: int, prefix: bytes = b"") -> str:
    digest = hashlib.sha256()
    for chunk in iter_content(size, prefix, piece=1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def content_bytes(size: int, prefix: bytes = b"") -> bytes:
    """The whole file, for small test files only."""
    return b"".join(iter_content(size, prefix))


@dataclass
class Resource:
    """What the source answers for one path."""

    size: int = 0
    prefix: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    body: bytes | None = None
    """A fixed body (a web page) instead of generated bytes."""
    declared_length: int | None = None
    """Announce this Content-Length instead of the real one (a lie, or a cut-short body)."""
    send_length: bool = True
    location: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)


class SourceServer:
    """A loopback HTTP server playing a customer's media host; records every request."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.resources: dict[str, Resource] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.bytes_sent = 0
        resources, requests, server = self.resources, self.requests, self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                resource = resources.get(path)
                if resource is None:
                    self.send_error(404)
                    return
                if resource.location is not None:
                    self.send_response(resource.status)
                    self.send_header("Location", resource.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if resource.status != 200:
                    self.send_error(resource.status)
                    return
                self._send(resource)

            def _send(self, resource: Resource) -> None:
                size = len(resource.body) if resource.body is not None else resource.size
                self.send_response(200)
                self.send_header("Content-Type", resource.content_type)
                if resource.send_length:
                    length = resource.declared_length
                    self.send_header("Content-Length", str(size if length is None else length))
                for name, value in resource.extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                chunks = (
                    iter([resource.body])
                    if resource.body is not None
                    else iter_content(size, resource.prefix)
                )
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        server.bytes_sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a rejected download): expected

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def add(self, path: str, resource: Resource) -> str:
        """Serve `resource` at `path`; returns its URL."""
        self.resources[path] = resource
        return self.base_url + path

    def __enter__(self) -> SourceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def source() -> Iterator[SourceServer]:
    with SourceServer() as server:
        yield server
