"""The other services' request dialects (docs/dialects.md): each public example is accepted
or refused with the codes a person would expect, at paths spelled as that service spells
them; detection never guesses; no idempotency key and no privacy is ever invented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workflows.dialects import choose_dialect, parse_request, platform_set_references
from workflows.post import Post
from workflows.request import RequestInvalid
from workflows.tiktok import Privacy

FIXTURES = Path(__file__).parent / "fixtures" / "dialects"
SET = {"set_launch": ["acct_demo", "acct_two"]}


def problems_of(raw: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(RequestInvalid) as caught:
        parse_request(raw, **kwargs)
    found = {p.field: p.code for p in caught.value.problems}
    assert len(found) == len(caught.value.problems), caught.value.problems
    return found


def fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return doc


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_public_examples_are_understood_in_their_own_terms(name: str) -> None:
    doc = fixture(name)
    kwargs = {
        "dialect": doc.get("dialect"),
        "idempotency_key": doc.get("idempotency_key"),
        "platform_sets": doc.get("platform_sets"),
    }
    expect = doc["expect"]
    if "problems" in expect:
        assert problems_of(doc["request"], **kwargs) == expect["problems"]
        return
    post = parse_request(doc["request"], **kwargs)
    assert [t.account_id for t in post.targets] == expect["accounts"]
    assert all(t.system_draft == expect.get("system_draft", False) for t in post.targets)
    if "inbox" in expect:
        assert all(t.options.inbox == expect["inbox"] for t in post.targets)


def ampost(**settings: Any) -> dict[str, Any]:
    request: dict[str, Any] = fixture("ampost_tiktok_guide_public.json")["request"]
    request["content"]["platformOverrides"]["tiktok"]["settings"] = settings
    return request


def test_the_ampost_example_becomes_one_target_per_account_of_the_set() -> None:
    post = parse_request(ampost(privacyLevel="PUBLIC_TO_EVERYONE"), platform_sets=SET)
    assert post.post_id == "launch-clip-2"
    assert [t.workflow_id for t in post.targets] == [
        "tiktok-post/launch-clip-2/acct_demo",
        "tiktok-post/launch-clip-2/acct_two",
    ]
    target = post.targets[0]
    assert target.caption == "Launch clip for the new feature"
    assert target.media[0].size_bytes == 18432000 and target.media[0].duration_seconds == 24
    assert target.scheduled_for is None and not target.system_draft


def test_ampost_disable_flags_are_inverted_and_absent_means_off() -> None:
    options = (
        parse_request(
            ampost(privacyLevel="FOLLOWER_OF_CREATOR", disableComment=False, disableDuet=True),
            platform_sets=SET,
        )
        .targets[0]
        .options
    )
    assert options.privacy is Privacy.FOLLOWER_OF_CREATOR
    assert options.allow_comments is True  # disableComment: false, chosen by the caller
    assert options.allow_duet is False  # disableDuet: true
    assert options.allow_stitch is False  # absent: never pre-selected


def test_no_privacy_default_in_any_dialect() -> None:
    assert problems_of(ampost(), platform_sets=SET) == {
        "content.platformOverrides.tiktok.settings.privacyLevel": "TT_PRIVACY_REQUIRED"
    }
    pfm = fixture("post_for_me_scheduled.json")["request"]
    del pfm["platform_configurations"]["tiktok"]["privacy_status"]
    found = problems_of(pfm)
    assert found == {"platform_configurations.tiktok.privacy_status": "TT_PRIVACY_REQUIRED"}


def test_ampost_unknown_settings_and_other_platforms_are_named_at_their_path() -> None:
    request = ampost(privacyLevel="PUBLIC_TO_EVERYONE", privacy="SELF_ONLY")
    request["content"]["platformOverrides"]["youtube"] = {"settings": {}}
    request["content"]["linkUrl"] = "https://example.com/launch"
    assert problems_of(request, platform_sets=SET) == {
        "content.platformOverrides.tiktok.settings.privacy": "TT_UNKNOWN_FIELD"
    }
    del request["content"]["platformOverrides"]["tiktok"]["settings"]["privacy"]
    assert problems_of(request, platform_sets=SET) == {
        "content.platformOverrides.youtube": "TT_PLATFORM_UNSUPPORTED",
        "content.linkUrl": "TT_FIELD_UNSUPPORTED",
    }


def test_ampost_media_problems_are_at_content_media_in_camel_case() -> None:
    request = ampost(privacyLevel="PUBLIC_TO_EVERYONE")
    request["content"]["media"][0]["durationSeconds"] = 900
    request["content"]["media"][0]["mimeType"] = "video/x-msvideo"
    found = problems_of(request, platform_sets=SET)
    assert found == {
        "content.media[0].durationSeconds": "TT_DURATION_OUT_OF_RANGE",
        "content.media[0].mimeType": "TT_UNSUPPORTED_FORMAT",
    }


def test_an_idempotency_key_is_never_invented_and_never_contradicted() -> None:
    request = ampost(privacyLevel="PUBLIC_TO_EVERYONE")
    del request["postId"]
    assert problems_of(request, platform_sets=SET) == {"postId": "TT_IDEMPOTENCY_KEY_REQUIRED"}
    post = parse_request(request, platform_sets=SET, idempotency_key="from-header")
    assert post.post_id == "from-header"
    request["postId"] = "in-body"
    assert problems_of(request, platform_sets=SET, idempotency_key="from-header") == {
        "postId": "TT_IDEMPOTENCY_KEY_CONFLICT"
    }
    assert problems_of(request, platform_sets=SET, idempotency_key="a/b") == {
        "Idempotency-Key": "TT_FIELD_INVALID"
    }


def test_the_native_shapes_take_the_idempotency_key_header_too() -> None:
    native = json.loads((FIXTURES.parent / "requests" / "flat_video.json").read_text())
    del native["postId"]
    post = parse_request(native, idempotency_key="native-key")
    assert post.post_id == "native-key"
    native["postId"] = "other"
    assert problems_of(native, idempotency_key="native-key") == {
        "postId": "TT_IDEMPOTENCY_KEY_CONFLICT"
    }


def test_detection_never_guesses() -> None:
    assert choose_dialect({"content": {"text": "x"}, "platforms": ["tiktok"]}) == "ampost"
    assert choose_dialect({"platformSetId": "s"}) == "ampost"
    assert choose_dialect({"social_accounts": ["a"]}) == "post-for-me"
    assert choose_dialect({"content": "x", "platforms": [{"accountId": "a"}]}) == "native"
    assert choose_dialect({"caption": "x", "targets": []}) == "native"
    assert problems_of({"platformSetId": "s", "social_accounts": ["a"]}) == {
        "": "TT_DIALECT_AMBIGUOUS"
    }
    assert problems_of({}, dialect="buffer") == {"dialect": "TT_DIALECT_UNKNOWN"}
    # Named explicitly, the request is read in that dialect's terms, whatever its keys.
    found = problems_of({"content": "x", "platforms": [{"accountId": "a"}]}, dialect="ampost")
    assert found["content"] == "TT_FIELD_INVALID" and found["platformSetId"] == "TT_FIELD_REQUIRED"
    assert platform_set_references({"platformSetId": "s", "content": {}}) == ["s"]
    assert platform_set_references({"platformSetId": "s"}, "post-for-me") == []


def test_post_for_me_is_draft_goes_to_the_inbox_and_root_is_draft_stays_here() -> None:
    inbox = parse_request(fixture("post_for_me_tiktok_inbox.json")["request"])
    assert inbox.targets[0].options.inbox and not inbox.targets[0].system_draft
    held = parse_request(fixture("post_for_me_system_draft.json")["request"])
    assert held.targets[0].system_draft and not held.targets[0].options.inbox
    assert held.targets[0].options.privacy is Privacy.SELF_ONLY


def test_post_for_me_settings_cascade_account_over_platform_over_post() -> None:
    post: Post = parse_request(fixture("post_for_me_account_configuration.json")["request"])
    first, second = post.targets
    assert first.caption == "TikTok caption" and not first.options.inbox
    assert second.caption == "Second account" and second.options.inbox
    assert first.options.allow_duet and second.options.allow_duet
    assert not first.options.allow_comments  # absent: off (Post for Me would default on)
    assert first.options.cover_timestamp_ms == 1500
    assert first.media[0].type.value == "video" and first.media[0].filename == "teaser.mp4"


def test_post_for_me_problems_use_its_snake_case_paths() -> None:
    request = fixture("post_for_me_account_configuration.json")["request"]
    request["account_configurations"][0]["configuration"]["privacy_status"] = "unlisted"
    request["account_configurations"][0]["configuration"]["board_ids"] = ["b1"]
    request["platform_configurations"]["tiktok"]["title"] = "t" * 91
    request["media"] = [{"url": "https://cdn.example.com/a.jpg"}, {"url": video_url()}]
    found = problems_of(request)
    assert found == {
        "account_configurations[0].configuration.privacy_status": "TT_FIELD_INVALID",
        "account_configurations[0].configuration.board_ids": "TT_FIELD_UNSUPPORTED",
        "media": "TT_MIXED_MEDIA",
    }, found
    request["media"] = [{"url": "https://cdn.example.com/a.jpg"}]
    request["account_configurations"] = []
    assert problems_of(request) == {
        "platform_configurations.tiktok.title": "TT_PHOTO_TITLE_TOO_LONG"
    }


def video_url() -> str:
    return "https://cdn.example.com/drops/teaser.mp4"


def test_a_guard_test_fails_on_bad_input() -> None:
    """The fixture check itself can fail: a fixture expecting acceptance of a refused
    request raises."""
    doc = fixture("post_for_me_friends.json")
    with pytest.raises(RequestInvalid):
        parse_request(doc["request"])


def test_a_misspelt_key_is_named_with_the_dialects_own_spelling() -> None:
    request = ampost(privacyLevel="PUBLIC_TO_EVERYONE", disableComments=True)
    with pytest.raises(RequestInvalid) as caught:
        parse_request(request, platform_sets=SET)
    [problem] = caught.value.problems
    assert problem.field == "content.platformOverrides.tiktok.settings.disableComments"
    assert "did you mean disableComment?" in problem.message
    pfm = fixture("post_for_me_scheduled.json")["request"]
    pfm["platform_configurations"]["tiktok"]["allow_comments"] = True
    with pytest.raises(RequestInvalid) as caught:
        parse_request(pfm)
    [problem] = caught.value.problems
    assert "did you mean allow_comment?" in problem.message


def test_an_unknown_set_does_not_hide_what_else_is_wrong() -> None:
    request = ampost(privacyLevel="SELF_ONLY", brandContentToggle=True)
    assert problems_of(request, platform_sets={}) == {
        "platformSetId": "TT_PLATFORM_SET_UNKNOWN",
        "content.platformOverrides.tiktok.settings.privacyLevel": "TT_BRANDED_PRIVATE",
    }


def test_a_media_url_of_unknown_kind_is_named_without_its_signature() -> None:
    pfm = fixture("post_for_me_scheduled.json")["request"]
    pfm["media"] = [{"url": "https://cdn.example.com/v/12345?X-Amz-Signature=s3cr3t&sig=x"}]
    with pytest.raises(RequestInvalid) as caught:
        parse_request(pfm)
    [problem] = caught.value.problems
    assert problem.code == "TT_MEDIA_TYPE_UNKNOWN"
    assert problem.message.startswith("https://cdn.example.com/v/12345 has no file extension")
    assert "s3cr3t" not in problem.message
