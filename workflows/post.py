"""The post the workflow carries: one normalised target per TikTok account.

`PublishTarget` is the `PublishPost` workflow's input (inside `PublishPostInput`), produced by
the intake (`workflows.intake.parse_post`) from whichever request shape a caller sent. It is
snake_case on the wire and nothing else: history carries `mime_type`, `allow_comments`,
exactly as `schema/publish-post-input.schema.json` says. Histories written before this module
existed carried camelCase keys (`mimeType`, `durationSeconds`, `photoTitle`, ...); those keys
are still accepted on the way in, so sleeping posts keep deserialising and replaying, but they
are never written.

Pure and deterministic (no I/O, clock, randomness or environment): imported by workflows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasGenerator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import ComputedFieldInfo, FieldInfo
from pydantic_core import PydanticCustomError

from workflows.tiktok import Privacy

PUBLISH_TARGET_SCHEMA_ID = "urn:tiktok-publisher:schema:publish-target:v1"

#: Post and account ids become part of the workflow id `tiktok-post/<postId>/<accountId>`.
#: They also name objects in the media bucket, so `..` (and `/`, outside the alphabet) is refused.
#: Dot-separated runs of letters, digits, '_', ':' and '-' (never two dots in a row).
ID_PATTERN = r"^\.?[A-Za-z0-9_:-]+(?:\.[A-Za-z0-9_:-]+)*\.?$"
ID_MAX_LENGTH = 128
_ID_RE = re.compile(ID_PATTERN)


def is_identifier(value: object) -> bool:
    """Whether `value` is a usable post, account or set id (ID_PATTERN, 1-128 characters)."""
    return isinstance(value, str) and len(value) <= ID_MAX_LENGTH and bool(_ID_RE.fullmatch(value))


Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=ID_MAX_LENGTH)]


def _require_http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not host
        or any(ch.isspace() for ch in value)
    ):
        raise PydanticCustomError("media_url", "must be an absolute http(s) URL")
    return value


MediaUrl = Annotated[
    str,
    AfterValidator(_require_http_url),
    Field(json_schema_extra={"format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$"}),
]


def _only_text_or_datetime(value: Any) -> Any:
    # Numbers would be read as Unix time in seconds *or* milliseconds depending on size: a
    # guess. Only ISO-8601 text (or a datetime from Python callers) is taken.
    if isinstance(value, str | datetime):
        return value
    raise PydanticCustomError("datetime_text", "must be an ISO-8601 date-time string")


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+03:04 has no UTC time
        raise PydanticCustomError("datetime_range", "is outside the years 1-9999 in UTC") from None


UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_only_text_or_datetime),
    AfterValidator(_as_utc),
]


def _snake_or_legacy_camel(name: str) -> AliasChoices:
    return AliasChoices(name, to_camel(name))


def _field_title(name: str, info: FieldInfo | ComputedFieldInfo) -> str:
    return name.replace("_", " ").capitalize()


class _PostModel(BaseModel):
    """snake_case out; snake_case or (old histories) camelCase in; unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=_snake_or_legacy_camel),
        validate_by_name=True,
        extra="forbid",
        frozen=True,
        field_title_generator=_field_title,
    )


class MediaType(StrEnum):
    VIDEO = "video"
    PHOTO = "photo"


class MediaItem(_PostModel):
    """One media file of a post. Only url and type are required; whatever else is declared is
    checked against TikTok's limits before anything is started (and against the file itself
    when it is staged)."""

    url: MediaUrl = Field(description="Where the file can be downloaded (http or https).")
    type: MediaType = Field(description='"video" or "photo".')
    mime_type: str | None = Field(
        default=None,
        description="Content type: video/mp4, video/quicktime or video/webm; image/jpeg or "
        "image/webp.",
    )
    size_bytes: int | None = Field(default=None, gt=0, description="File size in bytes.")
    filename: str | None = Field(default=None, description="Original file name.")
    width: int | None = Field(default=None, gt=0, description="Width in pixels.")
    height: int | None = Field(default=None, gt=0, description="Height in pixels.")
    duration_seconds: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Video length in seconds."
    )

    @property
    def is_video(self) -> bool:
        return self.type is MediaType.VIDEO


class TikTokOptions(_PostModel):
    """How the post appears on TikTok. Interactions are off unless chosen (TikTok's guidelines)."""

    privacy: Privacy | None = Field(
        default=None,
        description="Who can see the post, chosen by the creator: TikTok has no default, so a "
        "direct post without it is rejected (TT_PRIVACY_REQUIRED). Not sent for inbox drafts.",
    )
    allow_comments: bool = Field(default=False, description="Let viewers comment.")
    allow_duet: bool = Field(default=False, description="Let viewers duet (videos only).")
    allow_stitch: bool = Field(default=False, description="Let viewers stitch (videos only).")
    auto_add_music: bool = Field(
        default=False, description="Let TikTok add music (photo posts only)."
    )
    brand_organic_toggle: bool = Field(
        default=False, description='Commercial disclosure "Your brand": promotes the creator.'
    )
    brand_content_toggle: bool = Field(
        default=False,
        description='Commercial disclosure "Branded content": a paid partnership; can never '
        "be SELF_ONLY.",
    )
    is_aigc: bool = Field(default=False, description="The video is AI-generated content.")
    photo_title: str | None = Field(
        default=None, description="Title of a photo post (at most 90 UTF-16 units)."
    )
    cover_timestamp_ms: int | None = Field(
        default=None, ge=0, description="Frame of a direct video used as cover, in ms."
    )
    photo_cover_index: int = Field(
        default=0, ge=0, description="Which photo (from 0) is the cover of a photo post."
    )
    # Inside the TikTok options `isDraft` means "upload to the creator's TikTok inbox"; the
    # internal name says so, to keep it apart from the root isDraft (system draft).
    inbox: bool = Field(
        default=False,
        description="Send to the creator's TikTok inbox as a draft instead of posting: the "
        "creator finishes and posts it in the app (privacy and interactions are chosen there).",
    )


# -- the normalised model ----------------------------------------------------------------------


def workflow_id(post_id: str, account_id: str) -> str:
    """One workflow per post target: the id is what makes a resubmission attach, not repeat."""
    return f"tiktok-post/{post_id}/{account_id}"


class PublishMode(StrEnum):
    """Which TikTok flow a target takes."""

    VIDEO_DIRECT = "video_direct"
    VIDEO_INBOX = "video_inbox"
    PHOTO_DIRECT = "photo_direct"
    PHOTO_INBOX = "photo_inbox"


#: Options each flow sends to TikTok (tiktok-api.md: direct video post_info; inbox video has
#: no post_info; photo post_info, where comment/music/disclosure apply to DIRECT_POST only).
#: Anything else set on a target is ignored, not rejected: TikTok would not refuse the post.
APPLICABLE_OPTIONS: Mapping[PublishMode, frozenset[str]] = {
    PublishMode.VIDEO_DIRECT: frozenset(
        {
            "privacy",
            "allow_comments",
            "allow_duet",
            "allow_stitch",
            "brand_organic_toggle",
            "brand_content_toggle",
            "is_aigc",
            "cover_timestamp_ms",
        }
    ),
    PublishMode.VIDEO_INBOX: frozenset(),
    PublishMode.PHOTO_DIRECT: frozenset(
        {
            "privacy",
            "allow_comments",
            "auto_add_music",
            "brand_organic_toggle",
            "brand_content_toggle",
            "photo_title",
            "photo_cover_index",
        }
    ),
    PublishMode.PHOTO_INBOX: frozenset({"photo_title", "photo_cover_index"}),
}


class PublishTarget(BaseModel):
    """One post to one TikTok account: the PublishPost workflow's input.

    snake_case on the wire; `model_dump(mode="json")` validates back unchanged.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    post_id: Identifier = Field(description="The caller's idempotency key.")
    account_id: Identifier = Field(description="Connected TikTok account (never a token).")
    caption: str = Field(default="", description="Video title, or the description of a photo post.")
    media: list[MediaItem] = Field(description="One video, or 1-35 photos.")
    options: TikTokOptions = Field(default_factory=TikTokOptions)
    scheduled_for: UtcDatetime | None = Field(
        default=None, description="When to publish (UTC); null = as soon as possible."
    )
    system_draft: bool = Field(
        default=False,
        description="Held as a draft: nothing goes to TikTok until schedule / publish_now.",
    )
    callback_url: str | None = Field(
        default=None, description="The caller's URL for this post's signed events."
    )

    @property
    def is_video(self) -> bool:
        """A video post (any video among the media; validation rejects mixes)."""
        return any(item.is_video for item in self.media)

    @property
    def kind(self) -> PublishMode:
        if self.is_video:
            return PublishMode.VIDEO_INBOX if self.options.inbox else PublishMode.VIDEO_DIRECT
        return PublishMode.PHOTO_INBOX if self.options.inbox else PublishMode.PHOTO_DIRECT

    @property
    def workflow_id(self) -> str:
        return workflow_id(self.post_id, self.account_id)

    @property
    def ignored_options(self) -> tuple[str, ...]:
        """Options set on this target that its flow does not send to TikTok."""
        applies = APPLICABLE_OPTIONS[self.kind]
        defaults = _DEFAULT_OPTIONS
        ignored = [
            name
            for name in TikTokOptions.model_fields
            if name != "inbox"
            and name not in applies
            and getattr(self.options, name) != getattr(defaults, name)
        ]
        if self.kind is PublishMode.VIDEO_INBOX and self.caption:
            ignored.insert(0, "caption")  # the inbox video init has no post_info at all
        return tuple(ignored)

    def summary(self) -> str:
        """One line for operators, e.g.
        `video → @acct_1 at 2026-11-30 09:00Z, PUBLIC_TO_EVERYONE: "Launch day…"`."""
        if self.is_video:
            what = "video"
        else:
            count = len(self.media)
            what = f"{count} photo" if count == 1 else f"{count} photos"
        inbox = " (inbox draft)" if self.options.inbox else ""
        if self.scheduled_for is None:
            when = "as soon as possible"
        else:
            fmt = "%Y-%m-%d %H:%M:%SZ" if self.scheduled_for.second else "%Y-%m-%d %H:%MZ"
            when = "at " + self.scheduled_for.strftime(fmt)
        if self.options.privacy is not None and not self.options.inbox:
            privacy = self.options.privacy.value
        elif self.options.inbox:
            privacy = "privacy chosen in the app"
        else:
            privacy = "no privacy set"
        text = " ".join(self.caption.split())
        caption = f'"{text[:40]}…"' if len(text) > 40 else f'"{text}"' if text else "(no caption)"
        held = "system draft, " if self.system_draft else ""
        return f"{held}{what} → @{self.account_id}{inbox} {when}, {privacy}: {caption}"


_DEFAULT_OPTIONS = TikTokOptions()


class Post(BaseModel):
    """A validated request: one target per TikTok account."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    post_id: Identifier
    targets: list[PublishTarget]


def publish_target_json_schema() -> dict[str, Any]:
    """JSON Schema of `PublishTarget`, the normalised workflow input (snake_case)."""
    generated = PublishTarget.model_json_schema(by_alias=False, mode="validation")
    generated.pop("title", None)
    generated.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": PUBLISH_TARGET_SCHEMA_ID,
        "title": "TikTok publish target",
        "description": "One post to one TikTok account, as the PublishPost workflow receives "
        "it: produced by workflows.intake.parse_post from a post request.",
        **generated,
    }


__all__ = [
    "APPLICABLE_OPTIONS",
    "ID_MAX_LENGTH",
    "ID_PATTERN",
    "PUBLISH_TARGET_SCHEMA_ID",
    "Identifier",
    "MediaItem",
    "MediaType",
    "MediaUrl",
    "Post",
    "PublishMode",
    "PublishTarget",
    "TikTokOptions",
    "UtcDatetime",
    "is_identifier",
    "publish_target_json_schema",
    "workflow_id",
]
