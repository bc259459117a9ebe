"""Copying a download into the bucket with boto3's managed transfer, parts in parallel.

`SourceStream` is a read-only, non-seekable file over an HTTP response body: boto3's
`upload_fileobj` reads it part by part and sends `concurrency - 1` parts at once while it reads
the next, so at most `concurrency` parts are in memory (`max_in_memory_upload_chunks`) and
memory stays bounded by about `concurrency x part size` whatever the file size. While bytes
pass through it, the stream enforces what staging promises:

- it looks at the first bytes before anything is stored (`first_bytes_check`: a web page is
  refused without leaving an object behind), and names the Content-Type from them;
- it counts and hashes every byte; more than `max_bytes` is refused while streaming, and at
  the end an empty body or a size other than the declared one is refused;
- it reports progress as bytes are read, and whatever the progress callback raises (the
  activity attempt ended: a cancel, a timeout) stops the copy.

Any exception raised while reading makes the managed transfer abort its multipart upload, so
no half-written parts linger (and a file smaller than one part is only ever written whole).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, cast

from boto3.s3.transfer import TransferConfig

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

DEFAULT_CONCURRENCY = 4
"""Parts in memory at once: three being sent, one being read."""


def transfer_config(part_size: int, concurrency: int) -> TransferConfig:
    """Parts of `part_size`; at most `concurrency` parts in memory: `concurrency - 1` being
    sent at once (boto3's own threads) and the next one being read from the source."""
    sending = max(1, concurrency - 1)
    config = TransferConfig(
        multipart_threshold=part_size + 1,  # a file of exactly one part goes in one PUT
        multipart_chunksize=part_size,
        max_concurrency=sending,
        use_threads=True,
        preferred_transfer_client="classic",
    )
    # boto3 reads a part before it waits for a free slot: slots = parts being sent.
    config.max_in_memory_upload_chunks = sending
    return config


class SourceStream(io.RawIOBase):
    """The body of a download as a file boto3 reads; checks bytes as they pass (see module)."""

    def __init__(
        self,
        pieces: Iterator[bytes],
        *,
        max_bytes: int,
        too_large: Callable[[int], Exception],
        finish: Callable[[int], None],
        on_progress: Callable[[int], None],
        progress_every: int,
    ) -> None:
        super().__init__()
        self._pieces = pieces
        self._max_bytes = max_bytes
        self._too_large = too_large
        self._finish = finish
        self._on_progress = on_progress
        self._progress_every = progress_every
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._reported = 0
        self._served = 0
        self._ended = False
        self.total = 0
        self.hasher = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def peek_head(self, wanted: int) -> bytes:
        """At least `wanted` bytes from the start (fewer only if the body is shorter), without
        consuming them."""
        while self._pending_bytes < wanted and self._pull():
            pass
        return b"".join(self._pending)[:wanted] if self._pending else b""

    def _pull(self) -> bool:
        if self._ended:
            return False
        for piece in self._pieces:
            if not piece:
                continue
            self.total += len(piece)
            if self.total > self._max_bytes:
                raise self._too_large(self.total)
            self.hasher.update(piece)
            self._pending.append(piece)
            self._pending_bytes += len(piece)
            return True
        self._ended = True
        self._finish(self.total)  # raises on an empty body or a size mismatch
        return False

    def read(self, size: int = -1) -> bytes:
        """Exactly `size` bytes (fewer only at the end): boto3 sends what it gets as a part,
        and S3 refuses parts under 5 MiB but the last."""
        while (size < 0 or self._pending_bytes < size) and self._pull():
            pass
        take: list[bytes] = []
        taken = 0
        while self._pending and (size < 0 or taken < size):
            piece = self._pending.pop(0)
            if size >= 0 and taken + len(piece) > size:  # split only this small piece
                cut = size - taken
                self._pending.insert(0, piece[cut:])
                piece = piece[:cut]
            take.append(piece)
            taken += len(piece)
        self._pending_bytes -= taken
        data = b"".join(take)  # the pieces are freed as soon as the part exists
        del take
        n = len(data)
        self._served += n
        if self._served - self._reported >= self._progress_every:
            self.report()  # may raise: the attempt is over, stop copying
        return data

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def report(self) -> None:
        """Tell `on_progress` how far the copy got, unless it already knows."""
        if self._served != self._reported:
            self._reported = self._served
            self._on_progress(self._served)


def managed_upload(
    s3: S3Client,
    bucket: str,
    key: str,
    stream: SourceStream,
    *,
    content_type: str,
    metadata: dict[str, str],
    part_size: int,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> None:
    """`upload_fileobj` of `stream` into `key` (parts in parallel above one part's size)."""
    s3.upload_fileobj(
        cast(IO[bytes], stream),  # a RawIOBase: what boto3 reads, whatever its stubs say
        bucket,
        key,
        ExtraArgs={"ContentType": content_type, "Metadata": metadata},
        Config=transfer_config(part_size, concurrency),
    )
