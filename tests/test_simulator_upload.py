"""FILE_UPLOAD: chunk-plan validation at init, and the PUT protocol of the upload URL.

Declared sizes are checked without sending bytes; the bytes actually sent across this
module stay around 20 MB (one 10 MB two-chunk upload, one 5 MB single chunk, one 5 MB
chunk sent out of order).
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from simulator import Simulator, SimulatorConfig
from simulator.protocol import ApiError
from simulator.publishes import ChunkPlan
from tests.conftest_simulator import (
    TikTok,
    assert_envelope,
    file_source,
    fresh_creator,
    video_post_info,
    wait_for,
)

MB = 1_000_000


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(time_scale=0.01)) as simulator:
        yield simulator


@pytest.fixture
def tt(sim: Simulator) -> Iterator[TikTok]:
    with TikTok(sim.base_url, fresh_creator(sim).access_token) as client:
        yield client


def init_upload(tt: TikTok, size: int, chunk: int | None = None, count: int = 1) -> dict[str, str]:
    body = {"post_info": video_post_info(), "source_info": file_source(size, chunk, count)}
    return assert_envelope(tt.post("video_init", body))


# -- the chunk plan --------------------------------------------------------------------------

VALID_PLANS = [
    pytest.param(1, 1, 1, id="one-byte"),
    pytest.param(5 * MB - 1, 5 * MB - 1, 1, id="just-under-5MB-whole"),
    pytest.param(5 * MB, 5 * MB, 1, id="exactly-5MB"),
    pytest.param(5 * MB + 1, 5 * MB + 1, 1, id="just-over-5MB-whole"),
    pytest.param(5 * MB + 1, 5 * MB, 1, id="just-over-5MB-remainder-in-last"),
    pytest.param(10 * MB + 1, 5 * MB, 2, id="two-chunks"),
    pytest.param(50_000_123, 10 * MB, 5, id="doc-example"),
    pytest.param(64 * MB, 64 * MB, 1, id="64MB-whole"),
    pytest.param(128 * MB - 1, 64 * MB, 1, id="last-chunk-just-under-128MB"),
    pytest.param(128 * MB, 64 * MB, 2, id="two-64MB-chunks"),
    # 858 x 5 MB is the most chunks a video can have under TikTok's 4 GB cap, so the
    # 1000-chunk ceiling can never bind while chunks must be >= 5 MB.
    pytest.param(858 * 5 * MB, 5 * MB, 858, id="858-chunks-near-4GB"),
]

INVALID_PLANS = [
    pytest.param(0, 0, 1, id="empty"),
    pytest.param(4 * MB, 2 * MB, 2, id="under-5MB-in-chunks"),
    pytest.param(4 * MB, 4 * MB, 2, id="under-5MB-wrong-count"),
    pytest.param(20 * MB, 5 * MB - 1, 4, id="chunk-under-5MB"),
    pytest.param(64 * MB + 1, 64 * MB + 1, 1, id="chunk-over-64MB"),
    pytest.param(50_000_123, 10 * MB, 6, id="count-not-floor"),
    pytest.param(50_000_123, 10 * MB, 4, id="count-too-small"),
    pytest.param(128 * MB - 1, 64 * MB, 2, id="count-not-floor-near-128MB"),
    pytest.param(6 * MB, 7 * MB, 1, id="chunk-bigger-than-video"),
    pytest.param(5 * 1024**3, 64 * MB, 83, id="over-4GB"),
    pytest.param(10 * MB, 5 * MB, 0, id="zero-chunks"),
    pytest.param(10 * MB, "5000000", 2, id="string-size"),
    pytest.param(True, True, 1, id="bool-size"),
]


@pytest.mark.parametrize(("size", "chunk", "count"), VALID_PLANS)
def test_valid_chunk_plans(size: int, chunk: int, count: int) -> None:
    plan = ChunkPlan.validate(size, chunk, count)
    assert sum(plan.chunk_length(i) for i in range(count)) == size
    assert plan.chunk_length(count - 1) <= 128 * MB


@pytest.mark.parametrize(("size", "chunk", "count"), INVALID_PLANS)
def test_invalid_chunk_plans(size: int, chunk: int, count: int) -> None:
    with pytest.raises(ApiError) as info:
        ChunkPlan.validate(size, chunk, count)
    assert (info.value.http_status, info.value.code) == (400, "invalid_params")


@pytest.mark.parametrize(
    ("size", "chunk", "count", "code"),
    [
        (5 * MB - 1, 5 * MB - 1, 1, "ok"),
        (5 * MB + 1, 5 * MB, 1, "ok"),
        (128 * MB, 64 * MB, 2, "ok"),
        (4 * MB, 2 * MB, 2, "invalid_params"),
        (64 * MB + 1, 64 * MB + 1, 1, "invalid_params"),
        (50_000_123, 10 * MB, 6, "invalid_params"),
    ],
)
def test_chunk_plans_over_http(tt: TikTok, size: int, chunk: int, count: int, code: str) -> None:
    """The same rules at the endpoints (declared sizes only: no bytes are sent)."""
    for endpoint, body in (
        (
            "video_init",
            {"post_info": video_post_info(), "source_info": file_source(size, chunk, count)},
        ),
        ("inbox_video_init", {"source_info": file_source(size, chunk, count)}),
    ):
        response = tt.post(endpoint, body)
        assert_envelope(response, code, 200 if code == "ok" else 400)


# -- PUT protocol ----------------------------------------------------------------------------


def test_single_small_chunk_completes(tt: TikTok, sim: Simulator) -> None:
    video = bytes(range(256)) * 4
    data = init_upload(tt, len(video))
    assert tt.status(data["publish_id"])["uploaded_bytes"] == 0
    response = tt.put_chunk(data["upload_url"], video, 0, len(video))
    assert response.status_code == 201
    assert response.headers["content-range"] == f"bytes 0-{len(video) - 1}/{len(video)}"
    final = tt.wait_status(data["publish_id"])
    assert final["status"] == "PUBLISH_COMPLETE"
    assert final["uploaded_bytes"] == len(video)
    view = sim.publish(data["publish_id"])
    assert view is not None
    assert view["sha256"] == hashlib.sha256(video).hexdigest()
    assert (view["chunks_received"], view["total_chunk_count"]) == (1, 1)
    # Sending the chunk again does not match the progress any more.
    again = tt.put_chunk(data["upload_url"], video, 0, len(video))
    assert again.status_code == 416
    assert again.headers["content-range"] == f"bytes 0-{len(video) - 1}/{len(video)}"


def test_just_over_5mb_goes_whole(tt: TikTok) -> None:
    size = 5 * MB + 1
    data = init_upload(tt, size)
    response = tt.put_chunk(data["upload_url"], b"\1" * size, 0, size)
    assert response.status_code == 201, response.text
    assert tt.wait_status(data["publish_id"])["status"] == "PUBLISH_COMPLETE"


def test_two_chunks_in_order_with_out_of_order_attempt(tt: TikTok, sim: Simulator) -> None:
    size, chunk = 10 * MB + 1, 5 * MB
    first, second = b"\2" * chunk, b"\3" * (size - chunk)
    data = init_upload(tt, size, chunk, 2)
    url = data["upload_url"]

    early = tt.put_chunk(url, second, chunk, size)
    assert early.status_code == 416
    assert early.headers["content-range"] == f"bytes 0--1/{size}"  # nothing stored yet

    partial = tt.put_chunk(url, first, 0, size)
    assert partial.status_code == 206
    assert partial.headers["content-range"] == f"bytes 0-{chunk - 1}/{size}"
    status = tt.status(data["publish_id"])
    assert (status["status"], status["uploaded_bytes"]) == ("PROCESSING_UPLOAD", chunk)
    view = sim.publish(data["publish_id"])
    assert view is not None and view["chunks_received"] == 1

    done = tt.put_chunk(url, second, chunk, size)
    assert done.status_code == 201
    assert done.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    assert tt.wait_status(data["publish_id"])["status"] == "PUBLISH_COMPLETE"
    view = sim.publish(data["publish_id"])
    assert view is not None
    assert view["sha256"] == hashlib.sha256(first + second).hexdigest()


@pytest.mark.parametrize(
    ("content_type", "content_range", "body_len"),
    [
        pytest.param("image/png", None, 1000, id="bad-content-type"),
        pytest.param("video/mp4", "bytes=0-999/1000", 1000, id="malformed-range"),
        pytest.param("video/mp4", "bytes 0-999/2000", 1000, id="wrong-total"),
        pytest.param("video/mp4", "bytes 0-499/1000", 1000, id="length-vs-range"),
        pytest.param("video/mp4", "bytes 0-499/1000", 500, id="length-vs-plan"),
        pytest.param("video/mp4", "bytes 5-1004/1000", 1000, id="past-the-end"),
    ],
)
def test_bad_chunk_headers_are_400(
    tt: TikTok, content_type: str, content_range: str | None, body_len: int
) -> None:
    data = init_upload(tt, 1000)
    response = tt.put_chunk(
        data["upload_url"], b"x" * body_len, 0, 1000, content_type, content_range
    )
    assert response.status_code == 400
    assert response.headers["content-range"] == "bytes 0--1/1000"
    assert response.json()["error"]["code"] == "invalid_file_upload"
    # The connection is still usable and the upload still takes the right chunk.
    ok = tt.put_chunk(data["upload_url"], b"x" * 1000, 0, 1000, "video/quicktime")
    assert ok.status_code == 201


def test_range_not_matching_progress_is_416(tt: TikTok) -> None:
    data = init_upload(tt, 1000)
    response = tt.put_chunk(data["upload_url"], b"x" * 990, 10, 1000)
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes 0--1/1000"


def test_missing_content_range_is_400(tt: TikTok) -> None:
    data = init_upload(tt, 10)
    response = tt.http.put(
        data["upload_url"], content=b"x" * 10, headers={"Content-Type": "video/webm"}
    )
    assert response.status_code == 400


def test_unknown_upload_is_404(tt: TikTok, sim: Simulator) -> None:
    data = init_upload(tt, 10)
    parts = urlsplit(data["upload_url"])
    wrong_token = f"{sim.base_url}{parts.path}?upload_token=nope"
    assert tt.put_chunk(wrong_token, b"x" * 10, 0, 10).status_code == 404
    assert tt.put_chunk(f"{sim.base_url}/upload/999", b"x" * 10, 0, 10).status_code == 404
    assert tt.put_chunk(f"{sim.base_url}{parts.path}", b"x" * 10, 0, 10).status_code == 404


def test_expired_upload_url_is_403() -> None:
    with Simulator(SimulatorConfig(time_scale=0.01, upload_url_ttl_seconds=0.0)) as sim:
        with TikTok(sim.base_url, "act.demo") as tt:
            data = init_upload(tt, 10)
            response = tt.put_chunk(data["upload_url"], b"x" * 10, 0, 10)
            assert response.status_code == 403
            assert response.headers["content-range"] == "bytes 0--1/10"
            assert tt.status(data["publish_id"])["status"] == "PROCESSING_UPLOAD"


def test_client_vanishing_mid_chunk_stores_nothing(tt: TikTok, sim: Simulator) -> None:
    data = init_upload(tt, 1000)
    parts = urlsplit(data["upload_url"])
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as raw:
        head = (
            f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: video/mp4\r\nContent-Length: 1000\r\n"
            "Content-Range: bytes 0-999/1000\r\n\r\n"
        )
        raw.sendall(head.encode() + b"x" * 400)
    # The server notices the short body; the chunk is not counted and can be sent again.
    response = tt.put_chunk(data["upload_url"], b"y" * 1000, 0, 1000)
    if response.status_code == 416:  # the aborted chunk is still being torn down
        response = wait_for_upload(tt, data["upload_url"])
    assert response.status_code == 201
    view = sim.publish(data["publish_id"])
    assert view is not None and view["sha256"] == hashlib.sha256(b"y" * 1000).hexdigest()


def wait_for_upload(tt: TikTok, url: str) -> httpx.Response:
    return wait_for(lambda: tt.put_chunk(url, b"y" * 1000, 0, 1000), lambda r: r.status_code != 416)
