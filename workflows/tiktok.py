"""TikTok's own vocabulary: privacy levels, publish statuses, creator settings.

Pure data, safe to import from workflow code. Names and values follow TikTok's
Content Posting API so that what operators read here is what TikTok's docs say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Privacy(StrEnum):
    """Who can see a post. TikTok has no default; the creator must choose."""

    PUBLIC_TO_EVERYONE = "PUBLIC_TO_EVERYONE"
    MUTUAL_FOLLOW_FRIENDS = "MUTUAL_FOLLOW_FRIENDS"
    FOLLOWER_OF_CREATOR = "FOLLOWER_OF_CREATOR"
    SELF_ONLY = "SELF_ONLY"


class TikTokStatus(StrEnum):
    """Values of `status` in /v2/post/publish/status/fetch/."""

    PROCESSING_UPLOAD = "PROCESSING_UPLOAD"
    PROCESSING_DOWNLOAD = "PROCESSING_DOWNLOAD"
    SEND_TO_USER_INBOX = "SEND_TO_USER_INBOX"
    PUBLISH_COMPLETE = "PUBLISH_COMPLETE"
    FAILED = "FAILED"

    @classmethod
    def parse(cls, raw: str) -> TikTokStatus:
        """Accept the spelling TikTok documents and the one some clients report."""
        if raw == "SENDING_TO_USER_INBOX":
            return cls.SEND_TO_USER_INBOX
        return cls(raw)


@dataclass(frozen=True)
class CreatorInfo:
    """What creator_info/query says about the account right before posting."""

    username: str
    nickname: str
    privacy_level_options: tuple[Privacy, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int
    avatar_url: str = ""


@dataclass(frozen=True)
class PublishStatus:
    """One answer of status/fetch, normalised."""

    status: TikTokStatus
    fail_reason: str = ""
    public_post_ids: tuple[str, ...] = field(default_factory=tuple)
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0
    staged_media_released: int | None = None
    """Not TikTok's: set when this check also deleted the post's staged media (asked to by
    `StatusQuery.release_staged`, and the answer was a final success), the objects deleted."""

    @property
    def is_success(self) -> bool:
        """TikTok has the post for good: live, or in the creator's inbox."""
        return self.status in (TikTokStatus.PUBLISH_COMPLETE, TikTokStatus.SEND_TO_USER_INBOX)

    @property
    def is_terminal(self) -> bool:
        # PUBLISH_COMPLETE without public ids can still gain them after moderation, but the
        # post itself is done; callers that need the ids decide whether to keep waiting.
        return self.status in (
            TikTokStatus.PUBLISH_COMPLETE,
            TikTokStatus.SEND_TO_USER_INBOX,
            TikTokStatus.FAILED,
        )
