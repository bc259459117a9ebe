"""Our own bucket for a post's media: copied in at submit time, read back at publish time.

A customer's CDN link may expire or vanish before a post's scheduled time, so staging streams
every source URL into an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, moto) right away:

- `stream_from_url` copies with bounded memory through boto3's managed transfer (parts in
  parallel, `activities.transfer`), lets the caller look at the first bytes before anything is
  stored (a web page is refused without leaving an object behind), enforces the size limits
  while streaming, and aborts the multipart upload on any failure so no half-written parts
  linger;
- keys are deterministic (`object_key`), so a retried activity or a resubmitted post finds the
  object it already copied (`head` + `StoredObject.matches_source`);
- `reader`, `read_range` and `iter_range` serve ranged reads for probing and for TikTok's
  FILE_UPLOAD chunks; `public_url` is what TikTok pulls photos from.

The API is synchronous (boto3 is); activities run it in a thread. Failures are `StagingError`
with a stable code, a sentence a person can act on, and whether retrying can help. Messages
never echo a URL's query string (signed URLs carry credentials there).

A worker killed mid-copy cannot abort its multipart upload: give the bucket a lifecycle rule
that aborts incomplete multipart uploads after a day. With boto3 >= 1.36 against an
S3-compatible store that rejects the new default checksums, create the client with
`Config(request_checksum_calculation="when_required", response_checksum_validation=
"when_required")`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
import structlog
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from activities.media_probe import MediaKind, html_source_hint, sniff
from activities.transfer import DEFAULT_CONCURRENCY, SourceStream, managed_upload
from workflows.source_addresses import redact_url

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3.client import S3Client

log = structlog.get_logger(__name__)

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
"""S3's smallest part (every part but the last)."""
MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 8 * MiB
#: Below this a managed copy is one CopyObject anyway (its multipart threshold): known to be
#: smaller, an object is copied with that one request, without the size lookup first.
SINGLE_COPY_LIMIT = DEFAULT_PART_SIZE
FIRST_BYTES = 64
"""`first_bytes_check` sees at least this many bytes (unless the file is shorter)..."""
FIRST_BYTES_MAX = 4096
"""...and at most this many."""
SOURCE_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

TT_SOURCE_UNREACHABLE = "TT_SOURCE_UNREACHABLE"
TT_SOURCE_NOT_FOUND = "TT_SOURCE_NOT_FOUND"
TT_SOURCE_HTTP_ERROR = "TT_SOURCE_HTTP_ERROR"
TT_SOURCE_URL_INVALID = "TT_SOURCE_URL_INVALID"
TT_SOURCE_EMPTY = "TT_SOURCE_EMPTY"
TT_SOURCE_IS_WEBPAGE = "TT_SOURCE_IS_WEBPAGE"
TT_MEDIA_TOO_LARGE = "TT_MEDIA_TOO_LARGE"
TT_SIZE_MISMATCH = "TT_SIZE_MISMATCH"
TT_STORAGE_ERROR = "TT_STORAGE_ERROR"
TT_STORAGE_MISCONFIGURED = "TT_STORAGE_MISCONFIGURED"
TT_STAGED_OBJECT_MISSING = "TT_STAGED_OBJECT_MISSING"
TT_STAGED_OBJECT_CHANGED = "TT_STAGED_OBJECT_CHANGED"

META_SOURCE_URL_SHA256 = "source-url-sha256"
META_COMPLETE = "complete"
META_SHA256 = "sha256"


class StagingError(Exception):
    """Copying or reading staged media failed; `code` is stable, `message` says what to do."""

    def __init__(
        self, code: str, message: str, *, retryable: bool, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class StoredObject:
    """A staged object. `sha256` is known for a fresh copy only (the metadata is written before
    the last byte is read, so `head` never has it)."""

    key: str
    size: int
    content_type: str
    sha256: str | None = None
    source_url_sha256: str | None = None
    complete: bool = True

    def matches_source(self, url: str) -> bool:
        """True when this object is a finished copy of `url`: safe to reuse on a retry."""
        return self.complete and self.source_url_sha256 == url_sha256(url)


def url_sha256(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def reject_web_pages(url: str) -> Callable[[bytes], None]:
    """A `first_bytes_check` that refuses an HTML page with advice for the link's host."""

    def check(head: bytes) -> None:
        if sniff(head) is MediaKind.HTML:
            raise StagingError(TT_SOURCE_IS_WEBPAGE, html_source_hint(url), retryable=False)

    return check


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_EXTENSION = re.compile(r"[a-z0-9]{1,10}")


def _key_segment(value: str) -> str:
    """A path segment that is always URL-safe; an altered value gets a hash so none collide."""
    clean = _UNSAFE.sub("_", value)[:80]
    if clean == value and clean.strip(".") and len(value) <= 80:
        return clean
    return f"{clean.strip('.') or 'x'}-{url_sha256(value)[:12]}"


class MediaStore:
    """Staged media in one bucket, under `prefix`. Sync: call it from a thread."""

    def __init__(
        self,
        s3_client: S3Client,
        bucket: str,
        *,
        public_base_url: str | None = None,
        prefix: str = "staged/",
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if prefix and (prefix.startswith("/") or not prefix.endswith("/")):
            raise ValueError("prefix must be empty or end with '/' (and not start with one)")
        self._s3 = s3_client
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.prefix = prefix
        self.concurrency = concurrency
        """Parts uploaded at once (and held in memory) while staging."""
        # botocore reads the paginator model on first use, unlocked: left to the first burst
        # of status checks deleting staged media, every one of them would read it from disk.
        s3_client.can_paginate("list_objects_v2")

    # -- keys and metadata ---------------------------------------------------------------------

    def object_key(
        self, post_id: str, account_id: str, index: int, source_url: str, ext: str
    ) -> str:
        """`<prefix><post_id>/<account_id>/<index>-<sha256(url)[:16]>.<ext>`: the same inputs
        always name the same object, so a retry or a resubmission finds what was copied."""
        if index < 0:
            raise ValueError("index must not be negative")
        extension = ext.lower().lstrip(".")
        if not _EXTENSION.fullmatch(extension):
            raise ValueError(f"not a file extension: {ext!r}")
        name = f"{index}-{url_sha256(source_url)[:16]}.{extension}"
        return f"{self.target_prefix(post_id, account_id)}{name}"

    def target_prefix(self, post_id: str, account_id: str) -> str:
        """Where every object of one post target lives (what a cleanup removes)."""
        return f"{self.prefix}{_key_segment(post_id)}/{_key_segment(account_id)}/"

    def attempt_key(self, key: str, attempt: str) -> str:
        """Where one init attempt's copy of a staged object lives (TikTok pulls that copy, so
        it can be withdrawn alone): `<target prefix>attempts/<attempt>/<name>`."""
        folder, _, name = key.rpartition("/")
        return f"{folder}/attempts/{_key_segment(attempt)}/{name}"

    def attempt_prefix(self, post_id: str, account_id: str, attempt: str) -> str:
        return f"{self.target_prefix(post_id, account_id)}attempts/{_key_segment(attempt)}/"

    def copy(self, source: str, destination: str, *, size: int | None = None) -> None:
        """Copy an object inside the bucket, server-side. With its `size` known and below
        the managed copy's multipart threshold: one CopyObject request (an init's
        per-attempt copy is on the path to TikTok); otherwise the managed copy, multipart
        above 8 MiB, which first asks the object's size."""
        try:
            if size is not None and size <= SINGLE_COPY_LIMIT:
                self._s3.copy_object(
                    Bucket=self.bucket,
                    Key=destination,
                    CopySource={"Bucket": self.bucket, "Key": source},
                )
            else:
                self._s3.copy({"Bucket": self.bucket, "Key": source}, self.bucket, destination)
        except (BotoCoreError, ClientError) as exc:
            raise self._storage_error(exc, f"copy {source}") from exc

    def delete_target(self, post_id: str, account_id: str) -> int:
        """Delete every object of one post target (idempotent); how many there were."""
        return self.delete_under(self.target_prefix(post_id, account_id))

    def delete_under(self, prefix: str) -> int:
        """Delete every object under `prefix` (idempotent); how many there were."""
        keys = self.keys_under(prefix)
        self.delete(keys)
        return len(keys)

    def keys_under(self, prefix: str) -> list[str]:
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            return [obj["Key"] for page in pages for obj in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._storage_error(exc, f"list {prefix}") from exc

    def head(self, key: str) -> StoredObject | None:
        """The object's size, type and our metadata; None if there is no such object."""
        try:
            found = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise self._storage_error(exc, f"look up {key}") from exc
        except BotoCoreError as exc:
            raise self._storage_error(exc, f"look up {key}") from exc
        meta = found.get("Metadata", {})
        return StoredObject(
            key=key,
            size=found["ContentLength"],
            content_type=found.get("ContentType", MediaKind.UNKNOWN.mime_type),
            sha256=meta.get(META_SHA256),
            source_url_sha256=meta.get(META_SOURCE_URL_SHA256),
            complete=meta.get(META_COMPLETE) == "1",
        )

    # -- copying in ----------------------------------------------------------------------------

    def stream_from_url(
        self,
        http: httpx.Client,
        url: str,
        key: str,
        *,
        max_bytes: int,
        expected_size: int | None,
        on_progress: Callable[[int], None],
        part_size: int = DEFAULT_PART_SIZE,
        first_bytes_check: Callable[[bytes], None] | None = None,
        content_type: str | None = None,
        timeout: httpx.Timeout = SOURCE_TIMEOUT,
    ) -> StoredObject:
        """Copy `url` into `key` holding at most `concurrency` parts in memory.

        `first_bytes_check(head)` runs on the first 64-4096 bytes before anything is stored;
        whatever it raises propagates unchanged. `on_progress(bytes_read)` runs every part's
        worth of bytes and at the end; what it raises stops the copy. The stored Content-Type
        is `content_type`, else the sniffed format's, else the source's. On any failure the
        multipart upload is aborted.
        """
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        if -(-max_bytes // part_size) > MAX_PARTS:
            raise ValueError(f"part_size is too small for {max_bytes} bytes in {MAX_PARTS} parts")
        shown = redact_url(url)
        metadata = {META_SOURCE_URL_SHA256: url_sha256(url), META_COMPLETE: "1"}
        try:
            with http.stream(
                "GET",
                url,
                follow_redirects=True,
                timeout=timeout,
                headers={"Accept-Encoding": "identity"},
            ) as response:
                _check_response(response, shown, max_bytes, expected_size)
                stream = SourceStream(
                    response.iter_bytes(),
                    max_bytes=max_bytes,
                    too_large=lambda n: _too_large(shown, max_bytes, f"more than {max_bytes}"),
                    finish=lambda total: _check_total(shown, total, expected_size),
                    on_progress=on_progress,
                    progress_every=part_size,
                )
                head = stream.peek_head(FIRST_BYTES)
                if first_bytes_check is not None:
                    first_bytes_check(head[:FIRST_BYTES_MAX])
                stored_type = _content_type(head, response, content_type)
                managed_upload(
                    self._s3,
                    self.bucket,
                    key,
                    stream,
                    content_type=stored_type,
                    metadata=metadata,
                    part_size=part_size,
                    concurrency=self.concurrency,
                )
                stream.report()
                return StoredObject(
                    key,
                    stream.total,
                    stored_type,
                    stream.hasher.hexdigest(),
                    metadata[META_SOURCE_URL_SHA256],
                )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise StagingError(
                TT_SOURCE_URL_INVALID,
                f"The media URL {shown} cannot be downloaded ({type(exc).__name__}): "
                "send an http(s) link to the file.",
                retryable=False,
            ) from exc
        except httpx.TooManyRedirects as exc:
            raise StagingError(
                TT_SOURCE_HTTP_ERROR,
                f"The media URL {shown} redirects too many times (a redirect loop?): "
                "send the final link to the file.",
                retryable=False,
            ) from exc
        except httpx.DecodingError as exc:
            raise StagingError(
                TT_SOURCE_HTTP_ERROR,
                f"The server of {shown} sent a body it had encoded wrongly: send a link "
                "from another host.",
                retryable=False,
            ) from exc
        except httpx.HTTPError as exc:
            raise StagingError(
                TT_SOURCE_UNREACHABLE,
                f"Could not download {shown} ({type(exc).__name__}): the host did not "
                "answer or dropped the connection. Check the URL is reachable from the "
                "internet.",
                retryable=True,
            ) from exc
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise self._storage_error(exc, f"store {key}") from exc

    # -- reading back --------------------------------------------------------------------------

    def reader(self, key: str) -> S3RangeReader:
        """A `RangeReader` over the object: one ranged GET per read, pinned to its ETag."""
        try:
            found = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise _missing(key) from exc
            raise self._storage_error(exc, f"open {key}") from exc
        except BotoCoreError as exc:
            raise self._storage_error(exc, f"open {key}") from exc
        return S3RangeReader(self, key, found["ContentLength"], found.get("ETag"))

    def read_range(self, key: str, first: int, last: int, *, etag: str | None = None) -> bytes:
        """Bytes `first`..`last` inclusive (one TikTok chunk, up to 128 MB, fits in memory)."""
        body = self._get_range(key, first, last, etag)
        try:
            data = body.read()
        except BotoCoreError as exc:
            raise self._storage_error(exc, f"read {key}") from exc
        finally:
            body.close()
        if len(data) != last - first + 1:
            raise _changed(key, f"bytes {first}-{last} came back as {len(data)} bytes")
        return data

    def iter_range(
        self, key: str, first: int, last: int, block: int = MiB, *, etag: str | None = None
    ) -> Iterator[bytes]:
        """Bytes `first`..`last` inclusive from one GET, yielded `block` bytes at a time."""
        body = self._get_range(key, first, last, etag)
        received = 0
        try:
            for piece in body.iter_chunks(block):
                received += len(piece)
                yield piece
        except BotoCoreError as exc:
            raise self._storage_error(exc, f"read {key}") from exc
        finally:
            body.close()
        if received != last - first + 1:
            raise _changed(key, f"bytes {first}-{last} came back as {received} bytes")

    def _get_range(self, key: str, first: int, last: int, etag: str | None) -> StreamingBody:
        if first < 0 or last < first:
            raise ValueError(f"not a byte range: {first}-{last}")
        span = f"bytes={first}-{last}"
        try:
            if etag:  # fail rather than mix bytes of two versions of the object
                found = self._s3.get_object(Bucket=self.bucket, Key=key, Range=span, IfMatch=etag)
            else:
                found = self._s3.get_object(Bucket=self.bucket, Key=key, Range=span)
        except ClientError as exc:
            if _is_missing(exc):
                raise _missing(key) from exc
            if _status(exc) == 412:
                raise _changed(key, "it was replaced while being read") from exc
            raise self._storage_error(exc, f"read {key}") from exc
        except BotoCoreError as exc:
            raise self._storage_error(exc, f"read {key}") from exc
        return found["Body"]

    # -- small private objects -----------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes, metadata: dict[str, str]) -> None:
        """Write a small object in one PUT (worker-side state, never under a public prefix)."""
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType="application/octet-stream",
                Metadata=metadata,
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._storage_error(exc, f"store {key}") from exc

    def get_bytes(self, key: str) -> tuple[bytes, dict[str, str]] | None:
        """A small object and its metadata; None if there is no such object."""
        try:
            found = self._s3.get_object(Bucket=self.bucket, Key=key)
            return found["Body"].read(), dict(found.get("Metadata", {}))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise self._storage_error(exc, f"read {key}") from exc
        except BotoCoreError as exc:
            raise self._storage_error(exc, f"read {key}") from exc

    # -- handing out, cleaning up --------------------------------------------------------------

    def public_url(self, key: str) -> str:
        """The URL TikTok pulls from: `public_base_url/key` (on a host verified with TikTok)."""
        if not self.public_base_url:
            raise StagingError(
                TT_STORAGE_MISCONFIGURED,
                "The media bucket has no public base URL configured, so TikTok cannot pull "
                "photos from it: set the bucket's public URL (a domain verified with TikTok).",
                retryable=False,
            )
        return f"{self.public_base_url}/{quote(key, safe='/-_.~')}"

    def presigned_url(self, key: str, expires_seconds: int = 3600) -> str:
        """A time-limited GET URL for the object (SigV4 allows at most 7 days)."""
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_seconds must be 1-{MAX_PRESIGN_SECONDS}")
        return self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=expires_seconds,
        )

    def delete(self, keys: Iterable[str]) -> None:
        """Delete objects in batches of 1000; deleting what is already gone succeeds."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 1000):
            batch = unique[start : start + 1000]
            try:
                result = self._s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            except (BotoCoreError, ClientError) as exc:
                raise self._storage_error(exc, f"delete {len(batch)} object(s)") from exc
            errors = result.get("Errors", [])
            if errors:
                first = errors[0]
                raise StagingError(
                    TT_STORAGE_ERROR,
                    f"The bucket {self.bucket} refused to delete {len(errors)} object(s), e.g. "
                    f"{first.get('Key')} ({first.get('Code')}): check the worker's permissions.",
                    retryable=first.get("Code") in ("InternalError", "SlowDown"),
                )

    def _storage_error(self, exc: Exception, doing: str) -> StagingError:
        if isinstance(exc, ClientError):
            status = _status(exc)
            retryable = status is None or status >= 500 or status in (408, 429)
            what = f"{_code(exc)} (HTTP {status})"
        else:
            status, retryable, what = None, True, type(exc).__name__
        advice = (
            "the bucket is failing or busy"
            if retryable
            else "check the bucket name, the endpoint and the worker's credentials"
        )
        return StagingError(
            TT_STORAGE_ERROR,
            f"Could not {doing} in the media bucket {self.bucket}: {what}; {advice}.",
            retryable=retryable,
            http_status=status,
        )


class S3RangeReader:
    """`RangeReader` over one staged object (see `activities.media_probe`)."""

    def __init__(self, store: MediaStore, key: str, size: int, etag: str | None) -> None:
        self._store, self.key, self._size, self.etag = store, key, size, etag

    @property
    def size(self) -> int:
        return self._size

    def read(self, offset: int, length: int) -> bytes:
        end = min(self._size, offset + length)
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        if offset >= end:
            return b""
        return self._store.read_range(self.key, offset, end - 1, etag=self.etag)


def _content_type(head: bytes, response: httpx.Response, given: str | None) -> str:
    """The stored Content-Type: the caller's, else the sniffed format's, else the source's."""
    if given:
        return given
    kind = sniff(head)
    if kind is not MediaKind.UNKNOWN:
        return kind.mime_type
    declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return declared or MediaKind.UNKNOWN.mime_type


def _check_total(shown: str, total: int, expected_size: int | None) -> None:
    if total == 0:
        raise StagingError(
            TT_SOURCE_EMPTY,
            f"{shown} returned an empty file (0 bytes): check the link.",
            retryable=False,
        )
    if expected_size is not None and total != expected_size:
        raise _size_mismatch(shown, expected_size, total)


def _check_response(
    response: httpx.Response, shown: str, max_bytes: int, expected_size: int | None
) -> None:
    """Refuse an error status or a too-large Content-Length before reading the body."""
    status = response.status_code
    if status in (404, 410):
        raise StagingError(
            TT_SOURCE_NOT_FOUND,
            f"{shown} answered HTTP {status}: the file is not there (deleted, moved or the "
            "link expired). Send a working link.",
            retryable=False,
            http_status=status,
        )
    if status >= 500 or status in (408, 429):
        raise StagingError(
            TT_SOURCE_UNREACHABLE,
            f"{shown} answered HTTP {status}: the host is failing or busy. If it persists, "
            "host the file elsewhere.",
            retryable=True,
            http_status=status,
        )
    if status in (401, 403):
        raise StagingError(
            TT_SOURCE_HTTP_ERROR,
            f"{shown} answered HTTP {status}: access is refused. Make the file public or send "
            "a fresh signed link that lasts until staging runs.",
            retryable=False,
            http_status=status,
        )
    if status != 200:
        raise StagingError(
            TT_SOURCE_HTTP_ERROR,
            f"{shown} answered HTTP {status} instead of the file: send a direct link to it.",
            retryable=False,
            http_status=status,
        )
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    length = response.headers.get("content-length", "")
    if encoding != "identity" or not length.isdigit():
        return  # the length (if any) is not the file's: the byte count decides while streaming
    if int(length) > max_bytes:
        raise _too_large(shown, max_bytes, length)
    if expected_size is not None and int(length) != expected_size:
        raise _size_mismatch(shown, expected_size, int(length))


def _too_large(shown: str, max_bytes: int, size: str) -> StagingError:
    return StagingError(
        TT_MEDIA_TOO_LARGE,
        f"{shown} is {size} bytes, over the limit of {max_bytes} bytes for this media: "
        "compress it or send a smaller file.",
        retryable=False,
    )


def _size_mismatch(shown: str, expected: int, actual: int) -> StagingError:
    return StagingError(
        TT_SIZE_MISMATCH,
        f"{shown} is {actual} bytes but the request declared {expected}: the file changed "
        "or the declared size is wrong. Correct sizeBytes or omit it.",
        retryable=False,
    )


def _missing(key: str) -> StagingError:
    return StagingError(
        TT_STAGED_OBJECT_MISSING,
        f"The staged media {key} is no longer in the bucket (deleted or expired by a lifecycle "
        "rule).",
        retryable=False,
    )


def _changed(key: str, detail: str) -> StagingError:
    return StagingError(
        TT_STAGED_OBJECT_CHANGED,
        f"The staged media {key} changed while being read ({detail}).",
        retryable=True,
    )


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _is_missing(exc: ClientError) -> bool:
    """No such object (a missing bucket is a configuration error instead, where S3 says so:
    a HEAD carries no error body, so there the two look alike)."""
    return _code(exc) != "NoSuchBucket" and (
        _status(exc) == 404 or _code(exc) in ("NoSuchKey", "NotFound")
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))
