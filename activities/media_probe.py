"""What a media file really is, read from its bytes rather than from what the request declared.

A request says "video/mp4, 42 s"; the URL may serve a Google Drive web page, a PNG, or a video
twice as long. TikTok would refuse those only after the post was due, so staging checks them
at submit time:

- `sniff` names the format from the first 64 bytes (cheap: it runs on the first bytes of a
  download, before anything is stored, to refuse web pages with advice, `html_source_hint`);
- the measurements (codec, frame rate, duration, rotation-aware size, bitrate) come from
  libmediainfo over ranged reads: `activities.media_info.probe`.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

TT_MEDIA_CORRUPT = "TT_MEDIA_CORRUPT"

SNIFF_BYTES = 64
"""How much of the start of a file `sniff` needs."""


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
    """A `RangeReader` over bytes already in memory (tests)."""

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
    """As shown: a 90° or 270° rotation is already applied."""
    height: int | None = None
    container: str | None = None
    """libmediainfo's name of the container (MPEG-4, QuickTime, WebM, Matroska, JPEG, ...)."""
    video_codec: str | None = None
    """libmediainfo's name of the video codec (AVC, HEVC, VP8, VP9, ...)."""
    frame_rate: float | None = None
    rotation: int = 0
    bitrate: int | None = None
    """Overall bitrate in bits per second."""


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


# -- web pages instead of files -------------------------------------------------------------


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
