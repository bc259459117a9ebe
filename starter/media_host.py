"""A tiny HTTP media host on loopback for the local stack and the tests.

It plays the part of a customer's CDN: the simulator really downloads from it, and a test can
take a file away (`remove`) to show what happens when a source URL disappears.
"""

from __future__ import annotations

import mimetypes
import struct
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starter.local_http import LocalHTTPServer


def mp4_header(
    total_size: int, *, duration_ms: int, width: int, height: int, fps: int = 30
) -> bytes:
    """ftyp + moov (mvhd, one H.264 video trak) + the header of an mdat running to `total_size`.

    Followed by `total_size - len(header)` bytes of anything, it is a file that libmediainfo
    reads as an MP4 with one AVC track of that duration, size and frame rate: enough for
    staging's checks and TikTok's simulator, which measure containers, not pictures.
    """

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    def full(kind: bytes, payload: bytes, flags: int = 0) -> bytes:
        return box(kind, struct.pack(">I", flags) + payload)

    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = full(
        b"mvhd",
        struct.pack(">IIII", 0, 0, 1000, duration_ms)
        + struct.pack(">IH", 0x10000, 256)
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2),
    )
    tkhd = full(
        b"tkhd",
        struct.pack(">IIIII", 0, 0, 1, 0, duration_ms)
        + bytes(16)
        + matrix
        + struct.pack(">II", width << 16, height << 16),
        flags=3,
    )
    frames = max(1, duration_ms * fps // 1000)
    mdhd = full(b"mdhd", struct.pack(">IIIIHH", 0, 0, fps * 1000, frames * 1000, 0x55C4, 0))
    hdlr = full(b"hdlr", bytes(4) + b"vide" + bytes(12) + b"video\0")
    avc1 = box(
        b"avc1",
        bytes(6)
        + struct.pack(">H", 1)
        + bytes(16)
        + struct.pack(">HHII", width, height, 0x480000, 0x480000)
        + bytes(4)
        + struct.pack(">H", 1)
        + bytes(32)
        + struct.pack(">Hh", 0x18, -1),
    )
    stbl = box(
        b"stbl",
        full(b"stsd", struct.pack(">I", 1) + avc1)
        + full(b"stts", struct.pack(">III", 1, frames, 1000))
        + full(b"stsc", struct.pack(">I", 0))
        + full(b"stsz", struct.pack(">II", 0, 0))
        + full(b"stco", struct.pack(">I", 0)),
    )
    minf = box(b"minf", full(b"vmhd", bytes(8), flags=1) + stbl)
    moov = box(b"moov", mvhd + box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + minf)))
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    mdat_size = total_size - len(ftyp) - len(moov)
    if mdat_size < 16:
        raise ValueError("total_size is too small for the MP4 header")
    return ftyp + moov + struct.pack(">I4sQ", 1, b"mdat", mdat_size)


def sample_video(
    size: int = 256 * 1024,
    *,
    duration_seconds: float = 15,
    width: int = 1080,
    height: int = 1920,
    fps: int = 30,
) -> bytes:
    """A small MP4 that probes as `duration_seconds` long at width x height, H.264 at `fps`."""
    head = mp4_header(
        size, duration_ms=int(duration_seconds * 1000), width=width, height=height, fps=fps
    )
    return head + bytes(i % 251 for i in range(size - len(head)))


def sample_jpeg(size: int = 32 * 1024, *, width: int = 1080, height: int = 1350) -> bytes:
    """A JPEG whose SOF0 header says width x height (the body is filler)."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + bytes(9)
    head = b"\xff\xd8" + app0 + sof0
    return head + bytes(i % 241 for i in range(size - len(head) - 2)) + b"\xff\xd9"


def _from_directory(directory: Path, path: str) -> tuple[str, bytes] | None:
    """/files/NAME from `directory`; nothing outside it (no .., no subdirectories)."""
    name = unquote(path.removeprefix("/files/")) if path.startswith("/files/") else ""
    if not name or "/" in name or name.startswith("."):
        return None
    file = directory / name
    if not file.is_file():
        return None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return content_type, file.read_bytes()


class MediaHost:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, directory: Path | None = None
    ) -> None:
        """`directory`: its files are also served, at /files/NAME (read at each request,
        so files copied in while the host runs are served too)."""
        self._files: dict[str, tuple[str, bytes]] = {}
        self._hits: dict[str, int] = {}
        self._lock = threading.Lock()
        files, hits, lock = self._files, self._hits, self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve(body=True)

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def _serve(self, *, body: bool) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/":  # a person opening the printed URL: what is served here
                    self._index(body=body)
                    return
                with lock:
                    entry = files.get(path)
                    if body:
                        hits[path] = hits.get(path, 0) + 1
                if entry is None and directory is not None:
                    entry = _from_directory(directory, path)
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

            def _index(self, *, body: bool) -> None:
                with lock:
                    names = sorted(files)
                if directory is not None and directory.is_dir():
                    names += sorted(
                        f"/files/{p.name}"
                        for p in directory.iterdir()
                        if p.is_file() and not p.name.startswith(".")
                    )
                text = "\n".join(
                    ["A stand-in for a customer's CDN. Files served here:", *names, ""]
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                if body:
                    self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = LocalHTTPServer((host, port), Handler)
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

    def downloads(self, path: str) -> int:
        """How many GET requests `path` has received (a test's proof of no re-download)."""
        with self._lock:
            return self._hits.get("/" + path.lstrip("/"), 0)

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
