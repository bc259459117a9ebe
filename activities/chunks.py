"""TikTok's FILE_UPLOAD chunk arithmetic, kept pure so it can be proven by property tests.

The init request declares `video_size`, `chunk_size` and `total_chunk_count`, and TikTok
refuses the whole upload (400 invalid_params) if they break its rules, so the plan must be
right before the first byte is sent. The rules (tiktok-api.md, "Chunk upload"; decimal MB):

- every chunk is 5-64 MB, except that a file under 5 MB goes whole (chunk_size = video_size);
- total_chunk_count = floor(video_size / chunk_size), between 1 and 1000;
- the last chunk carries the remainder, so it is chunk_size + (video_size % chunk_size) bytes
  and may reach 128 MB.

`plan_chunks` starts from a preferred chunk size and raises it only as far as needed to stay
within 1000 chunks, so every size up to TikTok's 4 GiB video limit has a plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from workflows.validation import TIKTOK_MAX_VIDEO_BYTES

MB = 1_000_000
"""TikTok states its chunk limits in decimal megabytes."""
MIN_CHUNK_SIZE = 5 * MB
MAX_CHUNK_SIZE = 64 * MB
MAX_LAST_CHUNK_SIZE = 128 * MB
MAX_CHUNK_COUNT = 1000
DEFAULT_CHUNK_SIZE = 10 * MB
MAX_VIDEO_SIZE = TIKTOK_MAX_VIDEO_BYTES
"""TikTok's video size limit (4 GiB), the same number request validation uses."""

TT_MEDIA_TOO_LARGE = "TT_MEDIA_TOO_LARGE"
TT_MEDIA_EMPTY = "TT_MEDIA_EMPTY"
TT_CHUNK_PLAN_INVALID = "TT_CHUNK_PLAN_INVALID"
TT_UPLOAD_OFFSET_INVALID = "TT_UPLOAD_OFFSET_INVALID"


class ChunkPlanError(ValueError):
    """No valid plan exists, or a plan/offset breaks TikTok's rules; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def validate_plan(video_size: int, chunk_size: int, total_chunk_count: int) -> None:
    """Raise `ChunkPlanError(TT_CHUNK_PLAN_INVALID)` unless TikTok would accept this plan.

    The same checks TikTok (and our simulator) apply at init, so a plan that passes here is
    never the reason an upload is refused.
    """

    def bad(message: str) -> ChunkPlanError:
        return ChunkPlanError(TT_CHUNK_PLAN_INVALID, message)

    if video_size <= 0:
        raise bad(f"video_size must be positive, got {video_size}.")
    if video_size < MIN_CHUNK_SIZE:
        if chunk_size != video_size or total_chunk_count != 1:
            raise bad(
                "A video under 5 MB is uploaded whole: chunk_size must equal video_size "
                "and total_chunk_count must be 1."
            )
        return
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise bad(f"chunk_size must be 5-64 MB, got {chunk_size} bytes.")
    if chunk_size > video_size:
        raise bad("chunk_size must not exceed video_size.")
    expected = video_size // chunk_size
    if total_chunk_count != expected:
        raise bad(f"total_chunk_count must be floor(video_size / chunk_size) = {expected}.")
    if not 1 <= total_chunk_count <= MAX_CHUNK_COUNT:
        raise bad(f"total_chunk_count must be 1-{MAX_CHUNK_COUNT}, got {total_chunk_count}.")
    if chunk_size + video_size % chunk_size > MAX_LAST_CHUNK_SIZE:
        raise bad("The last chunk (chunk_size plus the remainder) would exceed 128 MB.")


@dataclass(frozen=True)
class ChunkPlan:
    """A chunk layout TikTok accepts; constructing one validates it."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def __post_init__(self) -> None:
        validate_plan(self.video_size, self.chunk_size, self.total_chunk_count)

    def chunk_range(self, index: int) -> tuple[int, int]:
        """(first byte, last byte) of chunk `index`, inclusive, as Content-Range wants them."""
        if not 0 <= index < self.total_chunk_count:
            raise IndexError(f"chunk index {index} is outside 0-{self.total_chunk_count - 1}")
        first = index * self.chunk_size
        last = (
            self.video_size - 1
            if index == self.total_chunk_count - 1
            else first + self.chunk_size - 1
        )
        return first, last

    def chunk_length(self, index: int) -> int:
        first, last = self.chunk_range(index)
        return last - first + 1

    def content_range(self, index: int) -> str:
        """The Content-Range header value for chunk `index`."""
        first, last = self.chunk_range(index)
        return f"bytes {first}-{last}/{self.video_size}"

    def ranges(self) -> Iterator[tuple[int, int]]:
        """Every chunk's inclusive byte range, in upload order."""
        for index in range(self.total_chunk_count):
            yield self.chunk_range(index)

    def chunk_index_for_offset(self, uploaded_bytes: int) -> int:
        """The index of the next chunk to send after `uploaded_bytes` bytes were accepted.

        TikTok reports progress as `Content-Range: bytes 0-{uploaded_bytes - 1}/{total}` and
        only ever accepts whole chunks, so progress sits on a chunk boundary;
        `total_chunk_count` means the upload is complete. Anything else means our view and
        TikTok's disagree, which resending cannot fix: `TT_UPLOAD_OFFSET_INVALID`.
        """
        if uploaded_bytes == self.video_size:
            return self.total_chunk_count
        index, rest = divmod(uploaded_bytes, self.chunk_size)
        if uploaded_bytes < 0 or rest != 0 or index >= self.total_chunk_count:
            raise ChunkPlanError(
                TT_UPLOAD_OFFSET_INVALID,
                f"TikTok reports {uploaded_bytes} of {self.video_size} bytes uploaded, which is "
                f"not a chunk boundary of this plan ({self.chunk_size}-byte chunks): start the "
                "upload again with a new init.",
            )
        return index


def plan_chunks(
    video_size: int,
    preferred_chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    max_video_size: int = MAX_VIDEO_SIZE,
) -> ChunkPlan:
    """The chunk plan for a video of `video_size` bytes.

    Uses `preferred_chunk_size` (5-64 MB) unless the file is smaller than that (one chunk) or
    would need more than 1000 chunks (then the smallest chunk size that fits). `max_video_size`
    is TikTok's limit; raising it only matters for testing the arithmetic, which has a plan
    for anything under 1001 x 64 MB.
    """
    if not MIN_CHUNK_SIZE <= preferred_chunk_size <= MAX_CHUNK_SIZE:
        raise ChunkPlanError(
            TT_CHUNK_PLAN_INVALID,
            f"The preferred chunk size must be 5-64 MB, got {preferred_chunk_size} bytes.",
        )
    if video_size <= 0:
        raise ChunkPlanError(TT_MEDIA_EMPTY, "The video is empty (0 bytes): send the real file.")
    if video_size > max_video_size:
        raise ChunkPlanError(
            TT_MEDIA_TOO_LARGE,
            f"The video is {video_size} bytes, over TikTok's limit of {max_video_size} bytes: "
            "compress it or send a shorter one.",
        )
    if video_size < MIN_CHUNK_SIZE:
        return ChunkPlan(video_size, video_size, 1)
    # floor(v / c) <= 1000  <=>  c > v / 1001  <=>  c >= v // 1001 + 1
    smallest_fitting = video_size // (MAX_CHUNK_COUNT + 1) + 1
    chunk_size = max(min(preferred_chunk_size, video_size), smallest_fitting)
    if chunk_size > MAX_CHUNK_SIZE:
        raise ChunkPlanError(
            TT_MEDIA_TOO_LARGE,
            f"The video is {video_size} bytes: no plan of at most {MAX_CHUNK_COUNT} chunks "
            "of at most 64 MB covers it. Send a smaller file.",
        )
    return ChunkPlan(video_size, chunk_size, video_size // chunk_size)
