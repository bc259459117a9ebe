"""What TikTok would refuse, found before anything is sent: stable `TT_*` codes.

Two kinds of checks, both pure functions (no I/O, no clock, no randomness: safe in workflow
code and deterministic on replay):

* `validate_target` — static checks of one normalised `PublishTarget` against TikTok's
  documented limits (shared/tiktok-api.md) and our `ValidationPolicy`. The starter runs them
  before starting anything; the workflow runs them again on its input.
* `check_against_creator` — checks against what creator_info says right before publishing
  (privacy allow-list, maximum duration, interactions the creator turned off).

The rule for every check: never reject what TikTok accepts. An option that does not apply to
a kind of post (duet on a photo, a cover timestamp on an inbox upload, privacy on an inbox
draft) is ignored — the request builder does not send it — rather than rejected;
`PublishTarget.ignored_options` lists them for operators. TikTok has no "option not
applicable" rejection for any of our options, so no `TT_OPTION_NOT_APPLICABLE` is emitted.

Field paths of the problems returned here are in the target's own terms (`options.privacy`,
`media[0].size_bytes`); `workflows.intake.parse_post` rewrites them into the caller's terms
(`platforms[0].platformOptions.privacy`, `media[0].sizeBytes`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from workflows.post import MediaItem, Post, PublishTarget
from workflows.source_addresses import TT_SOURCE_FORBIDDEN, SourceRule, literal_refusal
from workflows.tiktok import CreatorInfo, Privacy

# -- TikTok's documented limits (tiktok-api.md "Limits", "Direct video init", "Photo init") --

TIKTOK_MAX_VIDEO_BYTES = 4 * 1024**3
TIKTOK_MAX_PHOTO_BYTES = 20 * 1024 * 1024
MAX_PHOTOS = 35
MIN_VIDEO_SECONDS = 3.0
MAX_VIDEO_SECONDS = 600.0
MIN_VIDEO_SIDE_PX = 360
MAX_VIDEO_SIDE_PX = 4096
MAX_VIDEO_TITLE_UTF16 = 2200
MAX_PHOTO_DESCRIPTION_UTF16 = 4000
MAX_PHOTO_TITLE_UTF16 = 90
MIN_FRAME_RATE = 23.0
MAX_FRAME_RATE = 60.0
#: libmediainfo's codec names -> what TikTok's docs call them (H.264, H.265, VP8, VP9).
VIDEO_CODECS: Mapping[str, str] = MappingProxyType(
    {"AVC": "H.264", "HEVC": "H.265", "VP8": "VP8", "VP9": "VP9"}
)
#: Photos "≤ 1080p": the picture fits in 1920 x 1080, either way up.
MAX_PHOTO_LONG_SIDE_PX = 1920
MAX_PHOTO_SHORT_SIDE_PX = 1080

#: Content types TikTok takes (photos: JPEG or WebP, no PNG; videos: MP4, MOV, WebM).
#: "image/jpg" is not registered but common, and names JPEG all the same.
PHOTO_MIME_TYPES = frozenset({"image/jpeg", "image/jpg", "image/webp"})
VIDEO_MIME_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
PHOTO_EXTENSIONS = frozenset({"jpg", "jpeg", "webp"})
#: .m4v is an MP4 file under another name.
VIDEO_EXTENSIONS = frozenset({"mp4", "m4v", "mov", "webm"})

# -- the code registry ------------------------------------------------------------------------

CODES: Mapping[str, str] = MappingProxyType(
    {
        # structure of the request (workflows.intake)
        "TT_FIELD_REQUIRED": "A required field is missing from the request.",
        "TT_FIELD_INVALID": "A field has the wrong type or a value outside what it accepts.",
        "TT_UNKNOWN_FIELD": "The request has a field we do not know (often a typo); nothing "
        "is silently dropped.",
        "TT_TIMEZONE_REQUIRED": "A date-time has no UTC offset, so the moment it names is "
        "ambiguous.",
        "TT_AMBIGUOUS_SHAPE": "The request mixes the flat shape (platforms) and the nested "
        "shape (targets).",
        "TT_NO_TARGETS": "The post names no TikTok account to publish to.",
        "TT_DUPLICATE_ACCOUNT": "The same TikTok account appears twice in one post.",
        "TT_FIRST_COMMENT_UNSUPPORTED": "TikTok's Content Posting API cannot post a first comment.",
        "TT_TEXT_INVALID": "A text (caption, title, any string) holds a NUL byte or half of a "
        "UTF-16 surrogate pair, which is not valid Unicode text.",
        # request dialects (workflows.dialects)
        "TT_DIALECT_UNKNOWN": "The dialect named for the request is not one the engine speaks "
        "(native, ampost, post-for-me).",
        "TT_DIALECT_AMBIGUOUS": "The request carries the marks of more than one dialect; name "
        "the dialect explicitly.",
        "TT_IDEMPOTENCY_KEY_REQUIRED": "The request has no id to make a resubmission safe "
        "(postId, external_id or an Idempotency-Key header); none is invented.",
        "TT_IDEMPOTENCY_KEY_CONFLICT": "The Idempotency-Key header and the request's own id "
        "differ.",
        "TT_PLATFORM_SET_UNKNOWN": "platformSetId names no platform set in the account store.",
        "TT_PLATFORM_UNSUPPORTED": "The request asks for a platform other than TikTok (or for "
        "TikTok Business), which this engine does not publish to.",
        "TT_VALUE_UNMAPPABLE": "A value of the dialect has no certain TikTok meaning, so it is "
        "refused rather than guessed.",
        "TT_FIELD_UNSUPPORTED": "A field of the dialect has no TikTok counterpart this engine "
        "can honour (a link, a custom thumbnail image, tags, ...).",
        "TT_MEDIA_TYPE_UNKNOWN": "A media URL's file extension says neither video nor photo, "
        "and the dialect has no type field.",
        # static checks (validate_target)
        "TT_PRIVACY_REQUIRED": "A direct post has no privacy level; TikTok has no default and "
        "the creator must choose.",
        "TT_BRANDED_PRIVATE": "Branded content (brand_content_toggle) cannot be posted SELF_ONLY.",
        "TT_NO_MEDIA": "The post has no media: it needs one video or 1-35 photos.",
        "TT_MIXED_MEDIA": "The post mixes a video and photos; TikTok posts one or the other.",
        "TT_MULTIPLE_VIDEOS": "The post has more than one video; a TikTok post carries one.",
        "TT_TOO_MANY_PHOTOS": "The post has more than 35 photos.",
        "TT_MEDIA_TOO_LARGE": "A media file is larger than allowed (video 4 GiB, photo 20 MiB, "
        "or the lower limit configured here).",
        "TT_DURATION_OUT_OF_RANGE": "A video is shorter than 3 s or longer than 10 min.",
        "TT_UNSUPPORTED_FORMAT": "A media file is not a format TikTok takes (photos JPEG/WebP; "
        "videos MP4/MOV/WebM).",
        "TT_VIDEO_DIMENSIONS_OUT_OF_RANGE": "A video side is under 360 px or over 4096 px.",
        # measured from the staged bytes (measured_findings)
        "TT_VIDEO_CODEC_UNSUPPORTED": "The video's codec is not one TikTok takes (H.264, "
        "H.265, VP8, VP9).",
        "TT_FRAME_RATE_OUT_OF_RANGE": "The video's frame rate is outside 23-60 fps.",
        "TT_RESOLUTION_OUT_OF_RANGE": "The file's measured picture size is outside TikTok's "
        "limits (video sides 360-4096 px; photos at most 1080p, 1920 x 1080 either way up).",
        "TT_CAPTION_TOO_LONG": "A video caption is over 2200 UTF-16 code units.",
        "TT_DESCRIPTION_TOO_LONG": "A photo post's caption (its description) is over 4000 "
        "UTF-16 code units.",
        "TT_PHOTO_TITLE_TOO_LONG": "A photo post's title is over 90 UTF-16 code units.",
        "TT_COVER_INDEX_OUT_OF_RANGE": "photo_cover_index points past the last photo.",
        "TT_COVER_TIMESTAMP_OUT_OF_RANGE": "cover_timestamp_ms is later than the end of the video.",
        "TT_URL_NOT_HTTPS": "TikTok pulls media only over https, and this URL is http.",
        "TT_DOMAIN_UNVERIFIED": "TikTok would pull a media URL whose domain or URL prefix is "
        "not verified for the app.",
        TT_SOURCE_FORBIDDEN: "A media URL points at an address the engine never fetches from "
        "(loopback, private, link-local, metadata, reserved, in any spelling).",
        # creator checks (check_against_creator), right before publishing
        "TT_PRIVACY_NOT_ALLOWED": "The creator's account does not offer the requested privacy "
        "level.",
        "TT_DURATION_OVER_CREATOR_MAX": "The video is longer than this creator may post.",
        "TT_COMMENTS_DISABLED_BY_CREATOR": "The post allows comments but the creator turned "
        "comments off.",
        "TT_DUET_DISABLED_BY_CREATOR": "The post allows duets but the creator turned duets off.",
        "TT_STITCH_DISABLED_BY_CREATOR": "The post allows stitches but the creator turned "
        "stitches off.",
    }
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: a stable code, where, and what to do about it."""

    code: str
    field: str
    """Path in the caller's terms, e.g. `targets[1].platformOptions.privacy`; "" = the request."""
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"{self.code} is not registered in workflows.validation.CODES")

    def __str__(self) -> str:
        return f"{self.code} at {self.field or '(request)'}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "message": self.message}


Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Finding:
    """A problem whose location is still structured (a path through `PublishTarget`).

    `parse_post` needs the structure to say where in the caller's request the fault lies;
    everyone else wants `Problem`s (`to_problem`).
    """

    code: str
    loc: Loc
    message: str

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"{self.code} is not registered in workflows.validation.CODES")

    def to_problem(self, prefix: Loc = ()) -> Problem:
        return Problem(self.code, format_loc(prefix + self.loc), self.message)


def format_loc(loc: Loc) -> str:
    """`("media", 0, "size_bytes")` -> `media[0].size_bytes`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


# -- policy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationPolicy:
    """Our limits. They may be stricter than TikTok's, never looser.

    `verified_url_prefixes` lists what TikTok has verified for the app: bare domains
    (`media.example.com`, covering its subdomains) or exact URL prefixes
    (`https://cdn.example.com/tiktok/`). Non-empty means TikTok pulls the callers' URLs
    directly, so each must be https and covered. Empty means media is staged into our own
    bucket first (on a verified host) and the source URLs are not checked.
    """

    max_video_bytes: int = TIKTOK_MAX_VIDEO_BYTES
    max_photo_bytes: int = TIKTOK_MAX_PHOTO_BYTES
    verified_url_prefixes: tuple[str, ...] = field(default_factory=tuple)
    source_rule: SourceRule | None = None
    """Refuse media URLs whose host is an address literal the worker's fetcher would refuse
    (the starter sets it; None = not checked here, the fetcher still checks at staging)."""

    def __post_init__(self) -> None:
        for name, value, ceiling in (
            ("max_video_bytes", self.max_video_bytes, TIKTOK_MAX_VIDEO_BYTES),
            ("max_photo_bytes", self.max_photo_bytes, TIKTOK_MAX_PHOTO_BYTES),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive number of bytes, not {value!r}")
            if value > ceiling:
                raise ValueError(
                    f"{name}={value} is above TikTok's own limit of {ceiling} bytes; "
                    "the policy may only lower it"
                )
        normalised: list[str] = []
        for entry in tuple(self.verified_url_prefixes):
            normalised.append(_normalise_verified_entry(entry))
        object.__setattr__(self, "verified_url_prefixes", tuple(normalised))

    def covers(self, url: str) -> bool:
        """True when TikTok may pull `url`: no list configured, or a domain/prefix covers it."""
        if not self.verified_url_prefixes:
            return True
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        for entry in self.verified_url_prefixes:
            if "://" not in entry:
                if host == entry or host.endswith("." + entry):
                    return True
            elif _url_has_prefix(url, entry):
                return True
        return False

    def limit_for(self, item: MediaItem) -> int:
        return self.max_video_bytes if item.is_video else self.max_photo_bytes


def _normalise_verified_entry(entry: str) -> str:
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError(f"verified_url_prefixes entries must be non-empty strings: {entry!r}")
    entry = entry.strip()
    if "://" in entry:
        parts = urlsplit(entry)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"verified URL prefix {entry!r} must start with http:// or https:// and a host"
            )
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}{entry.split(parts.netloc, 1)[1]}"
    domain = entry.lower().rstrip(".")
    if "/" in domain or ":" in domain or not domain or _is_ip(domain):
        raise ValueError(
            f"verified domain {entry!r} must be a bare DNS name like media.example.com "
            "(or give a full URL prefix starting with https://)"
        )
    return domain


def _url_has_prefix(url: str, prefix: str) -> bool:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return False
    canonical = f"{parts.scheme.lower()}://{parts.netloc.lower()}{url.split(parts.netloc, 1)[1]}"
    pre = urlsplit(prefix)
    if pre.path in ("", "/") and not pre.query:
        # "https://cdn.example.com" must not cover "https://cdn.example.com.evil.net/...".
        return parts.scheme.lower() == pre.scheme and parts.netloc.lower() == pre.netloc
    return canonical.startswith(prefix)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# -- helpers -----------------------------------------------------------------------------------


_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_fault(text: str) -> str | None:
    """Why `text` cannot be sent anywhere as text (None when it can): a NUL byte, or a lone
    UTF-16 surrogate (what a JSON `\\ud83d` without its pair decodes to)."""
    found = _NOT_TEXT.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "holds a NUL byte (\\u0000)"
    return (
        f"holds half of a UTF-16 surrogate pair (\\u{ord(found.group()):04x}) without its "
        "other half"
    )


def utf16_len(text: str) -> int:
    """Length as TikTok counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _extension(filename: str) -> str | None:
    base = filename.rsplit("/", 1)[-1]
    if "." not in base.strip("."):
        return None
    return base.rsplit(".", 1)[1].lower()


def _mime(mime_type: str) -> str:
    return mime_type.split(";", 1)[0].strip().lower()


# -- static checks -----------------------------------------------------------------------------


def validate_target(target: PublishTarget, policy: ValidationPolicy | None = None) -> list[Problem]:
    """Everything TikTok would refuse about this target, knowable without the creator.

    Paths are in the target's terms (`options.privacy`). Empty list = TikTok should accept it.
    """
    return [f.to_problem() for f in target_findings(target, policy)]


def validate_post(post: Post, policy: ValidationPolicy | None = None) -> list[Problem]:
    """`validate_target` for every target plus cross-target checks; paths `targets[i]....`."""
    problems: list[Problem] = []
    for index, target in enumerate(post.targets):
        problems += [f.to_problem(("targets", index)) for f in target_findings(target, policy)]
    problems += [
        f.to_problem(("targets",))
        for f in duplicate_account_findings([t.account_id for t in post.targets])
    ]
    return problems


def target_findings(target: PublishTarget, policy: ValidationPolicy | None = None) -> list[Finding]:
    """`validate_target` with structured locations (used by `parse_post`)."""
    policy = policy or ValidationPolicy()
    found: list[Finding] = []
    found += _privacy_findings(target)
    found += _media_set_findings(target)
    for index, item in enumerate(target.media):
        found += [
            Finding(f.code, ("media", index, *f.loc), f.message)
            for f in _media_item_findings(item, policy)
        ]
    found += _text_findings(target)
    found += _cover_findings(target)
    return found


def duplicate_account_findings(account_ids: Sequence[str]) -> list[Finding]:
    """One finding per repeated account, located at `(index, "account_id")` of the repeat."""
    first_seen: dict[str, int] = {}
    found: list[Finding] = []
    for index, account_id in enumerate(account_ids):
        if account_id in first_seen:
            found.append(
                Finding(
                    "TT_DUPLICATE_ACCOUNT",
                    (index, "account_id"),
                    f"Account {account_id} is listed more than once in this post; each "
                    "account gets one publish per post (the repeat would only attach to the "
                    "first one's workflow), so remove it or merge its options into the first.",
                )
            )
        else:
            first_seen[account_id] = index
    return found


def _privacy_findings(target: PublishTarget) -> list[Finding]:
    options = target.options
    if options.inbox:
        # Inbox drafts send no privacy (nor disclosure) to TikTok: the creator picks it in the
        # app, so nothing here can be wrong yet.
        return []
    if options.privacy is None:
        return [
            Finding(
                "TT_PRIVACY_REQUIRED",
                ("options", "privacy"),
                "A direct post needs a privacy level chosen by the creator (TikTok has no "
                "default): set privacy to one of PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, "
                "FOLLOWER_OF_CREATOR or SELF_ONLY, or send it to the creator's inbox as a draft "
                "(TikTok option isDraft) so they choose there.",
            )
        ]
    # TikTok's guidelines: branded content can never be SELF_ONLY. Only SELF_ONLY is
    # rejected: MUTUAL_FOLLOW_FRIENDS and FOLLOWER_OF_CREATOR are accepted by TikTok, and the
    # validator must not reject what TikTok accepts.
    if options.brand_content_toggle and options.privacy is Privacy.SELF_ONLY:
        return [
            Finding(
                "TT_BRANDED_PRIVATE",
                ("options", "privacy"),
                "Branded content cannot be private (SELF_ONLY) on TikTok: choose another "
                "privacy level, or turn off the branded-content toggle if this is not a paid "
                "partnership.",
            )
        ]
    return []


def _media_set_findings(target: PublishTarget) -> list[Finding]:
    videos = [m for m in target.media if m.is_video]
    photos = [m for m in target.media if not m.is_video]
    found: list[Finding] = []
    if not target.media:
        found.append(
            Finding(
                "TT_NO_MEDIA",
                ("media",),
                "The post has no media: add one video, or between 1 and 35 photos.",
            )
        )
    if videos and photos:
        found.append(
            Finding(
                "TT_MIXED_MEDIA",
                ("media",),
                f"The post mixes {_plural(len(videos), 'video')} and "
                f"{_plural(len(photos), 'photo')}; a TikTok post is either one video or a "
                "set of photos, so split them into separate posts.",
            )
        )
    if len(videos) > 1:
        found.append(
            Finding(
                "TT_MULTIPLE_VIDEOS",
                ("media",),
                f"The post has {len(videos)} videos but a TikTok post carries exactly one: "
                "send each video as its own post.",
            )
        )
    if len(photos) > MAX_PHOTOS:
        found.append(
            Finding(
                "TT_TOO_MANY_PHOTOS",
                ("media",),
                f"The post has {len(photos)} photos; TikTok takes at most {MAX_PHOTOS} per "
                f"post: remove {len(photos) - MAX_PHOTOS} or split them into two posts.",
            )
        )
    return found


def _media_item_findings(item: MediaItem, policy: ValidationPolicy) -> list[Finding]:
    found: list[Finding] = []
    kind = "video" if item.is_video else "photo"

    limit = policy.limit_for(item)
    if item.size_bytes is not None and item.size_bytes > limit:
        tiktok_limit = TIKTOK_MAX_VIDEO_BYTES if item.is_video else TIKTOK_MAX_PHOTO_BYTES
        whose = "TikTok's limit" if limit == tiktok_limit else "this service's limit"
        found.append(
            Finding(
                "TT_MEDIA_TOO_LARGE",
                ("size_bytes",),
                f"This {kind} is {_bytes(item.size_bytes)}, over {whose} of {_bytes(limit)} "
                f"for a {kind}: compress it or send a smaller file.",
            )
        )

    found += _format_findings(item)

    if item.is_video:
        duration = item.duration_seconds
        if duration is not None and not MIN_VIDEO_SECONDS <= duration <= MAX_VIDEO_SECONDS:
            found.append(
                Finding(
                    "TT_DURATION_OUT_OF_RANGE",
                    ("duration_seconds",),
                    f"The video lasts {_seconds(duration)}; TikTok takes videos from "
                    f"{_seconds(MIN_VIDEO_SECONDS)} to {_seconds(MAX_VIDEO_SECONDS)} (10 min): "
                    "trim or replace it.",
                )
            )
        for side in ("width", "height"):
            px = getattr(item, side)
            if px is not None and not MIN_VIDEO_SIDE_PX <= px <= MAX_VIDEO_SIDE_PX:
                found.append(
                    Finding(
                        "TT_VIDEO_DIMENSIONS_OUT_OF_RANGE",
                        (side,),
                        f"The video's {side} is {px} px; TikTok takes each side between "
                        f"{MIN_VIDEO_SIDE_PX} and {MAX_VIDEO_SIDE_PX} px: re-encode it "
                        "(1080x1920 is TikTok's usual size).",
                    )
                )

    found += _url_findings(item, policy)
    return found


def _format_findings(item: MediaItem) -> list[Finding]:
    if item.is_video:
        mimes, extensions, wanted = VIDEO_MIME_TYPES, VIDEO_EXTENSIONS, "MP4, MOV or WebM"
    else:
        mimes, extensions, wanted = PHOTO_MIME_TYPES, PHOTO_EXTENSIONS, "JPEG or WebP (no PNG)"
    kind = "video" if item.is_video else "photo"
    if item.mime_type is not None:
        # The declared content type is authoritative when given; the filename is then ignored.
        mime = _mime(item.mime_type)
        if mime in mimes:
            return []
        other = "photo" if item.is_video else "video"
        hint = (
            f" If it is a {other}, set type to {other}."
            if mime.startswith("image/" if item.is_video else "video/")
            else ""
        )
        return [
            Finding(
                "TT_UNSUPPORTED_FORMAT",
                ("mime_type",),
                f"TikTok does not take a {kind} of type {mime}: convert it to {wanted}.{hint}",
            )
        ]
    if item.filename is not None:
        ext = _extension(item.filename)
        if ext is not None and ext not in extensions:
            return [
                Finding(
                    "TT_UNSUPPORTED_FORMAT",
                    ("filename",),
                    f"The {kind} file {item.filename!r} is .{ext}, which TikTok does not take: "
                    f"convert it to {wanted}.",
                )
            ]
    return []


def _url_findings(item: MediaItem, policy: ValidationPolicy) -> list[Finding]:
    if policy.source_rule is not None:
        reason = literal_refusal(urlsplit(item.url).hostname or "", policy.source_rule)
        if reason:
            return [
                Finding(
                    TT_SOURCE_FORBIDDEN,
                    ("url",),
                    f"The media URL's host is refused: {reason}. The engine downloads media "
                    "only from the public internet: send a link on a public host name.",
                )
            ]
    if not policy.verified_url_prefixes:
        return []  # staged into our bucket first; TikTok never sees this URL
    parts = urlsplit(item.url)
    host = (parts.hostname or "").lower()
    found: list[Finding] = []
    if parts.scheme.lower() != "https":
        found.append(
            Finding(
                "TT_URL_NOT_HTTPS",
                ("url",),
                f"TikTok pulls media only over https, and this URL is {parts.scheme}: serve "
                "it over https (without redirects) or stage it in our bucket.",
            )
        )
    if _is_ip(host):
        found.append(
            Finding(
                "TT_DOMAIN_UNVERIFIED",
                ("url",),
                f"The media URL's host {host} is an IP address, which TikTok cannot verify: "
                "serve it from a domain verified in the TikTok developer portal, or stage the "
                "media in our bucket.",
            )
        )
    elif not policy.covers(item.url):
        found.append(
            Finding(
                "TT_DOMAIN_UNVERIFIED",
                ("url",),
                f"TikTok only pulls media from verified domains or URL prefixes, and {host} "
                "is not one of ours: verify it in the TikTok developer portal (and add it to "
                "verified_url_prefixes), or stage the media in our bucket.",
            )
        )
    return found


def _text_findings(target: PublishTarget) -> list[Finding]:
    found: list[Finding] = []
    for loc, text in (
        (("caption",), target.caption),
        (("options", "photo_title"), target.options.photo_title),
    ):
        fault = text_fault(text or "")
        if fault:
            found.append(
                Finding(
                    "TT_TEXT_INVALID",
                    loc,
                    f"The {loc[-1].replace('_', ' ')} {fault}: remove it (it is usually a "
                    "copy-paste accident, or an emoji cut in half by a length limit).",
                )
            )
    if not target.media:
        return found  # video or photo post? Unknown, so no length rule applies yet.
    caption_units = utf16_len(target.caption)
    if target.is_video:
        # The inbox video init sends no post_info: the caption is not sent, so not checked.
        if not target.options.inbox and caption_units > MAX_VIDEO_TITLE_UTF16:
            found.append(
                Finding(
                    "TT_CAPTION_TOO_LONG",
                    ("caption",),
                    f"The caption is {caption_units} UTF-16 code units long (emoji count as "
                    f"2); TikTok allows {MAX_VIDEO_TITLE_UTF16} for a video: shorten it by "
                    f"{caption_units - MAX_VIDEO_TITLE_UTF16}.",
                )
            )
        return found
    # Photo posts: the caption is the description, photo_title the title (both modes).
    if caption_units > MAX_PHOTO_DESCRIPTION_UTF16:
        found.append(
            Finding(
                "TT_DESCRIPTION_TOO_LONG",
                ("caption",),
                f"The caption (a photo post's description) is {caption_units} UTF-16 code "
                f"units long (emoji count as 2); TikTok allows {MAX_PHOTO_DESCRIPTION_UTF16}: "
                f"shorten it by {caption_units - MAX_PHOTO_DESCRIPTION_UTF16}.",
            )
        )
    title = target.options.photo_title
    if title is not None and utf16_len(title) > MAX_PHOTO_TITLE_UTF16:
        units = utf16_len(title)
        found.append(
            Finding(
                "TT_PHOTO_TITLE_TOO_LONG",
                ("options", "photo_title"),
                f"The photo title is {units} UTF-16 code units long (emoji count as 2); "
                f"TikTok allows {MAX_PHOTO_TITLE_UTF16}: shorten it by "
                f"{units - MAX_PHOTO_TITLE_UTF16} or move the text into the caption.",
            )
        )
    return found


def _cover_findings(target: PublishTarget) -> list[Finding]:
    options = target.options
    videos = [m for m in target.media if m.is_video]
    photos = [m for m in target.media if not m.is_video]
    found: list[Finding] = []
    if photos and not videos and options.photo_cover_index >= len(photos):
        found.append(
            Finding(
                "TT_COVER_INDEX_OUT_OF_RANGE",
                ("options", "photo_cover_index"),
                f"The photo cover index is {options.photo_cover_index} but the post has "
                f"{_plural(len(photos), 'photo')} (counted from 0): use a number from 0 to "
                f"{len(photos) - 1}.",
            )
        )
    # The cover timestamp is sent with direct video posts only; elsewhere it is ignored.
    if (
        len(videos) == 1
        and not photos
        and not options.inbox
        and options.cover_timestamp_ms is not None
        and videos[0].duration_seconds is not None
        and options.cover_timestamp_ms > videos[0].duration_seconds * 1000
    ):
        found.append(
            Finding(
                "TT_COVER_TIMESTAMP_OUT_OF_RANGE",
                ("options", "cover_timestamp_ms"),
                f"The cover timestamp is {options.cover_timestamp_ms} ms but the video lasts "
                f"{videos[0].duration_seconds * 1000:g} ms: pick a frame within the video.",
            )
        )
    return found


# -- creator checks ----------------------------------------------------------------------------


def measured_findings(
    *,
    is_video: bool,
    codec: str | None,
    frame_rate: float | None,
    width: int | None,
    height: int | None,
) -> list[Finding]:
    """TikTok's limits on what the staged bytes are (libmediainfo's facts). A fact that could
    not be measured is not held against the file: TikTok decides then."""
    found: list[Finding] = []
    if is_video:
        if codec is not None and codec not in VIDEO_CODECS:
            found.append(
                Finding(
                    "TT_VIDEO_CODEC_UNSUPPORTED",
                    ("video_codec",),
                    f"The video is encoded with {codec}, which TikTok does not take: re-encode "
                    "it with H.264 (or H.265, VP8, VP9).",
                )
            )
        if frame_rate is not None and not (
            MIN_FRAME_RATE - 0.01 <= frame_rate <= MAX_FRAME_RATE + 0.01
        ):
            found.append(
                Finding(
                    "TT_FRAME_RATE_OUT_OF_RANGE",
                    ("frame_rate",),
                    f"The video runs at {frame_rate:g} fps; TikTok takes "
                    f"{MIN_FRAME_RATE:g}-{MAX_FRAME_RATE:g} fps: re-encode it at 24, 25, 30 or "
                    "60 fps.",
                )
            )
        sides = [s for s in (width, height) if s is not None]
        if any(not MIN_VIDEO_SIDE_PX <= side <= MAX_VIDEO_SIDE_PX for side in sides):
            found.append(
                Finding(
                    "TT_RESOLUTION_OUT_OF_RANGE",
                    ("width",),
                    f"The video is {width} x {height} px as shown; TikTok takes sides of "
                    f"{MIN_VIDEO_SIDE_PX}-{MAX_VIDEO_SIDE_PX} px: resize it.",
                )
            )
    elif width is not None and height is not None:
        long_side, short_side = max(width, height), min(width, height)
        if long_side > MAX_PHOTO_LONG_SIDE_PX or short_side > MAX_PHOTO_SHORT_SIDE_PX:
            found.append(
                Finding(
                    "TT_RESOLUTION_OUT_OF_RANGE",
                    ("width",),
                    f"The photo is {width} x {height} px; TikTok takes photos up to 1080p "
                    f"({MAX_PHOTO_LONG_SIDE_PX} x {MAX_PHOTO_SHORT_SIDE_PX}, either way up): "
                    "scale it down.",
                )
            )
    return found


def check_against_creator(target: PublishTarget, creator: CreatorInfo) -> list[Problem]:
    """What this creator's current settings forbid; call right before publishing.

    Inbox drafts skip the privacy and interaction checks: none of that is sent to TikTok (the
    creator chooses it in the app). The duration limit applies to every video.
    """
    return [f.to_problem() for f in creator_findings(target, creator)]


def creator_findings(target: PublishTarget, creator: CreatorInfo) -> list[Finding]:
    found: list[Finding] = []
    options = target.options
    allowed = ", ".join(p.value for p in creator.privacy_level_options) or "none"
    who = f"@{creator.username}" if creator.username else "The creator"

    for index, item in enumerate(target.media):
        duration = item.duration_seconds
        if (
            item.is_video
            and duration is not None
            and duration > creator.max_video_post_duration_sec
        ):
            found.append(
                Finding(
                    "TT_DURATION_OVER_CREATOR_MAX",
                    ("media", index, "duration_seconds"),
                    f"The video lasts {_seconds(duration)} but {who} may post at most "
                    f"{creator.max_video_post_duration_sec} s: trim it to fit.",
                )
            )

    if options.inbox:
        return found

    if options.privacy is None:
        found.append(
            Finding(
                "TT_PRIVACY_REQUIRED",
                ("options", "privacy"),
                f"A direct post needs a privacy level chosen by the creator; {who} allows: "
                f"{allowed}.",
            )
        )
    elif options.privacy not in creator.privacy_level_options:
        found.append(
            Finding(
                "TT_PRIVACY_NOT_ALLOWED",
                ("options", "privacy"),
                f"{who} cannot post with privacy {options.privacy.value} right now; the "
                f"account allows: {allowed}. Ask the creator to choose one of those.",
            )
        )

    interactions: list[tuple[str, bool, bool, str, str]] = [
        (
            "TT_COMMENTS_DISABLED_BY_CREATOR",
            options.allow_comments,
            creator.comment_disabled,
            "allow_comments",
            "comments",
        ),
    ]
    if target.is_video:  # duet and stitch do not exist for photo posts
        interactions += [
            (
                "TT_DUET_DISABLED_BY_CREATOR",
                options.allow_duet,
                creator.duet_disabled,
                "allow_duet",
                "duets",
            ),
            (
                "TT_STITCH_DISABLED_BY_CREATOR",
                options.allow_stitch,
                creator.stitch_disabled,
                "allow_stitch",
                "stitches",
            ),
        ]
    for code, requested, disabled, name, what in interactions:
        if requested and disabled:
            found.append(
                Finding(
                    code,
                    ("options", name),
                    f"The post allows {what} but {who} has turned {what} off in TikTok: stop "
                    f"allowing {what} for this post (or ask the creator to turn them back on).",
                )
            )
    return found


__all__ = [
    "CODES",
    "MAX_PHOTOS",
    "TIKTOK_MAX_PHOTO_BYTES",
    "TIKTOK_MAX_VIDEO_BYTES",
    "Finding",
    "Loc",
    "Problem",
    "ValidationPolicy",
    "check_against_creator",
    "creator_findings",
    "duplicate_account_findings",
    "format_loc",
    "target_findings",
    "utf16_len",
    "validate_post",
    "validate_target",
]
