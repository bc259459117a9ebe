"""The intake's wire shapes: what callers send, as pydantic models, and their JSON Schema.

Two request dialects ("skins") are accepted today, each in camelCase or snake_case keys:

* flat:   `{postId, content, scheduledFor, media, platforms: [{accountId, platformOptions}],
  isDraft}`
* nested: `{postId, caption, scheduledAt, media, targets: [{socialAccountId, caption?, media?,
  platformOptions}], isDraft}` — a target's caption and media replace the root ones.

`platformOptions` is either the TikTok options themselves or `{"tiktok": {...}}`. These models
describe the caller's terms only; `workflows.intake` turns a validated request into the
normalised `workflows.post.Post`, and `workflows.intake_problems` says what is wrong in the
caller's own spelling. A new dialect adds its models here, one `Skin` entry in
`workflows.intake.SKINS`, and its hints in `workflows.intake_problems`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import ComputedFieldInfo, FieldInfo

from workflows.post import Identifier, MediaType, MediaUrl, UtcDatetime
from workflows.tiktok import Privacy

REQUEST_SCHEMA_ID = "urn:tiktok-publisher:schema:post-request:v1"


def _field_title(name: str, info: FieldInfo | ComputedFieldInfo) -> str:
    return name.replace("_", " ").capitalize()


class _CallerModel(BaseModel):
    """camelCase and snake_case keys both accepted; unknown keys are errors, never dropped."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
        field_title_generator=_field_title,
    )


class RequestMedia(_CallerModel):
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


class RequestTikTokOptions(_CallerModel):
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
    # internal name says so, to keep it apart from the root isDraft (system draft). An
    # explicit validation alias replaces the generated one, so both spellings are listed;
    # the field name `inbox` itself is accepted too (validate_by_name), which is what the
    # workflow input uses.
    inbox: bool = Field(
        default=False,
        validation_alias=AliasChoices("isDraft", "is_draft"),
        description="Send to the creator's TikTok inbox as a draft instead of posting: the "
        "creator finishes and posts it in the app (privacy and interactions are chosen there).",
    )


class TikTokOptionsEnvelope(_CallerModel):
    """`platformOptions` written as `{"tiktok": {...}}`."""

    tiktok: RequestTikTokOptions


OPTIONS_TAG = "tiktok-options"
ENVELOPE_TAG = "tiktok-envelope"


def _options_shape(value: Any) -> str:
    if isinstance(value, TikTokOptionsEnvelope) or (
        isinstance(value, Mapping) and "tiktok" in value
    ):
        return ENVELOPE_TAG
    return OPTIONS_TAG


PlatformOptions = Annotated[
    Annotated[RequestTikTokOptions, Tag(OPTIONS_TAG)]
    | Annotated[TikTokOptionsEnvelope, Tag(ENVELOPE_TAG)],
    Discriminator(_options_shape),
]


class FlatTarget(_CallerModel):
    """One TikTok account of a flat request."""

    account_id: Identifier = Field(description="Connected TikTok account to publish to.")
    platform_options: PlatformOptions = Field(
        default_factory=RequestTikTokOptions,
        description='TikTok options, directly or as {"tiktok": {...}}.',
    )


class FlatPostRequest(_CallerModel):
    """Flat shape: one caption and one media list for every account in `platforms`."""

    post_id: Identifier = Field(
        description="Your idempotency key: resubmitting the same postId never posts twice."
    )
    content: str = Field(default="", description="The caption.")
    scheduled_for: UtcDatetime | None = Field(
        default=None,
        description="When to publish, ISO-8601 with a UTC offset; absent = as soon as possible.",
    )
    media: list[RequestMedia] = Field(
        default_factory=list, description="One video, or 1-35 photos."
    )
    platforms: list[FlatTarget] = Field(min_length=1, description="One entry per account.")
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Your URL for this post's signed events (post.published, post.failed, "
        "...), besides the registered webhook endpoints; signed with the secret of the "
        "account's (or a global) endpoint.",
    )
    is_draft: bool = Field(
        default=False,
        description="System draft: keep the post without sending anything to TikTok until "
        "it is scheduled or published explicitly.",
    )


class NestedTarget(_CallerModel):
    """One TikTok account of a nested request; caption and media replace the root ones."""

    social_account_id: Identifier = Field(description="Connected TikTok account to publish to.")
    caption: str | None = Field(default=None, description="Caption for this account only.")
    media: list[RequestMedia] | None = Field(
        default=None, description="Media for this account only."
    )
    platform_options: PlatformOptions = Field(
        default_factory=RequestTikTokOptions,
        description='TikTok options, directly or as {"tiktok": {...}}.',
    )


class NestedPostRequest(_CallerModel):
    """Nested shape: per-account targets that may override the root caption and media."""

    post_id: Identifier = Field(
        description="Your idempotency key: resubmitting the same postId never posts twice."
    )
    caption: str = Field(default="", description="Caption, unless a target has its own.")
    scheduled_at: UtcDatetime | None = Field(
        default=None,
        description="When to publish, ISO-8601 with a UTC offset; absent = as soon as possible.",
    )
    media: list[RequestMedia] = Field(
        default_factory=list, description="Media, unless a target has its own."
    )
    targets: list[NestedTarget] = Field(min_length=1, description="One entry per account.")
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Your URL for this post's signed events (post.published, post.failed, "
        "...), besides the registered webhook endpoints; signed with the secret of the "
        "account's (or a global) endpoint.",
    )
    is_draft: bool = Field(
        default=False,
        description="System draft: keep the post without sending anything to TikTok until "
        "it is scheduled or published explicitly.",
    )


# -- JSON Schema ---------------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of the request, in its canonical camelCase spelling.

    snake_case keys are accepted too but not described, to keep one spelling in the docs;
    the description says so, since `additionalProperties: false` refuses them.
    """
    adapter: TypeAdapter[FlatPostRequest | NestedPostRequest] = TypeAdapter(
        FlatPostRequest | NestedPostRequest
    )
    generated = adapter.json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": REQUEST_SCHEMA_ID,
        "title": "TikTok post request",
        "description": "A post for one or more TikTok accounts, in the flat shape (platforms) "
        "or the nested shape (targets). The engine also accepts each key in snake_case; "
        "this schema describes the camelCase spelling only (it allows no other keys), so "
        "validate camelCase bodies against it. Each "
        "(postId, account) becomes one durable PublishPost workflow; resubmitting the same "
        "postId never posts twice. Root isDraft keeps the post as a system draft; isDraft in "
        "the TikTok options sends it to the creator's TikTok inbox.",
        # The shapes exclude each other (different required keys, no extra keys).
        "oneOf": generated["anyOf"],
        "$defs": generated["$defs"],
    }


__all__ = [
    "ENVELOPE_TAG",
    "OPTIONS_TAG",
    "REQUEST_SCHEMA_ID",
    "FlatPostRequest",
    "FlatTarget",
    "NestedPostRequest",
    "NestedTarget",
    "PlatformOptions",
    "RequestMedia",
    "RequestTikTokOptions",
    "TikTokOptionsEnvelope",
    "json_schema",
]
