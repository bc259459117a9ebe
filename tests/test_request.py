"""The request contract: both shapes, both key conventions, problems in the caller's terms."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic.alias_generators import to_snake

from workflows.request import (
    ID_PATTERN,
    MediaItem,
    Post,
    PublishMode,
    PublishTarget,
    RequestInvalid,
    RequestTikTokOptions,
    TikTokOptions,
    json_schema,
    parse_post,
    publish_target_json_schema,
)
from workflows.tiktok import Privacy
from workflows.validation import CODES, Problem

FIXTURES = Path(__file__).parent / "fixtures" / "requests"
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def snake_keys(value: Any) -> Any:
    """The same request written by a snake_case caller (keys only, never values)."""
    if isinstance(value, dict):
        return {to_snake(k): snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


def problems_of(raw: Any) -> list[Problem]:
    with pytest.raises(RequestInvalid) as info:
        parse_post(raw)
    return list(info.value.problems)


def codes_at(raw: Any) -> set[tuple[str, str]]:
    return {(p.code, p.field) for p in problems_of(raw)}


def video_request(**root: Any) -> dict[str, Any]:
    """A minimal valid flat request; keyword arguments replace root keys."""
    raw: dict[str, Any] = {
        "postId": "post-1",
        "content": "hello",
        "media": [{"url": "https://media.example.com/v.mp4", "type": "video"}],
        "platforms": [{"accountId": "acct_1", "platformOptions": {"privacy": "SELF_ONLY"}}],
    }
    raw.update(root)
    return raw


# -- the fixtures ------------------------------------------------------------------------------


def test_the_four_documented_fixtures_exist() -> None:
    for name in ("flat_video.json", "nested_photos.json", "inbox_draft.json", "system_draft.json"):
        assert name in FIXTURE_NAMES


def test_flat_video_gives_one_target_per_account() -> None:
    post = parse_post(load("flat_video.json"))

    assert post.post_id == "launch-2026-11-30"
    assert [t.account_id for t in post.targets] == ["acct_1", "acct_2"]
    first, second = post.targets
    assert first.kind is PublishMode.VIDEO_DIRECT
    assert first.caption.startswith("Our winter collection is here ❄️")
    assert first.caption == second.caption
    assert first.media[0].size_bytes == 48213577
    assert first.media[0].duration_seconds == 31.5
    # {"tiktok": {...}} and the options written directly both work
    assert first.options.privacy is Privacy.PUBLIC_TO_EVERYONE
    assert first.options.allow_stitch is True
    assert first.options.cover_timestamp_ms == 1500
    assert second.options.privacy is Privacy.MUTUAL_FOLLOW_FRIENDS
    # +01:00 is kept as the same instant, in UTC
    assert first.scheduled_for == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert first.scheduled_for is not None
    assert first.scheduled_for.tzinfo is not None
    assert first.scheduled_for.isoformat() == "2026-11-30T09:00:00+00:00"
    assert first.workflow_id == "tiktok-post/launch-2026-11-30/acct_1"
    assert not first.system_draft and not first.options.inbox


def test_nested_photos_targets_override_caption_and_media() -> None:
    post = parse_post(load("nested_photos.json"))
    root_caption = "Sunday pancakes in 3 steps 🥞 Save this for the weekend!"
    one, two, three = post.targets

    assert [t.kind for t in post.targets] == [PublishMode.PHOTO_DIRECT] * 3
    assert one.caption == root_caption and len(one.media) == 3
    assert one.options.photo_title == "Sunday pancakes"
    assert one.options.photo_cover_index == 2
    assert one.options.auto_add_music is True
    # caption override, root media
    assert two.caption.startswith("Pancakes for the whole family")
    assert [m.url for m in two.media] == [m.url for m in one.media]
    # media override, root caption
    assert three.caption == root_caption
    assert [m.url for m in three.media] == [
        "https://cdn.media.example.com/recipes/pancakes/square-1.jpg",
        "https://cdn.media.example.com/recipes/pancakes/square-2.jpg",
    ]
    assert three.scheduled_for == datetime(2026, 12, 6, 8, 30, tzinfo=UTC)


def test_inbox_draft_needs_no_privacy_and_is_sent_to_the_inbox() -> None:
    (target,) = parse_post(load("inbox_draft.json")).targets

    assert target.options.inbox is True
    assert target.options.privacy is None
    assert target.system_draft is False
    assert target.kind is PublishMode.VIDEO_INBOX
    assert target.scheduled_for is None


def test_system_draft_is_held_and_distinct_from_the_inbox_option() -> None:
    post = parse_post(load("system_draft.json"))
    held_direct, held_inbox = post.targets

    assert held_direct.system_draft is True and held_direct.options.inbox is False
    assert held_direct.kind is PublishMode.VIDEO_DIRECT
    assert held_inbox.system_draft is True and held_inbox.options.inbox is True
    assert held_inbox.kind is PublishMode.VIDEO_INBOX
    assert held_inbox.caption == "Coming soon 👀"


@pytest.mark.parametrize(
    ("root_draft", "option_draft"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_the_two_is_draft_flags_never_leak_into_each_other(
    root_draft: bool, option_draft: bool
) -> None:
    raw = video_request(isDraft=root_draft)
    raw["platforms"][0]["platformOptions"] = {"privacy": "SELF_ONLY", "isDraft": option_draft}
    (target,) = parse_post(raw).targets

    assert target.system_draft is root_draft
    assert target.options.inbox is option_draft
    dumped = target.model_dump(mode="json")
    assert dumped["system_draft"] is root_draft
    assert dumped["options"]["inbox"] is option_draft
    assert "is_draft" not in dumped["options"]


# -- camelCase and snake_case ------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_snake_case_request_means_the_same_as_camel_case(name: str) -> None:
    camel = load(name)
    snake = snake_keys(camel)
    assert snake != camel  # the conversion really changed keys

    assert parse_post(snake) == parse_post(camel)


def test_inbox_option_accepts_is_draft_in_both_spellings_and_its_own_name() -> None:
    for key in ("isDraft", "is_draft", "inbox"):
        options = RequestTikTokOptions.model_validate({key: True})
        assert options.inbox is True, key


def test_keys_of_both_conventions_can_be_mixed() -> None:
    raw = {
        "post_id": "p1",
        "caption": "hi",
        "scheduledAt": "2026-12-01T09:00:00Z",
        "targets": [
            {
                "social_account_id": "acct_1",
                "platformOptions": {"privacy": "SELF_ONLY", "allow_comments": True},
            }
        ],
        "media": [{"url": "https://media.example.com/a.jpg", "type": "photo", "sizeBytes": 10}],
    }
    (target,) = parse_post(raw).targets
    assert target.options.allow_comments is True
    assert target.media[0].size_bytes == 10


def test_problem_paths_follow_the_callers_convention() -> None:
    camel = video_request()
    camel["media"][0]["sizeBytes"] = "big"
    camel["platforms"][0]["platformOptions"] = {"allowDuet": "maybe"}
    assert codes_at(camel) == {
        ("TT_FIELD_INVALID", "media[0].sizeBytes"),
        ("TT_FIELD_INVALID", "platforms[0].platformOptions.allowDuet"),
        ("TT_PRIVACY_REQUIRED", "platforms[0].platformOptions.privacy"),
    }
    snake = snake_keys(camel)
    assert codes_at(snake) == {
        ("TT_FIELD_INVALID", "media[0].size_bytes"),
        ("TT_FIELD_INVALID", "platforms[0].platform_options.allow_duet"),
        ("TT_PRIVACY_REQUIRED", "platforms[0].platform_options.privacy"),
    }


# -- scheduling --------------------------------------------------------------------------------


def test_naive_schedule_is_rejected_not_guessed() -> None:
    problems = problems_of(video_request(scheduledFor="2026-11-30T09:00:00"))

    assert [(p.code, p.field) for p in problems] == [("TT_TIMEZONE_REQUIRED", "scheduledFor")]
    assert "2026-11-30T09:00:00Z" in problems[0].message  # shows how to write it


def test_naive_schedule_in_the_nested_shape_names_scheduled_at() -> None:
    raw = load("nested_photos.json")
    raw["scheduledAt"] = "2026-12-06 08:30"
    assert codes_at(raw) == {("TT_TIMEZONE_REQUIRED", "scheduledAt")}


@pytest.mark.parametrize("value", [1764493200, 1764493200000, "tomorrow", "", True])
def test_schedule_must_be_iso_text(value: Any) -> None:
    assert codes_at(video_request(scheduledFor=value)) == {("TT_FIELD_INVALID", "scheduledFor")}


def test_absent_or_null_schedule_means_as_soon_as_possible() -> None:
    assert parse_post(video_request()).targets[0].scheduled_for is None
    assert parse_post(video_request(scheduledFor=None)).targets[0].scheduled_for is None


def test_schedule_with_negative_offset_becomes_utc() -> None:
    (target,) = parse_post(video_request(scheduledFor="2026-11-29T22:15:00-05:00")).targets
    assert target.scheduled_for == datetime(2026, 11, 30, 3, 15, tzinfo=UTC)
    assert target.model_dump(mode="json")["scheduled_for"] == "2026-11-30T03:15:00Z"


# -- identifiers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "post_id", ["a", "A-z_0.9:x", "x" * 128, "2026-11-30T09:00:00Z", "ns:post.1"]
)
def test_valid_post_ids(post_id: str) -> None:
    assert parse_post(video_request(postId=post_id)).post_id == post_id


@pytest.mark.parametrize(
    "post_id", ["", "x" * 129, "a/b", "has space", "émoji", "a\nb", 12345, None]
)
def test_invalid_post_ids_are_refused(post_id: Any) -> None:
    problems = problems_of(video_request(postId=post_id))
    assert [(p.code, p.field) for p in problems] == [("TT_FIELD_INVALID", "postId")]


def test_account_ids_follow_the_same_rule() -> None:
    raw = video_request()
    raw["platforms"][0]["accountId"] = "acct/1"
    problems = problems_of(raw)
    assert [(p.code, p.field) for p in problems] == [("TT_FIELD_INVALID", "platforms[0].accountId")]
    assert "tiktok-post/<postId>/<accountId>" in problems[0].message


def test_missing_post_id_is_required_in_the_callers_spelling() -> None:
    raw = video_request()
    del raw["postId"]
    assert codes_at(raw) == {("TT_FIELD_REQUIRED", "postId")}
    assert codes_at(snake_keys(raw)) == {("TT_FIELD_REQUIRED", "post_id")}


# -- unknown fields and first comments ---------------------------------------------------------


def test_a_typo_is_an_unknown_field_with_a_suggestion() -> None:
    raw = video_request()
    raw["scheduledfor"] = "2026-11-30T09:00:00Z"
    (problem,) = problems_of(raw)

    assert (problem.code, problem.field) == ("TT_UNKNOWN_FIELD", "scheduledfor")
    assert "did you mean scheduledFor?" in problem.message


def test_a_typo_in_snake_case_gets_a_snake_case_suggestion() -> None:
    raw = snake_keys(video_request())
    raw["media"][0]["size_byte"] = 10
    (problem,) = problems_of(raw)
    assert (problem.code, problem.field) == ("TT_UNKNOWN_FIELD", "media[0].size_byte")
    assert "did you mean size_bytes?" in problem.message


def test_fields_of_the_other_shape_are_explained() -> None:
    raw = video_request(caption="hello")
    (problem,) = problems_of(raw)
    assert (problem.code, problem.field) == ("TT_UNKNOWN_FIELD", "caption")
    assert "content" in problem.message

    nested = load("nested_photos.json")
    nested["targets"][0]["accountId"] = "acct_9"
    (problem,) = problems_of(nested)
    assert (problem.code, problem.field) == ("TT_UNKNOWN_FIELD", "targets[0].accountId")
    assert "socialAccountId" in problem.message


def _with_first_comment(where: str, key: str) -> dict[str, Any]:
    if where.startswith("targets"):
        raw = load("nested_photos.json")
        entry = raw["targets"][0]
    else:
        raw = video_request()
        entry = raw["platforms"][0]
    if where == "root":
        raw[key] = "First!"
    elif where in ("platforms[0]", "targets[0]"):
        entry[key] = "First!"
    elif where.endswith("platformOptions.tiktok"):
        options = entry["platformOptions"]
        options = options.get("tiktok", options)
        entry["platformOptions"] = {"tiktok": {**options, key: "First!"}}
    else:
        entry["platformOptions"][key] = "First!"
    return raw


@pytest.mark.parametrize(
    "where",
    [
        "root",
        "platforms[0]",
        "platforms[0].platformOptions",
        "platforms[0].platformOptions.tiktok",
        "targets[0]",
        "targets[0].platformOptions.tiktok",
    ],
)
@pytest.mark.parametrize("key", ["firstComment", "first_comment"])
def test_first_comment_is_unsupported_wherever_it_appears(where: str, key: str) -> None:
    raw = _with_first_comment(where, key)
    problems = problems_of(raw)

    expected = key if where == "root" else f"{where}.{key}"
    assert [(p.code, p.field) for p in problems] == [("TT_FIRST_COMMENT_UNSUPPORTED", expected)]
    assert "first comment" in problems[0].message


# -- request shape -----------------------------------------------------------------------------


def test_no_accounts_at_all_names_both_shapes() -> None:
    (problem,) = problems_of({"postId": "p1", "content": "x"})
    assert (problem.code, problem.field) == ("TT_FIELD_REQUIRED", "platforms")
    assert "platforms" in problem.message and "targets" in problem.message


@pytest.mark.parametrize("key", ["platforms", "targets"])
def test_an_empty_account_list_is_no_targets(key: str) -> None:
    raw = load("flat_video.json") if key == "platforms" else load("nested_photos.json")
    raw[key] = []
    assert codes_at(raw) == {("TT_NO_TARGETS", key)}


def test_both_shapes_at_once_are_ambiguous() -> None:
    raw = load("flat_video.json")
    raw["targets"] = [{"socialAccountId": "acct_3"}]
    assert codes_at(raw) == {("TT_AMBIGUOUS_SHAPE", "")}


@pytest.mark.parametrize("raw", [[], "post", None, 3])
def test_a_request_that_is_not_an_object(raw: Any) -> None:
    (problem,) = problems_of(raw)
    assert (problem.code, problem.field) == ("TT_FIELD_INVALID", "")


def test_platform_options_may_be_omitted_for_an_inbox_free_direct_post_only_with_privacy() -> None:
    raw = video_request()
    del raw["platforms"][0]["platformOptions"]
    assert codes_at(raw) == {("TT_PRIVACY_REQUIRED", "platforms[0].platformOptions.privacy")}


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("url", "ftp://media.example.com/v.mp4", "media[0].url"),
        ("url", "media.example.com/v.mp4", "media[0].url"),
        ("url", "https://", "media[0].url"),
        ("type", "gif", "media[0].type"),
        ("sizeBytes", -1, "media[0].sizeBytes"),
        ("sizeBytes", 0, "media[0].sizeBytes"),
        ("width", 10.5, "media[0].width"),
        ("durationSeconds", "long", "media[0].durationSeconds"),
    ],
)
def test_malformed_media_fields(field: str, value: Any, path: str) -> None:
    raw = video_request()
    raw["media"][0][field] = value
    assert ("TT_FIELD_INVALID", path) in codes_at(raw)


def test_options_beside_a_tiktok_key_are_told_to_move_inside_it() -> None:
    raw = video_request()
    raw["platforms"][0]["platformOptions"] = {"tiktok": {"privacy": "SELF_ONLY"}, "allowDuet": True}
    (problem,) = problems_of(raw)
    assert (problem.code, problem.field) == (
        "TT_UNKNOWN_FIELD",
        "platforms[0].platformOptions.allowDuet",
    )
    assert "inside tiktok" in problem.message


def test_unknown_privacy_lists_the_accepted_values() -> None:
    raw = video_request()
    raw["platforms"][0]["platformOptions"] = {"tiktok": {"privacy": "PUBLIC"}}
    (problem,) = problems_of(raw)
    assert (problem.code, problem.field) == (
        "TT_FIELD_INVALID",
        "platforms[0].platformOptions.tiktok.privacy",
    )
    for value in Privacy:
        assert value.value in problem.message


def test_missing_media_url_and_type_are_required() -> None:
    raw = video_request(media=[{}])
    assert codes_at(raw) == {
        ("TT_FIELD_REQUIRED", "media[0].url"),
        ("TT_FIELD_REQUIRED", "media[0].type"),
    }


# -- all problems at once ----------------------------------------------------------------------


def test_three_faults_give_three_problems() -> None:
    raw = video_request(content="x" * 2201, scheduledFor="2026-11-30T09:00:00")
    raw["platforms"][0]["platformOptions"] = {}

    assert codes_at(raw) == {
        ("TT_CAPTION_TOO_LONG", "content"),
        ("TT_TIMEZONE_REQUIRED", "scheduledFor"),
        ("TT_PRIVACY_REQUIRED", "platforms[0].platformOptions.privacy"),
    }


def test_structural_and_rule_problems_come_together_across_targets() -> None:
    raw = load("nested_photos.json")
    raw["targets"][0]["platformOptions"]["tiktok"]["photoTitle"] = "t" * 91
    raw["targets"][1]["platformOptions"]["allowComments"] = "yes please"
    raw["targets"][2]["media"][1]["mimeType"] = "image/png"
    raw["postId"] = "bad id"

    assert codes_at(raw) == {
        ("TT_PHOTO_TITLE_TOO_LONG", "targets[0].platformOptions.tiktok.photoTitle"),
        ("TT_FIELD_INVALID", "targets[1].platformOptions.allowComments"),
        ("TT_UNSUPPORTED_FORMAT", "targets[2].media[1].mimeType"),
        ("TT_FIELD_INVALID", "postId"),
    }


def test_a_problem_shared_by_targets_is_reported_once() -> None:
    raw = load("nested_photos.json")
    raw["caption"] = "y" * 4001  # used by targets 0 and 2 (target 1 has its own)
    problems = problems_of(raw)
    assert [(p.code, p.field) for p in problems] == [("TT_DESCRIPTION_TOO_LONG", "caption")]


def test_checks_that_depend_on_a_broken_part_wait_for_the_fix() -> None:
    # media[0] cannot be read, so "too many photos" or "no media" would be guesses
    raw = video_request(media=[{"url": "https://media.example.com/v.mp4", "type": "clip"}])
    assert codes_at(raw) == {("TT_FIELD_INVALID", "media[0].type")}


def test_request_invalid_lists_one_problem_per_line() -> None:
    raw = video_request(content="x" * 2201, scheduledFor="2026-11-30T09:00:00")
    raw["platforms"][0]["platformOptions"] = {}
    with pytest.raises(RequestInvalid) as info:
        parse_post(raw)

    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("TT_") for line in lines)
    assert any("content" in line and "TT_CAPTION_TOO_LONG" in line for line in lines)
    assert "Traceback" not in str(info.value)
    assert info.value.as_dicts()[0].keys() == {"code", "field", "message"}


# -- PublishTarget, the workflow input ---------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_publish_target_round_trips_through_json(name: str) -> None:
    for target in parse_post(load(name)).targets:
        wire = json.loads(json.dumps(target.model_dump(mode="json")))

        assert PublishTarget.model_validate(wire) == target
        assert PublishTarget.model_validate_json(target.model_dump_json()) == target
        # snake_case on the wire, no aliases, no derived fields
        assert set(wire) == {
            "post_id",
            "account_id",
            "caption",
            "media",
            "options",
            "scheduled_for",
            "system_draft",
            "callback_url",
        }
        assert "size_bytes" in wire["media"][0]
        assert "inbox" in wire["options"]


def test_post_round_trips_through_json() -> None:
    post = parse_post(load("nested_photos.json"))
    assert Post.model_validate_json(post.model_dump_json()) == post


def test_publish_target_refuses_unknown_fields_and_naive_times() -> None:
    wire = parse_post(load("flat_video.json")).targets[0].model_dump(mode="json")
    with pytest.raises(ValidationError):
        PublishTarget.model_validate({**wire, "surprise": 1})
    with pytest.raises(ValidationError):
        PublishTarget.model_validate({**wire, "scheduled_for": "2026-11-30T09:00:00"})


def test_kind_covers_the_four_publish_modes() -> None:
    video = [MediaItem(url="https://media.example.com/v.mp4", type="video")]
    photos = [MediaItem(url="https://media.example.com/p.jpg", type="photo")]

    def kind(media: list[MediaItem], inbox: bool) -> PublishMode:
        target = PublishTarget(
            post_id="p", account_id="a", media=media, options=TikTokOptions(inbox=inbox)
        )
        return target.kind

    assert kind(video, False) is PublishMode.VIDEO_DIRECT
    assert kind(video, True) is PublishMode.VIDEO_INBOX
    assert kind(photos, False) is PublishMode.PHOTO_DIRECT
    assert kind(photos, True) is PublishMode.PHOTO_INBOX
    assert [m.value for m in PublishMode] == [
        "video_direct",
        "video_inbox",
        "photo_direct",
        "photo_inbox",
    ]


def test_summary_is_one_readable_line() -> None:
    raw = video_request(
        content="Launch day!\nOur biggest drop of the year is finally here, go go go",
        scheduledFor="2026-11-30T10:00:00+01:00",
    )
    raw["platforms"][0]["platformOptions"] = {"privacy": "PUBLIC_TO_EVERYONE"}
    (target,) = parse_post(raw).targets

    assert target.summary() == (
        'video → @acct_1 at 2026-11-30 09:00Z, PUBLIC_TO_EVERYONE: "Launch day! Our biggest '
        'drop of the year…"'
    )


def test_summary_of_photos_inbox_and_system_drafts() -> None:
    photos = parse_post(load("nested_photos.json")).targets[2]
    assert photos.summary().startswith("2 photos → @acct_3 at 2026-12-06 08:30Z, SELF_ONLY: ")

    inbox = parse_post(load("inbox_draft.json")).targets[0]
    assert "(inbox draft) as soon as possible" in inbox.summary()
    assert "privacy chosen in the app" in inbox.summary()

    held = parse_post(load("system_draft.json")).targets[0]
    assert held.summary().startswith("system draft, video → @acct_1")
    assert "\n" not in held.summary()


def test_ignored_options_are_listed_not_rejected() -> None:
    raw = load("nested_photos.json")
    raw["targets"][0]["platformOptions"]["tiktok"].update(allowDuet=True, coverTimestampMs=500)
    target = parse_post(raw).targets[0]  # accepted: TikTok would not refuse it
    assert target.ignored_options == ("allow_duet", "cover_timestamp_ms")

    inbox = parse_post(load("inbox_draft.json")).targets[0]
    assert inbox.ignored_options == ("caption",)  # the inbox video init carries no caption

    assert parse_post(load("flat_video.json")).targets[0].ignored_options == ()


# -- JSON Schemas ------------------------------------------------------------------------------


def test_request_schema_describes_both_shapes() -> None:
    schema = json_schema()

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] and schema["title"] and schema["description"]
    refs = sorted(option["$ref"] for option in schema["oneOf"])
    assert refs == ["#/$defs/FlatPostRequest", "#/$defs/NestedPostRequest"]
    flat = schema["$defs"]["FlatPostRequest"]["properties"]
    assert {"postId", "content", "scheduledFor", "media", "platforms", "isDraft"} <= set(flat)
    options = schema["$defs"]["RequestTikTokOptions"]["properties"]
    assert "isDraft" in options and "inbox" not in options
    assert "default" not in options["privacy"] or options["privacy"]["default"] is None


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_request_schema_accepts_the_fixtures(name: str) -> None:
    jsonschema.Draft202012Validator(json_schema()).validate(load(name))


@pytest.mark.parametrize(
    "document",
    [
        {"content": "no post id", "platforms": [{"accountId": "acct_1"}]},
        {"postId": "p1", "platforms": [{"accountId": "acct_1"}], "scheduledfor": "x"},
        {"postId": "p1", "platforms": [], "content": "nobody"},
        {"postId": "a/b", "platforms": [{"accountId": "acct_1"}]},
        {"postId": "p1", "targets": [{"socialAccountId": "a"}], "platforms": []},
        {"postId": "p1", "platforms": [{"accountId": "a", "platformOptions": {"privacy": "ALL"}}]},
        {"postId": "p1", "platforms": [{"accountId": "a"}], "media": [{"url": "ftp://x"}]},
    ],
)
def test_request_schema_rejects_invalid_documents(document: dict[str, Any]) -> None:
    assert not jsonschema.Draft202012Validator(json_schema()).is_valid(document)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_publish_target_schema_accepts_what_parse_post_produces(name: str) -> None:
    schema = publish_target_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for target in parse_post(load(name)).targets:
        validator.validate(target.model_dump(mode="json"))
    assert not validator.is_valid({"post_id": "p", "account_id": "a"})


def test_the_id_pattern_is_the_one_in_the_schema() -> None:
    flat = json_schema()["$defs"]["FlatPostRequest"]["properties"]
    assert flat["postId"]["pattern"] == ID_PATTERN


# -- robustness --------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
_known_keys = st.sampled_from(
    [
        "postId",
        "post_id",
        "content",
        "caption",
        "media",
        "platforms",
        "targets",
        "scheduledFor",
        "isDraft",
        "firstComment",
        "platformOptions",
        "tiktok",
        "privacy",
        "type",
        "url",
    ]
)


def _check_outcome(raw: Any) -> None:
    try:
        post = parse_post(raw)
    except RequestInvalid as err:
        assert err.problems
        for problem in err.problems:
            assert problem.code in CODES
            assert problem.message.endswith((".", "?", ")"))
            assert "Traceback" not in problem.message
    else:
        assert post.targets


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_json)
def test_any_json_document_gives_a_post_or_coded_problems(raw: Any) -> None:
    _check_outcome(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(FIXTURE_NAMES),
    st.lists(st.tuples(_known_keys, _json), min_size=1, max_size=3),
)
def test_damaged_fixtures_give_coded_problems_never_crashes(
    name: str, damage: list[tuple[str, Any]]
) -> None:
    raw = copy.deepcopy(load(name))
    entries = raw.get("platforms") or raw.get("targets")
    for key, value in damage:
        (raw if len(key) % 2 else entries[0])[key] = value
    _check_outcome(raw)


def test_a_time_with_no_utc_equivalent_is_a_field_problem_not_a_crash() -> None:
    """Found by schemathesis: 0001-01-01T00:00:00+03:04 overflowed converting to UTC (500)."""
    with pytest.raises(RequestInvalid) as err:
        parse_post({"postId": "p1", "scheduledFor": "0001-01-01T00:00:00+03:04",
                    "content": "x", "media": [], "platforms": [{"accountId": "a"}]})  # fmt: skip
    assert any(p.field == "scheduledFor" for p in err.value.problems)


def test_the_readmes_request_examples_are_accepted_as_written() -> None:
    """A backend team copies these first: each example request in the README parses, and the
    nested one's time is read (its key is `scheduledAt`, the flat shape's `scheduledFor`)."""
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    examples = [
        json.loads(block)
        for block in re.findall(r"```json\n(.*?)```", readme, re.S)
        if '"postId"' in block
    ]
    assert len(examples) >= 2
    for example in examples:
        post = parse_post(example)
        timed = "scheduledFor" in example or "scheduledAt" in example
        assert all((t.scheduled_for is not None) == timed for t in post.targets), example
