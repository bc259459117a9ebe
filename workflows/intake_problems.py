"""Problems in the caller's own terms: paths spelled as the caller spelled them, and a
sentence for every structural fault pydantic reports (missing, unknown, malformed fields).

`workflows.validation` reports paths through the normalised target (`media[0].size_bytes`);
the intake maps them back to where the caller wrote them, and this module renders them
(`targets[1].platformOptions.privacy`, `media[0].sizeBytes` for a camelCase caller).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel
from pydantic.alias_generators import to_camel, to_snake
from pydantic_core import ErrorDetails

from workflows.intake_shapes import (
    ENVELOPE_TAG,
    OPTIONS_TAG,
    FlatPostRequest,
    FlatTarget,
    NestedPostRequest,
    NestedTarget,
    RequestMedia,
    RequestTikTokOptions,
    TikTokOptionsEnvelope,
)
from workflows.post import ID_MAX_LENGTH
from workflows.validation import Problem

# -- paths in the caller's terms ---------------------------------------------------------------

TAGS = frozenset({OPTIONS_TAG, ENVELOPE_TAG})
Style = Literal["camel", "snake"]


def key_forms(name: str) -> tuple[str, str]:
    """(camelCase, snake_case) spellings of a key or field name."""
    if name in ("inbox", "isDraft", "is_draft"):
        return "isDraft", "is_draft"
    snake = to_snake(name)
    return to_camel(snake), snake


def _dict_style(node: Mapping[Any, Any]) -> Style | None:
    keys = [k for k in node if isinstance(k, str)]
    if any("_" in k for k in keys):
        return "snake"
    if any(k != k.lower() for k in keys):
        return "camel"
    return None


def request_style(data: Any) -> Style:
    """The convention the caller writes in (camelCase unless it shows snake_case)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            style = _dict_style(node)
            if style:
                return style
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return "camel"


def render(data: Any, loc: Sequence[str | int], style: Style) -> tuple[str, str]:
    """(path, last key) of `loc` spelled as the caller spelled it, e.g. `media[0].sizeBytes`."""
    path, last = "", ""
    node = data
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        if part in TAGS:
            continue
        key = _caller_key(node, part, style)
        path = f"{path}.{key}" if path else key
        last = key
        node = node.get(key) if isinstance(node, Mapping) else None
    return path, last


def _caller_key(node: Any, part: str, style: Style) -> str:
    camel, snake = key_forms(part)
    if isinstance(node, Mapping):
        for form in (part, camel, snake):
            if form in node:
                return form
        style = _dict_style(node) or style
    return snake if style == "snake" else camel


def related(a: str, b: str) -> bool:
    """One path is the other or inside it."""
    if len(a) > len(b):
        a, b = b, a
    return a == b or b.startswith(a + ".") or b.startswith(a + "[")


def dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for problem in problems:
        key = (problem.code, problem.field)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


# -- structural problems -----------------------------------------------------------------------

_SUBMODELS: Mapping[tuple[type[BaseModel], str], type[BaseModel]] = {
    (FlatPostRequest, "media"): RequestMedia,
    (FlatPostRequest, "platforms"): FlatTarget,
    (FlatTarget, "platform_options"): RequestTikTokOptions,
    (NestedPostRequest, "media"): RequestMedia,
    (NestedPostRequest, "targets"): NestedTarget,
    (NestedTarget, "media"): RequestMedia,
    (NestedTarget, "platform_options"): RequestTikTokOptions,
    (TikTokOptionsEnvelope, "tiktok"): RequestTikTokOptions,
}
_TAG_MODELS: Mapping[str, type[BaseModel]] = {
    OPTIONS_TAG: RequestTikTokOptions,
    ENVELOPE_TAG: TikTokOptionsEnvelope,
}

#: Keys that belong to the other shape, and what to write instead.
_OTHER_SHAPE_HINTS: Mapping[type[BaseModel], Mapping[str, str]] = {
    FlatPostRequest: {
        "caption": "the flat shape (with platforms) calls the caption content",
        "scheduled_at": "the flat shape (with platforms) calls the time scheduledFor",
    },
    NestedPostRequest: {
        "content": "the nested shape (with targets) calls the caption caption",
        "scheduled_for": "the nested shape (with targets) calls the time scheduledAt",
    },
    FlatTarget: {
        "social_account_id": "entries of platforms name their account with accountId",
        "caption": "a per-account caption needs the nested shape (targets); in the flat shape "
        "the one caption is the root content",
        "media": "per-account media needs the nested shape (targets); in the flat shape the "
        "media list is at the root",
    },
    NestedTarget: {
        "account_id": "entries of targets name their account with socialAccountId",
    },
}

_REQUIRED_HINTS: Mapping[str, str] = {
    "post_id": "your idempotency key for this post (1-128 letters, digits, '.', '_', ':' or "
    "'-'); resubmitting the same one never posts twice",
    "account_id": "the id of the connected TikTok account to publish to",
    "social_account_id": "the id of the connected TikTok account to publish to",
    "url": "the https URL the file can be downloaded from",
    "type": 'the kind of media, "video" or "photo"',
    "tiktok": "the TikTok options object",
}

_NO_ACCOUNTS = (
    "The request names no TikTok account: add platforms: [{accountId, platformOptions}] "
    "(flat shape) or targets: [{socialAccountId, platformOptions}] (nested shape)."
)

_EXAMPLE_TIME = "2026-11-30T09:00:00Z or 2026-11-30T10:00:00+01:00"


def _is_first_comment(key: str) -> bool:
    return key.replace("_", "").replace("-", "").lower() == "firstcomment"


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = root
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        if part in _TAG_MODELS:
            current = _TAG_MODELS[part]
            continue
        name = _accepted_keys(current).get(part)
        current = _SUBMODELS.get((current, name)) if name else None
    return current


def _accepted_keys(model: type[BaseModel]) -> dict[str, str]:
    """Every key `model` accepts -> its field name."""
    keys: dict[str, str] = {}
    for name, info in model.model_fields.items():
        keys[name] = name
        if info.alias:
            keys[info.alias] = name
        if isinstance(info.validation_alias, AliasChoices):
            for choice in info.validation_alias.choices:
                if isinstance(choice, str):
                    keys[choice] = name
        elif isinstance(info.validation_alias, str):
            keys[info.validation_alias] = name
    return keys


def _suggest(model: type[BaseModel] | None, key: str, node: Any, style: Style) -> str:
    if model is None:
        return ""
    snake = to_snake(key)
    if model is TikTokOptionsEnvelope and snake in _accepted_keys(RequestTikTokOptions).values():
        return " (with a tiktok key, every TikTok option goes inside tiktok)"
    hint = _OTHER_SHAPE_HINTS.get(model, {}).get(snake)
    if hint:
        return f" ({hint})"
    local = _dict_style(node) if isinstance(node, Mapping) else None
    use_snake = (local or style) == "snake"
    candidates = [key_forms(name)[1 if use_snake else 0] for name in model.model_fields]
    by_lower = {c.lower().replace("_", ""): c for c in candidates}
    exact = by_lower.get(key.lower().replace("_", ""))
    match = exact or next(iter(difflib.get_close_matches(key, candidates, n=1, cutoff=0.7)), None)
    return f" (did you mean {match}?)" if match else ""


def show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    # Never echo a lone surrogate: a terminal (or JSON encoder) downstream would choke on it.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 60 else text[:59] + "…"


def structural_problem(
    error: ErrorDetails,
    data: Mapping[str, Any],
    model: type[BaseModel],
    style: Style,
) -> Problem:
    loc = tuple(error["loc"])
    path, key = render(data, loc, style)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = show(error.get("input"))
    name = to_snake(key) if key else ""

    if kind == "extra_forbidden":
        if _is_first_comment(key):
            return Problem(
                "TT_FIRST_COMMENT_UNSUPPORTED",
                path,
                "TikTok's Content Posting API cannot post a first comment: remove "
                f"{key} (put the text in the caption, or comment by hand after publishing).",
            )
        parent_loc = loc[:-1]
        parent_node = _node_at(data, parent_loc)
        suggestion = _suggest(_model_at(model, parent_loc), key, parent_node, style)
        return Problem(
            "TT_UNKNOWN_FIELD",
            path,
            f"{key} is not a field we know here{suggestion}: fix its spelling or remove it; "
            "unknown fields are refused rather than silently ignored.",
        )
    if kind == "missing":
        if name in ("platforms", "targets"):
            return Problem("TT_FIELD_REQUIRED", path, _NO_ACCOUNTS)
        hint = _REQUIRED_HINTS.get(name, "a value")
        return Problem("TT_FIELD_REQUIRED", path, f"{key} is required: add {hint}.")
    if kind == "too_short" and name in ("platforms", "targets"):
        return Problem(
            "TT_NO_TARGETS",
            path,
            f"{key} is empty, so the post goes nowhere: add at least one TikTok account.",
        )
    if kind == "timezone_aware":
        return Problem(
            "TT_TIMEZONE_REQUIRED",
            path,
            f"{key} {value} has no UTC offset, so the moment it names depends on a time zone "
            f"we would have to guess: add the offset, like {_EXAMPLE_TIME}.",
        )
    return Problem("TT_FIELD_INVALID", path, _invalid_message(kind, key, value, ctx, error))


def _node_at(data: Any, loc: Sequence[str | int]) -> Any:
    node = data
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        elif part in TAGS:
            continue
        else:
            node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _invalid_message(
    kind: str, key: str, value: str, ctx: Mapping[str, Any], error: ErrorDetails
) -> str:
    if kind == "string_pattern_mismatch":
        raw = error.get("input")
        why = ""
        if isinstance(raw, str):
            if "/" in raw:
                why = " ('/' would split the workflow id and the bucket key)"
            elif ".." in raw:
                why = " ('..' is refused: the id names objects in the media bucket)"
            elif len(raw) > 128:
                why = f" (it is {len(raw)} characters long)"
        return (
            f"{key} {value} is not a usable id{why}: use 1-128 characters from letters, "
            "digits, '.', '_', ':' and '-', without '..' (it becomes part of the workflow id "
            "tiktok-post/<postId>/<accountId> and of the staged media's object keys)."
        )
    if kind == "string_too_long" and ctx.get("max_length") == ID_MAX_LENGTH:
        return (
            f"{key} is longer than {ID_MAX_LENGTH} characters: use a shorter id (it becomes "
            "part of the workflow id tiktok-post/<postId>/<accountId>)."
        )
    if kind in ("string_type", "string_too_long", "string_too_short"):
        return f"{key} must be text (a JSON string), not {value}."
    if kind in ("bool_type", "bool_parsing"):
        return f"{key} must be true or false, not {value}."
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return f"{key} must be a whole number, not {value}."
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"{key} must be a finite number, not {value}."
    if kind == "greater_than":
        return f"{key} must be greater than {ctx.get('gt')}, not {value}."
    if kind == "greater_than_equal":
        return f"{key} must be {ctx.get('ge')} or more, not {value}."
    if kind in ("enum", "literal_error"):
        return f"{key} must be one of {ctx.get('expected')}, not {value}."
    if kind == "list_type":
        return f"{key} must be a list ([...]), not {value}."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key} must be an object ({{...}}), not {value}."
    if kind.startswith("datetime") or kind == "datetime_text":
        return f"{key} must be an ISO-8601 date-time with a UTC offset, like {_EXAMPLE_TIME}, " + (
            f"not {value}."
        )
    if kind == "media_url":
        return (
            f"{key} must be an absolute http(s) URL such as "
            f"https://media.example.com/clip.mp4, not {value}."
        )
    return f"{key} is invalid ({error['msg'].rstrip('.')}): fix the value {value}."
