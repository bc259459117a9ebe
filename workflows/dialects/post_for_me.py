"""Post for Me's post request (`POST /v1/social-posts`), as its public API reference
documents it, into the one normalised `Post`.

    {"caption", "social_accounts": [...], "media": [{"url", ...}], "scheduled_at",
     "isDraft", "external_id",
     "platform_configurations": {"tiktok": {privacy_status, allow_comment, allow_duet,
        allow_stitch, disclose_your_brand, disclose_branded_content, is_ai_generated,
        is_draft, auto_add_music, title, caption, media}},
     "account_configurations": [{"social_account_id", "configuration": {...}}]}

Settings cascade as Post for Me documents it: an account's configuration over the TikTok
platform configuration over the post itself. `external_id` is the idempotency key (or the
API's Idempotency-Key header); root `isDraft` keeps a system draft; `is_draft` in the TikTok
configuration sends the video to the creator's TikTok inbox.

Where this engine differs from Post for Me, on purpose: no privacy default (Post for Me
posts publicly when `privacy_status` is absent; TikTok's guidelines require the creator's
choice: TT_PRIVACY_REQUIRED); interactions and music are off unless set (Post for Me
defaults them on); `privacy_status` "followers" and "friends" are refused
(TT_VALUE_UNMAPPABLE): their names suggest FOLLOWER_OF_CREATOR and MUTUAL_FOLLOW_FRIENDS,
but Post for Me's own TikTok client publishes every value other than "private" as
PUBLIC_TO_EVERYONE, so either reading would be a guess. Media has no type field: the URL's
file extension says video or photo, and any other URL is refused (TT_MEDIA_TYPE_UNKNOWN).
The mapping table is docs/dialects.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from workflows.dialects.common import (
    DialectContext,
    Draft,
    dialect_keys,
    field_title,
    finish,
    post_id_of,
    unknown_key,
)
from workflows.dialects.common import structural as structural_problems
from workflows.post import Identifier, MediaItem, MediaUrl, Post, TikTokOptions, UtcDatetime
from workflows.source_addresses import redact_url
from workflows.tiktok import Privacy
from workflows.validation import Loc, Problem, format_loc

NAME = "post-for-me"
SCHEMA_ID = "urn:tiktok-publisher:schema:dialect:post-for-me:v1"

VIDEO_SUFFIXES = frozenset({"mp4", "m4v", "mov", "webm", "avi", "mkv"})
PHOTO_SUFFIXES = frozenset({"jpg", "jpeg", "webp", "png", "gif", "heic", "heif", "avif", "bmp"})

#: privacy_status -> TikTok's privacy level, where the meaning is certain.
PRIVACY = {"public": Privacy.PUBLIC_TO_EVERYONE, "private": Privacy.SELF_ONLY}
UNMAPPABLE_PRIVACY = {
    "followers": "FOLLOWER_OF_CREATOR",
    "friends": "MUTUAL_FOLLOW_FRIENDS",
}


class _PfmModel(BaseModel):
    """Post for Me's snake_case keys, exactly; unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=False,
        validate_by_alias=True,
        field_title_generator=field_title,
    )


class PfmMedia(_PfmModel):
    url: MediaUrl = Field(description="Public URL of the media (its extension says its kind).")
    thumbnail_url: str | None = Field(default=None, description="Not on TikTok: must be null.")
    thumbnail_timestamp_ms: int | None = Field(
        default=None, ge=0, description="Video: the frame used as cover, in ms."
    )
    tags: list[Any] | None = Field(default=None, description="Facebook/Instagram only: empty.")
    skip_processing: bool | None = Field(
        default=None, description="Accepted; media is never transformed here anyway."
    )


class _TikTokFields(_PfmModel):
    caption: str | None = Field(default=None, description="Overrides the caption.")
    media: list[PfmMedia] | None = Field(default=None, description="Overrides the media.")
    title: str | None = Field(default=None, description="Title of a photo post.")
    privacy_status: str | None = Field(
        default=None, description='"public" or "private"; required for direct posts.'
    )
    allow_comment: bool | None = None
    allow_duet: bool | None = None
    allow_stitch: bool | None = None
    disclose_your_brand: bool | None = None
    disclose_branded_content: bool | None = None
    is_ai_generated: bool | None = None
    is_draft: bool | None = Field(
        default=None, description="true: send to the creator's TikTok inbox (a TikTok draft)."
    )
    auto_add_music: bool | None = None


class PfmTikTokConfiguration(_TikTokFields):
    """`platform_configurations.tiktok`."""


#: Account configuration keys that belong to other platforms: refused when set.
OTHER_PLATFORM_KEYS = (
    "board_ids",
    "link",
    "placement",
    "made_for_kids",
    "contains_synthetic_media",
    "tags",
    "category_id",
    "default_language",
    "localizations",
    "embeddable",
    "license",
    "public_stats_viewable",
    "publish_at",
    "recording_date",
    "poll",
    "community_id",
    "quote_tweet_id",
    "reply_settings",
    "location",
    "collaborators",
    "share_to_feed",
    "trial_reel_type",
    "audio_name",
    "set_caption_for_each_image",
    "reshare_post_id",
    "description",
)


class PfmAccountConfigurationDetails(_TikTokFields):
    """`account_configurations[].configuration` (the TikTok keys; other platforms' keys are
    accepted only when null)."""

    model_config = ConfigDict(extra="allow")


class PfmAccountConfiguration(_PfmModel):
    social_account_id: str = Field(description="One of social_accounts.")
    configuration: PfmAccountConfigurationDetails


OTHER_PLATFORMS = (
    "pinterest",
    "instagram",
    "x",
    "youtube",
    "facebook",
    "linkedin",
    "bluesky",
    "threads",
    "tiktok_business",
)


class PfmPlatformConfigurations(_PfmModel):
    tiktok: PfmTikTokConfiguration | None = None
    pinterest: Any = None
    instagram: Any = None
    x: Any = None
    youtube: Any = None
    facebook: Any = None
    linkedin: Any = None
    bluesky: Any = None
    threads: Any = None
    tiktok_business: Any = None


class PfmPostRequest(_PfmModel):
    """Post for Me's create-post body, for TikTok accounts."""

    caption: str = Field(default="", description="Caption text for the post.")
    social_accounts: list[Identifier] = Field(min_length=1, description="Account ids.")
    media: list[PfmMedia] | None = Field(default=None, description="One video or 1-35 photos.")
    scheduled_at: UtcDatetime | None = Field(
        default=None, description="ISO-8601 with a UTC offset; null = as soon as possible."
    )
    platform_configurations: PfmPlatformConfigurations | None = None
    account_configurations: list[PfmAccountConfiguration] | None = None
    external_id: str | None = Field(
        default=None, description="Your id for the post: the idempotency key."
    )
    is_draft: bool | None = Field(
        default=None,
        alias="isDraft",
        description="System draft: kept here, nothing sent to TikTok until scheduled.",
    )
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Not Post for Me's: your URL for this post's signed events (webhooks "
        "out), as callbackUrl in the native shape.",
    )


_HINTS = {
    "social_accounts": "the ids of the connected TikTok accounts to post to.",
    "url": "the https URL the file can be downloaded from.",
    "social_account_id": "the id of one of social_accounts.",
    "configuration": "the settings for that account.",
}


MESSAGES = {
    "TT_PRIVACY_REQUIRED": "A direct post needs a privacy level chosen by the creator (TikTok "
    "has no default, and this engine does not default to public as Post for Me does): set "
    'privacy_status to "public" or "private", or is_draft: true to send it to the creator\'s '
    "TikTok inbox, where they choose.",
}


def detect(raw: Mapping[str, Any]) -> bool:
    """Post for Me's marks: keys no other dialect has."""
    return any(
        key in raw
        for key in (
            "social_accounts",
            "platform_configurations",
            "account_configurations",
            "external_id",
        )
    )


def _kind(url: str) -> str | None:
    path = unquote(urlsplit(url).path)
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in PHOTO_SUFFIXES:
        return "photo"
    return None


class _Media:
    """A media list converted, with where each item was written."""

    def __init__(self, items: Sequence[PfmMedia], base: Loc, problems: list[Problem]) -> None:
        self.base = base
        self.items: list[MediaItem] = []
        self.locs: list[Loc] = []
        self.cover_ms: int | None = None
        self.cover_loc: Loc = ()
        for i, item in enumerate(items):
            loc: Loc = (*base, i)
            if item.thumbnail_url is not None:
                problems.append(
                    Problem(
                        "TT_FIELD_UNSUPPORTED",
                        format_loc((*loc, "thumbnail_url")),
                        "TikTok's Content Posting API takes no cover image: remove thumbnail_url "
                        "(thumbnail_timestamp_ms picks a frame of the video as its cover).",
                    )
                )
            if item.tags:
                problems.append(
                    Problem(
                        "TT_FIELD_UNSUPPORTED",
                        format_loc((*loc, "tags")),
                        "TikTok has no media tags through its API (Post for Me applies them on "
                        "Facebook and Instagram only): remove tags.",
                    )
                )
            kind = _kind(item.url)
            if kind is None:
                problems.append(
                    Problem(
                        "TT_MEDIA_TYPE_UNKNOWN",
                        format_loc((*loc, "url")),
                        f"{redact_url(item.url)} has no file extension that says video "
                        "(.mp4, .mov, .webm) or photo (.jpg, .jpeg, .webp), and this dialect "
                        "has no type field, so its kind would be a guess: use a URL that ends "
                        "in its extension, or send the request in the native shape with an "
                        "explicit type.",
                    )
                )
                continue
            name = unquote(urlsplit(item.url).path).rsplit("/", 1)[-1]
            self.items.append(MediaItem(url=item.url, type=kind, filename=name or None))
            self.locs.append(loc)
            if item.thumbnail_timestamp_ms is not None:
                if kind == "video":
                    self.cover_ms = item.thumbnail_timestamp_ms
                    self.cover_loc = (*loc, "thumbnail_timestamp_ms")
                else:
                    problems.append(
                        Problem(
                            "TT_FIELD_UNSUPPORTED",
                            format_loc((*loc, "thumbnail_timestamp_ms")),
                            "A photo has no frame to pick as cover: remove "
                            "thumbnail_timestamp_ms (a photo post's cover is its first photo).",
                        )
                    )


#: Our option name -> Post for Me's key.
_OPTION_KEYS = {
    "privacy": "privacy_status",
    "allow_comments": "allow_comment",
    "allow_duet": "allow_duet",
    "allow_stitch": "allow_stitch",
    "brand_organic_toggle": "disclose_your_brand",
    "brand_content_toggle": "disclose_branded_content",
    "is_aigc": "is_ai_generated",
    "inbox": "is_draft",
    "auto_add_music": "auto_add_music",
    "photo_title": "title",
}

PLATFORM_TIKTOK: Loc = ("platform_configurations", "tiktok")


def _privacy(value: str | None, loc: Loc, problems: list[Problem]) -> Privacy | None:
    if value is None:
        return None
    if value in PRIVACY:
        return PRIVACY[value]
    where = format_loc(loc)
    if value in UNMAPPABLE_PRIVACY:
        problems.append(
            Problem(
                "TT_VALUE_UNMAPPABLE",
                where,
                f'privacy_status "{value}" has no certain TikTok meaning: the name suggests '
                f"{UNMAPPABLE_PRIVACY[value]}, but Post for Me itself publishes it as "
                'PUBLIC_TO_EVERYONE. Send "public" or "private", or the native shape with '
                f'privacy "{UNMAPPABLE_PRIVACY[value]}" if that is what the creator chose.',
            )
        )
        return None
    problems.append(
        Problem(
            "TT_FIELD_INVALID",
            where,
            f'privacy_status must be "public" or "private" (TikTok: PUBLIC_TO_EVERYONE or '
            f"SELF_ONLY), not {value!r}.",
        )
    )
    return None


def _account_configurations(
    request: PfmPostRequest, problems: list[Problem]
) -> dict[str, tuple[int, PfmAccountConfigurationDetails]]:
    found: dict[str, tuple[int, PfmAccountConfigurationDetails]] = {}
    for j, entry in enumerate(request.account_configurations or []):
        base: Loc = ("account_configurations", j)
        if entry.social_account_id not in request.social_accounts:
            problems.append(
                Problem(
                    "TT_FIELD_INVALID",
                    format_loc((*base, "social_account_id")),
                    f"{entry.social_account_id!r} is not one of social_accounts, so this "
                    "configuration would apply to nothing: add the account to social_accounts "
                    "or fix the id.",
                )
            )
            continue
        if entry.social_account_id in found:
            problems.append(
                Problem(
                    "TT_DUPLICATE_ACCOUNT",
                    format_loc((*base, "social_account_id")),
                    f"{entry.social_account_id} has two account configurations: merge them "
                    "into one.",
                )
            )
            continue
        extra = entry.configuration.model_extra or {}
        for key, value in extra.items():
            if key not in OTHER_PLATFORM_KEYS:
                known = dialect_keys(PfmAccountConfigurationDetails) | set(OTHER_PLATFORM_KEYS)
                where = format_loc((*base, "configuration", key))
                problems.append(unknown_key(where, key, known))
            elif value is not None:
                problems.append(
                    Problem(
                        "TT_FIELD_UNSUPPORTED",
                        format_loc((*base, "configuration", key)),
                        f"{key} applies to another platform, not to TikTok: remove it from "
                        "the configuration of this TikTok account.",
                    )
                )
        found[entry.social_account_id] = (j, entry.configuration)
    return found


def parse(raw: Mapping[str, Any], context: DialectContext) -> Post:
    data = dict(raw)
    request, problems = structural_problems(PfmPostRequest, data, "snake", _HINTS)
    post_id = post_id_of(data.get("external_id"), "external_id", context, problems)
    if request is None:
        return finish(post_id, [], problems, context.policy)

    platforms = request.platform_configurations or PfmPlatformConfigurations()
    for name in OTHER_PLATFORMS:
        if getattr(platforms, name) is not None:
            problems.append(
                Problem(
                    "TT_PLATFORM_UNSUPPORTED",
                    f"platform_configurations.{name}",
                    f"This engine publishes to TikTok only (not {name}; TikTok Business accounts "
                    "are not served either): remove this configuration, and the accounts of "
                    "other platforms from social_accounts.",
                )
            )
    tiktok = platforms.tiktok or PfmTikTokConfiguration()
    per_account = _account_configurations(request, problems)

    root_media = _Media(request.media or [], ("media",), problems)
    tiktok_media = (
        _Media(tiktok.media, (*PLATFORM_TIKTOK, "media"), problems)
        if tiktok.media is not None
        else None
    )
    tiktok_privacy = _privacy(tiktok.privacy_status, (*PLATFORM_TIKTOK, "privacy_status"), problems)

    drafts = []
    for i, account in enumerate(request.social_accounts):
        j, own = per_account.get(account, (None, None))
        own_base: Loc = ("account_configurations", j, "configuration") if j is not None else ()

        def pick(
            key: str,
            own: PfmAccountConfigurationDetails | None = own,
            own_base: Loc = own_base,
        ) -> tuple[Any, Loc]:
            if own is not None and getattr(own, key) is not None:
                return getattr(own, key), (*own_base, key)
            return getattr(tiktok, key), (*PLATFORM_TIKTOK, key)

        caption, caption_loc = pick("caption")
        if caption is None:
            caption, caption_loc = request.caption, ("caption",)
        if own is not None and own.media is not None:
            media = _Media(own.media, (*own_base, "media"), problems)
        else:
            media = tiktok_media or root_media
        values: dict[str, Any] = {}
        locs: dict[str, Loc] = {}
        for name, key in _OPTION_KEYS.items():
            value, loc = pick(key)
            values[name], locs[name] = value, loc
        if own is not None and own.privacy_status is not None:
            privacy = _privacy(own.privacy_status, locs["privacy"], problems)
        else:
            privacy = tiktok_privacy
        locs["cover_timestamp_ms"] = media.cover_loc or ("media",)
        options = TikTokOptions(
            privacy=privacy,
            allow_comments=bool(values["allow_comments"]),
            allow_duet=bool(values["allow_duet"]),
            allow_stitch=bool(values["allow_stitch"]),
            brand_organic_toggle=bool(values["brand_organic_toggle"]),
            brand_content_toggle=bool(values["brand_content_toggle"]),
            is_aigc=bool(values["is_aigc"]),
            inbox=bool(values["inbox"]),
            auto_add_music=bool(values["auto_add_music"]),
            photo_title=values["photo_title"],
            cover_timestamp_ms=media.cover_ms,
        )
        drafts.append(
            Draft(
                account_id=account,
                account_loc=("social_accounts", i),
                caption=caption,
                caption_loc=caption_loc,
                media=media.items,
                media_locs=media.locs,
                options=options,
                option_locs=locs,
                scheduled_for=request.scheduled_at,
                system_draft=bool(request.is_draft),
                media_list_loc=media.base,
                callback_url=request.callback_url,
                callback_loc=("callback_url",),
            )
        )
    return finish(post_id, drafts, problems, context.policy, MESSAGES)


def json_schema() -> dict[str, Any]:
    generated = PfmPostRequest.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Post for Me post request (TikTok)",
        "description": "Post for Me's POST /v1/social-posts body as this engine accepts it "
        "(dialect post-for-me). external_id (or an Idempotency-Key header) is required as the "
        "idempotency key; privacy_status has no default. Mapping: docs/dialects.md.",
        **{k: v for k, v in generated.items() if k not in ("title", "description")},
    }
