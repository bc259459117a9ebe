"""The local servers (the media host, the codec endpoint) take a client hanging up
mid-answer quietly: the engine does it on purpose (a download over its size cap), and a
traceback for it in `make run`'s output reads like a failure. A handler's own bug still
prints in full."""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from simulator import Simulator, SimulatorConfig
from starter.codec_server import CodecServer
from starter.local_http import LocalHTTPServer
from starter.media_host import MediaHost
from worker.codec import PayloadKeys

BIG = 32 * 1024 * 1024  # far more than the socket buffers hold: the write is mid-way at the reset


def _hang_up_mid_answer(port: int, request: bytes) -> None:
    """Read the first bytes of the answer, then close with a reset (SO_LINGER 0)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        assert sock.recv(64)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.5)  # the server's thread meets the reset on its next write


def test_the_media_host_is_quiet_when_a_download_is_dropped(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with MediaHost() as host:
        host.add("big.bin", b"x" * BIG, "application/octet-stream")
        _hang_up_mid_answer(host.port, b"GET /big.bin HTTP/1.1\r\nHost: local\r\n\r\n")
        assert host.downloads("big.bin") == 1
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err


def test_a_handlers_own_bug_still_prints_its_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    class Broken(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            raise ValueError("a bug in the handler")

    server = LocalHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: local\r\n\r\n")
            s.recv(64)
        time.sleep(0.3)
    finally:
        server.shutdown()
        server.server_close()
    err = capfd.readouterr().err
    assert "ValueError: a bug in the handler" in err, err


def test_the_printed_urls_of_the_local_stack_say_what_they_are(tmp_path: Path) -> None:
    """`make run` prints the media host's, the simulator's and the codec server's URLs; a
    person who opens one reads what it is, not a 404 or a 501."""
    (tmp_path / "mine.mp4").write_bytes(b"x")
    (tmp_path / ".hidden").write_bytes(b"x")
    with MediaHost(directory=tmp_path) as media:
        media.add("videos/launch.mp4", b"x", "video/mp4")
        index = httpx.get(media.url(""))
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/plain")
    assert "/videos/launch.mp4" in index.text and "/files/mine.mp4" in index.text
    assert ".hidden" not in index.text  # what /files/ would refuse is not listed

    with Simulator(SimulatorConfig()) as sim:
        about = httpx.get(sim.base_url + "/")
        unknown = httpx.get(sim.base_url + "/v2/nothing/")
    assert about.status_code == 200
    assert "POST /v2/post/publish/video/init/" in about.json()["endpoints"]
    assert unknown.status_code == 404  # TikTok's paths stay as faithful as before

    with CodecServer(PayloadKeys.parse(PayloadKeys.generate("k1")), port=0) as codec:
        described = httpx.get(codec.url + "/")
    assert described.status_code == 200
    assert described.json()["endpoints"] == ["POST /decode", "POST /encode"]
