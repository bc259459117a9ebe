"""/v1/posts: submit, read, list and act on posts (the CLI's commands, over HTTP)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response

from starter.http_api.problems import unexpected
from starter.http_api.services import CALLER_CHECKS, ServiceDep, service
from starter.post_metrics import PostMetricsOut
from starter.service import invalid, parse_json_body, problem_of
from starter.service_models import (
    CancelBody,
    PostList,
    PostOverview,
    RescheduleBody,
    RetryBody,
    RetryResponse,
    ScheduleBody,
    SubmitResponse,
    dump,
)
from workflows.contracts import Phase, PostState
from workflows.dialects import DIALECT_HEADER, DIALECTS, IDEMPOTENCY_HEADER
from workflows.request import ID_PATTERN
from workflows.validation import Problem

NDJSON = "application/x-ndjson"
BATCH_CONCURRENCY = 16
_POST_REQUEST = "#/components/schemas/PostRequest"
router = APIRouter(prefix="/v1/posts", tags=["posts"], dependencies=CALLER_CHECKS)

PostId = Annotated[str, Path(pattern=ID_PATTERN, description="The caller's postId.")]
AccountId = Annotated[str, Path(pattern=ID_PATTERN, description="The target's account id.")]

_SUBMIT_DOC = """Validate a post request and start one workflow per target.

The request is in this engine's own shapes (flat or nested), or in Ampost's or Post for Me's
dialect (docs/dialects.md): name it with the `Dialect` header or `dialect` parameter, or let
the request's keys say. A request without an id of its own (Ampost's) takes the
`Idempotency-Key` header; none is ever invented.

`postId` is the idempotency key: submitting it again returns the same targets with 200 and
starts nothing. 202 when at least one target was started now.

Batch: send `Content-Type: application/x-ndjson`, one request per line; the answer is NDJSON
too, one line per request: `{"line": n, "status": 202|200|422, "body": <answer or problem>}`.
"""

# NDJSON is not JSON, so OpenAPI 3.1 can only call a batch a string; the schemas say, in
# words and by reference, what each line holds, so that a generated client can send one.
_BATCH_REQUEST = {
    "type": "string",
    "description": "A batch: one post request per line, each a JSON object in any shape this "
    "route takes as application/json (PostRequest, AmpostPostRequest, PostForMePostRequest); "
    "blank lines are skipped. No Idempotency-Key header: each line carries its own id.",
}
_BATCH_ANSWER = {
    "type": "string",
    "description": "One JSON object per request line, in the lines' order: "
    '`{"line": n, "status": 202 | 200 | 4xx, "body": <SubmitResponse or a problem document>}`. '
    "The batch itself answers 200; each line has its own status.",
}


@router.post(
    "",
    status_code=202,
    response_model=SubmitResponse,
    summary="Submit a post",
    description=_SUBMIT_DOC,
    responses={
        200: {
            "model": SubmitResponse,
            "description": "Every target existed already; or, for a batch, the answers.",
            "content": {NDJSON: {"schema": _BATCH_ANSWER}},
        }
    },
    openapi_extra={
        "parameters": [
            {
                "name": DIALECT_HEADER,
                "in": "header",
                "required": False,
                "description": "The request's dialect: " + ", ".join(DIALECTS) + " (absent: "
                "detected, docs/dialects.md).",
                "schema": {"type": "string", "enum": list(DIALECTS)},
            },
            {
                "name": "dialect",
                "in": "query",
                "required": False,
                "description": "The same as the Dialect header.",
                "schema": {"type": "string", "enum": list(DIALECTS)},
            },
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": False,
                "description": "Your id for the post when the request has none of its own "
                "(postId, external_id); never with a batch.",
                "schema": {"type": "string", "pattern": ID_PATTERN, "maxLength": 128},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/PostRequest"},
                            {"$ref": "#/components/schemas/AmpostPostRequest"},
                            {"$ref": "#/components/schemas/PostForMePostRequest"},
                        ]
                    }
                },
                NDJSON: {"schema": _BATCH_REQUEST},
            },
        },
    },
)
async def submit_post(request: Request) -> Response:
    # The hot path of the API (bench/README.md, "Submit rate"): the service is read here, not
    # solved as a dependency, and the answer is serialised once, by pydantic, to bytes.
    svc = await service(request)
    body = await request.body()
    dialect = request.headers.get(DIALECT_HEADER) or request.query_params.get("dialect")
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == NDJSON:
        if key is not None:
            raise invalid(
                [
                    Problem(
                        "TT_FIELD_INVALID",
                        IDEMPOTENCY_HEADER,
                        "A batch carries one idempotency key per line (postId or external_id "
                        "in each request): leave the Idempotency-Key header out of a batch.",
                    )
                ]
            )
        return await _submit_lines(body, svc, dialect)
    answer, created = await svc.submit(parse_json_body(body), dialect=dialect, idempotency_key=key)
    return Response(
        answer.model_dump_json(by_alias=True),
        status_code=202 if created else 200,
        media_type="application/json",
    )


async def _submit_lines(body: bytes, svc: ServiceDep, dialect: str | None) -> Response:
    # Several starts in flight at once (answers keep the lines' order): a batch costs
    # about one round trip per BATCH_CONCURRENCY posts, not one per post.
    gate = asyncio.Semaphore(BATCH_CONCURRENCY)

    async def one(number: int, raw: bytes) -> str:
        result: dict[str, Any] = {"line": number}
        async with gate:
            try:
                answer, created = await svc.submit(parse_json_body(raw), dialect=dialect)
                result.update(status=202 if created else 200, body=dump(answer))
            except Exception as err:  # a line's failure is that line's answer, not the batch's
                problem = problem_of(err) or unexpected(err, f"/v1/posts (batch line {number})")
                result.update(status=problem.status, body=problem.document())
        return json.dumps(result)

    numbered = [(n, raw) for n, raw in enumerate(body.splitlines(), start=1) if raw.strip()]
    lines = await asyncio.gather(*(one(n, raw) for n, raw in numbered))
    return Response("\n".join(lines) + ("\n" if lines else ""), media_type=NDJSON)


@router.get("", response_model=PostList, summary="List post targets (latest run of each)")
async def list_posts(
    svc: ServiceDep,
    state: Annotated[Phase | None, Query(description="Only targets in this phase.")] = None,
    accountId: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    postId: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PostList:
    return await svc.list_posts(
        state=state, account_id=accountId, post_id=postId, cursor=cursor, limit=limit
    )


@router.get("/{postId}", response_model=PostOverview, summary="A post: every target")
async def get_post(postId: PostId, svc: ServiceDep) -> PostOverview:
    return await svc.post(postId)


@router.get("/{postId}/targets/{accountId}", response_model=PostState, summary="One target's state")
async def get_target(postId: PostId, accountId: AccountId, svc: ServiceDep) -> PostState:
    return await svc.target(postId, accountId)


@router.get(
    "/{postId}/targets/{accountId}/metrics",
    response_model=PostMetricsOut,
    summary="A live post's analytics (views, likes, comments, shares; followers)",
    description="Refreshed at +1 h, +6 h, then every 12 h for 7 days once the post is live "
    "with a public id (ANALYTICS=true). Empty lists until the first refresh.",
)
async def get_metrics(postId: PostId, accountId: AccountId, svc: ServiceDep) -> PostMetricsOut:
    return await svc.metrics(postId, accountId)


@router.post(
    "/{postId}/targets/{accountId}/schedule",
    response_model=PostState,
    summary="Put a system draft on the schedule (no `at`: publish now)",
)
async def schedule(
    postId: PostId,
    accountId: AccountId,
    svc: ServiceDep,
    body: Annotated[ScheduleBody | None, Body()] = None,
) -> PostState:
    return await svc.schedule(postId, accountId, body.at if body else None)


@router.post(
    "/{postId}/targets/{accountId}/publish-now",
    response_model=PostState,
    summary="Publish a draft or scheduled post now",
)
async def publish_now(postId: PostId, accountId: AccountId, svc: ServiceDep) -> PostState:
    return await svc.publish_now(postId, accountId)


@router.post(
    "/{postId}/targets/{accountId}/reschedule",
    response_model=PostState,
    summary="Move a scheduled post",
)
async def reschedule(
    postId: PostId,
    accountId: AccountId,
    body: RescheduleBody,
    svc: ServiceDep,
) -> PostState:
    return await svc.reschedule(postId, accountId, body.at)


@router.post(
    "/{postId}/targets/{accountId}/cancel",
    response_model=PostState,
    summary="Cancel a post that has not started publishing (or that its account holds before "
    "any init)",
)
async def cancel(
    postId: PostId,
    accountId: AccountId,
    svc: ServiceDep,
    body: Annotated[CancelBody | None, Body()] = None,
) -> PostState:
    return await svc.cancel(postId, accountId, body.reason if body else None)


@router.post(
    "/{postId}/targets/{accountId}/retry",
    status_code=202,
    response_model=RetryResponse,
    summary="Start a FAILED post again from its request, with optional fixes",
)
async def retry(
    postId: PostId,
    accountId: AccountId,
    svc: ServiceDep,
    body: Annotated[RetryBody | None, Body()] = None,
) -> RetryResponse:
    return await svc.retry(postId, accountId, body or RetryBody())
