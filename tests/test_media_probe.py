"""The cheap sniff (format from the first bytes, web pages refused with advice) and the
robustness of the libmediainfo probe on any bytes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.media_info import probe
from activities.media_probe import (
    GENERIC_WEBPAGE_HINT,
    BytesReader,
    MediaFacts,
    MediaKind,
    MediaProbeError,
    html_source_hint,
    sniff,
)
from starter.media_host import sample_jpeg, sample_video


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def ftyp(major: bytes = b"isom", *compatible: bytes) -> bytes:
    return box(b"ftyp", major + struct.pack(">I", 0x200) + b"".join(compatible or (major,)))


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", MediaKind.WEBM),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska", MediaKind.MATROSKA),
        (b"\xff\xd8\xff\xe0", MediaKind.JPEG),
        (b"RIFF\0\0\0\0WEBPVP8 ", MediaKind.WEBP),
        (b"\x89PNG\r\n\x1a\n", MediaKind.PNG),
        (b"GIF89a", MediaKind.GIF),
        (b"\0\0\0\x08moov", MediaKind.MOV),
    ],
)
def test_magic_bytes(head: bytes, kind: MediaKind) -> None:
    assert sniff(head + bytes(32)) is kind


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


# -- robustness: any bytes, including mangled files, give facts or MediaProbeError ------------

SAMPLES = [sample_video(4096), sample_jpeg(2048)]


@settings(max_examples=60, deadline=None)
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


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    try:
        probe(BytesReader(data))
    except MediaProbeError:
        pass
