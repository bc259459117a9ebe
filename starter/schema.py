"""The checked-in JSON Schemas: what services outside Python code against.

`schema/post-request.schema.json` is what `submit` accepts; `schema/publish-post-input.schema.json`
is the PublishPost workflow's input (for `temporal workflow start` or another SDK).
`make test` fails when either file no longer matches the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workflows.contracts import PublishPostInput
from workflows.request import json_schema

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schema"
REQUEST_FILE = SCHEMA_DIR / "post-request.schema.json"
WORKFLOW_INPUT_FILE = SCHEMA_DIR / "publish-post-input.schema.json"


def request_schema() -> dict[str, Any]:
    return json_schema()


def workflow_input_schema() -> dict[str, Any]:
    # snake_case, as the workflow's input travels (model_dump emits field names, not aliases).
    schema = PublishPostInput.model_json_schema(mode="validation", by_alias=False)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/tiktok-publisher/schema/publish-post-input.schema.json",
        "title": "PublishPost workflow input",
        "description": "Argument of workflow type PublishPost on task queue tiktok-publisher. "
        "Services in other languages start it with this JSON; submit through the starter to "
        "get request validation first.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def _rendered() -> dict[Path, str]:
    return {
        REQUEST_FILE: json.dumps(request_schema(), indent=2, sort_keys=True) + "\n",
        WORKFLOW_INPUT_FILE: json.dumps(workflow_input_schema(), indent=2, sort_keys=True) + "\n",
    }


def write() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    written = []
    for path, text in _rendered().items():
        path.write_text(text)
        written.append(path)
    return written


def stale() -> list[Path]:
    """Files missing or different from what the models say now."""
    return [
        path for path, text in _rendered().items() if not path.exists() or path.read_text() != text
    ]
