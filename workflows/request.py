"""The post request contract: what backend teams send, and the one model the workflow gets.

Callers submit a post in either of two JSON shapes, with camelCase or snake_case keys
(both accepted in every object):

* flat:   `{postId, content, scheduledFor, media, platforms: [{accountId, platformOptions}],
  isDraft}`
* nested: `{postId, caption, scheduledAt, media, targets: [{socialAccountId, caption?, media?,
  platformOptions}], isDraft}` — a target's caption and media replace the root ones.

`platformOptions` is either the TikTok options themselves or `{"tiktok": {...}}`.

`parse_post` turns either into a `Post`: one `PublishTarget` per TikTok account, which is
the `PublishPost` workflow's input. A bad request raises `RequestInvalid` listing every
problem at once, each with a stable `TT_*` code, a path in the caller's own terms
(`targets[1].platformOptions.privacy`, `media[0].size_bytes` for a snake_case caller) and a
sentence saying what to do.

Two different "drafts" — keep them apart:

* root `isDraft` -> `PublishTarget.system_draft`: we keep the post and send nothing to TikTok
  until a schedule / publish-now update arrives;
* `isDraft` inside the TikTok options -> `TikTokOptions.inbox`: the media is sent to TikTok,
  into the creator's inbox, where the creator finishes and posts it.

Pure and deterministic (no I/O, clock, randomness or environment): imported by workflows.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_camel, to_snake
from pydantic.fields import ComputedFieldInfo, FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError

from workflows.tiktok import Privacy
from workflows.validation import (
    Loc,
    Problem,
    ValidationPolicy,
    duplicate_account_findings,
    target_findings,
    text_fault,
)

REQUEST_SCHEMA_ID = "urn:tiktok-publisher:schema:post-request:v1"
PUBLISH_TARGET_SCHEMA_ID = "urn:tiktok-publisher:schema:publish-target:v1"

#: Post and account ids become part of the workflow id `tiktok-post/<postId>/<accountId>`.
#: They also name objects in the media bucket, so `..` (and `/`, outside the alphabet) is refused.
#: Dot-separated runs of letters, digits, '_', ':' and '-' (never two dots in a row).
ID_PATTERN = r"^\.?[A-Za-z0-9_:-]+(?:\.[A-Za-z0-9_:-]+)*\.?$"
ID_MAX_LENGTH = 128
_ID_RE = re.compile(ID_PATTERN)

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
    return value.astimezone(UTC)


UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_only_text_or_datetime),
    AfterValidator(_as_utc),
]


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


class MediaType(StrEnum):
    VIDEO = "video"
    PHOTO = "photo"


class MediaItem(_CallerModel):
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


class TikTokOptions(_CallerModel):
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

    tiktok: TikTokOptions


_OPTIONS_TAG = "tiktok-options"
_ENVELOPE_TAG = "tiktok-envelope"


def _options_shape(value: Any) -> str:
    if isinstance(value, TikTokOptionsEnvelope) or (
        isinstance(value, Mapping) and "tiktok" in value
    ):
        return _ENVELOPE_TAG
    return _OPTIONS_TAG


PlatformOptions = Annotated[
    Annotated[TikTokOptions, Tag(_OPTIONS_TAG)]
    | Annotated[TikTokOptionsEnvelope, Tag(_ENVELOPE_TAG)],
    Discriminator(_options_shape),
]


class FlatTarget(_CallerModel):
    """One TikTok account of a flat request."""

    account_id: Identifier = Field(description="Connected TikTok account to publish to.")
    platform_options: PlatformOptions = Field(
        default_factory=TikTokOptions,
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
    media: list[MediaItem] = Field(default_factory=list, description="One video, or 1-35 photos.")
    platforms: list[FlatTarget] = Field(min_length=1, description="One entry per account.")
    is_draft: bool = Field(
        default=False,
        description="System draft: keep the post without sending anything to TikTok until "
        "it is scheduled or published explicitly.",
    )


class NestedTarget(_CallerModel):
    """One TikTok account of a nested request; caption and media replace the root ones."""

    social_account_id: Identifier = Field(description="Connected TikTok account to publish to.")
    caption: str | None = Field(default=None, description="Caption for this account only.")
    media: list[MediaItem] | None = Field(default=None, description="Media for this account only.")
    platform_options: PlatformOptions = Field(
        default_factory=TikTokOptions,
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
    media: list[MediaItem] = Field(
        default_factory=list, description="Media, unless a target has its own."
    )
    targets: list[NestedTarget] = Field(min_length=1, description="One entry per account.")
    is_draft: bool = Field(
        default=False,
        description="System draft: keep the post without sending anything to TikTok until "
        "it is scheduled or published explicitly.",
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


# -- errors ------------------------------------------------------------------------------------


class RequestInvalid(ValueError):
    """The request cannot be accepted; `problems` lists everything wrong with it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def as_dicts(self) -> list[dict[str, str]]:
        return [problem.as_dict() for problem in self.problems]


# -- parse_post --------------------------------------------------------------------------------

_Shape = Literal["flat", "nested"]


@dataclass(frozen=True)
class _Draft:
    """A target before it is a PublishTarget, with where each part came from in the request."""

    account_id: str
    account_ok: bool
    caption: str
    media: list[MediaItem]
    media_index: list[int]  # position in the caller's list of each item in `media`
    options: TikTokOptions
    scheduled_for: datetime | None
    system_draft: bool
    account_loc: Loc
    caption_loc: Loc
    media_loc: Loc
    options_loc: Loc


def parse_post(raw: Mapping[str, Any], *, policy: ValidationPolicy | None = None) -> Post:
    """Validate and normalise a post request (either shape, camelCase or snake_case).

    Raises `RequestInvalid` with every problem found: structural ones (missing, malformed or
    unknown fields) and TikTok's rules (`workflows.validation`) together. Checks that depend
    on a part with a structural fault are left until that part is fixed.
    """
    policy = policy or ValidationPolicy()
    if not isinstance(raw, Mapping):
        raise RequestInvalid(
            [
                Problem(
                    "TT_FIELD_INVALID",
                    "",
                    f"The request must be a JSON object, not {_show(raw)}: send "
                    '{"postId": ..., "platforms": [...]} or {"postId": ..., "targets": [...]}.',
                )
            ]
        )
    data = dict(raw)
    style = _request_style(data)
    if "platforms" in data and "targets" in data:
        raise RequestInvalid(
            [
                Problem(
                    "TT_AMBIGUOUS_SHAPE",
                    "",
                    "The request has both platforms (flat shape) and targets (nested shape): "
                    "send one of them, with all accounts in it.",
                )
            ]
        )
    shape: _Shape
    if "targets" in data:
        shape = "nested"
    elif "platforms" in data:
        shape = "flat"
    else:
        nested_keys = ("caption", "scheduledAt", "scheduled_at")
        shape = "nested" if any(key in data for key in nested_keys) else "flat"
    model: type[FlatPostRequest | NestedPostRequest] = (
        FlatPostRequest if shape == "flat" else NestedPostRequest
    )

    structural: list[Problem] = _text_problems(data, style)
    request: FlatPostRequest | NestedPostRequest | None = None
    try:
        request = model.model_validate(data)
    except ValidationError as err:
        structural += [_structural_problem(e, data, model, style) for e in err.errors()]

    drafts = _drafts_from_request(request) if request else _salvage_drafts(data, shape)
    semantic: list[Problem] = []
    for draft in drafts:
        target = _target(draft, "placeholder" if request is None else request.post_id)
        for finding in target_findings(target, policy):
            where = _render(data, _caller_loc(draft, finding.loc), style)[0]
            semantic.append(Problem(finding.code, where, finding.message))
    ids = [d.account_id if d.account_ok else f"\x00{n}" for n, d in enumerate(drafts)]
    for finding in duplicate_account_findings(ids):
        index = finding.loc[0]
        assert isinstance(index, int)
        where = _render(data, drafts[index].account_loc, style)[0]
        semantic.append(Problem(finding.code, where, finding.message))

    if structural:
        # A part that failed to parse was dropped or defaulted above; what was found in or
        # around it may be an artefact of that, so it waits until the part is fixed.
        broken = [p.field for p in structural if p.code not in _HARMLESS_STRUCTURAL]
        semantic = [p for p in semantic if not any(_related(p.field, b) for b in broken)]
    problems = _dedupe(structural + semantic)
    if problems or request is None:
        raise RequestInvalid(problems)
    return Post(post_id=request.post_id, targets=[_target(d, request.post_id) for d in drafts])


_HARMLESS_STRUCTURAL = frozenset(
    {"TT_UNKNOWN_FIELD", "TT_FIRST_COMMENT_UNSUPPORTED", "TT_TEXT_INVALID"}
)


def _text_problems(data: Any, style: _Style) -> list[Problem]:
    """Every string (key or value) that is not valid Unicode text: a NUL byte or a lone
    surrogate would break the workflow input's JSON, or TikTok's."""
    problems: list[Problem] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, str):
            fault = text_fault(node)
            if fault:
                path = _render(data, loc, style)[0]
                problems.append(
                    Problem(
                        "TT_TEXT_INVALID",
                        path,
                        f"{path or 'The request'} {fault}: remove it (usually a copy-paste "
                        "accident, or an emoji cut in half by a length limit).",
                    )
                )
        elif isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(key, str) and text_fault(key):
                    path = _render(data, loc, style)[0]
                    problems.append(
                        Problem(
                            "TT_TEXT_INVALID",
                            path,
                            f"A key in {path or 'the request'} {text_fault(key)}: fix the key.",
                        )
                    )
                    continue
                stack.append((value, (*loc, key)))
        elif isinstance(node, list):
            stack.extend((value, (*loc, i)) for i, value in enumerate(node))
    return sorted(problems, key=lambda p: p.field)


def _target(draft: _Draft, post_id: str) -> PublishTarget:
    return PublishTarget(
        post_id=post_id,
        account_id=draft.account_id if draft.account_ok else "placeholder",
        caption=draft.caption,
        media=draft.media,
        options=draft.options,
        scheduled_for=draft.scheduled_for,
        system_draft=draft.system_draft,
    )


def _unwrap(options: TikTokOptions | TikTokOptionsEnvelope) -> tuple[TikTokOptions, Loc]:
    if isinstance(options, TikTokOptionsEnvelope):
        return options.tiktok, ("tiktok",)
    return options, ()


def _drafts_from_request(request: FlatPostRequest | NestedPostRequest) -> list[_Draft]:
    drafts: list[_Draft] = []
    if isinstance(request, FlatPostRequest):
        for i, flat in enumerate(request.platforms):
            options, inner = _unwrap(flat.platform_options)
            drafts.append(
                _Draft(
                    account_id=flat.account_id,
                    account_ok=True,
                    caption=request.content,
                    media=list(request.media),
                    media_index=list(range(len(request.media))),
                    options=options,
                    scheduled_for=request.scheduled_for,
                    system_draft=request.is_draft,
                    account_loc=("platforms", i, "accountId"),
                    caption_loc=("content",),
                    media_loc=("media",),
                    options_loc=("platforms", i, "platformOptions", *inner),
                )
            )
        return drafts
    for i, nested in enumerate(request.targets):
        options, inner = _unwrap(nested.platform_options)
        own_caption = nested.caption is not None
        media = nested.media if nested.media is not None else request.media
        drafts.append(
            _Draft(
                account_id=nested.social_account_id,
                account_ok=True,
                caption=nested.caption if nested.caption is not None else request.caption,
                media=list(media),
                media_index=list(range(len(media))),
                options=options,
                scheduled_for=request.scheduled_at,
                system_draft=request.is_draft,
                account_loc=("targets", i, "socialAccountId"),
                caption_loc=("targets", i, "caption") if own_caption else ("caption",),
                media_loc=("targets", i, "media") if nested.media is not None else ("media",),
                options_loc=("targets", i, "platformOptions", *inner),
            )
        )
    return drafts


# -- best effort on a structurally broken request ----------------------------------------------


def _lookup(node: Any, key: str) -> tuple[bool, Any]:
    """(present, value) of a camelCase key written in either convention."""
    if not isinstance(node, Mapping):
        return False, None
    for form in (key, *_key_forms(key)):
        if form in node:
            return True, node[form]
    return False, None


_M = TypeVar("_M", bound=BaseModel)


def _lenient(model: type[_M], value: Any) -> _M | None:
    """`model` from `value` without the keys that fail; None if a required one is bad."""
    if not isinstance(value, Mapping):
        return None
    data = dict(value)
    for _ in range(len(data) + 1):
        try:
            return model.model_validate(data)
        except ValidationError as err:
            errors = err.errors()
            if any(e["type"] == "missing" for e in errors):
                return None
            for error in errors:
                if error["loc"]:
                    data.pop(str(error["loc"][0]), None)
    return None


def _lenient_media(value: Any) -> tuple[list[MediaItem], list[int]]:
    items: list[MediaItem] = []
    index: list[int] = []
    if isinstance(value, list):
        for position, raw_item in enumerate(value):
            item = _lenient(MediaItem, raw_item)
            if item is not None:
                items.append(item)
                index.append(position)
    return items, index


def _lenient_options(value: Any) -> tuple[TikTokOptions, Loc]:
    if isinstance(value, Mapping) and "tiktok" in value:
        return _lenient(TikTokOptions, value["tiktok"]) or TikTokOptions(), ("tiktok",)
    return _lenient(TikTokOptions, value) or TikTokOptions(), ()


def _salvage_drafts(data: Mapping[str, Any], shape: _Shape) -> list[_Draft]:
    flat = shape == "flat"
    caption_key, list_key = ("content", "platforms") if flat else ("caption", "targets")
    account_key = "accountId" if flat else "socialAccountId"
    _, root_caption = _lookup(data, caption_key)
    root_caption = root_caption if isinstance(root_caption, str) else ""
    root_media, root_index = _lenient_media(_lookup(data, "media")[1])
    entries = _lookup(data, list_key)[1]
    drafts: list[_Draft] = []
    if not isinstance(entries, list):
        return drafts
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        account = _lookup(entry, account_key)[1]
        account_ok = (
            isinstance(account, str)
            and len(account) <= ID_MAX_LENGTH
            and _ID_RE.fullmatch(account) is not None
        )
        options, inner = _lenient_options(_lookup(entry, "platformOptions")[1])
        caption: str = root_caption
        caption_loc: Loc = (caption_key,)
        media, media_index = root_media, root_index
        media_loc: Loc = ("media",)
        if not flat:
            present, own_caption = _lookup(entry, "caption")
            if present and own_caption is not None:
                caption = own_caption if isinstance(own_caption, str) else ""
                caption_loc = (list_key, i, "caption")
            present, own_media = _lookup(entry, "media")
            if present and own_media is not None:
                media, media_index = _lenient_media(own_media)
                media_loc = (list_key, i, "media")
        drafts.append(
            _Draft(
                account_id=account if isinstance(account, str) and account_ok else "",
                account_ok=account_ok,
                caption=caption,
                media=media,
                media_index=media_index,
                options=options,
                scheduled_for=None,
                system_draft=False,
                account_loc=(list_key, i, account_key),
                caption_loc=caption_loc,
                media_loc=media_loc,
                options_loc=(list_key, i, "platformOptions", *inner),
            )
        )
    return drafts


# -- paths in the caller's terms ---------------------------------------------------------------

_TAGS = frozenset({_OPTIONS_TAG, _ENVELOPE_TAG})
_Style = Literal["camel", "snake"]


def _key_forms(name: str) -> tuple[str, str]:
    """(camelCase, snake_case) spellings of a key or field name."""
    if name in ("inbox", "isDraft", "is_draft"):
        return "isDraft", "is_draft"
    snake = to_snake(name)
    return to_camel(snake), snake


def _dict_style(node: Mapping[Any, Any]) -> _Style | None:
    keys = [k for k in node if isinstance(k, str)]
    if any("_" in k for k in keys):
        return "snake"
    if any(k != k.lower() for k in keys):
        return "camel"
    return None


def _request_style(data: Any) -> _Style:
    """The convention the caller writes in (camelCase unless it shows snake_case)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            style = _dict_style(node)
            if style:
                return style
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return "camel"


def _render(data: Any, loc: Sequence[str | int], style: _Style) -> tuple[str, str]:
    """(path, last key) of `loc` spelled as the caller spelled it, e.g. `media[0].sizeBytes`."""
    path, last = "", ""
    node = data
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        if part in _TAGS:
            continue
        key = _caller_key(node, part, style)
        path = f"{path}.{key}" if path else key
        last = key
        node = node.get(key) if isinstance(node, Mapping) else None
    return path, last


def _caller_key(node: Any, part: str, style: _Style) -> str:
    camel, snake = _key_forms(part)
    if isinstance(node, Mapping):
        for form in (part, camel, snake):
            if form in node:
                return form
        style = _dict_style(node) or style
    return snake if style == "snake" else camel


def _related(a: str, b: str) -> bool:
    """One path is the other or inside it."""
    if len(a) > len(b):
        a, b = b, a
    return a == b or b.startswith(a + ".") or b.startswith(a + "[")


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for problem in problems:
        key = (problem.code, problem.field)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def _caller_loc(draft: _Draft, loc: Loc) -> Loc:
    """A PublishTarget path (`media[2].size_bytes`) -> where the caller wrote it."""
    head, rest = loc[0], loc[1:]
    if head == "caption":
        return draft.caption_loc
    if head == "media":
        if rest and isinstance(rest[0], int):
            return (*draft.media_loc, draft.media_index[rest[0]], *rest[1:])
        return (*draft.media_loc, *rest)
    if head == "options":
        return (*draft.options_loc, *rest)
    if head == "account_id":
        return draft.account_loc
    return loc


# -- structural problems -----------------------------------------------------------------------

_SUBMODELS: Mapping[tuple[type[BaseModel], str], type[BaseModel]] = {
    (FlatPostRequest, "media"): MediaItem,
    (FlatPostRequest, "platforms"): FlatTarget,
    (FlatTarget, "platform_options"): TikTokOptions,
    (NestedPostRequest, "media"): MediaItem,
    (NestedPostRequest, "targets"): NestedTarget,
    (NestedTarget, "media"): MediaItem,
    (NestedTarget, "platform_options"): TikTokOptions,
    (TikTokOptionsEnvelope, "tiktok"): TikTokOptions,
}
_TAG_MODELS: Mapping[str, type[BaseModel]] = {
    _OPTIONS_TAG: TikTokOptions,
    _ENVELOPE_TAG: TikTokOptionsEnvelope,
}

#: Keys that belong to the other shape, and what to write instead.
_OTHER_SHAPE_HINTS: Mapping[type[BaseModel], Mapping[str, str]] = {
    FlatPostRequest: {
        "caption": "the flat shape (with platforms) calls the caption content",
        "scheduled_at": "the flat shape (with platforms) calls the time scheduledFor",
    },
    NestedPostRequest: {
        "content": "the nested shape (with targets) calls the caption caption",
        "scheduled_for": "the nested shape (with targets) calls the time scheduledAt",
    },
    FlatTarget: {
        "social_account_id": "entries of platforms name their account with accountId",
        "caption": "a per-account caption needs the nested shape (targets); in the flat shape "
        "the one caption is the root content",
        "media": "per-account media needs the nested shape (targets); in the flat shape the "
        "media list is at the root",
    },
    NestedTarget: {
        "account_id": "entries of targets name their account with socialAccountId",
    },
}

_REQUIRED_HINTS: Mapping[str, str] = {
    "post_id": "your idempotency key for this post (1-128 letters, digits, '.', '_', ':' or "
    "'-'); resubmitting the same one never posts twice",
    "account_id": "the id of the connected TikTok account to publish to",
    "social_account_id": "the id of the connected TikTok account to publish to",
    "url": "the https URL the file can be downloaded from",
    "type": 'the kind of media, "video" or "photo"',
    "tiktok": "the TikTok options object",
}

_NO_ACCOUNTS = (
    "The request names no TikTok account: add platforms: [{accountId, platformOptions}] "
    "(flat shape) or targets: [{socialAccountId, platformOptions}] (nested shape)."
)

_EXAMPLE_TIME = "2026-11-30T09:00:00Z or 2026-11-30T10:00:00+01:00"


def _is_first_comment(key: str) -> bool:
    return key.replace("_", "").replace("-", "").lower() == "firstcomment"


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = root
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        if part in _TAG_MODELS:
            current = _TAG_MODELS[part]
            continue
        name = _accepted_keys(current).get(part)
        current = _SUBMODELS.get((current, name)) if name else None
    return current


def _accepted_keys(model: type[BaseModel]) -> dict[str, str]:
    """Every key `model` accepts -> its field name."""
    keys: dict[str, str] = {}
    for name, info in model.model_fields.items():
        keys[name] = name
        if info.alias:
            keys[info.alias] = name
        if isinstance(info.validation_alias, AliasChoices):
            for choice in info.validation_alias.choices:
                if isinstance(choice, str):
                    keys[choice] = name
        elif isinstance(info.validation_alias, str):
            keys[info.validation_alias] = name
    return keys


def _suggest(model: type[BaseModel] | None, key: str, node: Any, style: _Style) -> str:
    if model is None:
        return ""
    snake = to_snake(key)
    if model is TikTokOptionsEnvelope and snake in _accepted_keys(TikTokOptions).values():
        return " (with a tiktok key, every TikTok option goes inside tiktok)"
    hint = _OTHER_SHAPE_HINTS.get(model, {}).get(snake)
    if hint:
        return f" ({hint})"
    local = _dict_style(node) if isinstance(node, Mapping) else None
    use_snake = (local or style) == "snake"
    candidates = [_key_forms(name)[1 if use_snake else 0] for name in model.model_fields]
    by_lower = {c.lower().replace("_", ""): c for c in candidates}
    exact = by_lower.get(key.lower().replace("_", ""))
    match = exact or next(iter(difflib.get_close_matches(key, candidates, n=1, cutoff=0.7)), None)
    return f" (did you mean {match}?)" if match else ""


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    # Never echo a lone surrogate: a terminal (or JSON encoder) downstream would choke on it.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 60 else text[:59] + "…"


def _structural_problem(
    error: ErrorDetails,
    data: Mapping[str, Any],
    model: type[BaseModel],
    style: _Style,
) -> Problem:
    loc = tuple(error["loc"])
    path, key = _render(data, loc, style)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = _show(error.get("input"))
    name = to_snake(key) if key else ""

    if kind == "extra_forbidden":
        if _is_first_comment(key):
            return Problem(
                "TT_FIRST_COMMENT_UNSUPPORTED",
                path,
                "TikTok's Content Posting API cannot post a first comment: remove "
                f"{key} (put the text in the caption, or comment by hand after publishing).",
            )
        parent_loc = loc[:-1]
        parent_node = _node_at(data, parent_loc)
        suggestion = _suggest(_model_at(model, parent_loc), key, parent_node, style)
        return Problem(
            "TT_UNKNOWN_FIELD",
            path,
            f"{key} is not a field we know here{suggestion}: fix its spelling or remove it; "
            "unknown fields are refused rather than silently ignored.",
        )
    if kind == "missing":
        if name in ("platforms", "targets"):
            return Problem("TT_FIELD_REQUIRED", path, _NO_ACCOUNTS)
        hint = _REQUIRED_HINTS.get(name, "a value")
        return Problem("TT_FIELD_REQUIRED", path, f"{key} is required: add {hint}.")
    if kind == "too_short" and name in ("platforms", "targets"):
        return Problem(
            "TT_NO_TARGETS",
            path,
            f"{key} is empty, so the post goes nowhere: add at least one TikTok account.",
        )
    if kind == "timezone_aware":
        return Problem(
            "TT_TIMEZONE_REQUIRED",
            path,
            f"{key} {value} has no UTC offset, so the moment it names depends on a time zone "
            f"we would have to guess: add the offset, like {_EXAMPLE_TIME}.",
        )
    return Problem("TT_FIELD_INVALID", path, _invalid_message(kind, key, value, ctx, error))


def _node_at(data: Any, loc: Sequence[str | int]) -> Any:
    node = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        elif part in _TAGS:
            continue
        else:
            node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _invalid_message(
    kind: str, key: str, value: str, ctx: Mapping[str, Any], error: ErrorDetails
) -> str:
    if kind == "string_pattern_mismatch":
        raw = error.get("input")
        why = ""
        if isinstance(raw, str):
            if "/" in raw:
                why = " ('/' would split the workflow id and the bucket key)"
            elif ".." in raw:
                why = " ('..' is refused: the id names objects in the media bucket)"
            elif len(raw) > 128:
                why = f" (it is {len(raw)} characters long)"
        return (
            f"{key} {value} is not a usable id{why}: use 1-128 characters from letters, "
            "digits, '.', '_', ':' and '-', without '..' (it becomes part of the workflow id "
            "tiktok-post/<postId>/<accountId> and of the staged media's object keys)."
        )
    if kind == "string_too_long" and ctx.get("max_length") == ID_MAX_LENGTH:
        return (
            f"{key} is longer than {ID_MAX_LENGTH} characters: use a shorter id (it becomes "
            "part of the workflow id tiktok-post/<postId>/<accountId>)."
        )
    if kind in ("string_type", "string_too_long", "string_too_short"):
        return f"{key} must be text (a JSON string), not {value}."
    if kind in ("bool_type", "bool_parsing"):
        return f"{key} must be true or false, not {value}."
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return f"{key} must be a whole number, not {value}."
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"{key} must be a finite number, not {value}."
    if kind == "greater_than":
        return f"{key} must be greater than {ctx.get('gt')}, not {value}."
    if kind == "greater_than_equal":
        return f"{key} must be {ctx.get('ge')} or more, not {value}."
    if kind in ("enum", "literal_error"):
        return f"{key} must be one of {ctx.get('expected')}, not {value}."
    if kind == "list_type":
        return f"{key} must be a list ([...]), not {value}."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key} must be an object ({{...}}), not {value}."
    if kind.startswith("datetime") or kind == "datetime_text":
        return f"{key} must be an ISO-8601 date-time with a UTC offset, like {_EXAMPLE_TIME}, " + (
            f"not {value}."
        )
    if kind == "media_url":
        return (
            f"{key} must be an absolute http(s) URL such as "
            f"https://media.example.com/clip.mp4, not {value}."
        )
    return f"{key} is invalid ({error['msg'].rstrip('.')}): fix the value {value}."


# -- JSON Schemas ------------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of the request, in its canonical camelCase spelling.

    snake_case keys are accepted too but not described, to keep one spelling in the docs.
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
        "or the nested shape (targets). Keys may also be written in snake_case. Each "
        "(postId, account) becomes one durable PublishPost workflow; resubmitting the same "
        "postId never posts twice. Root isDraft keeps the post as a system draft; isDraft in "
        "the TikTok options sends it to the creator's TikTok inbox.",
        # The shapes exclude each other (different required keys, no extra keys).
        "oneOf": generated["anyOf"],
        "$defs": generated["$defs"],
    }


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
        "it: produced by parse_post from a post request.",
        **generated,
    }


__all__ = [
    "APPLICABLE_OPTIONS",
    "ID_PATTERN",
    "FlatPostRequest",
    "FlatTarget",
    "MediaItem",
    "MediaType",
    "NestedPostRequest",
    "NestedTarget",
    "Post",
    "Problem",
    "PublishMode",
    "PublishTarget",
    "RequestInvalid",
    "TikTokOptions",
    "TikTokOptionsEnvelope",
    "ValidationPolicy",
    "json_schema",
    "parse_post",
    "publish_target_json_schema",
]
