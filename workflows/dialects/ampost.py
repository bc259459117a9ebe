"""Ampost's post request, as its public API documents it, into the one normalised `Post`.

    {"content": {"text", "media": [{url, type, mimeType, sizeBytes, filename, width, height,
                                    durationSeconds}],
                 "linkUrl", "platformOverrides": {"tiktok": {"settings": {...}}}},
     "platforms": ["tiktok"], "scheduledFor": null | ISO-8601, "platformSetId": "...",
     "postId": "..."}

`platformSetId` names a set of accounts kept in the account store (`platform-set` commands,
/v1/platform-sets); the starter resolves it before parsing, and every account of the set
becomes one target. `postId` is not Ampost's: it is the idempotency key this engine needs
(or the API's Idempotency-Key header), because none is ever invented.

The TikTok settings keep Ampost's names; `disableComment` / `disableDuet` / `disableStitch`
are inverted into our `allow*` (absent = off, as TikTok's guidelines require: nothing is
pre-selected for the creator). There is no privacy default (TT_PRIVACY_REQUIRED).
The mapping table is docs/dialects.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from workflows.dialects.common import (
    DialectContext,
    Draft,
    field_title,
    finish,
    post_id_of,
)
from workflows.dialects.common import structural as structural_problems
from workflows.post import MediaItem, MediaUrl, Post, TikTokOptions, UtcDatetime, is_identifier
from workflows.tiktok import Privacy
from workflows.validation import Loc, Problem

NAME = "ampost"
SCHEMA_ID = "urn:tiktok-publisher:schema:dialect:ampost:v1"
SETTINGS: Loc = ("content", "platformOverrides", "tiktok", "settings")


class _AmpostModel(BaseModel):
    """Ampost's camelCase keys only (it has no other spelling); unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        extra="forbid",
        field_title_generator=field_title,
    )


class AmpostMedia(_AmpostModel):
    """An explicit media descriptor, as Ampost requires for TikTok."""

    url: MediaUrl = Field(description="Where the file can be downloaded (http or https).")
    type: Literal["video", "image", "photo"] = Field(description='"video", or "image" for a photo.')
    mime_type: str | None = Field(default=None, description="video/mp4, image/jpeg, ...")
    size_bytes: int | None = Field(default=None, gt=0, description="File size in bytes.")
    filename: str | None = Field(default=None, description="Original file name.")
    width: int | None = Field(default=None, gt=0, description="Width in pixels.")
    height: int | None = Field(default=None, gt=0, description="Height in pixels.")
    duration_seconds: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Video length in seconds."
    )


class AmpostTikTokSettings(_AmpostModel):
    """`content.platformOverrides.tiktok.settings`."""

    privacy_level: Privacy | None = Field(
        default=None, description="Who can see the post; required for direct posts, no default."
    )
    disable_comment: bool | None = Field(default=None, description="true: comments off.")
    disable_duet: bool | None = Field(default=None, description="true: duets off.")
    disable_stitch: bool | None = Field(default=None, description="true: stitches off.")
    brand_content_toggle: bool = Field(default=False, description="Branded content (paid).")
    brand_organic_toggle: bool = Field(default=False, description="Your brand.")
    is_aigc: bool = Field(default=False, description="AI-generated content.")
    auto_add_music: bool = Field(default=False, description="Photo posts: let TikTok add music.")
    photo_title: str | None = Field(default=None, description="Title of a photo post.")
    cover_timestamp_ms: int | None = Field(default=None, ge=0, description="Video cover frame.")
    photo_cover_index: int = Field(default=0, ge=0, description="Cover photo, from 0.")
    is_draft: bool = Field(
        default=False, description="Send to the creator's TikTok inbox instead of posting."
    )


class AmpostTikTokOverride(_AmpostModel):
    settings: AmpostTikTokSettings = Field(default_factory=AmpostTikTokSettings)


class AmpostPlatformOverrides(_AmpostModel):
    """`content.platformOverrides`: only `tiktok` is published here; other platforms' keys
    are refused (TT_PLATFORM_UNSUPPORTED)."""

    model_config = ConfigDict(extra="allow")

    tiktok: AmpostTikTokOverride | None = None


class AmpostContent(_AmpostModel):
    text: str = Field(default="", description="The caption.")
    media: list[AmpostMedia] = Field(default_factory=list, description="One video or 1-35 photos.")
    link_url: str | None = Field(default=None, description="Not on TikTok: must be null.")
    platform_overrides: AmpostPlatformOverrides = Field(
        default_factory=AmpostPlatformOverrides, description='{"tiktok": {"settings": {...}}}.'
    )


class AmpostPostRequest(_AmpostModel):
    """Ampost's `POST /api/v1/posts` body, for TikTok."""

    content: AmpostContent
    platforms: list[str] = Field(min_length=1, description='["tiktok"].')
    scheduled_for: UtcDatetime | None = Field(
        default=None, description="ISO-8601 with a UTC offset; null = as soon as possible."
    )
    platform_set_id: str = Field(description="A platform set of the account store.")
    post_id: str | None = Field(
        default=None,
        description="Not Ampost's: the idempotency key (or the Idempotency-Key header).",
    )
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Not Ampost's: your URL for this post's signed events (webhooks out), "
        "as in the native shape.",
    )


_HINTS = {
    "content": 'the post itself: {"text": ..., "media": [...], "platformOverrides": '
    '{"tiktok": {"settings": {...}}}}.',
    "platforms": 'the list of platforms: ["tiktok"].',
    "platformSetId": "the id of a platform set (create one with `tiktok-publisher platform-set "
    "create`, or POST /v1/platform-sets).",
    "url": "the https URL the file can be downloaded from.",
    "type": 'the kind of media, "video" or "image".',
}

_OPTION_KEYS = {
    "privacy": "privacyLevel",
    "allow_comments": "disableComment",
    "allow_duet": "disableDuet",
    "allow_stitch": "disableStitch",
    "brand_content_toggle": "brandContentToggle",
    "brand_organic_toggle": "brandOrganicToggle",
    "is_aigc": "isAigc",
    "auto_add_music": "autoAddMusic",
    "photo_title": "photoTitle",
    "cover_timestamp_ms": "coverTimestampMs",
    "photo_cover_index": "photoCoverIndex",
    "inbox": "isDraft",
}
_MEDIA_KEYS = {name: to_camel(name) for name in MediaItem.model_fields}


MESSAGES = {
    "TT_PRIVACY_REQUIRED": "A direct post needs a privacy level chosen by the creator (TikTok "
    "has no default, and neither does this engine): set privacyLevel to one of "
    "PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR or SELF_ONLY, or set "
    "isDraft: true in the settings to send it to the creator's inbox, where they choose.",
}


def detect(raw: Mapping[str, Any]) -> bool:
    """Ampost's marks: a `platformSetId`, or `content` as an object (the native flat shape
    has `content` as text)."""
    return "platformSetId" in raw or isinstance(raw.get("content"), Mapping)


def references(raw: Mapping[str, Any]) -> list[str]:
    """The platform set ids the request names (for the starter to resolve)."""
    found = raw.get("platformSetId")
    return [found] if isinstance(found, str) else []


def _options(settings: AmpostTikTokSettings) -> TikTokOptions:
    def allowed(disabled: bool | None) -> bool:
        return disabled is False  # absent: off, never pre-selected

    return TikTokOptions(
        privacy=settings.privacy_level,
        allow_comments=allowed(settings.disable_comment),
        allow_duet=allowed(settings.disable_duet),
        allow_stitch=allowed(settings.disable_stitch),
        brand_content_toggle=settings.brand_content_toggle,
        brand_organic_toggle=settings.brand_organic_toggle,
        is_aigc=settings.is_aigc,
        auto_add_music=settings.auto_add_music,
        photo_title=settings.photo_title,
        cover_timestamp_ms=settings.cover_timestamp_ms,
        photo_cover_index=settings.photo_cover_index,
        inbox=settings.is_draft,
    )


def _settings(overrides: AmpostPlatformOverrides, problems: list[Problem]) -> AmpostTikTokSettings:
    for platform in overrides.model_extra or {}:
        problems.append(
            Problem(
                "TT_PLATFORM_UNSUPPORTED",
                f"content.platformOverrides.{platform}",
                f"This engine publishes to TikTok only: remove the {platform} overrides "
                "(send them to the service that publishes there).",
            )
        )
    return overrides.tiktok.settings if overrides.tiktok else AmpostTikTokSettings()


def parse(raw: Mapping[str, Any], context: DialectContext) -> Post:
    data = dict(raw)
    request, problems = structural_problems(AmpostPostRequest, data, "camel", _HINTS)
    raw_post_id = data.get("postId")
    post_id = post_id_of(raw_post_id, "postId", context, problems)
    if request is None:
        return finish(post_id, [], problems, context.policy)

    for i, platform in enumerate(request.platforms):
        if platform != "tiktok":
            problems.append(
                Problem(
                    "TT_PLATFORM_UNSUPPORTED",
                    f"platforms[{i}]",
                    f"{platform!r} is not published by this engine, which posts to TikTok only: "
                    'send platforms: ["tiktok"] (and the other platforms to their service).',
                )
            )
    if "tiktok" not in request.platforms:
        problems.append(
            Problem(
                "TT_NO_TARGETS",
                "platforms",
                'platforms does not name "tiktok", so the post goes nowhere here: add "tiktok".',
            )
        )
    if request.content.link_url is not None:
        problems.append(
            Problem(
                "TT_FIELD_UNSUPPORTED",
                "content.linkUrl",
                "TikTok has no link posts and no clickable links in captions: set linkUrl to "
                "null (put the address in the text if it must appear).",
            )
        )
    settings = _settings(request.content.platform_overrides, problems)
    accounts = _accounts(request.platform_set_id, context, problems)

    media = [
        MediaItem(
            url=item.url,
            type="video" if item.type == "video" else "photo",
            mime_type=item.mime_type,
            size_bytes=item.size_bytes,
            filename=item.filename,
            width=item.width,
            height=item.height,
            duration_seconds=item.duration_seconds,
        )
        for item in request.content.media
    ]
    options = _options(settings)
    option_locs = {name: (*SETTINGS, key) for name, key in _OPTION_KEYS.items()}
    drafts = [
        Draft(
            account_id=account,
            account_loc=("platformSetId",),
            caption=request.content.text,
            caption_loc=("content", "text"),
            media=media,
            media_locs=[("content", "media", i) for i in range(len(media))],
            options=options,
            option_locs=option_locs,
            scheduled_for=request.scheduled_for,
            system_draft=False,
            media_keys=_MEDIA_KEYS,
            media_list_loc=("content", "media"),
            callback_url=request.callback_url,
        )
        # Without usable accounts (an unknown or empty set) the content is still checked,
        # so that every problem is reported at once; the post is refused either way.
        for account in accounts or ["placeholder"]
        if "tiktok" in request.platforms
    ]
    return finish(post_id, drafts, problems, context.policy, MESSAGES)


def _accounts(set_id: str, context: DialectContext, problems: list[Problem]) -> list[str]:
    members = context.platform_sets.get(set_id)
    if members is None:
        problems.append(
            Problem(
                "TT_PLATFORM_SET_UNKNOWN",
                "platformSetId",
                f"No platform set {set_id!r} in the account store: create it with "
                "`tiktok-publisher platform-set create` (or POST /v1/platform-sets), naming "
                "its TikTok accounts, or list the sets with `tiktok-publisher platform-set list`.",
            )
        )
        return []
    if not members:
        problems.append(
            Problem(
                "TT_NO_TARGETS",
                "platformSetId",
                f"Platform set {set_id!r} has no accounts, so the post goes nowhere: add "
                "accounts to it (`tiktok-publisher platform-set change SET --add ACCOUNT`).",
            )
        )
    bad = [m for m in members if not is_identifier(m)]
    if bad:
        problems.append(
            Problem(
                "TT_FIELD_INVALID",
                "platformSetId",
                f"Platform set {set_id!r} holds unusable account ids {bad!r}.",
            )
        )
    return [m for m in members if is_identifier(m)]


def json_schema() -> dict[str, Any]:
    generated = AmpostPostRequest.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Ampost post request (TikTok)",
        "description": "Ampost's POST /api/v1/posts body as this engine accepts it "
        "(dialect ampost): one target per account of platformSetId. postId (or an "
        "Idempotency-Key header) is required as the idempotency key; privacyLevel has no "
        "default. Mapping: docs/dialects.md.",
        **{k: v for k, v in generated.items() if k not in ("title", "description")},
    }
