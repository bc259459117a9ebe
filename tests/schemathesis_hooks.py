"""Schemathesis checks of our own (loaded through SCHEMATHESIS_HOOKS by test_api_fuzz)."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def problem_documents_for_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx answer is application/problem+json with type, title, status and code."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered as {content_type!r}")
    document = json.loads(response.content)
    missing = {"type", "title", "status", "code"} - set(document)
    if missing or document["status"] != response.status_code:
        raise AssertionError(f"not a problem document (missing {sorted(missing)})")
    if "Traceback" in response.content.decode("utf-8", "replace"):
        raise AssertionError("a stack trace in the answer")
    return None
