"""What a media file really is, read from its bytes rather than from what the request declared.

A request says "video/mp4, 42 s"; the URL may serve a Google Drive web page, a PNG, or a video
twice as long. TikTok would refuse those only after the post was due, so staging checks them
at submit time. Everything here works over a `RangeReader` (random access by offset), so the
staged object in S3 is probed with a handful of ranged GETs and never downloaded whole:

- `sniff` names the format from the first 64 bytes;
- `probe` adds the duration and the picture size: MP4/MOV by walking box headers (the moov box
  may sit at either end of the file), WebM by reading the EBML Info and Tracks elements near
  the start (or where the SeekHead points), JPEG from its SOF segment, WebP from its first
  chunk, PNG and GIF from their fixed headers.

A field we cannot find is None (a WebM recorded by a browser has no Duration, for instance);
a file whose structure is broken for its format raises `MediaProbeError`.
"""

from __future__ import annotations

import codecs
import math
import struct
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol
from urllib.parse import parse_qs, urlsplit

TT_MEDIA_CORRUPT = "TT_MEDIA_CORRUPT"

SNIFF_BYTES = 64
"""How much of the start of a file `sniff` needs."""
MOOV_READ_CAP = 64 * 1024 * 1024
"""A moov box up to this size is read in one GET; a larger one is walked with ranged reads."""
EBML_PREFIX = 4 * 1024 * 1024
"""A WebM's Info and Tracks normally sit in its first kilobytes; look no further than this."""
_MAX_ELEMENT_READ = 4 * 1024 * 1024
_MAX_WALK = 10_000


class MediaKind(StrEnum):
    """A file format, as far as staging and TikTok care."""

    MP4 = "mp4"
    MOV = "mov"
    WEBM = "webm"
    MATROSKA = "matroska"
    JPEG = "jpeg"
    WEBP = "webp"
    PNG = "png"
    GIF = "gif"
    HEIC = "heic"
    AVIF = "avif"
    HTML = "html"
    UNKNOWN = "unknown"

    @property
    def mime_type(self) -> str:
        return _MIME_TYPES[self]

    @property
    def is_video(self) -> bool:
        return self in (MediaKind.MP4, MediaKind.MOV, MediaKind.WEBM, MediaKind.MATROSKA)

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


_MIME_TYPES = {
    MediaKind.MP4: "video/mp4",
    MediaKind.MOV: "video/quicktime",
    MediaKind.WEBM: "video/webm",
    MediaKind.MATROSKA: "video/x-matroska",
    MediaKind.JPEG: "image/jpeg",
    MediaKind.WEBP: "image/webp",
    MediaKind.PNG: "image/png",
    MediaKind.GIF: "image/gif",
    MediaKind.HEIC: "image/heic",
    MediaKind.AVIF: "image/avif",
    MediaKind.HTML: "text/html",
    MediaKind.UNKNOWN: "application/octet-stream",
}


class MediaProbeError(Exception):
    """The bytes claim a format (by their magic) but break its structure: TT_MEDIA_CORRUPT."""

    def __init__(self, message: str, code: str = TT_MEDIA_CORRUPT) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class RangeReader(Protocol):
    """Random access to a file of known size: an S3 object (ranged GETs) or bytes in tests.

    `read` returns `length` bytes from `offset`, fewer only where the file ends.
    """

    @property
    def size(self) -> int: ...

    def read(self, offset: int, length: int) -> bytes: ...


class BytesReader:
    """A `RangeReader` over bytes already in memory (tests, and a moov box read whole)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return len(self._data)

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        return self._data[offset : offset + length]


@dataclass(frozen=True)
class MediaFacts:
    """What the bytes say; None where the format does not tell or we could not find it."""

    kind: MediaKind
    mime_type: str
    size_bytes: int
    duration_seconds: float | None = None
    width: int | None = None
    height: int | None = None


# -- sniffing ------------------------------------------------------------------------------------

_MOV_BRANDS = {b"qt  "}
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_GENERIC = {b"mif1", b"msf1"}
# QuickTime files from before ftyp existed start straight with one of these atoms.
_BARE_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"pnot"}
# WHATWG MIME sniffing's "identify an unknown type" HTML patterns, each followed by a
# tag-terminating byte; we also accept other whitespace and "/" after the name.
_HTML_OPENERS = tuple(
    s.encode()
    for s in (
        "<!doctype html",
        "<html",
        "<head",
        "<script",
        "<iframe",
        "<h1",
        "<div",
        "<font",
        "<table",
        "<a",
        "<style",
        "<title",
        "<b",
        "<body",
        "<br",
        "<p",
        "<!--",
        "<meta",
        "<link",
    )
)
_TAG_END = b" >\t\n\r\x0c/"


def sniff(head: bytes) -> MediaKind:
    """The format the first bytes of a file (ideally 64 or more) belong to."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _ftyp_kind(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaKind.MATROSKA if _ebml_doctype(head) == "matroska" else MediaKind.WEBM
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.WEBP
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaKind.GIF
    if len(head) >= 8 and head[4:8] in _BARE_QUICKTIME_ATOMS:
        return MediaKind.MOV
    if _looks_like_html(head):
        return MediaKind.HTML
    return MediaKind.UNKNOWN


def _ftyp_kind(head: bytes) -> MediaKind:
    (box_size,) = struct.unpack(">I", head[:4])
    major = head[8:12]
    end = min(len(head), box_size) if box_size >= 16 else len(head)
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in _MOV_BRANDS:
        return MediaKind.MOV
    if major in _AVIF_BRANDS:
        return MediaKind.AVIF
    if major in _HEIC_BRANDS:
        return MediaKind.HEIC
    if major in _HEIF_GENERIC:
        return MediaKind.AVIF if compatible & _AVIF_BRANDS else MediaKind.HEIC
    return MediaKind.MP4


def _ebml_doctype(head: bytes) -> str | None:
    at = head.find(b"\x42\x82")  # DocType inside the EBML header
    if at < 0 or at + 3 > len(head):
        return None
    size_byte = head[at + 2]
    if not size_byte & 0x80:  # only the one-byte size form is expected this early
        return None
    size = size_byte & 0x7F
    return head[at + 3 : at + 3 + size].rstrip(b"\x00").decode("ascii", "replace")


def _looks_like_html(head: bytes) -> bool:
    text = head
    if text.startswith(codecs.BOM_UTF8):
        text = text[3:]
    elif text[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding = "utf-16-le" if text[:2] == codecs.BOM_UTF16_LE else "utf-16-be"
        text = text[2:].decode(encoding, "ignore").encode("latin-1", "replace")
    text = text.lstrip(b" \t\n\r\x0c").lower()
    for opener in _HTML_OPENERS:
        if text.startswith(opener):
            after = text[len(opener) : len(opener) + 1]
            if not after or after in _TAG_END or opener == b"<!--":
                return True
    return False


# -- probing -------------------------------------------------------------------------------------


def probe(reader: RangeReader) -> MediaFacts:
    """Sniff and measure the file behind `reader` with a few bounded ranged reads."""
    size = reader.size
    cached = _CachedReader(reader)
    kind = sniff(cached.read(0, SNIFF_BYTES))
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    if kind in (MediaKind.MP4, MediaKind.MOV):
        duration, width, height = _probe_isobmff(cached)
    elif kind in (MediaKind.WEBM, MediaKind.MATROSKA):
        duration, width, height = _probe_ebml(cached)
    elif kind is MediaKind.JPEG:
        width, height = _probe_jpeg(cached)
    elif kind is MediaKind.WEBP:
        width, height = _probe_webp(cached)
    elif kind is MediaKind.PNG:
        width, height = _probe_png(cached)
    elif kind is MediaKind.GIF:
        width, height = struct.unpack("<HH", _read_exact(cached, 6, 4, "GIF header"))
    return MediaFacts(kind, kind.mime_type, size, duration, width or None, height or None)


class _CachedReader:
    """Serves small reads from a few 64 KiB blocks, so walking headers costs few S3 GETs."""

    def __init__(self, reader: RangeReader, block: int = 64 * 1024, keep: int = 16) -> None:
        self._reader, self._block, self._keep = reader, block, keep
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self.size = reader.size

    def read(self, offset: int, length: int) -> bytes:
        end = min(self.size, offset + length)
        if offset >= end:
            return b""
        if end - offset > 2 * self._block:
            return self._reader.read(offset, end - offset)
        first, last = offset // self._block, (end - 1) // self._block
        data = b"".join(self._get(index) for index in range(first, last + 1))
        start = offset - first * self._block
        return data[start : start + end - offset]

    def _get(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is None:
            block = self._reader.read(index * self._block, self._block)
            self._blocks[index] = block
            if len(self._blocks) > self._keep:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(index)
        return block


def _read_exact(reader: RangeReader, offset: int, length: int, what: str) -> bytes:
    data = reader.read(offset, length)
    if len(data) != length:
        raise MediaProbeError(
            f"The file ends inside its {what} (needed {length} bytes at offset {offset}, "
            f"the file has {reader.size}): it is truncated or corrupt; send the complete file."
        )
    return data


# -- ISO-BMFF (MP4, MOV) -------------------------------------------------------------------------


class _Box(NamedTuple):
    type: bytes
    start: int
    payload: int
    end: int


def _boxes(reader: RangeReader, start: int, end: int, where: str) -> Iterator[_Box]:
    """The boxes laid end to end in [start, end), reading only their 8- or 16-byte headers."""
    pos = start
    for _ in range(_MAX_WALK):
        if end - pos < 8:
            return
        head = reader.read(pos, 16)
        if len(head) < 8:
            raise MediaProbeError(f"The file ends inside a box header in {where}.")
        size, box_type = struct.unpack(">I4s", head[:8])
        payload = pos + 8
        if size == 1:
            if len(head) < 16:
                raise MediaProbeError(f"The file ends inside a box header in {where}.")
            (size,) = struct.unpack(">Q", head[8:16])
            payload = pos + 16
        elif size == 0:  # the box runs to the end of its container
            size = end - pos
        if size < payload - pos or pos + size > end:
            name = box_type.decode("latin-1")
            raise MediaProbeError(
                f"The '{name}' box at offset {pos} in {where} claims {size} bytes, beyond the "
                "end of what holds it: the file is truncated or corrupt; send the complete file."
            )
        yield _Box(box_type, pos, payload, pos + size)
        pos += size


def _probe_isobmff(reader: RangeReader) -> tuple[float | None, int | None, int | None]:
    moov: _Box | None = None
    seen_mdat = False
    for box in _boxes(reader, 0, reader.size, "the file"):
        if box.type == b"moov" and moov is None:
            moov = box
        seen_mdat = seen_mdat or box.type == b"mdat"
        if moov is not None and seen_mdat:
            break  # both extents checked; the rest (fragments, free space) is not needed
    if moov is None:
        raise MediaProbeError(
            "The MP4/MOV file has no 'moov' box, so no player can read it: the upload was "
            "cut short or the file was never finalised; export it again."
        )
    length = moov.end - moov.payload
    if length <= MOOV_READ_CAP:
        inner: RangeReader = BytesReader(_read_exact(reader, moov.payload, length, "moov box"))
        return _parse_moov(inner, 0, length)
    return _parse_moov(reader, moov.payload, moov.end)


def _parse_moov(
    reader: RangeReader, start: int, end: int
) -> tuple[float | None, int | None, int | None]:
    duration: float | None = None
    fragment_duration: int | None = None
    timescale = 0
    size: tuple[int, int] | None = None
    for box in _boxes(reader, start, end, "the moov box"):
        if box.type == b"mvhd":
            timescale, raw = _mvhd(_payload(reader, box, 32))
            duration = raw / timescale if timescale and raw else None
        elif box.type == b"mvex":
            for child in _boxes(reader, box.payload, box.end, "the mvex box"):
                if child.type == b"mehd":
                    fragment_duration = _versioned_int(_payload(reader, child, 12), 4)
        elif box.type == b"trak" and size is None:
            size = _video_track_size(reader, box)
    if duration is None and fragment_duration and timescale:
        duration = fragment_duration / timescale  # fragmented MP4: mvhd says 0
    width, height = size if size is not None else (None, None)
    return duration, width, height


def _payload(reader: RangeReader, box: _Box, limit: int) -> bytes:
    return reader.read(box.payload, min(limit, box.end - box.payload))


def _mvhd(data: bytes) -> tuple[int, int]:
    """(timescale, duration); 0 for a duration that is unknown (all ones, or a new version)."""
    if data[:1] not in (b"\x00", b"\x01"):
        return 0, 0
    if data[:1] == b"\x01":
        if len(data) < 32:
            raise MediaProbeError("The mvhd box (version 1) is shorter than 32 bytes.")
        timescale, duration = struct.unpack(">IQ", data[20:32])
        return timescale, 0 if duration == 2**64 - 1 else duration
    if len(data) < 20:
        raise MediaProbeError("The mvhd box is shorter than 20 bytes.")
    timescale, duration = struct.unpack(">II", data[12:20])
    return timescale, 0 if duration == 2**32 - 1 else duration


def _versioned_int(data: bytes, at: int) -> int | None:
    """A field that is 32-bit in version 0 and 64-bit in version 1 of a full box."""
    if data[:1] == b"\x01":
        return int.from_bytes(data[at : at + 8]) if len(data) >= at + 8 else None
    return int.from_bytes(data[at : at + 4]) if len(data) >= at + 4 else None


def _video_track_size(reader: RangeReader, trak: _Box) -> tuple[int, int] | None:
    """(width, height) from the tkhd of a track whose hdlr says 'vide', else None."""
    tkhd: bytes | None = None
    is_video = False
    for box in _boxes(reader, trak.payload, trak.end, "a trak box"):
        if box.type == b"tkhd":
            tkhd = _payload(reader, box, 96)
        elif box.type == b"mdia":
            for child in _boxes(reader, box.payload, box.end, "an mdia box"):
                if child.type == b"hdlr":
                    is_video = _payload(reader, child, 12)[8:12] == b"vide"
    if not is_video or tkhd is None:
        return None
    at = 88 if tkhd[:1] == b"\x01" else 76  # width, height: 16.16 fixed point at the end
    if len(tkhd) < at + 8:
        raise MediaProbeError("The video track's tkhd box is too short to hold its size.")
    width, height = struct.unpack(">II", tkhd[at : at + 8])
    return round(width / 65536), round(height / 65536)


# -- EBML (WebM, Matroska) -----------------------------------------------------------------------

_EBML = 0x1A45DFA3
_SEGMENT = 0x18538067
_SEEK_HEAD, _SEEK, _SEEK_ID, _SEEK_POSITION = 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
_INFO, _TIMECODE_SCALE, _DURATION = 0x1549A966, 0x2AD7B1, 0x4489
_TRACKS, _TRACK_ENTRY, _TRACK_TYPE = 0x1654AE6B, 0xAE, 0x83
_VIDEO, _PIXEL_WIDTH, _PIXEL_HEIGHT = 0xE0, 0xB0, 0xBA
_CLUSTER = 0x1F43B675


class _Element(NamedTuple):
    id: int
    start: int
    data: int
    end: int | None
    """None: unknown size (allowed for Segment and Cluster, which then run on)."""


def _vint(buf: bytes, pos: int, *, marker: bool) -> tuple[int, int, bool]:
    """(value, length, all-ones) of the EBML variable-size integer at `pos`."""
    if pos >= len(buf):
        raise MediaProbeError("The WebM file ends inside an element header.")
    first = buf[pos]
    length = 9 - first.bit_length()
    if first == 0 or length > (4 if marker else 8):
        raise MediaProbeError(f"Invalid EBML number at offset {pos}: the WebM file is corrupt.")
    if pos + length > len(buf):
        raise MediaProbeError("The WebM file ends inside an element header.")
    value = first if marker else first & (0xFF >> length)
    for byte in buf[pos + 1 : pos + length]:
        value = value << 8 | byte
    return value, length, not marker and value == (1 << (7 * length)) - 1


def _element_at(reader: RangeReader, pos: int) -> _Element:
    head = reader.read(pos, 12)
    element_id, id_length, _ = _vint(head, 0, marker=True)
    size, size_length, unknown = _vint(head, id_length, marker=False)
    data = pos + id_length + size_length
    return _Element(element_id, pos, data, None if unknown else data + size)


def _children(body: bytes) -> Iterator[tuple[int, bytes]]:
    """(id, payload) of the elements inside an in-memory master element."""
    pos = 0
    while pos < len(body):
        element_id, id_length, _ = _vint(body, pos, marker=True)
        size, size_length, unknown = _vint(body, pos + id_length, marker=False)
        start = pos + id_length + size_length
        end = len(body) if unknown else start + size
        if end > len(body):
            raise MediaProbeError(
                f"An element inside the WebM header claims {size} bytes, more than its parent "
                "holds: the file is corrupt."
            )
        yield element_id, body[start:end]
        pos = end


def _uint(data: bytes) -> int:
    return int.from_bytes(data) if len(data) <= 8 else 0


def _float(data: bytes) -> float | None:
    if len(data) == 4:
        return float(struct.unpack(">f", data)[0])
    if len(data) == 8:
        return float(struct.unpack(">d", data)[0])
    return None


def _body(reader: RangeReader, element: _Element, end: int) -> bytes:
    stop = min(element.end if element.end is not None else end, element.data + _MAX_ELEMENT_READ)
    return _read_exact(reader, element.data, stop - element.data, "WebM header")


def _probe_ebml(reader: RangeReader) -> tuple[float | None, int | None, int | None]:
    header = _element_at(reader, 0)
    if header.id != _EBML or header.end is None:
        raise MediaProbeError("The WebM file does not start with a valid EBML header.")
    segment = None
    pos = header.end
    while pos < min(reader.size, EBML_PREFIX):  # skip Void/CRC elements before the Segment
        element = _element_at(reader, pos)
        if element.id == _SEGMENT:
            segment = element
            break
        if element.end is None:
            break
        pos = element.end
    if segment is None:
        raise MediaProbeError("The WebM file has no Segment element, so it holds no video.")
    segment_end = reader.size if segment.end is None else min(segment.end, reader.size)
    info: bytes | None = None
    tracks: bytes | None = None
    seeks: dict[int, int] = {}
    pos = segment.data
    for _ in range(_MAX_WALK):  # walk the Segment's children within the prefix
        if pos >= min(segment_end, EBML_PREFIX) or (info is not None and tracks is not None):
            break
        element = _element_at(reader, pos)
        if element.id == _INFO and info is None:
            info = _body(reader, element, segment_end)
        elif element.id == _TRACKS and tracks is None:
            tracks = _body(reader, element, segment_end)
        elif element.id == _SEEK_HEAD:
            seeks.update(_seek_positions(_body(reader, element, segment_end)))
        if element.end is None:
            break  # an unknown-size Cluster: Info and Tracks come before clusters
        pos = element.end
    # Info or Tracks after the clusters: follow the SeekHead (positions are segment-relative).
    for wanted in (_INFO, _TRACKS):
        found = info if wanted == _INFO else tracks
        where = seeks.get(wanted)
        if found is None and where is not None and segment.data + where < segment_end:
            element = _element_at(reader, segment.data + where)
            if element.id == wanted:
                body = _body(reader, element, segment_end)
                info, tracks = (body, tracks) if wanted == _INFO else (info, body)
    duration = _ebml_duration(info) if info is not None else None
    width, height = _ebml_video_size(tracks) if tracks is not None else (None, None)
    return duration, width, height


def _seek_positions(seek_head: bytes) -> dict[int, int]:
    positions: dict[int, int] = {}
    for element_id, seek in _children(seek_head):
        if element_id != _SEEK:
            continue
        fields = dict(_children(seek))
        if _SEEK_ID in fields and _SEEK_POSITION in fields:
            positions[_uint(fields[_SEEK_ID])] = _uint(fields[_SEEK_POSITION])
    return positions


def _ebml_duration(info: bytes) -> float | None:
    scale = 1_000_000  # the default TimecodeScale: milliseconds
    duration: float | None = None
    for element_id, data in _children(info):
        if element_id == _TIMECODE_SCALE:
            scale = _uint(data) or scale
        elif element_id == _DURATION:
            duration = _float(data)
    if duration is None or not math.isfinite(duration) or duration <= 0:
        return None
    return duration * scale / 1e9


def _ebml_video_size(tracks: bytes) -> tuple[int | None, int | None]:
    for element_id, entry in _children(tracks):
        if element_id != _TRACK_ENTRY:
            continue
        fields = dict(_children(entry))
        if _uint(fields.get(_TRACK_TYPE, b"")) != 1 or _VIDEO not in fields:
            continue
        video = dict(_children(fields[_VIDEO]))
        width, height = video.get(_PIXEL_WIDTH), video.get(_PIXEL_HEIGHT)
        return (
            _uint(width) if width is not None else None,
            _uint(height) if height is not None else None,
        )
    return None, None


# -- images --------------------------------------------------------------------------------------

# SOF0-SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01, 0xD8}


def _probe_jpeg(reader: RangeReader) -> tuple[int | None, int | None]:
    """Skip segments by their lengths until a SOFn segment, which holds the frame size."""
    pos = 2
    for _ in range(_MAX_WALK):
        head = reader.read(pos, 16)
        if not head:
            break
        if head[0] != 0xFF:
            raise MediaProbeError(f"The JPEG has no segment marker at offset {pos}: it is corrupt.")
        fill = len(head) - len(head.lstrip(b"\xff"))
        if fill == len(head):  # a long run of fill bytes: skip it
            pos += fill
            continue
        marker = head[fill]
        pos += fill + 1
        if marker in _STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):  # end of image, or image data, before any frame header
            break
        segment = _read_exact(reader, pos, 2, "JPEG segment header")
        (length,) = struct.unpack(">H", segment)
        if length < 2:
            raise MediaProbeError(f"A JPEG segment at offset {pos} has an impossible length.")
        if marker in _SOF_MARKERS:
            frame = _read_exact(reader, pos + 2, 5, "JPEG frame header")
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height or None  # height 0: defined later by a DNL segment
        pos += length
    raise MediaProbeError(
        "The JPEG has no frame header (SOF) before its image data: it is truncated or corrupt."
    )


def _probe_webp(reader: RangeReader) -> tuple[int, int]:
    head = reader.read(0, 30)
    chunk, data = head[12:16], head[20:30]
    needed = {b"VP8 ": 10, b"VP8L": 5, b"VP8X": 10}.get(chunk, 0)
    if len(data) < needed:
        raise MediaProbeError("The WebP file ends inside its first chunk: it is truncated.")
    if chunk == b"VP8 ":
        if data[3:6] != b"\x9d\x01\x2a":
            raise MediaProbeError("The WebP's VP8 frame has no start code: it is corrupt.")
        width, height = struct.unpack("<HH", data[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if data[0] != 0x2F:
            raise MediaProbeError("The WebP's lossless (VP8L) signature is wrong: it is corrupt.")
        (bits,) = struct.unpack("<I", data[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return 1 + int.from_bytes(data[4:7], "little"), 1 + int.from_bytes(data[7:10], "little")
    raise MediaProbeError(
        f"The WebP starts with an unknown chunk {chunk!r} instead of VP8, VP8L or VP8X."
    )


def _probe_png(reader: RangeReader) -> tuple[int, int]:
    head = _read_exact(reader, 0, 24, "PNG header")
    if head[12:16] != b"IHDR":
        raise MediaProbeError("The PNG does not start with an IHDR chunk: it is corrupt.")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


# -- advice when a URL served a web page ---------------------------------------------------------

GENERIC_WEBPAGE_HINT = (
    "The URL returned a web page, not the file: use a direct link to the file itself "
    "(one that downloads it rather than showing a page about it)."
)


def html_source_hint(url: str) -> str:
    """One sentence on how to turn a share link from a known host into a direct download."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()

    def on(*domains: str) -> bool:
        return any(host == d or host.endswith("." + d) for d in domains)

    if on("drive.google.com", "docs.google.com", "drive.usercontent.google.com"):
        file_id = _drive_file_id(parts.path, parts.query)
        direct = "https://drive.google.com/uc?export=download&id=" + (file_id or "<FILE_ID>")
        return (
            "The Google Drive link returned its web page, not the file: share the file as "
            f"'Anyone with the link' and use {direct} instead; Drive still answers with a "
            "virus-scan page for large files, so host big videos on a CDN or bucket."
        )
    if on("dropbox.com", "dropboxusercontent.com"):
        return (
            "The Dropbox link returned its preview page, not the file: change 'dl=0' to 'dl=1' "
            "in the link (or add '?dl=1'), keeping its other parameters."
        )
    if on("onedrive.live.com", "1drv.ms", "sharepoint.com", "onedrive.com"):
        return (
            "The OneDrive/SharePoint link returned a viewer page, not the file: add "
            "'download=1' to the link's query (for a 1drv.ms short link, open it first and use "
            "the full link it leads to), and share it with 'Anyone with the link'."
        )
    if on("icloud.com"):
        return (
            "The iCloud link returned a web page, and iCloud share links have no direct-download "
            "form: download the file and host it where a URL serves the file itself."
        )
    return GENERIC_WEBPAGE_HINT


def _drive_file_id(path: str, query: str) -> str | None:
    segments = [s for s in path.split("/") if s]
    if "d" in segments:  # /file/d/<id>/view
        at = segments.index("d") + 1
        if at < len(segments):
            return segments[at]
    ids = parse_qs(query).get("id")
    return ids[0] if ids else None
