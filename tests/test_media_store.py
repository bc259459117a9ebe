"""MediaStore against moto's S3 over real HTTP, fed by a loopback source that generates bytes."""

# ruff: noqa: F811  (pytest injects the imported fixtures as parameters of the same name)

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from activities.media_info import probe
from activities.media_probe import MediaKind
from activities.media_store import (
    MIN_PART_SIZE,
    MediaStore,
    StagingError,
    StoredObject,
    reject_web_pages,
    url_sha256,
)
from tests.s3_support import (  # noqa: F401  (fixtures)
    Resource,
    S3Bucket,
    SourceServer,
    allow_public_read,
    content_bytes,
    content_sha256,
    free_port,
    moto_endpoint,
    mp4_head,
    s3_bucket,
    source,
)

PART = MIN_PART_SIZE  # 5 MiB, S3's smallest part
LIMIT = 100 * 1024 * 1024


@pytest.fixture
def store(s3_bucket: S3Bucket) -> MediaStore:
    return MediaStore(
        s3_bucket.client,
        s3_bucket.name,
        public_base_url=f"{s3_bucket.endpoint_url}/{s3_bucket.name}/",
    )


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


class Progress:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, copied: int) -> None:
        self.calls.append(copied)


def pending_uploads(bucket: S3Bucket) -> list[object]:
    return list(bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []))


def stored_sha256(store: MediaStore, key: str) -> str:
    """Hash of the object as read back through ranged reads (2 MiB at a time)."""
    reader = store.reader(key)
    digest = hashlib.sha256()
    for offset in range(0, reader.size, 2 * 1024 * 1024):
        digest.update(reader.read(offset, 2 * 1024 * 1024))
    return digest.hexdigest()


def stage(
    store: MediaStore,
    http: httpx.Client,
    url: str,
    key: str = "staged/p/a/0-test.bin",
    *,
    max_bytes: int = LIMIT,
    expected_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    check: Callable[[bytes], None] | None = None,
    content_type: str | None = None,
) -> StoredObject:
    return store.stream_from_url(
        http,
        url,
        key,
        max_bytes=max_bytes,
        expected_size=expected_size,
        on_progress=progress or Progress(),
        part_size=PART,
        first_bytes_check=check,
        content_type=content_type,
    )


# -- copying -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "parts"),
    [
        (PART // 2, 0),  # half a part: one PUT
        (PART, 0),  # exactly one part: still one PUT
        (PART + 1, 2),  # one byte over: a part and a 1-byte last part
        (PART * 5 // 2, 3),  # two and a half parts
    ],
    ids=["half-part", "one-part", "part-plus-one", "two-and-a-half-parts"],
)
def test_streams_across_part_boundaries(
    store: MediaStore,
    s3_bucket: S3Bucket,
    source: SourceServer,
    http: httpx.Client,
    size: int,
    parts: int,
) -> None:
    url = source.add("/video.bin", Resource(size=size)) + "?token=abc"
    progress = Progress()
    key = store.object_key("post-1", "acct_1", 0, url, "bin")
    stored = stage(store, http, url, key, expected_size=size, progress=progress)

    expected = content_sha256(size)
    assert stored == StoredObject(key, size, "application/octet-stream", expected, url_sha256(url))
    assert stored_sha256(store, key) == expected
    assert progress.calls == sorted(progress.calls) and progress.calls[-1] == size
    assert 1 <= len(progress.calls) <= max(parts, 1)  # at most once per part, and at the end
    etag = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=key)["ETag"]
    assert etag.endswith(f'-{parts}"') if parts else "-" not in etag
    assert pending_uploads(s3_bucket) == []

    head = store.head(key)
    assert head is not None and head.matches_source(url) and not head.matches_source(url + "x")
    assert (head.size, head.complete) == (size, True)
    assert head.sha256 is None  # metadata is written before the last byte is hashed
    assert source.requests[-1][1]["accept-encoding"] == "identity"


def test_sniffed_type_wins_over_the_source_header_and_probe_reads_the_copy(
    store: MediaStore, source: SourceServer, http: httpx.Client
) -> None:
    size = 12 * 1024 * 1024
    head = mp4_head(size, duration_ms=42_500, width=1080, height=1920)
    url = source.add("/clip", Resource(size=size, prefix=head, content_type="binary/whatever"))
    stored = stage(store, http, url, "staged/p/a/0-x.mp4", expected_size=size)
    assert stored.content_type == "video/mp4"
    facts = probe(store.reader(stored.key))
    assert (facts.kind, facts.duration_seconds, facts.width, facts.height) == (
        MediaKind.MP4,
        42.5,
        1080,
        1920,
    )
    assert facts.size_bytes == size


def test_content_type_can_be_set_and_falls_back_to_the_source(
    store: MediaStore, source: SourceServer, http: httpx.Client
) -> None:
    url = source.add("/a", Resource(size=1000, content_type="image/jpeg; charset=binary"))
    assert stage(store, http, url, "k1").content_type == "image/jpeg"
    assert stage(store, http, url, "k2", content_type="video/webm").content_type == "video/webm"
    head = store.head("k2")
    assert head is not None and head.content_type == "video/webm"


def test_redirects_are_followed(
    store: MediaStore, source: SourceServer, http: httpx.Client
) -> None:
    target = source.add("/real.bin", Resource(size=3000))
    url = source.add("/share/xyz", Resource(status=302, location=target))
    assert stage(store, http, url, "k").sha256 == content_sha256(3000)


def test_first_bytes_check_sees_at_least_64_bytes_before_anything_is_stored(
    store: MediaStore, s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client
) -> None:
    seen: list[bytes] = []

    def check(head: bytes) -> None:
        assert store.head("k") is None and pending_uploads(s3_bucket) == []
        seen.append(head)

    url = source.add("/big", Resource(size=PART * 2))
    stage(store, http, url, "k", check=check)
    assert len(seen) == 1 and 64 <= len(seen[0]) <= 4096
    assert seen[0] == content_bytes(len(seen[0]))

    tiny = source.add("/tiny", Resource(size=10))
    stage(store, http, tiny, "k2", check=seen.append)
    assert seen[-1] == content_bytes(10)  # a file shorter than 64 bytes is checked whole


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [200, PART * 3], ids=["small-page", "huge-page"])
def test_web_page_is_refused_before_anything_is_stored(
    store: MediaStore, s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client, size: int
) -> None:
    page = b"\xef\xbb\xbf\n  <!DOCTYPE html><html><head><title>Dropbox</title>"
    url = source.add(
        "/scl/fi/x/clip.mp4", Resource(size=size, prefix=page, content_type="text/html")
    )
    url += "?rlkey=secret&dl=0"
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k", check=reject_web_pages(url))
    assert (err.value.code, err.value.retryable) == ("TT_SOURCE_IS_WEBPAGE", False)
    assert "direct link" in err.value.message and "secret" not in err.value.message
    assert store.head("k") is None and pending_uploads(s3_bucket) == []

    dropbox_hint = reject_web_pages("https://www.dropbox.com/s/abc/clip.mp4?dl=0")
    with pytest.raises(StagingError, match="dl=1"):
        dropbox_hint(page)


def test_exceeding_max_bytes_mid_stream_aborts_the_upload(
    store: MediaStore, s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client
) -> None:
    size = PART * 3
    url = source.add("/nolength", Resource(size=size, send_length=False))
    progress = Progress()
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k", max_bytes=PART * 2 + 100, progress=progress)
    assert (err.value.code, err.value.retryable) == ("TT_MEDIA_TOO_LARGE", False)
    # Progress counts bytes read; parts up to the limit were read, none stayed.
    assert progress.calls and progress.calls[-1] <= PART * 2
    assert store.head("k") is None and pending_uploads(s3_bucket) == []


def test_content_length_over_the_limit_is_refused_before_the_body(
    store: MediaStore, s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client
) -> None:
    size = 200 * 1024 * 1024
    url = source.add("/huge", Resource(size=size))
    checked: list[bytes] = []
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k", max_bytes=LIMIT, check=checked.append)
    assert err.value.code == "TT_MEDIA_TOO_LARGE"
    assert str(size) in err.value.message
    assert checked == [] and source.bytes_sent < size // 2
    assert store.head("k") is None and pending_uploads(s3_bucket) == []


def test_declared_length_differing_from_expected_size_is_refused_up_front(
    store: MediaStore, source: SourceServer, http: httpx.Client
) -> None:
    url = source.add("/a", Resource(size=5000))
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k", expected_size=4999)
    assert (err.value.code, err.value.retryable) == ("TT_SIZE_MISMATCH", False)
    assert "5000" in err.value.message and "4999" in err.value.message


def test_copied_size_differing_from_expected_size_aborts(
    store: MediaStore, s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client
) -> None:
    size = PART + PART // 2
    url = source.add("/a", Resource(size=size, send_length=False))
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k", expected_size=size + 1)
    assert err.value.code == "TT_SIZE_MISMATCH"
    assert store.head("k") is None and pending_uploads(s3_bucket) == []


def test_body_cut_short_is_retryable_and_aborts(
    store: MediaStore, s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client
) -> None:
    size = PART * 2
    url = source.add("/cut", Resource(size=size, declared_length=size + 1000))
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k")
    assert (err.value.code, err.value.retryable) == ("TT_SOURCE_UNREACHABLE", True)
    assert store.head("k") is None and pending_uploads(s3_bucket) == []


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (404, "TT_SOURCE_NOT_FOUND", False),
        (410, "TT_SOURCE_NOT_FOUND", False),
        (403, "TT_SOURCE_HTTP_ERROR", False),
        (400, "TT_SOURCE_HTTP_ERROR", False),
        (429, "TT_SOURCE_UNREACHABLE", True),
        (500, "TT_SOURCE_UNREACHABLE", True),
        (503, "TT_SOURCE_UNREACHABLE", True),
    ],
)
def test_source_http_errors(
    store: MediaStore,
    source: SourceServer,
    http: httpx.Client,
    status: int,
    code: str,
    retryable: bool,
) -> None:
    url = source.add("/gone", Resource(status=status)) + "?X-Amz-Signature=secret"
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k")
    assert (err.value.code, err.value.retryable, err.value.http_status) == (
        code,
        retryable,
        status,
    )
    assert f"HTTP {status}" in err.value.message and "/gone" in err.value.message
    assert "secret" not in err.value.message and "?" not in err.value.message
    assert store.head("k") is None


def test_unreachable_and_invalid_sources(store: MediaStore, http: httpx.Client) -> None:
    with pytest.raises(StagingError) as err:
        stage(store, http, f"http://user:pw@127.0.0.1:{free_port()}/a.mp4?sig=secret", "k")
    assert (err.value.code, err.value.retryable) == ("TT_SOURCE_UNREACHABLE", True)
    assert "secret" not in err.value.message and "pw" not in err.value.message
    with pytest.raises(StagingError) as err:
        stage(store, http, "ftp://example.com/a.mp4", "k")
    assert (err.value.code, err.value.retryable) == ("TT_SOURCE_URL_INVALID", False)


def test_empty_source(store: MediaStore, source: SourceServer, http: httpx.Client) -> None:
    url = source.add("/empty", Resource(size=0))
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k")
    assert err.value.code == "TT_SOURCE_EMPTY"
    assert store.head("k") is None


def test_failing_progress_callback_aborts_and_propagates(
    store: MediaStore, s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client
) -> None:
    class Cancelled(Exception):
        pass

    def cancel(copied: int) -> None:
        raise Cancelled  # e.g. the activity was cancelled while heartbeating

    url = source.add("/a", Resource(size=PART * 2))
    with pytest.raises(Cancelled):
        stage(store, http, url, "k", progress=cancel)
    assert store.head("k") is None and pending_uploads(s3_bucket) == []


def test_missing_bucket_is_a_storage_error(
    s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client
) -> None:
    store = MediaStore(s3_bucket.client, "no-such-bucket-here")
    url = source.add("/a", Resource(size=PART * 2))
    with pytest.raises(StagingError) as err:
        stage(store, http, url, "k")
    assert (err.value.code, err.value.retryable, err.value.http_status) == (
        "TT_STORAGE_ERROR",
        False,
        404,
    )
    assert "no-such-bucket-here" in err.value.message
    with pytest.raises(StagingError) as err:
        store.read_range("k", 0, 1)  # a missing bucket is not a missing object
    assert (err.value.code, err.value.retryable) == ("TT_STORAGE_ERROR", False)


def test_part_size_below_s3_minimum_is_refused(store: MediaStore, http: httpx.Client) -> None:
    with pytest.raises(ValueError):
        store.stream_from_url(
            http, "http://x/", "k", max_bytes=1, expected_size=None, on_progress=print, part_size=1
        )


# -- keys ----------------------------------------------------------------------------------------


def test_object_keys_are_deterministic_and_safe(store: MediaStore) -> None:
    url = "https://cdn.example.com/v.mp4?sig=1"
    key = store.object_key("post-1", "acct_1", 0, url, "MP4")
    assert key == store.object_key("post-1", "acct_1", 0, url, ".mp4")
    assert key == f"staged/post-1/acct_1/0-{url_sha256(url)[:16]}.mp4"
    assert key != store.object_key("post-1", "acct_1", 0, url + "2", "mp4")
    assert key != store.object_key("post-1", "acct_1", 1, url, "mp4")
    odd = [store.object_key(p, "a", 0, url, "mp4") for p in ("a/b", "a_b", "..", "a b", "é")]
    assert len(set(odd)) == len(odd)
    for k in odd:
        segment = k.split("/")[1]
        assert segment.strip(".") and all(c.isalnum() or c in "._-" for c in segment)
    with pytest.raises(ValueError):
        store.object_key("p", "a", 0, url, "mp4?x")
    with pytest.raises(ValueError):
        store.object_key("p", "a", -1, url, "mp4")


# -- reading back, URLs, deleting ----------------------------------------------------------------


def test_ranged_reads(store: MediaStore, source: SourceServer, http: httpx.Client) -> None:
    size = PART + 12_345
    stored = stage(store, http, source.add("/a", Resource(size=size)), "k")
    data = content_bytes(size)
    assert store.read_range("k", 0, 0) == data[:1]
    assert store.read_range("k", PART - 10, PART + 10) == data[PART - 10 : PART + 11]
    assert b"".join(store.iter_range("k", 100, size - 1, block=1_000_000)) == data[100:]
    reader = store.reader("k")
    assert reader.size == stored.size
    assert reader.read(size - 5, 100) == data[-5:] and reader.read(size, 10) == b""


def test_reader_notices_a_missing_or_replaced_object(
    store: MediaStore, source: SourceServer, http: httpx.Client
) -> None:
    with pytest.raises(StagingError) as err:
        store.reader("nothing-here")
    assert (err.value.code, err.value.retryable) == ("TT_STAGED_OBJECT_MISSING", False)
    stage(store, http, source.add("/a", Resource(size=1000)), "k")
    reader = store.reader("k")
    stage(store, http, source.add("/b", Resource(size=1000, prefix=b"other")), "k")
    with pytest.raises(StagingError) as err:
        reader.read(0, 10)
    assert (err.value.code, err.value.retryable) == ("TT_STAGED_OBJECT_CHANGED", True)


def test_public_and_presigned_urls_serve_the_object(
    store: MediaStore, s3_bucket: S3Bucket, source: SourceServer, http: httpx.Client
) -> None:
    allow_public_read(s3_bucket.client, s3_bucket.name, "staged/")
    url = source.add("/a", Resource(size=4096))
    stored = stage(store, http, url, "staged/p/a/0-x.jpg")
    public = store.public_url(stored.key)
    assert public == f"{s3_bucket.endpoint_url}/{s3_bucket.name}/staged/p/a/0-x.jpg"
    anonymous = httpx.get(public)  # no credentials: what TikTok's puller does
    assert anonymous.status_code == 200 and anonymous.content == content_bytes(4096)
    stage(store, http, url, "private/x.jpg")  # outside the public prefix: refused
    assert httpx.get(store.public_url("private/x.jpg")).status_code == 403
    signed = store.presigned_url(stored.key, 600)
    assert "Signature" in signed
    assert httpx.get(signed).content == content_bytes(4096)
    with pytest.raises(ValueError):
        store.presigned_url(stored.key, 8 * 24 * 3600)

    private = MediaStore(s3_bucket.client, s3_bucket.name)
    with pytest.raises(StagingError) as err:
        private.public_url(stored.key)
    assert (err.value.code, err.value.retryable) == ("TT_STORAGE_MISCONFIGURED", False)


def test_delete_is_idempotent(store: MediaStore, source: SourceServer, http: httpx.Client) -> None:
    url = source.add("/a", Resource(size=100))
    keys = [f"staged/p/a/{i}.bin" for i in range(3)]
    for key in keys:
        stage(store, http, url, key)
    store.delete([*keys, keys[0], "staged/never-existed"])
    assert all(store.head(key) is None for key in keys)
    store.delete(keys)  # again: nothing left, still fine
    store.delete([])
