"""The checked-in contract files say what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from starter import generated
from starter.answer_codes import ANSWER_CODES
from tests.workflow_support import FAST, target_of, video_request
from workflows.contracts import PublishPostInput
from workflows.dialects import parse_request
from workflows.errors import ENGINE_CODES, FAIL_REASONS, TIKTOK_ERROR_CODES, rule_for
from workflows.validation import CODES


def test_generated_files_are_fresh() -> None:
    assert generated.stale() == [], "run `make generate` and commit the result"


def test_workflow_input_schema_accepts_what_the_starter_sends() -> None:
    schema = json.loads(generated.WORKFLOW_INPUT_SCHEMA.read_text())
    target = target_of(video_request("p-1", "https://media.example.com/v.mp4", isAigc=True))
    document = PublishPostInput(target=target, settings=FAST).model_dump(mode="json")
    jsonschema.validate(document, schema)
    # and refuses a typo, so another language's client hears about it at once
    document["target"]["captoin"] = "x"
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("an unknown field was accepted")


def test_request_schema_is_the_camel_case_spelling_the_engine_also_accepts_in_snake_case() -> None:
    """What the README and the schema's description say: the engine takes both spellings,
    the schema (no extra keys) only camelCase, so a client validates camelCase bodies."""
    schema = json.loads(generated.REQUEST_SCHEMA.read_text())
    body = json.loads(Path("tests/fixtures/requests/flat_video.json").read_text())
    jsonschema.validate(body, schema)
    snake = {**body, "post_id": body["postId"], "scheduled_for": body["scheduledFor"]}
    del snake["postId"], snake["scheduledFor"]
    assert parse_request(snake).post_id == parse_request(body).post_id
    try:
        jsonschema.validate(snake, schema)
    except jsonschema.ValidationError:
        assert "snake_case" in schema["description"]
        return
    raise AssertionError("the schema accepted snake_case keys: update its description")


def test_error_code_reference_lists_every_code() -> None:
    text = generated.ERROR_CODES_DOC.read_text()
    every = [*CODES, *TIKTOK_ERROR_CODES, *FAIL_REASONS, *ENGINE_CODES]
    missing = [code for code in every if f"`{code}`" not in text]
    assert missing == []


#: Where a front door names the code of its answer in the source: a problem's constructor,
#: a helper that builds one, or an exception the service turns into one.
_ANSWER_SITES = re.compile(
    r"(?:ServiceProblem\(\s*\d{3},|not_found\(|refused\(|ActionRejected\(|ConnectFailed\("
    r"|StateRejected\(|PlatformSetError\()\s*\"([A-Z][A-Z_]+)\""
)


def documented_answer_codes(source: str) -> set[str]:
    return set(_ANSWER_SITES.findall(source))


def test_every_code_a_front_door_answers_is_in_error_codes_md() -> None:
    sources = [*Path("starter").rglob("*.py"), *Path("account_store").rglob("*.py")]
    found = set().union(*(documented_answer_codes(p.read_text()) for p in sources))
    assert {"POST_NOT_FOUND", "TEMPORAL_REFUSED", "OAUTH_STATE_USED"} <= found  # the scan works
    undocumented = {c for c in found if c not in ANSWER_CODES and rule_for(c) is None}
    undocumented -= set(CODES)  # TT_* request problems have their own table
    assert undocumented == set(), f"add them to starter/answer_codes.py: {sorted(undocumented)}"
    # and the guard sees a new one
    assert documented_answer_codes('raise refused("SOMETHING_NEW", "x")') == {"SOMETHING_NEW"}
