"""Text and ids a caller can break things with: refused with a code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workflows.request import RequestInvalid, parse_post
from workflows.validation import text_fault

CLI = str(Path(sys.executable).parent / "tiktok-publisher")


def request(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "postId": "hygiene-1",
        "content": "fine",
        "media": [{"url": "https://media.example.com/a.mp4", "type": "video"}],
        "platforms": [{"accountId": "acct_1", "platformOptions": {"privacy": "SELF_ONLY"}}],
    }
    base.update(changes)
    return base


def problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(RequestInvalid) as caught:
        parse_post(raw)
    return [(p.code, p.field) for p in caught.value.problems]


@pytest.mark.parametrize(
    "caption", ["half a smile \ud83d", "\ude00 trailing half", "nul \x00 inside"]
)
def test_a_caption_that_is_not_text_gets_a_code(caption: str) -> None:
    assert problems(request(content=caption)) == [("TT_TEXT_INVALID", "content")]


def test_a_photo_title_or_any_other_string_that_is_not_text_gets_a_code() -> None:
    raw = request(
        media=[{"url": "https://media.example.com/a.jpg", "type": "photo", "filename": "a\x00"}],
        platforms=[
            {
                "accountId": "acct_1",
                "platformOptions": {"privacy": "SELF_ONLY", "photoTitle": "\udfff"},
            }
        ],
    )
    assert sorted(problems(raw)) == [
        ("TT_TEXT_INVALID", "media[0].filename"),
        ("TT_TEXT_INVALID", "platforms[0].platformOptions.photoTitle"),
    ]


def test_a_whole_emoji_is_text() -> None:
    assert text_fault("launch \U0001f680 day") is None
    parse_post(request(content="launch \U0001f680 day"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("postId", "../etc"),
        ("postId", "a..b"),
        ("postId", "a/b"),
        ("postId", "x" * 129),
        ("postId", "sp ace"),
        ("postId", ".."),
    ],
)
def test_post_ids_outside_the_safe_alphabet_are_refused(field: str, value: str) -> None:
    assert problems(request(**{field: value})) == [("TT_FIELD_INVALID", field)]


@pytest.mark.parametrize("value", ["../acct", "acct/../x", "a/b", "y" * 129])
def test_account_ids_outside_the_safe_alphabet_are_refused(value: str) -> None:
    raw = request(platforms=[{"accountId": value, "platformOptions": {"privacy": "SELF_ONLY"}}])
    assert problems(raw) == [("TT_FIELD_INVALID", "platforms[0].accountId")]


@pytest.mark.parametrize("value", ["a", "post.v2", "2026-12-01:launch_1", ".hidden", "x" * 128])
def test_ids_in_the_safe_alphabet_pass(value: str) -> None:
    assert parse_post(request(postId=value)).post_id == value


def test_the_cli_prints_the_problem_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    # A JSON escape of half a surrogate pair: valid JSON, invalid text.
    bad.write_text(json.dumps(request()).replace('"fine"', '"bad \\ud800 caption"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["TEMPORAL_ADDRESS"] = "127.0.0.1:1"  # nothing there: the request is refused first
    ran = subprocess.run(
        [CLI, "submit", str(bad)], capture_output=True, text=True, env=env, timeout=60
    )
    assert ran.returncode == 2, ran.stderr
    assert "TT_TEXT_INVALID" in ran.stderr and "content" in ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout


# -- what the workflow input carries -----------------------------------------------------------


def test_the_workflow_input_is_snake_case_on_the_wire() -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter

    from workflows.contracts import PublishPostInput

    raw = request()
    raw["media"][0].update(mimeType="video/mp4", durationSeconds=12, sizeBytes=1000)
    raw["platforms"][0]["platformOptions"].update(allowComments=True, isDraft=False)
    target = parse_post(raw).targets[0]
    [payload] = pydantic_data_converter.payload_converter.to_payloads(
        [PublishPostInput(target=target)]
    )
    wire = json.loads(payload.data)
    media = wire["target"]["media"][0]
    assert {"mime_type", "duration_seconds", "size_bytes"} <= set(media)
    assert not {"mimeType", "durationSeconds", "sizeBytes"} & set(media)
    assert "allow_comments" in wire["target"]["options"]


def test_an_old_camel_case_workflow_input_still_deserialises() -> None:
    from workflows.post import PublishTarget

    old = {
        "post_id": "p", "account_id": "a", "caption": "c",
        "media": [{"url": "https://m.example.com/v.mp4", "type": "video",
                   "mimeType": "video/mp4", "sizeBytes": 5, "durationSeconds": 4.0}],
        "options": {"privacy": "SELF_ONLY", "allowComments": True, "photoTitle": None,
                    "coverTimestampMs": 10, "inbox": False},
    }  # fmt: skip
    target = PublishTarget.model_validate(old)
    assert target.media[0].mime_type == "video/mp4" and target.media[0].duration_seconds == 4.0
    assert target.options.allow_comments and target.options.cover_timestamp_ms == 10
    assert "mimeType" not in json.dumps(target.model_dump(mode="json", by_alias=True))
