"""One publish and its status machine, plus the FILE_UPLOAD chunk plan.

Status is advanced lazily: every reader calls `advance(now)` (under the state lock) and the
publish moves on if its simulated deadlines have passed. That keeps the machine
deterministic and free of timer threads; only URL downloads need a thread of their own.

    FILE_UPLOAD:   PROCESSING_UPLOAD   --last chunk--> (processing) --> terminal
    PULL_FROM_URL: PROCESSING_DOWNLOAD --downloaded--> (processing) --> terminal
    terminal: inbox flows SEND_TO_USER_INBOX, direct posts PUBLISH_COMPLETE (public post ids
    appear after moderation for PUBLIC_TO_EVERYONE), or FAILED with a fail_reason.

During processing the status stays PROCESSING_UPLOAD / PROCESSING_DOWNLOAD, as on TikTok.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from simulator.config import PUBLIC_TO_EVERYONE
from simulator.protocol import invalid_params

PROCESSING_UPLOAD = "PROCESSING_UPLOAD"
PROCESSING_DOWNLOAD = "PROCESSING_DOWNLOAD"
SEND_TO_USER_INBOX = "SEND_TO_USER_INBOX"
PUBLISH_COMPLETE = "PUBLISH_COMPLETE"
FAILED = "FAILED"
TERMINAL_STATUSES = frozenset({SEND_TO_USER_INBOX, PUBLISH_COMPLETE, FAILED})

MB = 1_000_000  # TikTok's chunk limits are decimal megabytes
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
MAX_LAST_CHUNK = 128 * MB
MAX_CHUNKS = 1000
MAX_VIDEO_SIZE = 4 * 1024**3


class Flow(StrEnum):
    """Which init created the publish; decides the id shape and the success status."""

    DIRECT_VIDEO = "direct_video"
    INBOX_VIDEO = "inbox_video"
    DIRECT_PHOTO = "direct_photo"
    INBOX_PHOTO = "inbox_photo"

    @property
    def is_inbox(self) -> bool:
        return self in (Flow.INBOX_VIDEO, Flow.INBOX_PHOTO)

    @property
    def is_photo(self) -> bool:
        return self in (Flow.DIRECT_PHOTO, Flow.INBOX_PHOTO)


def publish_id_prefix(flow: Flow, source: str) -> str:
    """The id shapes of tiktok-api.md. Photo inbox posts reuse `p_pub_url~v2.` (documented)."""
    if flow.is_photo:
        return "p_pub_url~v2."
    if flow is Flow.DIRECT_VIDEO:
        return "v_pub_file~v2-1." if source == "FILE_UPLOAD" else "v_pub_url~v2."
    return "v_inbox_file~v2." if source == "FILE_UPLOAD" else "v_inbox_url~v2."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ChunkPlan:
    """The chunk layout declared at init; every PUT must match it exactly."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    @classmethod
    def validate(cls, video_size: Any, chunk_size: Any, total_chunk_count: Any) -> ChunkPlan:
        """Apply tiktok-api.md "Chunk upload"; any violation is 400 invalid_params."""
        if not (_is_int(video_size) and _is_int(chunk_size) and _is_int(total_chunk_count)):
            raise invalid_params("video_size, chunk_size and total_chunk_count must be integers")
        if video_size <= 0 or video_size > MAX_VIDEO_SIZE:
            raise invalid_params(f"video_size must be in 1..{MAX_VIDEO_SIZE}")
        if video_size < MIN_CHUNK:
            if chunk_size != video_size or total_chunk_count != 1:
                raise invalid_params(
                    "a video under 5 MB must be uploaded whole: chunk_size = video_size, "
                    "total_chunk_count = 1"
                )
            return cls(video_size, chunk_size, total_chunk_count)
        if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
            raise invalid_params("chunk_size must be between 5 MB and 64 MB")
        if chunk_size > video_size:
            raise invalid_params("chunk_size must not exceed video_size")
        expected = video_size // chunk_size
        if total_chunk_count != expected:
            raise invalid_params(
                f"total_chunk_count must be floor(video_size / chunk_size) = {expected}"
            )
        if not 1 <= total_chunk_count <= MAX_CHUNKS:
            raise invalid_params(f"total_chunk_count must be between 1 and {MAX_CHUNKS}")
        # Implied by chunk_size <= 64 MB today, but kept so the rule survives limit changes.
        if chunk_size + video_size % chunk_size > MAX_LAST_CHUNK:
            raise invalid_params("the last chunk (chunk_size + remainder) exceeds 128 MB")
        return cls(video_size, chunk_size, total_chunk_count)

    def chunk_length(self, index: int) -> int:
        """Bytes in chunk `index`; the last chunk carries the remainder."""
        if index == self.total_chunk_count - 1:
            return self.video_size - index * self.chunk_size
        return self.chunk_size


class Hasher(Protocol):
    """The slice of hashlib's interface a running upload digest needs."""

    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> Hasher: ...


def _new_hasher() -> Hasher:
    return hashlib.sha256()


@dataclass
class Publish:
    """Everything the simulator remembers about one publish_id. Mutated under the state lock."""

    publish_id: str
    flow: Flow
    source: str
    open_id: str
    username: str
    created_at: float  # wall clock, for humans
    created_mono: float  # monotonic, for the 24 h caps
    privacy_level: str | None = None
    title: str = ""
    description: str = ""
    post_info: dict[str, Any] = field(default_factory=dict)
    media_urls: list[str] = field(default_factory=list)
    photo_cover_index: int | None = None
    plan: ChunkPlan | None = None
    upload_id: str = ""
    upload_token: str = ""
    upload_expires_mono: float = 0.0
    status: str = PROCESSING_UPLOAD
    fail_reason: str = ""
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0
    chunks_received: int = 0
    chunk_in_flight: bool = False
    hasher: Hasher = field(default_factory=_new_hasher)
    forced_fail_reason: str | None = None
    ready_mono: float | None = None  # when processing ends
    public_mono: float | None = None  # when moderation ends (public direct posts only)
    pending_post_ids: list[int] = field(default_factory=list)
    public_post_ids: list[int] = field(default_factory=list)
    cancelled: bool = False

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def transferring(self) -> bool:
        """Bytes still on their way (upload not finished / download not finished)."""
        return not self.is_terminal and self.ready_mono is None

    def mark_transferred(
        self, now: float, processing: float, moderation: float, post_ids: list[int]
    ) -> None:
        """All bytes are in: schedule the end of processing (and moderation)."""
        if self.is_terminal:
            return
        self.ready_mono = now + processing
        if not self.flow.is_inbox and self.privacy_level == PUBLIC_TO_EVERYONE:
            self.public_mono = self.ready_mono + moderation
            self.pending_post_ids = list(post_ids)

    def fail(self, reason: str) -> None:
        if not self.is_terminal:
            self.status = FAILED
            self.fail_reason = reason

    def advance(self, now: float) -> None:
        """Move along the status machine if simulated deadlines have passed."""
        if not self.is_terminal and self.ready_mono is not None and now >= self.ready_mono:
            if self.forced_fail_reason:
                self.fail(self.forced_fail_reason)
            elif self.flow.is_inbox:
                self.status = SEND_TO_USER_INBOX
            else:
                self.status = PUBLISH_COMPLETE
        if (
            self.status == PUBLISH_COMPLETE
            and self.public_mono is not None
            and now >= self.public_mono
            and not self.public_post_ids
        ):
            self.public_post_ids = list(self.pending_post_ids)

    def status_data(self) -> dict[str, Any]:
        """The `data` of status/fetch (with TikTok's `publicaly` spelling)."""
        return {
            "status": self.status,
            "fail_reason": self.fail_reason,
            "publicaly_available_post_id": list(self.public_post_ids),
            "uploaded_bytes": self.uploaded_bytes,
            "downloaded_bytes": self.downloaded_bytes,
        }

    def admin_view(self) -> dict[str, Any]:
        """What GET /_sim/publishes shows: the whole story, minus secrets."""
        view: dict[str, Any] = {
            "publish_id": self.publish_id,
            "flow": self.flow.value,
            "status": self.status,
            "fail_reason": self.fail_reason,
            "creator_username": self.username,
            "open_id": self.open_id,
            "source": self.source,
            "privacy_level": self.privacy_level,
            "title": self.title,
            "description": self.description,
            "post_info": dict(self.post_info),
            "media_urls": list(self.media_urls),
            "photo_cover_index": self.photo_cover_index,
            "created_at": self.created_at,
            "uploaded_bytes": self.uploaded_bytes,
            "downloaded_bytes": self.downloaded_bytes,
            "publicaly_available_post_id": list(self.public_post_ids),
            "cancelled": self.cancelled,
            "forced_fail_reason": self.forced_fail_reason,
        }
        if self.plan is not None:
            view.update(
                video_size=self.plan.video_size,
                chunk_size=self.plan.chunk_size,
                total_chunk_count=self.plan.total_chunk_count,
                chunks_received=self.chunks_received,
                sha256=(
                    self.hasher.hexdigest() if self.uploaded_bytes == self.plan.video_size else None
                ),
            )
        return view
