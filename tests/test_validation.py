"""TikTok's rules as stable TT_* codes: every code, its field path, and the boundaries."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.request import (
    MediaItem,
    Post,
    PublishTarget,
    RequestInvalid,
    TikTokOptions,
    parse_post,
    parse_request,
)
from workflows.source_addresses import SourceRule
from workflows.tiktok import CreatorInfo, Privacy
from workflows.validation import (
    CODES,
    TIKTOK_MAX_PHOTO_BYTES,
    TIKTOK_MAX_VIDEO_BYTES,
    Problem,
    ValidationPolicy,
    check_against_creator,
    format_loc,
    measured_findings,
    utf16_len,
    validate_post,
    validate_target,
)

FIXTURES = Path(__file__).parent / "fixtures" / "requests"
ROOT = Path(__file__).resolve().parent.parent
VERIFIED = ValidationPolicy(
    verified_url_prefixes=("media.example.com", "https://cdn.partner.net/tiktok/")
)
GIB, MIB = 1024**3, 1024**2


def video(**fields: Any) -> dict[str, Any]:
    return {"url": "https://media.example.com/clip.mp4", "type": "video", **fields}


def photo(n: int = 0, **fields: Any) -> dict[str, Any]:
    return {"url": f"https://media.example.com/p{n}.jpg", "type": "photo", **fields}


def photos(count: int) -> list[dict[str, Any]]:
    return [photo(n) for n in range(count)]


def request(
    media: list[dict[str, Any]] | None = None,
    content: str = "caption",
    **options: Any,
) -> dict[str, Any]:
    """A flat request for acct_1; options default to a valid direct post."""
    return {
        "postId": "post-1",
        "content": content,
        "media": [video()] if media is None else media,
        "platforms": [
            {"accountId": "acct_1", "platformOptions": {"privacy": "SELF_ONLY", **options}}
        ],
    }


def problems(raw: Any, policy: ValidationPolicy | None = None) -> list[tuple[str, str]]:
    """(code, field) of every problem; [] when the request is accepted."""
    try:
        parse_post(raw, policy=policy)
    except RequestInvalid as err:
        return [(p.code, p.field) for p in err.problems]
    return []


def measured(**facts: Any) -> list[tuple[str, str]]:
    return [(f.code, format_loc(f.loc)) for f in measured_findings(is_video=True, **facts)]


def target(
    media: list[dict[str, Any]] | None = None, caption: str = "", **options: Any
) -> PublishTarget:
    return PublishTarget(
        post_id="post-1",
        account_id="acct_1",
        caption=caption,
        media=[MediaItem.model_validate(m) for m in ([video()] if media is None else media)],
        options=TikTokOptions.model_validate(options),
    )


CREATOR = CreatorInfo(
    username="acct_one",
    nickname="Account One",
    privacy_level_options=(
        Privacy.PUBLIC_TO_EVERYONE,
        Privacy.MUTUAL_FOLLOW_FRIENDS,
        Privacy.SELF_ONLY,
    ),
    comment_disabled=False,
    duet_disabled=False,
    stitch_disabled=False,
    max_video_post_duration_sec=600,
)


def creator_problems(t: PublishTarget, **creator: Any) -> list[tuple[str, str]]:
    return [(p.code, p.field) for p in check_against_creator(t, replace(CREATOR, **creator))]


def _two_accounts() -> dict[str, Any]:
    raw = request()
    raw["platforms"].append(dict(raw["platforms"][0]))
    return raw


def _without(key: str) -> dict[str, Any]:
    raw = request()
    del raw[key]
    return raw


def _with(**root: Any) -> dict[str, Any]:
    return {**request(), **root}


# Every code, with the request (or creator) that produces it and the field it must name.
def dialect_problems(raw: Any, **context: Any) -> list[tuple[str, str]]:
    try:
        parse_request(raw, **context)
    except RequestInvalid as err:
        return [(p.code, p.field) for p in err.problems]
    return []


def _pfm(media: dict[str, Any] | None = None, **root: Any) -> dict[str, Any]:
    """A valid Post for Me request (docs/dialects.md), changed."""
    body: dict[str, Any] = {
        "caption": "c",
        "social_accounts": ["acct_1"],
        "external_id": "pfm-1",
        "media": [media or {"url": "https://media.example.com/v.mp4"}],
        "platform_configurations": {"tiktok": {"privacy_status": "public"}},
    }
    body.update(root)
    return body


def _pfm_privacy(value: str) -> dict[str, Any]:
    return _pfm(platform_configurations={"tiktok": {"privacy_status": value}})


_AMPOST = {
    "content": {
        "text": "c",
        "media": [{"url": "https://media.example.com/v.mp4", "type": "video"}],
        "platformOverrides": {"tiktok": {"settings": {"privacyLevel": "SELF_ONLY"}}},
    },
    "platforms": ["tiktok"],
    "platformSetId": "set_1",
    "postId": "amp-1",
}


EVERY_CODE: list[tuple[str, Callable[[], list[tuple[str, str]]], str]] = [
    ("TT_DIALECT_UNKNOWN", lambda: dialect_problems({}, dialect="buffer"), "dialect"),
    (
        "TT_DIALECT_AMBIGUOUS",
        lambda: dialect_problems({"platformSetId": "s", "social_accounts": ["a"]}),
        "",
    ),
    (
        "TT_IDEMPOTENCY_KEY_REQUIRED",
        lambda: dialect_problems(_pfm(external_id=None)),
        "external_id",
    ),
    (
        "TT_IDEMPOTENCY_KEY_CONFLICT",
        lambda: dialect_problems(_pfm(), idempotency_key="other"),
        "external_id",
    ),
    ("TT_PLATFORM_SET_UNKNOWN", lambda: dialect_problems(_AMPOST), "platformSetId"),
    (
        "TT_PLATFORM_UNSUPPORTED",
        lambda: dialect_problems(
            _pfm(
                platform_configurations={
                    "tiktok": {"privacy_status": "public"},
                    "instagram": {"placement": "reels"},
                }
            )
        ),
        "platform_configurations.instagram",
    ),
    (
        "TT_VALUE_UNMAPPABLE",
        lambda: dialect_problems(_pfm_privacy("followers")),
        "platform_configurations.tiktok.privacy_status",
    ),
    (
        "TT_FIELD_UNSUPPORTED",
        lambda: dialect_problems(
            _pfm({"url": "https://media.example.com/v.mp4", "thumbnail_url": "https://x/t.jpg"})
        ),
        "media[0].thumbnail_url",
    ),
    (
        "TT_MEDIA_TYPE_UNKNOWN",
        lambda: dialect_problems(_pfm({"url": "https://media.example.com/v"})),
        "media[0].url",
    ),
    ("TT_FIELD_REQUIRED", lambda: problems(_without("postId")), "postId"),
    (
        "TT_FIELD_INVALID",
        lambda: problems(request([video(sizeBytes="huge")])),
        "media[0].sizeBytes",
    ),
    (
        "TT_UNKNOWN_FIELD",
        lambda: problems(_with(scheduledfor="2026-12-01T09:00:00Z")),
        "scheduledfor",
    ),
    (
        "TT_TIMEZONE_REQUIRED",
        lambda: problems(_with(scheduledFor="2026-12-01T09:00")),
        "scheduledFor",
    ),
    ("TT_AMBIGUOUS_SHAPE", lambda: problems(_with(targets=[])), ""),
    ("TT_NO_TARGETS", lambda: problems(_with(platforms=[])), "platforms"),
    ("TT_DUPLICATE_ACCOUNT", lambda: problems(_two_accounts()), "platforms[1].accountId"),
    ("TT_FIRST_COMMENT_UNSUPPORTED", lambda: problems(_with(firstComment="hi")), "firstComment"),
    (
        "TT_PRIVACY_REQUIRED",
        lambda: problems(request(privacy=None)),
        "platforms[0].platformOptions.privacy",
    ),
    (
        "TT_BRANDED_PRIVATE",
        lambda: problems(request(brandContentToggle=True)),
        "platforms[0].platformOptions.privacy",
    ),
    ("TT_NO_MEDIA", lambda: problems(request([])), "media"),
    ("TT_MIXED_MEDIA", lambda: problems(request([video(), photo()])), "media"),
    ("TT_MULTIPLE_VIDEOS", lambda: problems(request([video(), video()])), "media"),
    ("TT_TOO_MANY_PHOTOS", lambda: problems(request(photos(36))), "media"),
    (
        "TT_MEDIA_TOO_LARGE",
        lambda: problems(request([video(sizeBytes=4 * GIB + 1)])),
        "media[0].sizeBytes",
    ),
    (
        "TT_DURATION_OUT_OF_RANGE",
        lambda: problems(request([video(durationSeconds=2.5)])),
        "media[0].durationSeconds",
    ),
    (
        "TT_UNSUPPORTED_FORMAT",
        lambda: problems(request([photo(mimeType="image/png")])),
        "media[0].mimeType",
    ),
    (
        "TT_VIDEO_DIMENSIONS_OUT_OF_RANGE",
        lambda: problems(request([video(width=320)])),
        "media[0].width",
    ),
    ("TT_CAPTION_TOO_LONG", lambda: problems(request(content="x" * 2201)), "content"),
    ("TT_TEXT_INVALID", lambda: problems(request(content="half \ud83d of a smile")), "content"),
    (
        "TT_DESCRIPTION_TOO_LONG",
        lambda: problems(request(photos(1), content="x" * 4001)),
        "content",
    ),
    (
        "TT_PHOTO_TITLE_TOO_LONG",
        lambda: problems(request(photos(1), photoTitle="t" * 91)),
        "platforms[0].platformOptions.photoTitle",
    ),
    (
        "TT_COVER_INDEX_OUT_OF_RANGE",
        lambda: problems(request(photos(2), photoCoverIndex=2)),
        "platforms[0].platformOptions.photoCoverIndex",
    ),
    (
        "TT_COVER_TIMESTAMP_OUT_OF_RANGE",
        lambda: problems(request([video(durationSeconds=5)], coverTimestampMs=5001)),
        "platforms[0].platformOptions.coverTimestampMs",
    ),
    (
        "TT_URL_NOT_HTTPS",
        lambda: problems(request([video(url="http://media.example.com/v.mp4")]), VERIFIED),
        "media[0].url",
    ),
    (
        "TT_DOMAIN_UNVERIFIED",
        lambda: problems(request([video(url="https://files.other.org/v.mp4")]), VERIFIED),
        "media[0].url",
    ),
    (
        "TT_VIDEO_CODEC_UNSUPPORTED",
        lambda: measured(codec="MPEG-4 Visual", frame_rate=30, width=720, height=1280),
        "video_codec",
    ),
    (
        "TT_FRAME_RATE_OUT_OF_RANGE",
        lambda: measured(codec="AVC", frame_rate=20, width=720, height=1280),
        "frame_rate",
    ),
    (
        "TT_RESOLUTION_OUT_OF_RANGE",
        lambda: measured(codec="AVC", frame_rate=30, width=320, height=240),
        "width",
    ),
    (
        "TT_SOURCE_FORBIDDEN",
        lambda: problems(
            request([video(url="http://2130706433/v.mp4")]),
            ValidationPolicy(source_rule=SourceRule()),
        ),
        "media[0].url",
    ),
    (
        "TT_PRIVACY_NOT_ALLOWED",
        lambda: creator_problems(target(privacy="FOLLOWER_OF_CREATOR")),
        "options.privacy",
    ),
    (
        "TT_DURATION_OVER_CREATOR_MAX",
        lambda: creator_problems(
            target([video(durationSeconds=90)], privacy="SELF_ONLY"),
            max_video_post_duration_sec=60,
        ),
        "media[0].duration_seconds",
    ),
    (
        "TT_COMMENTS_DISABLED_BY_CREATOR",
        lambda: creator_problems(
            target(privacy="SELF_ONLY", allow_comments=True), comment_disabled=True
        ),
        "options.allow_comments",
    ),
    (
        "TT_DUET_DISABLED_BY_CREATOR",
        lambda: creator_problems(target(privacy="SELF_ONLY", allow_duet=True), duet_disabled=True),
        "options.allow_duet",
    ),
    (
        "TT_STITCH_DISABLED_BY_CREATOR",
        lambda: creator_problems(
            target(privacy="SELF_ONLY", allow_stitch=True), stitch_disabled=True
        ),
        "options.allow_stitch",
    ),
]


@pytest.mark.parametrize(("code", "produce", "field"), EVERY_CODE, ids=[c[0] for c in EVERY_CODE])
def test_each_code_is_produced_alone_at_its_field(
    code: str, produce: Callable[[], list[tuple[str, str]]], field: str
) -> None:
    assert produce() == [(code, field)]


def test_every_registered_code_has_a_test_above() -> None:
    assert sorted(CODES) == sorted(code for code, _, _ in EVERY_CODE)


def test_every_code_in_the_source_is_registered() -> None:
    source = "".join(
        (ROOT / "workflows" / name).read_text() for name in ("request.py", "validation.py")
    )
    emitted = set(re.findall(r'"(TT_[A-Z0-9_]+)"', source))
    assert emitted - set(CODES) == set()
    assert all(CODES[code].strip() for code in CODES)


def test_a_problem_with_an_unregistered_code_cannot_exist() -> None:
    with pytest.raises(ValueError, match="not registered"):
        Problem("TT_MADE_UP", "x", "Nope.")


# -- valid requests give no problems -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_fixtures_have_no_problems_even_against_verified_domains(name: str) -> None:
    raw = json.loads((FIXTURES / name).read_text())
    post = parse_post(raw, policy=VERIFIED)
    for t in post.targets:
        assert validate_target(t, VERIFIED) == []
        assert validate_target(t) == []
    assert validate_post(post, VERIFIED) == []


def test_creator_checks_pass_for_what_the_creator_allows() -> None:
    t = target(privacy="PUBLIC_TO_EVERYONE", allow_comments=True, allow_duet=True)
    assert check_against_creator(t, CREATOR) == []


# -- privacy and branded content ---------------------------------------------------------------


def test_inbox_drafts_need_no_privacy() -> None:
    assert problems(request(privacy=None, isDraft=True)) == []
    assert problems(request(photos(3), privacy=None, isDraft=True)) == []


def test_photo_direct_posts_need_privacy_too() -> None:
    assert problems(request(photos(2), privacy=None)) == [
        ("TT_PRIVACY_REQUIRED", "platforms[0].platformOptions.privacy")
    ]


@pytest.mark.parametrize(
    "privacy", ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR"]
)
def test_branded_content_is_fine_with_any_privacy_but_self_only(privacy: str) -> None:
    # TikTok only forbids SELF_ONLY for branded content; we must not refuse more.
    assert problems(request(privacy=privacy, brandContentToggle=True)) == []


def test_your_brand_disclosure_may_be_private() -> None:
    assert problems(request(brandOrganicToggle=True)) == []


def test_branded_inbox_draft_is_not_checked_for_privacy() -> None:
    assert problems(request(privacy="SELF_ONLY", brandContentToggle=True, isDraft=True)) == []


def test_privacy_message_says_what_to_choose() -> None:
    (problem,) = validate_target(target(privacy=None))
    assert problem.field == "options.privacy"
    assert "PUBLIC_TO_EVERYONE" in problem.message and "inbox" in problem.message


# -- media set ---------------------------------------------------------------------------------


def test_35_photos_are_fine_36_are_not() -> None:
    assert problems(request(photos(35))) == []
    assert problems(request(photos(36))) == [("TT_TOO_MANY_PHOTOS", "media")]


def test_one_photo_is_a_valid_post() -> None:
    assert problems(request(photos(1))) == []


def test_mixed_and_multiple_videos_are_both_reported() -> None:
    assert problems(request([video(), video(), photo()])) == [
        ("TT_MIXED_MEDIA", "media"),
        ("TT_MULTIPLE_VIDEOS", "media"),
    ]


def test_a_targets_own_media_is_checked_where_it_was_written() -> None:
    raw = json.loads((FIXTURES / "nested_photos.json").read_text())
    raw["targets"][2]["media"] = photos(36)
    assert problems(raw) == [("TT_TOO_MANY_PHOTOS", "targets[2].media")]


def test_a_target_without_media_anywhere_is_told_to_add_some() -> None:
    raw = json.loads((FIXTURES / "nested_photos.json").read_text())
    raw["targets"][1]["media"] = []
    assert problems(raw) == [("TT_NO_MEDIA", "targets[1].media")]


# -- sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "ok"),
    [
        (video(sizeBytes=4 * GIB), True),
        (video(sizeBytes=4 * GIB + 1), False),
        (photo(sizeBytes=20 * MIB), True),
        (photo(sizeBytes=20 * MIB + 1), False),
    ],
)
def test_size_limits_are_inclusive(item: dict[str, Any], ok: bool) -> None:
    expected = [] if ok else [("TT_MEDIA_TOO_LARGE", "media[0].sizeBytes")]
    assert problems(request([item])) == expected


def test_a_lower_policy_limit_is_enforced_and_named() -> None:
    policy = ValidationPolicy(max_video_bytes=500 * MIB)
    t = target([video(size_bytes=500 * MIB + 1)], privacy="SELF_ONLY")
    (problem,) = validate_target(t, policy)
    assert (problem.code, problem.field) == ("TT_MEDIA_TOO_LARGE", "media[0].size_bytes")
    assert "this service's limit" in problem.message and "500.00 MiB" in problem.message
    assert validate_target(target([video(size_bytes=500 * MIB)], privacy="SELF_ONLY"), policy) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_video_bytes": TIKTOK_MAX_VIDEO_BYTES + 1},
        {"max_photo_bytes": TIKTOK_MAX_PHOTO_BYTES + 1},
        {"max_video_bytes": 0},
        {"max_photo_bytes": -5},
        {"verified_url_prefixes": ("ftp://files.example.com/",)},
        {"verified_url_prefixes": ("media.example.com/videos",)},
        {"verified_url_prefixes": ("203.0.113.7",)},
        {"verified_url_prefixes": ("",)},
    ],
)
def test_policy_refuses_limits_above_tiktok_and_malformed_domains(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ValidationPolicy(**kwargs)


def test_policy_defaults_are_tiktoks_limits() -> None:
    policy = ValidationPolicy()
    assert policy.max_video_bytes == 4 * 1024**3
    assert policy.max_photo_bytes == 20 * 1024 * 1024
    assert policy.verified_url_prefixes == ()


# -- duration and dimensions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "ok"), [(3, True), (3.0, True), (600, True), (2.99, False), (600.01, False)]
)
def test_duration_bounds_are_inclusive(seconds: float, ok: bool) -> None:
    expected = [] if ok else [("TT_DURATION_OUT_OF_RANGE", "media[0].durationSeconds")]
    assert problems(request([video(durationSeconds=seconds)])) == expected


@pytest.mark.parametrize(
    ("width", "height", "bad"),
    [
        (360, 4096, []),
        (4096, 360, []),
        (359, 1920, ["width"]),
        (1080, 4097, ["height"]),
        (300, 5000, ["width", "height"]),
    ],
)
def test_video_sides_must_be_360_to_4096(width: int, height: int, bad: list[str]) -> None:
    expected = [("TT_VIDEO_DIMENSIONS_OUT_OF_RANGE", f"media[0].{side}") for side in bad]
    assert problems(request([video(width=width, height=height)])) == expected


def test_photo_dimensions_are_not_held_to_video_limits() -> None:
    assert problems(request([photo(width=200, height=200)])) == []


# -- formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (photo(mimeType="image/jpeg"), None),
        (photo(mimeType="image/webp"), None),
        (photo(mimeType="IMAGE/JPEG"), None),
        (photo(filename="holiday.JPG"), None),
        (photo(filename="holiday.webp"), None),
        (photo(filename="no-extension"), None),
        (video(mimeType="video/mp4; codecs=avc1"), None),
        (video(mimeType="video/quicktime"), None),
        (video(mimeType="video/webm"), None),
        (video(filename="clip.MOV"), None),
        (photo(mimeType="image/png"), "mimeType"),
        (photo(mimeType="image/heic", filename="x.jpg"), "mimeType"),
        (photo(filename="diagram.png"), "filename"),
        (video(mimeType="video/x-msvideo"), "mimeType"),
        (video(filename="clip.avi"), "filename"),
        (video(mimeType="image/jpeg"), "mimeType"),
    ],
)
def test_formats(item: dict[str, Any], field: str | None) -> None:
    expected = [] if field is None else [("TT_UNSUPPORTED_FORMAT", f"media[0].{field}")]
    assert problems(request([item])) == expected


def test_format_message_says_what_to_convert_to() -> None:
    (problem,) = validate_target(target([photo(mime_type="image/png")], privacy="SELF_ONLY"))
    assert "JPEG or WebP" in problem.message
    (problem,) = validate_target(target([video(mime_type="image/jpeg")], privacy="SELF_ONLY"))
    assert "set type to photo" in problem.message


# -- text lengths, counted in UTF-16 units -----------------------------------------------------

EMOJI = "😀"  # outside the BMP: two UTF-16 units


@pytest.mark.parametrize(
    ("caption", "ok"),
    [
        ("x" * 2200, True),
        ("x" * 2201, False),
        (EMOJI * 1100, True),
        (EMOJI * 1100 + "x", False),
        ("é" * 2200, True),  # one unit each, although two UTF-8 bytes
        ("x" * 2199 + EMOJI, False),
    ],
)
def test_video_caption_limit_counts_utf16_units(caption: str, ok: bool) -> None:
    expected = [] if ok else [("TT_CAPTION_TOO_LONG", "content")]
    assert problems(request(content=caption)) == expected


def test_caption_message_gives_the_count_and_how_much_to_cut() -> None:
    (problem,) = validate_target(target(caption=EMOJI * 1101, privacy="SELF_ONLY"))
    assert "2202" in problem.message and "shorten it by 2" in problem.message


@pytest.mark.parametrize(
    ("caption", "ok"), [("x" * 4000, True), ("x" * 4001, False), (EMOJI * 2001, False)]
)
def test_photo_description_limit(caption: str, ok: bool) -> None:
    expected = [] if ok else [("TT_DESCRIPTION_TOO_LONG", "content")]
    assert problems(request(photos(2), content=caption)) == expected


@pytest.mark.parametrize(
    ("title", "ok"), [("t" * 90, True), ("t" * 91, False), (EMOJI * 45, True), (EMOJI * 46, False)]
)
def test_photo_title_limit(title: str, ok: bool) -> None:
    expected = (
        [] if ok else [("TT_PHOTO_TITLE_TOO_LONG", "platforms[0].platformOptions.photoTitle")]
    )
    assert problems(request(photos(2), photoTitle=title)) == expected


def test_inbox_video_caption_is_not_sent_so_not_limited() -> None:
    assert problems(request(content="x" * 3000, isDraft=True)) == []


def test_inbox_photo_description_is_still_limited() -> None:
    assert problems(request(photos(1), content="x" * 4001, isDraft=True)) == [
        ("TT_DESCRIPTION_TOO_LONG", "content")
    ]


@given(st.text())
def test_utf16_len_counts_astral_characters_twice(text: str) -> None:
    assert utf16_len(text) == sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


@given(
    st.lists(
        st.sampled_from(["a", "é", "中", EMOJI, "\U0001f469\u200d\U0001f4bb", "\n"]),
        min_size=1000,
        max_size=2300,
    )
)
def test_caption_is_refused_exactly_when_over_2200_units(pieces: list[str]) -> None:
    caption = "".join(pieces)
    units = len(caption.encode("utf-16-le")) // 2
    found = [p.code for p in validate_target(target(caption=caption, privacy="SELF_ONLY"))]
    assert ("TT_CAPTION_TOO_LONG" in found) is (units > 2200)


# -- covers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("index", "ok"), [(0, True), (2, True), (3, False), (35, False)])
def test_photo_cover_index_counts_from_zero(index: int, ok: bool) -> None:
    expected = (
        []
        if ok
        else [("TT_COVER_INDEX_OUT_OF_RANGE", "platforms[0].platformOptions.photoCoverIndex")]
    )
    assert problems(request(photos(3), photoCoverIndex=index)) == expected


def test_cover_index_is_checked_for_inbox_photos_too() -> None:
    assert problems(request(photos(1), photoCoverIndex=1, isDraft=True)) == [
        ("TT_COVER_INDEX_OUT_OF_RANGE", "platforms[0].platformOptions.photoCoverIndex")
    ]


@pytest.mark.parametrize(
    ("duration", "timestamp", "ok"),
    [(10, 10_000, True), (10, 10_001, False), (None, 999_999, True), (12.5, 12_500, True)],
)
def test_cover_timestamp_must_fall_within_the_declared_video(
    duration: float | None, timestamp: int, ok: bool
) -> None:
    item = video() if duration is None else video(durationSeconds=duration)
    expected = (
        []
        if ok
        else [("TT_COVER_TIMESTAMP_OUT_OF_RANGE", "platforms[0].platformOptions.coverTimestampMs")]
    )
    assert problems(request([item], coverTimestampMs=timestamp)) == expected


def test_cover_timestamp_is_ignored_for_inbox_videos() -> None:
    # The inbox init sends no post_info, so TikTok never sees it.
    assert problems(request([video(durationSeconds=5)], coverTimestampMs=9000, isDraft=True)) == []


# -- options that do not apply are ignored, not refused ----------------------------------------


def test_video_only_options_on_photos_are_accepted() -> None:
    raw = request(photos(2), allowDuet=True, allowStitch=True, coverTimestampMs=100, isAigc=True)
    assert problems(raw) == []
    (t,) = parse_post(raw).targets
    assert t.ignored_options == ("allow_duet", "allow_stitch", "is_aigc", "cover_timestamp_ms")


def test_photo_only_options_on_videos_are_accepted() -> None:
    raw = request(autoAddMusic=True, photoTitle="x" * 200, photoCoverIndex=7)
    assert problems(raw) == []
    assert parse_post(raw).targets[0].ignored_options == (
        "auto_add_music",
        "photo_title",
        "photo_cover_index",
    )


# -- media URLs and verified domains -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://media.example.com/v.mp4", None),
        ("https://MEDIA.example.com/v.mp4", None),
        ("https://eu.cdn.media.example.com/v.mp4", None),
        ("https://cdn.partner.net/tiktok/v.mp4", None),
        ("HTTPS://CDN.PARTNER.NET/tiktok/v.mp4", None),
        ("https://cdn.partner.net/other/v.mp4", "TT_DOMAIN_UNVERIFIED"),
        ("https://evilmedia.example.com/v.mp4", "TT_DOMAIN_UNVERIFIED"),
        ("https://media.example.com.evil.net/v.mp4", "TT_DOMAIN_UNVERIFIED"),
        ("https://203.0.113.7/v.mp4", "TT_DOMAIN_UNVERIFIED"),
        ("https://[2001:db8::1]/v.mp4", "TT_DOMAIN_UNVERIFIED"),
        ("http://media.example.com/v.mp4", "TT_URL_NOT_HTTPS"),
    ],
)
def test_verified_domains_and_prefixes(url: str, code: str | None) -> None:
    expected = [] if code is None else [(code, "media[0].url")]
    assert problems(request([video(url=url)]), VERIFIED) == expected


def test_unverified_domain_message_names_the_host_and_both_remedies() -> None:
    policy = ValidationPolicy(verified_url_prefixes=("media.example.com",))
    t = target([video(url="https://files.other.org/a/v.mp4")], privacy="SELF_ONLY")
    (problem,) = validate_target(t, policy)
    assert "files.other.org" in problem.message
    assert "developer portal" in problem.message and "bucket" in problem.message


def test_host_prefix_without_path_does_not_cover_lookalike_hosts() -> None:
    policy = ValidationPolicy(verified_url_prefixes=("https://cdn.partner.net",))
    assert policy.covers("https://cdn.partner.net/v.mp4")
    assert not policy.covers("https://cdn.partner.net.evil.org/v.mp4")


def test_without_verified_prefixes_any_http_source_is_staged_not_checked() -> None:
    raw = request([video(url="http://203.0.113.7/export?id=1")])
    assert problems(raw) == []


# -- duplicates --------------------------------------------------------------------------------


def test_the_same_account_twice_is_refused_at_the_repeat() -> None:
    raw = json.loads((FIXTURES / "nested_photos.json").read_text())
    raw["targets"][2]["socialAccountId"] = "acct_1"
    assert problems(raw) == [("TT_DUPLICATE_ACCOUNT", "targets[2].socialAccountId")]


def test_validate_post_reports_targets_in_its_own_terms() -> None:
    post = parse_post(json.loads((FIXTURES / "flat_video.json").read_text()))
    copy = post.targets[0].model_copy(update={"caption": "x" * 2201})
    broken = Post(post_id=post.post_id, targets=[copy, post.targets[0]])
    assert [(p.code, p.field) for p in validate_post(broken)] == [
        ("TT_CAPTION_TOO_LONG", "targets[0].caption"),
        ("TT_DUPLICATE_ACCOUNT", "targets[1].account_id"),
    ]


# -- the workflow's view: paths in PublishTarget terms -----------------------------------------


def test_validate_target_uses_the_targets_own_field_names() -> None:
    t = target(
        [video(size_bytes=5 * GIB, duration_seconds=1, width=100)],
        caption="x" * 2201,
        brand_content_toggle=True,
        privacy="SELF_ONLY",
    )
    assert sorted((p.code, p.field) for p in validate_target(t)) == [
        ("TT_BRANDED_PRIVATE", "options.privacy"),
        ("TT_CAPTION_TOO_LONG", "caption"),
        ("TT_DURATION_OUT_OF_RANGE", "media[0].duration_seconds"),
        ("TT_MEDIA_TOO_LARGE", "media[0].size_bytes"),
        ("TT_VIDEO_DIMENSIONS_OUT_OF_RANGE", "media[0].width"),
    ]


# -- creator checks ----------------------------------------------------------------------------


def test_privacy_not_allowed_lists_the_allowed_levels() -> None:
    (problem,) = check_against_creator(target(privacy="FOLLOWER_OF_CREATOR"), CREATOR)
    assert "PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, SELF_ONLY" in problem.message
    assert "@acct_one" in problem.message


def test_unaudited_app_creator_allows_only_self_only() -> None:
    only_private = (Privacy.SELF_ONLY,)
    assert creator_problems(
        target(privacy="PUBLIC_TO_EVERYONE"), privacy_level_options=only_private
    ) == [("TT_PRIVACY_NOT_ALLOWED", "options.privacy")]
    assert creator_problems(target(privacy="SELF_ONLY"), privacy_level_options=only_private) == []


def test_duration_at_the_creator_max_is_fine() -> None:
    t = target([video(duration_seconds=60)], privacy="SELF_ONLY")
    assert creator_problems(t, max_video_post_duration_sec=60) == []


def test_inbox_drafts_skip_privacy_and_interaction_checks_but_not_duration() -> None:
    t = target(
        [video(duration_seconds=120)],
        inbox=True,
        privacy="FOLLOWER_OF_CREATOR",
        allow_comments=True,
        allow_duet=True,
        allow_stitch=True,
    )
    assert creator_problems(
        t,
        comment_disabled=True,
        duet_disabled=True,
        stitch_disabled=True,
        max_video_post_duration_sec=60,
    ) == [("TT_DURATION_OVER_CREATOR_MAX", "media[0].duration_seconds")]


def test_interactions_off_are_only_a_problem_when_the_post_asks_for_them() -> None:
    t = target(privacy="SELF_ONLY")  # all interactions off by default
    assert (
        creator_problems(t, comment_disabled=True, duet_disabled=True, stitch_disabled=True) == []
    )


def test_duet_and_stitch_do_not_exist_for_photo_posts() -> None:
    t = target(photos(2), privacy="SELF_ONLY", allow_duet=True, allow_stitch=True)
    assert creator_problems(t, duet_disabled=True, stitch_disabled=True) == []
    t = target(photos(2), privacy="SELF_ONLY", allow_comments=True)
    assert creator_problems(t, comment_disabled=True) == [
        ("TT_COMMENTS_DISABLED_BY_CREATOR", "options.allow_comments")
    ]


def test_all_creator_problems_come_together() -> None:
    t = target(
        [video(duration_seconds=300)],
        privacy="FOLLOWER_OF_CREATOR",
        allow_comments=True,
        allow_duet=True,
        allow_stitch=True,
    )
    found = creator_problems(
        t,
        comment_disabled=True,
        duet_disabled=True,
        stitch_disabled=True,
        max_video_post_duration_sec=180,
    )
    assert {code for code, _ in found} == {
        "TT_DURATION_OVER_CREATOR_MAX",
        "TT_PRIVACY_NOT_ALLOWED",
        "TT_COMMENTS_DISABLED_BY_CREATOR",
        "TT_DUET_DISABLED_BY_CREATOR",
        "TT_STITCH_DISABLED_BY_CREATOR",
    }
