"""Sniffing and probing on small but structurally real files built here, byte by byte."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities import media_probe
from activities.media_probe import (
    GENERIC_WEBPAGE_HINT,
    BytesReader,
    MediaFacts,
    MediaKind,
    MediaProbeError,
    html_source_hint,
    probe,
    sniff,
)

# -- ISO-BMFF builders ---------------------------------------------------------------------------


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full(version: int, flags: int = 0) -> bytes:
    return bytes([version]) + flags.to_bytes(3)


IDENTITY = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def ftyp(major: bytes = b"isom", *compatible: bytes) -> bytes:
    return box(b"ftyp", major + struct.pack(">I", 0x200) + b"".join(compatible or (major,)))


def mvhd(version: int, timescale: int, duration: int) -> bytes:
    if version == 1:
        times = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        times = struct.pack(">IIII", 0, 0, timescale, duration)
    rest = struct.pack(">IH", 0x10000, 0x100) + bytes(10) + IDENTITY + bytes(24) + b"\0\0\0\3"
    return box(b"mvhd", full(version) + times + rest)


def tkhd(version: int, width: float, height: float, track_id: int = 1) -> bytes:
    if version == 1:
        head = struct.pack(">QQIIQ", 0, 0, track_id, 0, 1000)
    else:
        head = struct.pack(">IIIII", 0, 0, track_id, 0, 1000)
    size = struct.pack(">II", int(width * 65536), int(height * 65536))
    return box(b"tkhd", full(version, 3) + head + bytes(8) + bytes(8) + IDENTITY + size)


def hdlr(handler: bytes) -> bytes:
    return box(b"hdlr", full(0) + bytes(4) + handler + bytes(12) + b"handler\0")


def trak(
    handler: bytes, width: float, height: float, *, version: int = 0, track_id: int = 1
) -> bytes:
    mdhd = box(b"mdhd", full(0) + struct.pack(">IIIIHH", 0, 0, 1000, 1000, 0x55C4, 0))
    return box(
        b"trak",
        tkhd(version, width, height, track_id) + box(b"mdia", mdhd + hdlr(handler)),
    )


def moov(
    *,
    mvhd_version: int = 0,
    timescale: int = 1000,
    duration: int = 12_345,
    width: float = 1080,
    height: float = 1920,
    tkhd_version: int = 0,
    extra: bytes = b"",
) -> bytes:
    # An audio track first, so the video track must be found by its hdlr, not by position.
    tracks = trak(b"soun", 0, 0, track_id=1) + trak(
        b"vide", width, height, version=tkhd_version, track_id=2
    )
    return box(b"moov", mvhd(mvhd_version, timescale, duration) + tracks + extra)


def mp4(
    *, moov_first: bool, media: bytes = b"\x00" * 1000, head: bytes | None = None, **kw: Any
) -> bytes:
    movie = moov(**kw)
    mdat = box(b"mdat", media)
    start = ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41") if head is None else head
    return start + (movie + mdat if moov_first else box(b"free") + mdat + movie)


class CountingReader:
    """A file of `size` bytes that is zero except where `pieces` put real bytes; counts reads."""

    def __init__(self, size: int, pieces: dict[int, bytes]) -> None:
        self.size = size
        self._pieces = pieces
        self.bytes_read = 0
        self.reads = 0

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        out = bytearray(length)
        for at, data in self._pieces.items():
            lo, hi = max(at, offset), min(at + len(data), offset + length)
            if lo < hi:
                out[lo - offset : hi - offset] = data[lo - at : hi - at]
        self.bytes_read += length
        self.reads += 1
        return bytes(out)


# -- MP4 / MOV -----------------------------------------------------------------------------------


@pytest.mark.parametrize("moov_first", [True, False], ids=["moov-first", "moov-last"])
@pytest.mark.parametrize("version", [0, 1])
def test_mp4_duration_and_size_in_either_order(moov_first: bool, version: int) -> None:
    data = mp4(moov_first=moov_first, mvhd_version=version, tkhd_version=version)
    assert sniff(data[:64]) is MediaKind.MP4
    assert probe(BytesReader(data)) == MediaFacts(
        MediaKind.MP4, "video/mp4", len(data), 12.345, 1080, 1920
    )


def test_mvhd_version_1_holds_64_bit_durations() -> None:
    duration = 2**33 + 7  # does not fit 32 bits
    data = mp4(moov_first=True, mvhd_version=1, timescale=90_000_000, duration=duration)
    assert probe(BytesReader(data)).duration_seconds == duration / 90_000_000


def test_quicktime_brand_is_mov() -> None:
    data = mp4(moov_first=False, head=ftyp(b"qt  "), timescale=600, duration=18_000)
    facts = probe(BytesReader(data))
    assert (facts.kind, facts.mime_type, facts.duration_seconds) == (
        MediaKind.MOV,
        "video/quicktime",
        30.0,
    )
    assert (facts.width, facts.height) == (1080, 1920)


def test_quicktime_without_ftyp_is_mov() -> None:
    data = moov(width=640, height=360) + box(b"mdat", bytes(100))
    facts = probe(BytesReader(data))
    assert (facts.kind, facts.width, facts.height) == (MediaKind.MOV, 640, 360)


def test_fractional_track_size_rounds() -> None:
    data = mp4(moov_first=True, width=719.99, height=1280.5)
    facts = probe(BytesReader(data))
    assert (facts.width, facts.height) == (720, 1280)


def test_mdat_with_64_bit_size_and_moov_at_the_end() -> None:
    payload = bytes(500)
    mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + len(payload)) + payload
    data = ftyp() + mdat + moov(duration=3_000)
    assert probe(BytesReader(data)).duration_seconds == 3.0


def test_mdat_running_to_the_end_of_the_file() -> None:
    data = ftyp() + moov(duration=61_000) + struct.pack(">I4s", 0, b"mdat") + bytes(3000)
    assert probe(BytesReader(data)).duration_seconds == 61.0


def test_fragmented_mp4_takes_duration_from_mehd() -> None:
    mvex = box(b"mvex", box(b"mehd", full(1) + struct.pack(">Q", 45_000)))
    data = ftyp(b"iso6") + moov(duration=0, extra=mvex) + box(b"moof") + box(b"mdat", bytes(10))
    assert probe(BytesReader(data)).duration_seconds == 45.0


def test_unknown_duration_and_no_video_track_are_none() -> None:
    audio_only = box(b"moov", mvhd(0, 1000, 2**32 - 1) + trak(b"soun", 0, 0))
    data = ftyp(b"M4A ") + audio_only + box(b"mdat", bytes(10))
    assert probe(BytesReader(data)) == MediaFacts(MediaKind.MP4, "video/mp4", len(data))


def test_large_file_with_moov_at_the_end_reads_only_headers_and_moov() -> None:
    media = 2_000_000_000  # a 2 GB mdat that is never materialised or read
    head = ftyp() + struct.pack(">I4sQ", 1, b"mdat", 16 + media)
    movie = moov(duration=600_000)
    reader = CountingReader(len(head) + media + len(movie), {0: head, len(head) + media: movie})
    facts = probe(reader)
    assert (facts.duration_seconds, facts.width, facts.height) == (600.0, 1080, 1920)
    assert facts.size_bytes == reader.size
    assert reader.bytes_read < 200_000 and reader.reads <= 4


def test_moov_over_the_cap_is_walked_with_ranged_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media_probe, "MOOV_READ_CAP", 64)
    data = mp4(moov_first=False, mvhd_version=1, tkhd_version=1)
    facts = probe(BytesReader(data))
    assert (facts.duration_seconds, facts.width, facts.height) == (12.345, 1080, 1920)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(mp4(moov_first=True)[:-10], id="truncated-mdat"),
        pytest.param(mp4(moov_first=False)[:-10], id="truncated-moov"),
        pytest.param(ftyp() + box(b"mdat", bytes(100)), id="no-moov"),
        pytest.param(ftyp() + struct.pack(">I4s", 4, b"free") + bytes(40), id="box-too-small"),
    ],
)
def test_broken_mp4_is_corrupt(data: bytes) -> None:
    with pytest.raises(MediaProbeError) as err:
        probe(BytesReader(data))
    assert err.value.code == "TT_MEDIA_CORRUPT"


# -- EBML (WebM / Matroska) ----------------------------------------------------------------------


def eid(element_id: int) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8)


def esize(n: int) -> bytes:
    length = 1
    while n >= (1 << (7 * length)) - 1:
        length += 1
    return ((1 << (7 * length)) | n).to_bytes(length)


UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def el(element_id: int, payload: bytes) -> bytes:
    return eid(element_id) + esize(len(payload)) + payload


def uint(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8))


def ebml_header(doctype: bytes = b"webm") -> bytes:
    return el(
        0x1A45DFA3,
        el(0x4286, uint(1))
        + el(0x42F7, uint(1))
        + el(0x42F2, uint(4))
        + el(0x42F3, uint(8))
        + el(0x4282, doctype)
        + el(0x4287, uint(4))
        + el(0x4285, uint(2)),
    )


def info(duration: bytes | None, scale: int | None = None) -> bytes:
    fields = el(0x4D80, b"test") + el(0x5741, b"test")
    if scale is not None:
        fields = el(0x2AD7B1, uint(scale)) + fields
    if duration is not None:
        fields += el(0x4489, duration)
    return el(0x1549A966, fields)


def tracks(width: int, height: int) -> bytes:
    audio = el(0xAE, el(0xD7, uint(1)) + el(0x83, uint(2)) + el(0x86, b"A_OPUS"))
    video = el(
        0xAE,
        el(0xD7, uint(2))
        + el(0x83, uint(1))
        + el(0x86, b"V_VP9")
        + el(0xE0, el(0xB0, uint(width)) + el(0xBA, uint(height))),
    )
    return el(0x1654AE6B, audio + video)


def cluster(unknown_size: bool = False) -> bytes:
    body = el(0xE7, uint(0)) + el(0xA3, b"\x81\x00\x00\x80" + bytes(200))
    return eid(0x1F43B675) + (UNKNOWN_SIZE + body if unknown_size else esize(len(body)) + body)


def webm(*children: bytes, unknown_segment: bool = False, doctype: bytes = b"webm") -> bytes:
    body = b"".join(children)
    size = UNKNOWN_SIZE if unknown_segment else esize(len(body))
    return ebml_header(doctype) + eid(0x18538067) + size + body


@pytest.mark.parametrize("unknown_segment", [False, True])
def test_webm_duration_and_size(unknown_segment: bool) -> None:
    data = webm(
        el(0xEC, bytes(20)),  # Void
        info(struct.pack(">d", 12_345.0), scale=1_000_000),
        tracks(1280, 720),
        cluster(),
        unknown_segment=unknown_segment,
    )
    assert sniff(data[:64]) is MediaKind.WEBM
    assert probe(BytesReader(data)) == MediaFacts(
        MediaKind.WEBM, "video/webm", len(data), 12.345, 1280, 720
    )


def test_webm_float32_duration_and_custom_timecode_scale() -> None:
    data = webm(info(struct.pack(">f", 2500.0), scale=10_000_000), tracks(360, 640), cluster())
    facts = probe(BytesReader(data))
    assert (facts.duration_seconds, facts.width, facts.height) == (25.0, 360, 640)


def test_browser_recording_without_duration_gives_none() -> None:
    # MediaRecorder output: unknown-size Segment and Cluster, no Duration in Info.
    data = webm(info(None), tracks(640, 480), cluster(unknown_size=True), unknown_segment=True)
    facts = probe(BytesReader(data))
    assert (facts.duration_seconds, facts.width, facts.height) == (None, 640, 480)


def test_webm_info_and_tracks_after_clusters_are_found_through_the_seekhead() -> None:
    first_cluster = cluster(unknown_size=True)

    def seek_head(info_at: int, tracks_at: int) -> bytes:
        def seek(target: int, at: int) -> bytes:
            return el(0x4DBB, el(0x53AB, eid(target)) + el(0x53AC, at.to_bytes(4)))

        return el(0x114D9B74, seek(0x1549A966, info_at) + seek(0x1654AE6B, tracks_at))

    placeholder = seek_head(0, 0)  # fixed-width positions, so the size is known up front
    info_el = info(struct.pack(">d", 7_000.0))
    info_at = len(placeholder) + len(first_cluster)
    tracks_at = info_at + len(info_el)
    data = webm(
        seek_head(info_at, tracks_at),
        first_cluster,
        info_el,
        tracks(1920, 1080),
        unknown_segment=True,
    )
    facts = probe(BytesReader(data))
    assert (facts.duration_seconds, facts.width, facts.height) == (7.0, 1920, 1080)


def test_matroska_doctype() -> None:
    data = webm(info(struct.pack(">d", 1000.0)), tracks(400, 400), doctype=b"matroska")
    facts = probe(BytesReader(data))
    assert (facts.kind, facts.mime_type, facts.duration_seconds) == (
        MediaKind.MATROSKA,
        "video/x-matroska",
        1.0,
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(ebml_header() + b"\x18\x53\x80\x67\x00", id="bad-size-vint"),
        pytest.param(ebml_header() + el(0xEC, bytes(4)), id="no-segment"),
        pytest.param(webm(info(struct.pack(">d", 1.0)), tracks(1, 1))[:-5], id="truncated"),
    ],
)
def test_broken_webm_is_corrupt(data: bytes) -> None:
    with pytest.raises(MediaProbeError):
        probe(BytesReader(data))


# -- images --------------------------------------------------------------------------------------


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(width: int, height: int, sof: int = 0xC0) -> bytes:
    app0 = segment(0xE0, b"JFIF\0\1\1\0\0\1\0\1\0\0")
    app1 = segment(0xE1, b"Exif\0\0" + b"\xff\xd9\xff\xc0" * 50)  # marker-like bytes inside
    dqt = segment(0xDB, b"\0" + bytes(64))
    frame = segment(sof, b"\x08" + struct.pack(">HH", height, width) + b"\x03" + bytes(9))
    dht = segment(0xC4, b"\0" + bytes(16) + b"\0")
    sos = segment(0xDA, b"\x03" + bytes(9))
    return (
        b"\xff\xd8" + app0 + app1 + b"\xff\xff" + dqt + dht + frame + sos + bytes(100) + b"\xff\xd9"
    )


@pytest.mark.parametrize("sof", [0xC0, 0xC2], ids=["baseline", "progressive"])
def test_jpeg_size_from_sof(sof: int) -> None:
    data = jpeg(1080, 1350, sof)
    assert sniff(data[:64]) is MediaKind.JPEG
    assert probe(BytesReader(data)) == MediaFacts(
        MediaKind.JPEG, "image/jpeg", len(data), None, 1080, 1350
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            b"\xff\xd8" + segment(0xE0, bytes(14)) + segment(0xDA, bytes(10)), id="sos-first"
        ),
        pytest.param(jpeg(10, 10)[:40], id="truncated"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20), id="no-marker"),
    ],
)
def test_broken_jpeg_is_corrupt(data: bytes) -> None:
    with pytest.raises(MediaProbeError):
        probe(BytesReader(data))


def riff(chunk: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_webp_lossy_vp8() -> None:
    payload = b"\x10\x02\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", 1080, 1350) + bytes(20)
    data = riff(b"VP8 ", payload)
    assert sniff(data[:64]) is MediaKind.WEBP
    assert probe(BytesReader(data)) == MediaFacts(
        MediaKind.WEBP, "image/webp", len(data), None, 1080, 1350
    )


def test_webp_lossless_vp8l() -> None:
    width, height = 4000, 3000
    bits = (width - 1) | (height - 1) << 14
    data = riff(b"VP8L", b"\x2f" + struct.pack("<I", bits))
    facts = probe(BytesReader(data))
    assert (facts.width, facts.height) == (4000, 3000)


def test_webp_extended_vp8x() -> None:
    width, height = 16_000, 1
    payload = b"\x10\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    facts = probe(BytesReader(riff(b"VP8X", payload)))
    assert (facts.width, facts.height) == (16_000, 1)


def test_webp_with_bad_start_code_is_corrupt() -> None:
    data = riff(b"VP8 ", b"\0\0\0\0\0\0" + bytes(10))
    with pytest.raises(MediaProbeError):
        probe(BytesReader(data))


def test_png_and_gif_are_sniffed_and_measured() -> None:
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", 800, 600) + bytes(20)
    assert probe(BytesReader(png)) == MediaFacts(
        MediaKind.PNG, "image/png", len(png), None, 800, 600
    )
    gif = b"GIF89a" + struct.pack("<HH", 320, 240) + bytes(20)
    assert probe(BytesReader(gif)) == MediaFacts(
        MediaKind.GIF, "image/gif", len(gif), None, 320, 240
    )


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (ftyp(b"heic", b"mif1", b"heic"), MediaKind.HEIC),
        (ftyp(b"mif1", b"mif1", b"avif"), MediaKind.AVIF),
        (ftyp(b"mif1", b"mif1", b"heic"), MediaKind.HEIC),
        (ftyp(b"avif", b"avif", b"mif1"), MediaKind.AVIF),
        (ftyp(b"mp42", b"mp42", b"isom"), MediaKind.MP4),
        (ftyp(b"qt  "), MediaKind.MOV),
    ],
)
def test_ftyp_brands(head: bytes, kind: MediaKind) -> None:
    assert sniff(head + bytes(32)) is kind


# -- HTML and unknown ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        b"<!DOCTYPE html><html><head><title>Google Drive</title>",
        b"\xef\xbb\xbf\r\n   \t<!doctype HTML>\n<html lang=en>",
        b"<HTML>\n<HEAD>",
        b"\n\n<head><meta charset=utf-8>",
        b"<!-- generated --><html>",
        b"<body>",
        b"<p>Not found</p>",
        "\ufeff<html><body>".encode("utf-16-le"),
        "\ufeff  <!DOCTYPE html>".encode("utf-16-be"),
    ],
)
def test_web_pages_are_html(page: bytes) -> None:
    assert sniff(page) is MediaKind.HTML
    assert MediaKind.HTML.mime_type == "text/html"


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world", b"<svg xmlns='http://www.w3.org/2000/svg'>", b"<address>", b'{"a": 1}'],
)
def test_other_bytes_are_unknown(data: bytes) -> None:
    assert sniff(data) is MediaKind.UNKNOWN
    facts = probe(BytesReader(data))
    assert facts == MediaFacts(MediaKind.UNKNOWN, "application/octet-stream", len(data))


def test_html_is_probed_without_fields() -> None:
    page = b"<!doctype html><html>" + bytes(100)
    assert probe(BytesReader(page)) == MediaFacts(MediaKind.HTML, "text/html", len(page))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://drive.google.com/file/d/1AbCdEf/view?usp=sharing",
            "https://drive.google.com/uc?export=download&id=1AbCdEf",
        ),
        ("https://drive.google.com/open?id=XyZ", "uc?export=download&id=XyZ"),
        ("https://www.dropbox.com/scl/fi/abc/clip.mp4?rlkey=secret&dl=0", "dl=1"),
        ("https://1drv.ms/v/s!AbC", "download=1"),
        ("https://contoso.sharepoint.com/:v:/g/personal/x/Eabc", "download=1"),
        ("https://onedrive.live.com/?cid=1&id=2", "download=1"),
        ("https://www.icloud.com/iclouddrive/0abc#clip", "no direct-download"),
    ],
)
def test_html_hint_for_share_links(url: str, expected: str) -> None:
    hint = html_source_hint(url)
    assert expected in hint
    assert "secret" not in hint  # never echo a link's query parameters


def test_html_hint_generic() -> None:
    assert html_source_hint("https://cdn.example.com/a.mp4?sig=abc") == GENERIC_WEBPAGE_HINT
    assert "direct link" in GENERIC_WEBPAGE_HINT


# -- robustness: any bytes, including mangled real files, give facts or MediaProbeError ----------

SAMPLES = [
    mp4(moov_first=True),
    mp4(moov_first=False, mvhd_version=1, tkhd_version=1),
    webm(info(struct.pack(">d", 5000.0)), tracks(640, 360), cluster()),
    jpeg(100, 200),
    riff(b"VP8X", b"\0" * 10),
]


@settings(max_examples=300)
@given(
    sample=st.sampled_from(SAMPLES),
    cut=st.integers(min_value=0, max_value=2000),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4),
)
def test_mangled_files_never_crash(sample: bytes, cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(sample[: max(1, len(sample) - cut)])
    for at, value in flips:
        if at < len(data):
            data[at] = value
    try:
        facts = probe(BytesReader(bytes(data)))
    except MediaProbeError:
        return
    assert facts.size_bytes == len(data)


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    try:
        probe(BytesReader(data))
    except MediaProbeError:
        pass
