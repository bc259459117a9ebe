"""Every error the API answers is `application/problem+json` (RFC 9457): `type`, `title`,
`status`, `detail`, a stable `code`, and for invalid requests every problem with its TT_ code,
field path and message. Never a stack trace: unexpected failures are logged with an id that
the answer names."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from starter.api import ActionRejected, PostNotFound
from starter.service import ServiceProblem, invalid, problem_of, temporal_unavailable
from workflows.request import RequestInvalid
from workflows.validation import Problem

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("api")


#: pydantic error types -> the TT_ code a caller sees (the request's own codes).
_PYDANTIC_CODES = {
    "missing": "TT_FIELD_REQUIRED",
    "extra_forbidden": "TT_UNKNOWN_FIELD",
    "timezone_aware": "TT_TIMEZONE_REQUIRED",
}


def _field_path(loc: Sequence[str | int]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_problems(errors: Sequence[Any]) -> list[Problem]:
    problems = []
    for error in errors:
        kind = str(error.get("type", ""))
        code = _PYDANTIC_CODES.get(kind, "TT_FIELD_INVALID")
        message = str(error.get("msg", "invalid value"))
        if kind == "json_invalid":
            message = "the body is not valid JSON"
        problems.append(Problem(code, _field_path(error.get("loc", ())), message))
    return problems


def response(problem: ServiceProblem) -> JSONResponse:
    return JSONResponse(
        problem.document(),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def install(app: FastAPI) -> None:
    """The one exception handler family of the API."""

    @app.exception_handler(ServiceProblem)
    @app.exception_handler(RequestInvalid)
    @app.exception_handler(PostNotFound)
    @app.exception_handler(ActionRejected)
    async def _problem(_: Request, exc: Exception) -> JSONResponse:
        problem = problem_of(exc)
        if problem is None:  # not one of the types registered above
            raise exc
        return response(problem)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return response(invalid(validation_problems(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, ServiceProblem):  # raised while FastAPI read the body
            return response(exc.__cause__)  # (the body limit's 413)
        if exc.status_code == 400:  # FastAPI's "error parsing the body": malformed JSON
            return response(
                invalid([Problem("TT_FIELD_INVALID", "", "the body is not valid JSON")])
            )
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        title = str(exc.detail) if isinstance(exc.detail, str) else "HTTP error"
        return response(
            ServiceProblem(exc.status_code, code, title, headers=dict(exc.headers or {}))
        )

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, exc: RPCError) -> JSONResponse:
        log.warning("api.temporal_error", status=exc.status.name, message=exc.message)
        return response(temporal_unavailable(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return response(unexpected(exc, request.url.path))


def unexpected(exc: Exception, where: str) -> ServiceProblem:
    """A bug's answer: 500 INTERNAL with an id to find the logged traceback by (the traceback
    itself is logged, never answered)."""
    error_id = uuid.uuid4().hex[:12]
    log.error(
        "api.unexpected_error",
        error_id=error_id,
        path=where,
        error=type(exc).__name__,
        exc_info=exc,
    )
    return ServiceProblem(
        500,
        "INTERNAL",
        "Internal error",
        f"The server failed unexpectedly; it is logged with id {error_id}.",
    )
