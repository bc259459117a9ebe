"""MCP tools (the official `mcp` SDK): what an AI agent may do, as thin calls to the same
`Service` the HTTP API uses. `tiktok-publisher mcp` serves them over stdio; the API serves
them over streamable HTTP at /mcp, behind the same API keys.

Inputs are described by JSON Schema: `create_post` takes exactly the post request of
schema/post-request.schema.json; the others take small objects. Invalid input is not an
exception: the tool answers `isError` with the problem document (its TT_ problems, each with
code, field path and message), as the HTTP API's 422 does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.types import Receive, Scope, Send

from starter.service import ServiceProblem, invalid, problem_of
from starter.service_models import CONFIRM_NOT_POSTED, RetryBody, dump
from workflows.contracts import Phase
from workflows.request import ID_PATTERN, json_schema
from workflows.tiktok import Privacy

ServiceSource = Callable[[], Any]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


_POST_ID = "The post's id (the postId it was submitted with)."
_ACCOUNT_ID = "The account id of one of the post's targets (as in the post's platforms)."


class PostRef(_Args):
    postId: str = Field(pattern=ID_PATTERN, description=_POST_ID)


class TargetRef(_Args):
    postId: str = Field(pattern=ID_PATTERN, description=_POST_ID)
    accountId: str = Field(pattern=ID_PATTERN, description=_ACCOUNT_ID)


class ListPostsArgs(_Args):
    state: Phase | None = Field(default=None, description="Only targets in this phase.")
    accountId: str | None = Field(
        default=None, pattern=ID_PATTERN, description="Only this account's targets."
    )
    postId: str | None = Field(default=None, pattern=ID_PATTERN, description="Only this post.")
    cursor: str | None = Field(
        default=None, max_length=4096, description="nextCursor of the previous page."
    )
    limit: int = Field(default=50, ge=1, le=200, description="Targets per page.")


class CancelArgs(TargetRef):
    reason: str | None = Field(
        default=None, max_length=500, description="Why, kept in the post's history."
    )


class RescheduleArgs(TargetRef):
    at: AwareDatetime = Field(
        description="The new time: ISO 8601 with a UTC offset, in the future "
        "(e.g. 2030-01-01T09:00:00+00:00)."
    )


class RetryArgs(TargetRef):
    privacy: Privacy | None = Field(
        default=None, description="A new privacy level (one get_creator_info offers)."
    )
    at: AwareDatetime | None = Field(
        default=None,
        description="Publish at this time instead (ISO 8601 with a UTC offset, future).",
    )
    caption: str | None = Field(default=None, max_length=4000, description="A new caption.")
    confirmNotPosted: bool = Field(
        default=False, description=CONFIRM_NOT_POSTED + " Never set it on your own."
    )


class ScheduleArgs(TargetRef):
    at: AwareDatetime | None = Field(
        default=None,
        description="When to publish the draft: ISO 8601 with a UTC offset, in the future; "
        "leave it out to publish as soon as possible.",
    )


class AccountRef(_Args):
    accountId: str = Field(pattern=ID_PATTERN, description="A connected account's id.")


class NoArgs(_Args):
    pass


_READ = types.ToolAnnotations(read_only_hint=True, open_world_hint=False)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: type[BaseModel] | None
    """None: the post request itself (create_post)."""
    annotations: types.ToolAnnotations = field(default_factory=lambda: _READ)


TOOLS = [
    ToolSpec(
        "create_post",
        "Submit a TikTok post, in either request shape: `platforms` (with `content`, "
        "`scheduledFor`) or `targets` (with `caption`, `scheduledAt`), never both. postId is "
        "the idempotency key: submitting it again starts nothing.",
        None,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    ),
    ToolSpec("get_post", "A post with every target and an overall status.", PostRef),
    ToolSpec(
        "get_post_target",
        "One target's whole state: phase, times, publish id, its error with code, remedy and "
        "whether it may already be live, and its history. Read it before retry_post.",
        TargetRef,
    ),
    ToolSpec("list_posts", "Post targets (latest run each), filtered, paged.", ListPostsArgs),
    ToolSpec(
        "cancel_post",
        "Cancel a target that has not started publishing, or that its account holds before "
        "any init reached TikTok (waiting for a reconnect, a cap, a pause). Final: the same "
        "postId can never run again (submit under a new postId to post it after all).",
        CancelArgs,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True),
    ),
    ToolSpec(
        "reschedule_post",
        "Move a scheduled target to a new time.",
        RescheduleArgs,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    ),
    ToolSpec(
        "schedule_post",
        "Put a system draft (submitted with isDraft) on the schedule, or publish it as soon "
        "as possible when `at` is left out.",
        ScheduleArgs,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False),
    ),
    ToolSpec(
        "publish_post_now",
        "Publish a draft or a scheduled target as soon as possible.",
        TargetRef,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    ),
    ToolSpec(
        "retry_post",
        "Start a FAILED target again, with optional fixes. Refused with "
        "RETRY_NEEDS_CONFIRMATION when TikTok may already have the post: ask a person to "
        "check the creator's profile before anything else.",
        RetryArgs,
        types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False),
    ),
    ToolSpec("list_accounts", "Connected TikTok accounts with their health.", NoArgs),
    ToolSpec(
        "get_creator_info",
        "Live creator_info of an account: privacy options, disabled interactions, max "
        "duration (what TikTok's Direct Post UX rules need before posting).",
        AccountRef,
        types.ToolAnnotations(read_only_hint=True, open_world_hint=True),
    ),
    ToolSpec(
        "get_post_metrics",
        "A live target's analytics: views, likes, comments, shares per refresh, followers.",
        TargetRef,
    ),
]
_BY_NAME = {tool.name: tool for tool in TOOLS}


def request_schema() -> dict[str, Any]:
    """The post request's JSON Schema as one object: its two shapes' properties side by side
    (hosts such as Anthropic's and OpenAI's refuse a top-level oneOf, which would take every
    tool of the session down with it); the tool checks the shape as the API does."""
    request = json_schema()
    defs = request["$defs"]
    shapes = [defs[ref["$ref"].rsplit("/", 1)[-1]] for ref in request["oneOf"]]
    in_all = set.intersection(*(set(shape["properties"]) for shape in shapes))
    required = set.intersection(*(set(shape.get("required", ())) for shape in shapes))
    properties: dict[str, Any] = {}
    for shape in shapes:
        # The fields only one shape has say which (the one list each shape requires, too).
        anchor = next(name for name in shape.get("required", ()) if name not in required)
        for name, prop in shape["properties"].items():
            if name in properties:
                first, said = properties[name].get("description"), prop.get("description")
                if said and said != first:  # the shapes mean it differently: say both
                    text = f"{first} With `{anchor}`: {said}" if first else said
                    properties[name] = {**properties[name], "description": text}
                continue
            if name not in in_all:
                said = prop.get("description", "").rstrip(".")
                shape_note = (
                    f"Required in the `{name}` shape." if name == anchor
                    else f"Only with `{anchor}`."
                )  # fmt: skip
                prop = {**prop, "description": f"{said}. {shape_note}".lstrip(". ")}
            properties[name] = prop
    return {
        "type": "object",
        "description": request.get("description", ""),
        "properties": properties,
        "required": sorted(required),
        "additionalProperties": False,
        "$defs": defs,
    }


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    if spec.args is None:
        return request_schema()
    schema = spec.args.model_json_schema()
    schema.pop("title", None)
    return schema


async def call(service: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run one tool; raises ServiceProblem (or RequestInvalid) on refusal or bad input."""
    spec = _BY_NAME.get(name)
    if spec is None:
        raise ServiceProblem(404, "TOOL_NOT_FOUND", "No such tool", f"Unknown tool {name}.")
    if spec.args is None:
        answer, _created = await service.submit(arguments)
        return dump(answer)
    try:
        args: Any = spec.args.model_validate(arguments)
    except ValidationError as err:
        from starter.http_api.problems import validation_problems

        raise invalid(validation_problems(err.errors())) from None
    if name == "get_post":
        return dump(await service.post(args.postId))
    if name == "list_posts":
        page = await service.list_posts(
            state=args.state,
            account_id=args.accountId,
            post_id=args.postId,
            cursor=args.cursor,
            limit=args.limit,
        )
        return dump(page)
    if name == "get_post_target":
        return dict((await service.target(args.postId, args.accountId)).model_dump(mode="json"))
    if name == "schedule_post":
        state = await service.schedule(args.postId, args.accountId, args.at)
        return dict(state.model_dump(mode="json"))
    if name == "publish_post_now":
        state = await service.publish_now(args.postId, args.accountId)
        return dict(state.model_dump(mode="json"))
    if name == "cancel_post":
        state = await service.cancel(args.postId, args.accountId, args.reason)
        return dict(state.model_dump(mode="json"))
    if name == "reschedule_post":
        state = await service.reschedule(args.postId, args.accountId, args.at)
        return dict(state.model_dump(mode="json"))
    if name == "retry_post":
        body = RetryBody(
            privacy=args.privacy,
            at=args.at,
            caption=args.caption,
            confirmNotPosted=args.confirmNotPosted,
        )
        return dump(await service.retry(args.postId, args.accountId, body))
    if name == "list_accounts":
        return dump(await service.accounts())
    if name == "get_post_metrics":
        return dump(await service.metrics(args.postId, args.accountId))
    return dump(await service.creator_info(args.accountId))


def _result(payload: dict[str, Any], *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(payload, indent=2))],
        structured_content=payload,
        is_error=error,
    )


def build_server(source: ServiceSource) -> Server[Any]:
    """The MCP server; `source()` gives the `Service` when a tool runs."""

    async def list_tools(
        _ctx: Any, _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=t.name,
                    description=t.description,
                    input_schema=input_schema(t),
                    annotations=t.annotations,
                )
                for t in TOOLS
            ]
        )

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        try:
            return _result(await call(source(), params.name, arguments))
        except Exception as err:  # a refusal is the tool's answer; a bug answers INTERNAL
            from starter.http_api.problems import unexpected

            problem = problem_of(err) or unexpected(err, f"mcp:{params.name}")
            return _result(problem.document(), error=True)

    return Server(
        "tiktok-publisher",
        version="1.0.0",
        instructions="Publish and manage TikTok posts. Call get_creator_info before "
        "composing a direct post: the privacy level must be one the creator offers.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def run_stdio() -> int:
    """`tiktok-publisher mcp`: the tools on stdin/stdout for a local agent (no API key: the
    process runs with the operator's own environment)."""
    from mcp.server.stdio import stdio_server

    from starter.http_api.app import build_service

    service = await build_service()
    server = build_server(lambda: service)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
    return 0


class McpHttp:
    """Streamable HTTP transport of the tools, for mounting in the API behind API keys."""

    def __init__(self, source: ServiceSource) -> None:
        self._source = source
        self.manager = StreamableHTTPSessionManager(
            app=build_server(source), json_response=True, stateless=True
        )

    @asynccontextmanager
    async def lifespan_context(self) -> AsyncIterator[None]:
        async with self.manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"authorization", b"").decode("latin-1")
            scheme, _, presented = raw.partition(" ")
            service = self._source()
            key = None
            if scheme.lower() == "bearer" and presented:
                key = await service.api_keys.verify(presented)
            if key is None:
                await _send_unauthorized(send)
                return
        await self.manager.asgi_app(scope, receive, send)


async def _send_unauthorized(send: Send) -> None:
    problem = ServiceProblem(
        401,
        "UNAUTHORIZED",
        "A valid API key is required",
        "Send Authorization: Bearer <API key> (the API's keys).",
    )
    body = json.dumps(problem.document()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"www-authenticate", b'Bearer realm="tiktok-publisher"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def mcp_http_app(source: ServiceSource) -> McpHttp:
    return McpHttp(source)
