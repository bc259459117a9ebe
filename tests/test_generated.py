"""The checked-in contract files say what the code does."""

from __future__ import annotations

import json

import jsonschema

from starter import generated
from tests.workflow_support import FAST, target_of, video_request
from workflows.contracts import PublishPostInput
from workflows.errors import ENGINE_CODES, FAIL_REASONS, TIKTOK_ERROR_CODES
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


def test_error_code_reference_lists_every_code() -> None:
    text = generated.ERROR_CODES_DOC.read_text()
    every = [*CODES, *TIKTOK_ERROR_CODES, *FAIL_REASONS, *ENGINE_CODES]
    missing = [code for code in every if f"`{code}`" not in text]
    assert missing == []
