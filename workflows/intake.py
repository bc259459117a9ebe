"""The intake: a caller's post request in, the normalised `Post` out, or every problem.

`parse_post` detects the request's dialect (a `Skin`: the flat shape with `platforms`, the
nested shape with `targets`), validates it against that skin's wire model
(`workflows.intake_shapes`), runs TikTok's rules (`workflows.validation`) on each resulting
`PublishTarget` (`workflows.post`), and raises `RequestInvalid` listing every problem at once,
each with a stable `TT_*` code, a path in the caller's own terms and a sentence saying what
to do (`workflows.intake_problems`).

Two different "drafts" — keep them apart:

* root `isDraft` -> `PublishTarget.system_draft`: we keep the post and send nothing to TikTok
  until a schedule / publish-now update arrives;
* `isDraft` inside the TikTok options -> `TikTokOptions.inbox`: the media is sent to TikTok,
  into the creator's inbox, where the creator finishes and posts it.

Adding a dialect: its wire model in `intake_shapes`, a `Skin` in `SKINS` below (how to
recognise it, how to turn it into drafts, and the key names the salvage of a broken request
looks for).

Pure and deterministic (no I/O, clock, randomness or environment).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from workflows.intake_problems import (
    Style,
    dedupe,
    key_forms,
    related,
    render,
    request_style,
    show,
    structural_problem,
)
from workflows.intake_shapes import (
    FlatPostRequest,
    NestedPostRequest,
    RequestMedia,
    RequestTikTokOptions,
    TikTokOptionsEnvelope,
)
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
    target_findings,
    text_fault,
)

# -- errors ------------------------------------------------------------------------------------


class RequestInvalid(ValueError):
    """The request cannot be accepted; `problems` lists everything wrong with it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def as_dicts(self) -> list[dict[str, str]]:
        return [problem.as_dict() for problem in self.problems]


# -- parse_post --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
    """A target before it is a PublishTarget, with where each part came from in the request."""

    account_id: str
    account_ok: bool
    caption: str
    media: list[MediaItem]
    media_index: list[int]  # position in the caller's list of each item in `media`
    options: TikTokOptions
    scheduled_for: datetime | None
    system_draft: bool
    account_loc: Loc
    caption_loc: Loc
    media_loc: Loc
    options_loc: Loc
    callback_url: str | None = None


def parse_post(raw: Mapping[str, Any], *, policy: ValidationPolicy | None = None) -> Post:
    """Validate and normalise a post request (either shape, camelCase or snake_case).

    Raises `RequestInvalid` with every problem found: structural ones (missing, malformed or
    unknown fields) and TikTok's rules (`workflows.validation`) together. Checks that depend
    on a part with a structural fault are left until that part is fixed.
    """
    policy = policy or ValidationPolicy()
    if not isinstance(raw, Mapping):
        raise RequestInvalid(
            [
                Problem(
                    "TT_FIELD_INVALID",
                    "",
                    f"The request must be a JSON object, not {show(raw)}: send "
                    '{"postId": ..., "platforms": [...]} or {"postId": ..., "targets": [...]}.',
                )
            ]
        )
    data = dict(raw)
    style = request_style(data)
    present = [skin for skin in SKINS if skin.list_key in data]
    if len(present) > 1:
        raise RequestInvalid(
            [
                Problem(
                    "TT_AMBIGUOUS_SHAPE",
                    "",
                    "The request has both platforms (flat shape) and targets (nested shape): "
                    "send one of them, with all accounts in it.",
                )
            ]
        )
    skin = _skin_of(data)
    model = skin.model

    structural: list[Problem] = _text_problems(data, style)
    request: Any = None
    try:
        request = model.model_validate(data)
    except ValidationError as err:
        structural += [structural_problem(e, data, model, style) for e in err.errors()]

    drafts = skin.drafts(request) if request else _salvage_drafts(data, skin)
    semantic: list[Problem] = []
    for draft in drafts:
        target = _target(draft, "placeholder" if request is None else request.post_id)
        for finding in target_findings(target, policy):
            where = render(data, _caller_loc(draft, finding.loc), style)[0]
            semantic.append(Problem(finding.code, where, finding.message))
    callback = getattr(request, "callback_url", None)
    if callback:
        reason = callback_refusal(callback, policy.source_rule or SourceRule())
        if reason:
            where = render(data, ("callbackUrl",), style)[0]
            semantic.append(Problem("TT_FIELD_INVALID", where, f"callbackUrl {reason}."))
    ids = [d.account_id if d.account_ok else f"\x00{n}" for n, d in enumerate(drafts)]
    for finding in duplicate_account_findings(ids):
        index = finding.loc[0]
        assert isinstance(index, int)
        where = render(data, drafts[index].account_loc, style)[0]
        semantic.append(Problem(finding.code, where, finding.message))

    if structural:
        # A part that failed to parse was dropped or defaulted above; what was found in or
        # around it may be an artefact of that, so it waits until the part is fixed.
        broken = [p.field for p in structural if p.code not in _HARMLESS_STRUCTURAL]
        semantic = [p for p in semantic if not any(related(p.field, b) for b in broken)]
    problems = dedupe(structural + semantic)
    if problems or request is None:
        raise RequestInvalid(problems)
    return Post(post_id=request.post_id, targets=[_target(d, request.post_id) for d in drafts])


_HARMLESS_STRUCTURAL = frozenset(
    {"TT_UNKNOWN_FIELD", "TT_FIRST_COMMENT_UNSUPPORTED", "TT_TEXT_INVALID"}
)


def _text_problems(data: Any, style: Style) -> list[Problem]:
    """Every string (key or value) that is not valid Unicode text: a NUL byte or a lone
    surrogate would break the workflow input's JSON, or TikTok's."""
    problems: list[Problem] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, str):
            fault = text_fault(node)
            if fault:
                path = render(data, loc, style)[0]
                problems.append(
                    Problem(
                        "TT_TEXT_INVALID",
                        path,
                        f"{path or 'The request'} {fault}: remove it (usually a copy-paste "
                        "accident, or an emoji cut in half by a length limit).",
                    )
                )
        elif isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(key, str) and text_fault(key):
                    path = render(data, loc, style)[0]
                    problems.append(
                        Problem(
                            "TT_TEXT_INVALID",
                            path,
                            f"A key in {path or 'the request'} {text_fault(key)}: fix the key.",
                        )
                    )
                    continue
                stack.append((value, (*loc, key)))
        elif isinstance(node, list):
            stack.extend((value, (*loc, i)) for i, value in enumerate(node))
    return sorted(problems, key=lambda p: p.field)


def _target(draft: _Draft, post_id: str) -> PublishTarget:
    return PublishTarget(
        post_id=post_id,
        account_id=draft.account_id if draft.account_ok else "placeholder",
        caption=draft.caption,
        media=draft.media,
        options=draft.options,
        scheduled_for=draft.scheduled_for,
        system_draft=draft.system_draft,
        callback_url=draft.callback_url,
    )


def _media(items: Sequence[RequestMedia]) -> list[MediaItem]:
    """The caller's media as the workflow carries it (field by field, no aliases)."""
    return [MediaItem.model_validate(item.model_dump()) for item in items]


def _options(options: RequestTikTokOptions) -> TikTokOptions:
    return TikTokOptions.model_validate(options.model_dump())


def _unwrap(options: RequestTikTokOptions | TikTokOptionsEnvelope) -> tuple[TikTokOptions, Loc]:
    if isinstance(options, TikTokOptionsEnvelope):
        return _options(options.tiktok), ("tiktok",)
    return _options(options), ()


def _flat_drafts(request: FlatPostRequest) -> list[_Draft]:
    drafts: list[_Draft] = []
    media = _media(request.media)
    for i, flat in enumerate(request.platforms):
        options, inner = _unwrap(flat.platform_options)
        drafts.append(
            _Draft(
                account_id=flat.account_id,
                account_ok=True,
                caption=request.content,
                media=media,
                media_index=list(range(len(media))),
                options=options,
                scheduled_for=request.scheduled_for,
                system_draft=request.is_draft,
                account_loc=("platforms", i, "accountId"),
                caption_loc=("content",),
                media_loc=("media",),
                options_loc=("platforms", i, "platformOptions", *inner),
                callback_url=request.callback_url,
            )
        )
    return drafts


def _nested_drafts(request: NestedPostRequest) -> list[_Draft]:
    drafts: list[_Draft] = []
    for i, nested in enumerate(request.targets):
        options, inner = _unwrap(nested.platform_options)
        own_caption = nested.caption is not None
        media = _media(nested.media if nested.media is not None else request.media)
        drafts.append(
            _Draft(
                account_id=nested.social_account_id,
                account_ok=True,
                caption=nested.caption if nested.caption is not None else request.caption,
                media=media,
                media_index=list(range(len(media))),
                options=options,
                scheduled_for=request.scheduled_at,
                system_draft=request.is_draft,
                account_loc=("targets", i, "socialAccountId"),
                caption_loc=("targets", i, "caption") if own_caption else ("caption",),
                media_loc=("targets", i, "media") if nested.media is not None else ("media",),
                options_loc=("targets", i, "platformOptions", *inner),
                callback_url=request.callback_url,
            )
        )
    return drafts


@dataclass(frozen=True)
class Skin:
    """One request dialect: how to recognise it, its wire model, how it becomes drafts, and
    the keys a best-effort salvage of a broken request looks for."""

    name: str
    model: type[BaseModel]
    list_key: str
    """The list of accounts (`platforms`, `targets`): its presence names the skin."""
    account_key: str
    caption_key: str
    marker_keys: tuple[str, ...]
    """Root keys that name the skin when the account list is missing."""
    drafts: Callable[[Any], list[_Draft]]
    per_target_overrides: bool
    """Entries of the account list may carry their own caption and media."""


SKINS: tuple[Skin, ...] = (
    Skin("flat", FlatPostRequest, "platforms", "accountId", "content", (), _flat_drafts, False),
    Skin(
        "nested",
        NestedPostRequest,
        "targets",
        "socialAccountId",
        "caption",
        ("caption", "scheduledAt", "scheduled_at"),
        _nested_drafts,
        True,
    ),
)
"""The first skin is the default when nothing names one."""


def _skin_of(data: Mapping[str, Any]) -> Skin:
    for skin in SKINS:
        if skin.list_key in data:
            return skin
    for skin in SKINS:
        if any(key in data for key in skin.marker_keys):
            return skin
    return SKINS[0]


# -- best effort on a structurally broken request ----------------------------------------------


def _lookup(node: Any, key: str) -> tuple[bool, Any]:
    """(present, value) of a camelCase key written in either convention."""
    if not isinstance(node, Mapping):
        return False, None
    for form in (key, *key_forms(key)):
        if form in node:
            return True, node[form]
    return False, None


_M = TypeVar("_M", bound=BaseModel)


def _lenient(model: type[_M], value: Any) -> _M | None:
    """`model` from `value` without the keys that fail; None if a required one is bad."""
    if not isinstance(value, Mapping):
        return None
    data = dict(value)
    for _ in range(len(data) + 1):
        try:
            return model.model_validate(data)
        except ValidationError as err:
            errors = err.errors()
            if any(e["type"] == "missing" for e in errors):
                return None
            for error in errors:
                if error["loc"]:
                    data.pop(str(error["loc"][0]), None)
    return None


def _lenient_media(value: Any) -> tuple[list[MediaItem], list[int]]:
    items: list[MediaItem] = []
    index: list[int] = []
    if isinstance(value, list):
        for position, raw_item in enumerate(value):
            item = _lenient(RequestMedia, raw_item)
            if item is not None:
                items.extend(_media([item]))
                index.append(position)
    return items, index


def _lenient_options(value: Any) -> tuple[TikTokOptions, Loc]:
    if isinstance(value, Mapping) and "tiktok" in value:
        found = _lenient(RequestTikTokOptions, value["tiktok"])
        return (_options(found) if found else TikTokOptions()), ("tiktok",)
    found = _lenient(RequestTikTokOptions, value)
    return (_options(found) if found else TikTokOptions()), ()


def _salvage_drafts(data: Mapping[str, Any], skin: Skin) -> list[_Draft]:
    caption_key, list_key, account_key = skin.caption_key, skin.list_key, skin.account_key
    _, root_caption = _lookup(data, caption_key)
    root_caption = root_caption if isinstance(root_caption, str) else ""
    root_media, root_index = _lenient_media(_lookup(data, "media")[1])
    entries = _lookup(data, list_key)[1]
    drafts: list[_Draft] = []
    if not isinstance(entries, list):
        return drafts
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        account = _lookup(entry, account_key)[1]
        account_ok = is_identifier(account)
        options, inner = _lenient_options(_lookup(entry, "platformOptions")[1])
        caption: str = root_caption
        caption_loc: Loc = (caption_key,)
        media, media_index = root_media, root_index
        media_loc: Loc = ("media",)
        if skin.per_target_overrides:
            present, own_caption = _lookup(entry, "caption")
            if present and own_caption is not None:
                caption = own_caption if isinstance(own_caption, str) else ""
                caption_loc = (list_key, i, "caption")
            present, own_media = _lookup(entry, "media")
            if present and own_media is not None:
                media, media_index = _lenient_media(own_media)
                media_loc = (list_key, i, "media")
        drafts.append(
            _Draft(
                account_id=account if isinstance(account, str) and account_ok else "",
                account_ok=account_ok,
                caption=caption,
                media=media,
                media_index=media_index,
                options=options,
                scheduled_for=None,
                system_draft=False,
                account_loc=(list_key, i, account_key),
                caption_loc=caption_loc,
                media_loc=media_loc,
                options_loc=(list_key, i, "platformOptions", *inner),
            )
        )
    return drafts


def _caller_loc(draft: _Draft, loc: Loc) -> Loc:
    """A PublishTarget path (`media[2].size_bytes`) -> where the caller wrote it."""
    head, rest = loc[0], loc[1:]
    if head == "caption":
        return draft.caption_loc
    if head == "media":
        if rest and isinstance(rest[0], int):
            return (*draft.media_loc, draft.media_index[rest[0]], *rest[1:])
        return (*draft.media_loc, *rest)
    if head == "options":
        return (*draft.options_loc, *rest)
    if head == "account_id":
        return draft.account_loc
    return loc
