"""A tiny HTTP media host on loopback for the local stack and the tests.

It plays the part of a customer's CDN: the simulator really downloads from it, and a test can
take a file away (`remove`) to show what happens when a source URL disappears.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def sample_video(size: int = 256 * 1024) -> bytes:
    """Bytes that start like an MP4 (an ftyp box); the simulator does not decode media."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + bytes(i % 251 for i in range(size - len(head)))


def sample_jpeg(size: int = 32 * 1024) -> bytes:
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    return head + bytes(i % 241 for i in range(size - len(head) - 2)) + b"\xff\xd9"


class MediaHost:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._files: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()
        files, lock = self._files, self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve(body=True)

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def _serve(self, *, body: bool) -> None:
                with lock:
                    entry = files.get(self.path.split("?", 1)[0])
                if entry is None:
                    self.send_error(404)
                    return
                content_type, data = entry
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{path.lstrip('/')}"

    def add(self, path: str, data: bytes, content_type: str) -> str:
        with self._lock:
            self._files["/" + path.lstrip("/")] = (content_type, data)
        return self.url(path)

    def remove(self, path: str) -> None:
        with self._lock:
            self._files.pop("/" + path.lstrip("/"), None)

    def start(self) -> MediaHost:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MediaHost:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
