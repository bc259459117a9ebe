"""What every foreign dialect's parser shares: the context it is parsed in (the caller's
Idempotency-Key header, the platform sets resolved from the account store), a target
"draft" that remembers where each of its parts was written, and `finish`, which runs
TikTok's rules (`workflows.validation`) on the drafts and reports every finding at the
caller's own path.

A dialect's paths are literal: Ampost writes camelCase, Post for Me snake_case, and each
dialect's wire models carry exactly those keys, so a path is the caller's spelling as it is.

Pure and deterministic (no I/O, clock, randomness or environment): the account store is read
by the starter, which hands the resolved sets in (`DialectContext.platform_sets`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from workflows.intake import RequestInvalid
from workflows.intake_problems import Style, dedupe, related, structural_problem
from workflows.post import (
    MediaItem,
    Post,
    PublishTarget,
    TikTokOptions,
    is_identifier,
)
from workflows.source_addresses import SourceRule, callback_refusal
from workflows.validation import (
    Loc,
    Problem,
    ValidationPolicy,
    duplicate_account_findings,
    format_loc,
    target_findings,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class DialectContext:
    """What a parse needs besides the request itself."""

    idempotency_key: str | None = None
    """The `Idempotency-Key` header of an API call (None: the caller sent none)."""
    platform_sets: Mapping[str, Sequence[str] | None] = field(default_factory=dict)
    """platformSetId -> its account ids, as the account store holds them (None or absent:
    no such set)."""
    policy: ValidationPolicy = field(default_factory=ValidationPolicy)


@dataclass(frozen=True)
class Draft:
    """One target before it is a PublishTarget, with the caller's path of each part."""

    account_id: str
    account_loc: Loc
    caption: str
    caption_loc: Loc
    media: list[MediaItem]
    media_locs: list[Loc]
    options: TikTokOptions
    option_locs: Mapping[str, Loc]
    """Our option name -> where the caller set it (or where it would go)."""
    scheduled_for: datetime | None
    system_draft: bool
    media_keys: Mapping[str, str] = field(default_factory=dict)
    """Our media field name -> the dialect's key (size_bytes -> sizeBytes)."""
    media_list_loc: Loc = ("media",)
    """Where the media list itself is (for problems of the whole list)."""
    callback_url: str | None = None
    """Where this post's signed events go besides the registered endpoints (webhooks out)."""
    callback_loc: Loc = ("callbackUrl",)


def field_title(name: str, info: Any) -> str:
    """A schema title for people: `link_url` -> "Link url"."""
    return name.replace("_", " ").capitalize()


def id_problem(path: str, value: object, what: str) -> Problem:
    return Problem(
        "TT_FIELD_INVALID",
        path,
        f"{what} {value!r} is not a usable id: use 1-128 characters from letters, digits, '.', "
        "'_', ':' and '-', without '..' (it becomes part of the workflow id "
        "tiktok-post/<postId>/<accountId>).",
    )


def post_id_of(
    own: Any, own_path: str, context: DialectContext, problems: list[Problem]
) -> str | None:
    """The post's idempotency key: the request's own id, or the Idempotency-Key header.

    Never invented: without either, the request is refused with TT_IDEMPOTENCY_KEY_REQUIRED.
    """
    header = context.idempotency_key
    if header is not None and not is_identifier(header):
        problems.append(id_problem(IDEMPOTENCY_HEADER, header, "The Idempotency-Key header"))
        return None
    if own is not None and not is_identifier(own):
        problems.append(id_problem(own_path, own, own_path))
        return None
    if own is not None and header is not None and own != header:
        problems.append(
            Problem(
                "TT_IDEMPOTENCY_KEY_CONFLICT",
                own_path,
                f"{own_path} {own!r} and the Idempotency-Key header {header!r} differ: send one "
                "of them, or the same value in both.",
            )
        )
        return None
    found = own if own is not None else header
    if found is None:
        problems.append(
            Problem(
                "TT_IDEMPOTENCY_KEY_REQUIRED",
                own_path,
                f"The request has no idempotency key: add {own_path} (or, over the HTTP API, an "
                "Idempotency-Key header) with your own id for this post (1-128 letters, digits, "
                "'.', '_', ':' or '-'). Resubmitting the same id never posts twice; the engine "
                "never makes one up, because a made-up key would turn a retry into a second post.",
            )
        )
        return None
    return str(found)


def dialect_keys(model: type[BaseModel]) -> frozenset[str]:
    """Every key the dialect's models accept (for "did you mean" on a misspelt key)."""
    keys: set[str] = set()
    seen: set[type[BaseModel]] = set()

    def walk(node: Any) -> None:
        if isinstance(node, type) and issubclass(node, BaseModel):
            if node in seen:
                return
            seen.add(node)
            for name, info in node.model_fields.items():
                keys.add(info.alias or name)
                walk(info.annotation)
            return
        for arg in get_args(node):
            walk(arg)

    walk(model)
    return frozenset(keys)


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """` (did you mean X?)` for the closest known name, or nothing."""
    match = next(iter(difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)), None)
    return f" (did you mean {match}?)" if match else ""


def unknown_key(path: str, key: str, known: Iterable[str]) -> Problem:
    suggestion = did_you_mean(key, known)
    return Problem(
        "TT_UNKNOWN_FIELD",
        path,
        f"{key} is not a field we know here{suggestion}: fix its spelling or remove it; unknown "
        "fields are refused rather than silently ignored.",
    )


def structural(
    model: type[BaseModel],
    data: Mapping[str, Any],
    style: Style,
    hints: Mapping[str, str],
) -> tuple[Any, list[Problem]]:
    """(validated request or None, its structural problems in the caller's spelling)."""
    try:
        return model.model_validate(data), []
    except ValidationError as err:
        problems = []
        for error in err.errors():
            loc = tuple(error["loc"])
            key = str(loc[-1]) if loc and isinstance(loc[-1], str) else ""
            if error["type"] == "missing" and key in hints:
                message = f"{key} is required: {hints[key]}"
                problems.append(Problem("TT_FIELD_REQUIRED", format_loc(loc), message))
                continue
            problem = structural_problem(error, data, model, style)
            if problem.code == "TT_UNKNOWN_FIELD" and "did you mean" not in problem.message:
                problem = unknown_key(problem.field, key, dialect_keys(model))
            problems.append(problem)
        return None, problems


def _caller_loc(draft: Draft, loc: Loc) -> Loc:
    head, rest = loc[0], loc[1:]
    if head == "caption":
        return draft.caption_loc
    if head == "account_id":
        return draft.account_loc
    if head == "media":
        if rest and isinstance(rest[0], int) and rest[0] < len(draft.media_locs):
            tail = tuple(
                draft.media_keys.get(part, part) if isinstance(part, str) else part
                for part in rest[1:]
            )
            return (*draft.media_locs[rest[0]], *tail)
        return draft.media_list_loc
    if head == "options" and rest and isinstance(rest[0], str):
        return draft.option_locs.get(rest[0], loc)
    return loc


def finish(
    post_id: str | None,
    drafts: Sequence[Draft],
    problems: list[Problem],
    policy: ValidationPolicy,
    messages: Mapping[str, str] | None = None,
) -> Post:
    """TikTok's rules on every draft, reported where the caller wrote each part; raises
    `RequestInvalid` with every problem (structural ones first), or returns the post.
    `messages` replaces the sentence of a code whose native one names native fields."""
    semantic: list[Problem] = []
    placeholder = post_id or "placeholder"
    targets = []
    for draft in drafts:
        target = PublishTarget(
            post_id=placeholder,
            account_id=draft.account_id if is_identifier(draft.account_id) else "placeholder",
            caption=draft.caption,
            media=draft.media,
            options=draft.options,
            scheduled_for=draft.scheduled_for,
            system_draft=draft.system_draft,
            callback_url=draft.callback_url,
        )
        targets.append(target)
        if draft.callback_url:
            reason = callback_refusal(draft.callback_url, policy.source_rule or SourceRule())
            if reason:
                where = format_loc(draft.callback_loc)
                semantic.append(Problem("TT_FIELD_INVALID", where, f"{where} {reason}."))
        for finding in target_findings(target, policy):
            where = format_loc(_caller_loc(draft, finding.loc))
            message = (messages or {}).get(finding.code, finding.message)
            semantic.append(Problem(finding.code, where, message))
    for finding in duplicate_account_findings([d.account_id for d in drafts]):
        index = finding.loc[0]
        assert isinstance(index, int)
        semantic.append(
            Problem(finding.code, format_loc(drafts[index].account_loc), finding.message)
        )
    broken = [p.field for p in problems if p.code not in _HARMLESS]
    semantic = [p for p in semantic if not any(related(p.field, b) for b in broken if b)]
    found = dedupe(problems + semantic)
    if found or post_id is None:
        raise RequestInvalid(found)
    return Post(post_id=post_id, targets=targets)


_HARMLESS = frozenset(
    {
        "TT_UNKNOWN_FIELD",
        "TT_FIELD_UNSUPPORTED",
        "TT_PLATFORM_UNSUPPORTED",
        "TT_IDEMPOTENCY_KEY_REQUIRED",
        "TT_IDEMPOTENCY_KEY_CONFLICT",
    }
)
