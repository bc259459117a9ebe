"""Validation of init request bodies, in the order and with the codes TikTok uses.

Pure functions: they read the body and the creator's settings and either return a
`MediaRequest` or raise `ApiError`. The handlers add auth, rate limits, caps and effects.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from simulator.config import PRIVACY_LEVELS, SELF_ONLY, CreatorConfig
from simulator.protocol import ApiError, invalid_params, utf16_len
from simulator.publishes import ChunkPlan, Flow
from simulator.state import MediaRequest

MAX_VIDEO_TITLE = 2200
MAX_PHOTO_TITLE = 90
MAX_PHOTO_DESCRIPTION = 4000
MAX_PHOTOS = 35
MAX_URL_LENGTH = 2048

_VIDEO_BOOLS = (
    "disable_duet",
    "disable_comment",
    "disable_stitch",
    "brand_content_toggle",
    "brand_organic_toggle",
    "is_aigc",
)
_PHOTO_BOOLS = ("disable_comment", "auto_add_music", "brand_content_toggle", "brand_organic_toggle")


def parse_json_object(body: bytes, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; anything else is 400 invalid_params."""
    if not body.strip():
        if allow_empty:
            return {}
        raise invalid_params("The request body is empty.")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid_params("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise invalid_params("The request body must be a JSON object.")
    return value


def _object(value: Any, name: str, *, required: bool) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise invalid_params(f"{name} must be an object.")
    return value


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_url(value: Any, name: str) -> str:
    """A syntactically usable http(s) URL (https only on TikTok; http allowed for loopback)."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        raise invalid_params(f"{name} must be a URL string.")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid_params(f"{name} is not a valid http(s) URL.")
    return value


def is_url_verified(url: str, verified: list[str]) -> bool:
    """Domain entries cover the domain and its subdomains; http(s):// entries are prefixes."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    for entry in verified:
        if entry.startswith(("http://", "https://")):
            if url.startswith(entry):
                return True
            continue
        domain = entry.lower().strip("[]").rstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def check_urls_verified(urls: list[str], verified: list[str]) -> None:
    for url in urls:
        if not is_url_verified(url, verified):
            host = urlsplit(url).hostname
            raise ApiError(
                403,
                "url_ownership_unverified",
                f"The domain or URL prefix of {host!r} is not verified for this app.",
            )


def _parse_post_info(
    raw: dict[str, Any], *, bools: tuple[str, ...], require_privacy: bool
) -> tuple[str | None, str]:
    """Shared checks: privacy level (required for direct posts) and flag types."""
    for key in bools:
        if key in raw and not isinstance(raw[key], bool):
            raise invalid_params(f"post_info.{key} must be a boolean.")
    privacy = raw.get("privacy_level")
    if require_privacy or privacy is not None:
        if not isinstance(privacy, str) or privacy not in PRIVACY_LEVELS:
            raise invalid_params("post_info.privacy_level is missing or not a known value.")
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise invalid_params("post_info.title must be a string.")
    if raw.get("brand_content_toggle") is True and privacy == SELF_ONLY:
        raise invalid_params("Branded content cannot be posted with privacy SELF_ONLY.")
    return privacy if isinstance(privacy, str) else None, title


def check_direct_post_allowed(creator: CreatorConfig, privacy_level: str) -> None:
    """Audit status first (unaudited apps: private accounts, SELF_ONLY), then the options."""
    if not creator.app_audited:
        if not creator.private_account:
            raise ApiError(
                403,
                "unaudited_client_can_only_post_to_private_accounts",
                "Unaudited clients can only post to private accounts.",
            )
        options = [SELF_ONLY]
    else:
        options = list(creator.privacy_level_options)
    if privacy_level not in options:
        raise ApiError(
            403,
            "privacy_level_option_mismatch",
            f"privacy_level {privacy_level} is not among the creator's options {options}.",
        )


def parse_video_source(raw: Any) -> tuple[str, list[str], ChunkPlan | None]:
    """source_info of both video inits: (source, [video_url] or [], plan or None)."""
    info = _object(raw, "source_info", required=True)
    source = info.get("source")
    if source == "PULL_FROM_URL":
        return source, [check_url(info.get("video_url"), "source_info.video_url")], None
    if source == "FILE_UPLOAD":
        plan = ChunkPlan.validate(
            info.get("video_size"), info.get("chunk_size"), info.get("total_chunk_count")
        )
        return source, [], plan
    raise invalid_params("source_info.source must be FILE_UPLOAD or PULL_FROM_URL.")


def parse_direct_video(body: dict[str, Any], creator: CreatorConfig) -> MediaRequest:
    """POST /v2/post/publish/video/init/."""
    post_info = _object(body.get("post_info"), "post_info", required=True)
    privacy, title = _parse_post_info(post_info, bools=_VIDEO_BOOLS, require_privacy=True)
    assert privacy is not None
    if utf16_len(title) > MAX_VIDEO_TITLE:
        raise invalid_params(f"post_info.title exceeds {MAX_VIDEO_TITLE} UTF-16 units.")
    cover = post_info.get("video_cover_timestamp_ms")
    if cover is not None and (not _is_int(cover) or cover < 0):
        raise invalid_params("post_info.video_cover_timestamp_ms must be a non-negative integer.")
    source, urls, plan = parse_video_source(body.get("source_info"))
    check_direct_post_allowed(creator, privacy)
    return MediaRequest(
        flow=Flow.DIRECT_VIDEO,
        source=source,
        privacy_level=privacy,
        title=title,
        description="",
        post_info=post_info,
        media_urls=urls,
        photo_cover_index=None,
        plan=plan,
    )


def parse_inbox_video(body: dict[str, Any]) -> MediaRequest:
    """POST /v2/post/publish/inbox/video/init/: only source_info matters."""
    source, urls, plan = parse_video_source(body.get("source_info"))
    return MediaRequest(
        flow=Flow.INBOX_VIDEO,
        source=source,
        privacy_level=None,
        title="",
        description="",
        post_info={},
        media_urls=urls,
        photo_cover_index=None,
        plan=plan,
    )


def parse_post_mode(body: dict[str, Any]) -> str:
    """content/init's media_type and post_mode, checked before the scope they decide."""
    if body.get("media_type") != "PHOTO":
        raise invalid_params("media_type must be PHOTO.")
    mode = body.get("post_mode")
    if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        raise invalid_params("post_mode must be DIRECT_POST or MEDIA_UPLOAD.")
    return str(mode)


def parse_photo(body: dict[str, Any], creator: CreatorConfig, post_mode: str) -> MediaRequest:
    """POST /v2/post/publish/content/init/ (photos, PULL_FROM_URL only)."""
    direct = post_mode == "DIRECT_POST"
    post_info = _object(body.get("post_info"), "post_info", required=direct)
    privacy, title = _parse_post_info(post_info, bools=_PHOTO_BOOLS, require_privacy=direct)
    if utf16_len(title) > MAX_PHOTO_TITLE:
        raise invalid_params(f"post_info.title exceeds {MAX_PHOTO_TITLE} UTF-16 units.")
    description = post_info.get("description", "")
    if not isinstance(description, str):
        raise invalid_params("post_info.description must be a string.")
    if utf16_len(description) > MAX_PHOTO_DESCRIPTION:
        raise invalid_params(f"post_info.description exceeds {MAX_PHOTO_DESCRIPTION} units.")
    info = _object(body.get("source_info"), "source_info", required=True)
    if info.get("source") != "PULL_FROM_URL":
        raise invalid_params("Photo posts support source PULL_FROM_URL only.")
    images = info.get("photo_images")
    if not isinstance(images, list) or not 1 <= len(images) <= MAX_PHOTOS:
        raise invalid_params(f"source_info.photo_images must hold 1 to {MAX_PHOTOS} URLs.")
    urls = [check_url(u, "source_info.photo_images[]") for u in images]
    cover = info.get("photo_cover_index")
    if not _is_int(cover) or not 0 <= cover < len(urls):
        raise invalid_params("source_info.photo_cover_index is out of range.")
    if direct:
        assert privacy is not None
        check_direct_post_allowed(creator, privacy)
    return MediaRequest(
        flow=Flow.DIRECT_PHOTO if direct else Flow.INBOX_PHOTO,
        source="PULL_FROM_URL",
        privacy_level=privacy if direct else None,
        title=title,
        description=description,
        post_info=post_info,
        media_urls=urls,
        photo_cover_index=cover,
        plan=None,
    )
