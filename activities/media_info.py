"""Media facts from libmediainfo, read over ranged reads of the staged object.

`probe(reader)` names the format from the first bytes (`media_probe.sniff`, which also
catches web pages cheaply), then hands libmediainfo (`pymediainfo`, whose wheel ships the
library) a seekable file object whose every `read` is one ranged read of the object: only
the bytes libmediainfo asks for cross the network (the headers, and the moov box wherever it
sits), never the whole file. What it reports: container, video codec, frame rate, duration,
overall bitrate, and width and height as the picture is shown (a 90° or 270° rotation swaps
them).
"""

from __future__ import annotations

import io
from typing import Any

from pymediainfo import MediaInfo

from activities.media_probe import (
    SNIFF_BYTES,
    MediaFacts,
    MediaKind,
    MediaProbeError,
    RangeReader,
    sniff,
)

READ_BYTES = 64 * 1024
"""What libmediainfo asks for at a time (one ranged read each)."""


def library_loads() -> bool:
    """Load libmediainfo now and say whether it works. The worker calls this at start: a
    missing library is one clear error before any work (not a failed post later), and the
    library's one-off memory is part of the idle worker rather than of its first post."""
    return bool(MediaInfo.can_parse())


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over a `RangeReader`: each read is one ranged read."""

    def __init__(self, reader: RangeReader) -> None:
        super().__init__()
        self._reader = reader
        self._pos = 0
        self.reads = 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._reader.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self._reader.size or not len(view):
            return 0
        data = self._reader.read(self._pos, len(view))
        self.reads += 1
        self.bytes_read += len(data)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


def probe(reader: RangeReader) -> MediaFacts:
    """Sniff, then measure with libmediainfo. A file whose magic names a format libmediainfo
    cannot read as that format is `TT_MEDIA_CORRUPT`."""
    size = reader.size
    kind = sniff(reader.read(0, SNIFF_BYTES))
    if kind in (MediaKind.HTML, MediaKind.UNKNOWN) or size == 0:
        return MediaFacts(kind, kind.mime_type, size)
    # parse_speed=0: the headers (moov box, track headers), not the frames themselves.
    info = MediaInfo.parse(RangeFile(reader), parse_speed=0, buffer_size=READ_BYTES)
    general = _track(info, "General")
    if kind.is_video:
        video = _track(info, "Video")
        if video is None:
            raise MediaProbeError(
                f"The file starts like a {kind.value} video but libmediainfo finds no video "
                "track in it: re-export it (MP4 with H.264 is the safest choice)."
            )
        width, height = _int(video.get("width")), _int(video.get("height"))
        rotation = round(_float(video.get("rotation")) or 0) % 360
        if rotation in (90, 270) and width and height:
            width, height = height, width
        duration_ms = _float((general or {}).get("duration")) or _float(video.get("duration"))
        return MediaFacts(
            kind,
            kind.mime_type,
            size,
            duration_seconds=duration_ms / 1000 if duration_ms else None,
            width=width,
            height=height,
            container=_str((general or {}).get("format")),
            video_codec=_str(video.get("format")),
            frame_rate=_float(video.get("frame_rate")),
            rotation=rotation,
            bitrate=_int((general or {}).get("overall_bit_rate")),
        )
    image = _track(info, "Image")
    if image is None:
        raise MediaProbeError(
            f"The file starts like a {kind.value} image but libmediainfo cannot read its "
            "picture: re-export it as JPEG or WebP."
        )
    return MediaFacts(
        kind,
        kind.mime_type,
        size,
        width=_int(image.get("width")),
        height=_int(image.get("height")),
        container=_str((general or {}).get("format")),
    )


def _track(info: MediaInfo, kind: str) -> dict[str, Any] | None:
    for track in info.tracks:
        if track.track_type == kind:
            data: dict[str, Any] = track.to_data()
            return data
    return None


def _float(value: Any) -> float | None:
    try:
        number = float(str(value).split()[0]) if value is not None else None
    except (ValueError, IndexError):
        return None
    return number if number is not None and number == number else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None


def _str(value: Any) -> str | None:
    return str(value) if value else None
