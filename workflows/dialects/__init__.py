"""One intake, many skins: the request dialects the engine speaks, and how one is chosen.

| dialect | what | parser |
|---|---|---|
| `native` | the engine's own flat (`platforms`) and nested (`targets`) shapes | `intake` |
| `ampost` | Ampost's `POST /api/v1/posts` body | `workflows.dialects.ampost` |
| `post-for-me` | Post for Me's `POST /v1/social-posts` body | `workflows.dialects.post_for_me` |

Each is a thin parser into the one normalised `workflows.post.Post`; TikTok's rules
(`workflows.validation`) run on that, and every problem is reported at the caller's own
path, in the dialect's spelling.

Choosing: the caller names the dialect (the API's `Dialect` header or `dialect` query
parameter, the CLI's `--dialect`), or the automatic rule decides, which never guesses:

1. a `platformSetId` key, or `content` that is an object (not text): **ampost**;
2. any of `social_accounts`, `platform_configurations`, `account_configurations`,
   `external_id`: **post-for-me**;
3. marks of both: refused (TT_DIALECT_AMBIGUOUS), name the dialect;
4. otherwise **native**.

Pure and deterministic: the starter resolves `platformSetId` from the account store first
(`platform_set_references`) and passes the sets in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workflows.dialects import ampost, post_for_me
from workflows.dialects.common import IDEMPOTENCY_HEADER, DialectContext, id_problem
from workflows.intake import RequestInvalid, parse_post
from workflows.post import Post, is_identifier
from workflows.validation import Problem, ValidationPolicy

NATIVE = "native"
AMPOST = ampost.NAME
POST_FOR_ME = post_for_me.NAME
DIALECTS: tuple[str, ...] = (NATIVE, AMPOST, POST_FOR_ME)
DIALECT_HEADER = "Dialect"


def _refuse(code: str, field: str, message: str) -> RequestInvalid:
    return RequestInvalid([Problem(code, field, message)])


def choose_dialect(raw: Any, dialect: str | None = None) -> str:
    """The dialect named, or the one the automatic rule finds; raises `RequestInvalid`."""
    if dialect is not None:
        name = dialect.strip().lower().replace("_", "-")
        if name in ("postforme", "pfm"):
            name = POST_FOR_ME
        if name not in DIALECTS:
            raise _refuse(
                "TT_DIALECT_UNKNOWN",
                "dialect",
                f"{dialect!r} is not a dialect this engine speaks: use one of "
                f"{', '.join(DIALECTS)}, or leave it out to detect it from the request.",
            )
        return name
    if not isinstance(raw, Mapping):
        return NATIVE
    is_ampost, is_pfm = ampost.detect(raw), post_for_me.detect(raw)
    if is_ampost and is_pfm:
        raise _refuse(
            "TT_DIALECT_AMBIGUOUS",
            "",
            "The request has keys of Ampost (platformSetId, or content as an object) and of "
            "Post for Me (social_accounts, platform_configurations, account_configurations or "
            "external_id): name the dialect (Dialect header or dialect parameter in the API, "
            "--dialect in the CLI), or send the keys of one of them only.",
        )
    if is_ampost:
        return AMPOST
    if is_pfm:
        return POST_FOR_ME
    return NATIVE


def platform_set_references(raw: Any, dialect: str | None = None) -> list[str]:
    """The platform set ids a request names, for the starter to look up before parsing."""
    try:
        name = choose_dialect(raw, dialect)
    except RequestInvalid:
        return []
    return ampost.references(raw) if name == AMPOST and isinstance(raw, Mapping) else []


def _native(raw: Any, context: DialectContext) -> Post:
    key = context.idempotency_key
    if key is None or not isinstance(raw, Mapping):
        return parse_post(raw, policy=context.policy)
    if not is_identifier(key):
        raise RequestInvalid([id_problem(IDEMPOTENCY_HEADER, key, "The Idempotency-Key header")])
    data = dict(raw)
    own_key = "post_id" if "post_id" in data else "postId"
    own = data.get(own_key)
    if own is not None and own != key:
        raise _refuse(
            "TT_IDEMPOTENCY_KEY_CONFLICT",
            own_key,
            f"{own_key} {own!r} and the Idempotency-Key header {key!r} differ: send one of them, "
            "or the same value in both.",
        )
    data[own_key] = key
    return parse_post(data, policy=context.policy)


def parse_request(
    raw: Any,
    *,
    dialect: str | None = None,
    idempotency_key: str | None = None,
    platform_sets: Mapping[str, Sequence[str] | None] | None = None,
    policy: ValidationPolicy | None = None,
) -> Post:
    """Validate and normalise a request in any dialect; raises `RequestInvalid` with every
    problem, at the caller's own paths."""
    context = DialectContext(
        idempotency_key=idempotency_key,
        platform_sets=platform_sets or {},
        policy=policy or ValidationPolicy(),
    )
    name = choose_dialect(raw, dialect)
    if name != NATIVE and not isinstance(raw, Mapping):
        raise _refuse("TT_FIELD_INVALID", "", "The request must be a JSON object.")
    if name == AMPOST:
        return ampost.parse(raw, context)
    if name == POST_FOR_ME:
        return post_for_me.parse(raw, context)
    return _native(raw, context)


def dialect_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each foreign dialect (the native one is schema/post-request)."""
    return {AMPOST: ampost.json_schema(), POST_FOR_ME: post_for_me.json_schema()}


__all__ = [
    "AMPOST",
    "DIALECTS",
    "DIALECT_HEADER",
    "IDEMPOTENCY_HEADER",
    "NATIVE",
    "POST_FOR_ME",
    "DialectContext",
    "choose_dialect",
    "dialect_schemas",
    "parse_request",
    "platform_set_references",
]
