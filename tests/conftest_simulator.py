"""Shared helpers for the simulator tests (imported explicitly; pytest does not auto-load it).

- `MediaServer`: a loopback HTTP server that serves the media the simulator pulls.
- `TikTok`: a thin httpx wrapper that speaks to the simulator by endpoint name.
- `fresh_creator`: a new creator with unique tokens, so tests never share rate windows or caps.
- `OpenApi`: validates responses against the third-party OpenAPI file, read in place.
- `wait_for`: polling with a deadline (never a fixed sleep as an assertion).
"""

from __future__ import annotations

import copy
import os
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from simulator import CreatorConfig, Simulator

PATHS = {
    "creator_info": "/v2/post/publish/creator_info/query/",
    "video_init": "/v2/post/publish/video/init/",
    "inbox_video_init": "/v2/post/publish/inbox/video/init/",
    "content_init": "/v2/post/publish/content/init/",
    "status_fetch": "/v2/post/publish/status/fetch/",
    "cancel": "/v2/post/publish/cancel/",
    "oauth_token": "/v2/oauth/token/",
}
TERMINAL = ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "FAILED")

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 10.0, interval: float = 0.02
) -> T:
    """Call `probe` until `done(result)`; fail the test with the last result at the deadline.

    The interval backs off (x1.5 up to 0.25 s) so long waits stay within TikTok's
    30-per-minute status_fetch limit, as a real poller must.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout}s; last value: {result!r}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.25)


def fresh_creator(sim: Simulator, **overrides: Any) -> CreatorConfig:
    """Upsert a creator with unique tokens (and a unique username) and return it."""
    tag = uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "access_token": f"act.test-{tag}",
        "refresh_token": f"rft.test-{tag}",
        "username": f"creator_{tag}",
    }
    values.update(overrides)
    creator = CreatorConfig(**values)
    sim.upsert_creator(creator)
    return creator


class TikTok:
    """Raw HTTP access to the simulator by endpoint name; responses are returned untouched."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.token = token
        self.http = httpx.Client(base_url=base_url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TikTok:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def post(
        self, endpoint: str, body: Any = None, *, token: str | None = None, raw: bytes | None = None
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        bearer = token if token is not None else self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        if raw is not None:
            return self.http.post(PATHS[endpoint], content=raw, headers=headers)
        return self.http.post(PATHS[endpoint], json=body, headers=headers)

    def status(self, publish_id: str, token: str | None = None) -> dict[str, Any]:
        response = self.post("status_fetch", {"publish_id": publish_id}, token=token)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def wait_status(
        self, publish_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 10.0
    ) -> dict[str, Any]:
        return wait_for(
            lambda: self.poll_status(publish_id), lambda d: d["status"] in statuses, timeout
        )

    def poll_status(self, publish_id: str) -> dict[str, Any]:
        """Like status(), for polling loops: a 429 (a slow machine polled too often) reads
        as "nothing new yet" instead of failing the test."""
        response = self.post("status_fetch", {"publish_id": publish_id})
        if response.status_code == 429:
            return {
                "status": "(rate limited)",
                "fail_reason": "",
                "publicaly_available_post_id": [],
                "uploaded_bytes": 0,
                "downloaded_bytes": 0,
            }
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    def refresh(self, token: str, **overrides: str) -> httpx.Response:
        """POST a refresh_token grant; `overrides` replace or add form fields."""
        form = {
            "client_key": "sim-client-key",
            "client_secret": "sim-client-secret",
            "grant_type": "refresh_token",
            "refresh_token": token,
            **overrides,
        }
        return self.http.post(PATHS["oauth_token"], data=form)

    def put_chunk(
        self,
        upload_url: str,
        data: bytes,
        first: int,
        total: int,
        content_type: str = "video/mp4",
        content_range: str | None = None,
    ) -> httpx.Response:
        last = first + len(data) - 1
        headers = {
            "Content-Type": content_type,
            "Content-Range": content_range or f"bytes {first}-{last}/{total}",
        }
        return self.http.put(upload_url, content=data, headers=headers)


def assert_envelope(
    response: httpx.Response, code: str = "ok", status: int = 200
) -> dict[str, Any]:
    """TikTok's envelope, exactly: data object + error {code, message, log_id}."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert set(payload) == {"data", "error"}, payload
    assert isinstance(payload["data"], dict)
    error = payload["error"]
    assert set(error) == {"code", "message", "log_id"}, error
    assert error["code"] == code, payload
    assert isinstance(error["message"], str)
    assert error["log_id"] and error["log_id"] == response.headers["x-tt-logid"]
    data: dict[str, Any] = payload["data"]
    return data


def video_post_info(privacy: str = "SELF_ONLY", **extra: Any) -> dict[str, Any]:
    return {
        "privacy_level": privacy,
        "title": "a simulated post #test",
        "disable_duet": False,
        "disable_comment": False,
        "disable_stitch": False,
        "video_cover_timestamp_ms": 1000,
        "brand_content_toggle": False,
        "brand_organic_toggle": False,
        **extra,
    }


def file_source(video_size: int, chunk_size: int | None = None, count: int = 1) -> dict[str, Any]:
    return {
        "source": "FILE_UPLOAD",
        "video_size": video_size,
        "chunk_size": chunk_size if chunk_size is not None else video_size,
        "total_chunk_count": count,
    }


# -- media server ----------------------------------------------------------------------------


class MediaServer:
    """Serves `routes` (path -> (status, body, headers)) on loopback, plus `/slow/<n>` which
    sends half of n bytes and then waits for `release` before sending the rest."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.release = threading.Event()
        self.slow_started = threading.Event()
        media = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/slow/"):
                    size = int(self.path.rsplit("/", 1)[1])
                    self.send_response(200)
                    self.send_header("Content-Length", str(size))
                    self.send_header("Content-Type", "video/mp4")
                    self.end_headers()
                    self.wfile.write(b"\0" * (size // 2))
                    self.wfile.flush()
                    media.slow_started.set()
                    media.release.wait(20)
                    try:
                        self.wfile.write(b"\0" * (size - size // 2))
                    except OSError:
                        pass
                    return
                status, body, headers = media.routes.get(self.path, (404, b"not found", {}))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(
        self,
        path: str,
        body: bytes,
        status: int = 200,
        content_type: str = "video/mp4",
        headers: dict[str, str] | None = None,
    ) -> str:
        self.routes[path] = (status, body, {"Content-Type": content_type, **(headers or {})})
        return self.base_url + path

    def url(self, path: str) -> str:
        return self.base_url + path

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


# -- OpenAPI ---------------------------------------------------------------------------------


def openapi_path() -> Path:
    override = os.environ.get("TIKTOK_OPENAPI_PATH")
    if override:
        return Path(override)
    repo = Path(__file__).resolve().parents[1]
    return repo.parent / "shared" / "reference" / "tiktok-content-posting-openapi.yml"


def _resolve(node: Any, root: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Inline local `$ref`s (`#/components/...`) so jsonschema sees one plain schema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            if ref in seen:
                raise ValueError(f"recursive $ref {ref}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return _resolve(target, root, (*seen, ref))
        return {key: _resolve(value, root, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, root, seen) for item in node]
    return node


class OpenApi:
    """Response schemas from the OpenAPI file, with `$ref`s resolved."""

    def __init__(self, path: Path) -> None:
        import yaml

        with open(path, encoding="utf-8") as handle:
            self.spec: dict[str, Any] = yaml.safe_load(handle)

    def response_schema(self, path: str, status: int, *, faithful: bool = True) -> Any:
        """The documented JSON schema for (POST path, status), or None if undocumented.

        With `faithful`, the file's known error is corrected: it spells the inbox status
        SENDING_TO_USER_INBOX, but TikTok (tiktok-api.md, which wins) says SEND_TO_USER_INBOX.
        """
        operation = self.spec["paths"].get(path, {}).get("post", {})
        response = operation.get("responses", {}).get(str(status))
        if not response or "content" not in response:
            return None
        schema = _resolve(response["content"]["application/json"]["schema"], self.spec)
        schema = copy.deepcopy(schema)
        if faithful:
            status_schema = (
                schema.get("properties", {}).get("data", {}).get("properties", {}).get("status", {})
            )
            if "enum" in status_schema:
                status_schema["enum"] = [
                    "SEND_TO_USER_INBOX" if value == "SENDING_TO_USER_INBOX" else value
                    for value in status_schema["enum"]
                ]
        return schema

    def validate(self, response: httpx.Response, *, faithful: bool = True) -> bool:
        """Validate a response body against its documented schema; False if undocumented."""
        import jsonschema

        path = response.request.url.path
        schema = self.response_schema(path, response.status_code, faithful=faithful)
        if schema is None:
            return False
        jsonschema.Draft202012Validator(schema).validate(response.json())
        return True


def load_openapi() -> OpenApi:
    path = openapi_path()
    if not path.is_file():
        pytest.skip(
            f"TikTok OpenAPI reference not found at {path} "
            "(set TIKTOK_OPENAPI_PATH to its location to run the schema checks)"
        )
    return OpenApi(path)
