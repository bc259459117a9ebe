"""The FastAPI application: routes, the problem+json handlers, the OpenAPI document, and
(mounted at /mcp) the MCP tools over streamable HTTP behind the same API keys."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from starter.connected_accounts import ConnectedAccounts
from starter.http_api import accounts, ops, platform_sets, posts, problems, webhooks
from starter.http_api.body_limit import BodyLimit
from starter.service import Service
from starter.service_models import ProblemDocument
from workflows.dialects import dialect_schemas
from workflows.request import json_schema

API_VERSION = "1.2.0"
DESCRIPTION = """The front door of tiktok-publisher: submit and control TikTok posts, connect
accounts. Every call needs `Authorization: Bearer <API key>` (create one with
`tiktok-publisher api-key create NAME`), except TikTok's OAuth redirect. Errors are
`application/problem+json` documents with a stable `code`; invalid requests list every
problem with its TT_ code, field path and message (docs/api.md)."""


async def build_service() -> Service:
    """The process's service from the environment: Temporal, the account store, OAuth."""
    from account_store.api_keys import ApiKeys
    from account_store.database import open_database
    from account_store.oauth_states import OAuthStates
    from account_store.store import AccountStore
    from starter.api import PostPublisher
    from starter.connect import ConnectFlow
    from starter.tiktok_oauth import OAuthSettings
    from telemetry import tracing
    from worker.settings import load_settings

    settings = load_settings()
    tracing.configure(settings.otlp_endpoint, f"{settings.service_name}-api")
    publisher = await PostPublisher.connect(settings)
    database = open_database(settings=settings)
    store = AccountStore(database)
    flow = ConnectFlow(
        store,
        OAuthStates(database),
        OAuthSettings.from_env(),
        publisher.client,
        # With ANALYTICS on, a connected account gets its daily follower schedule.
        task_queue=publisher.task_queue if publisher.settings.analytics else None,
    )
    # With a token file the workers do not read this store: the API cannot tell.
    connected = None if settings.token_file.strip() else ConnectedAccounts(store)
    return Service(publisher, database, store, ApiKeys(database), flow, connected)


def create_app(
    service: Service | None = None, *, mcp: bool = True, max_body_bytes: int | None = None
) -> FastAPI:
    """The app; without `service`, one is built from the environment at start-up.
    `max_body_bytes`: default API_MAX_BODY_BYTES."""
    mcp_app: Any = None
    if mcp:
        from starter.mcp_tools import mcp_http_app

        mcp_app = mcp_http_app(lambda: app.state.service)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "service", None) is None:
            app.state.service = await build_service()
        async with contextlib.AsyncExitStack() as stack:
            if mcp_app is not None:
                await stack.enter_async_context(mcp_app.lifespan_context())
            yield

    # The docs pages' Swagger UI and ReDoc from the installed package, not a CDN: they
    # work on a machine without internet, and load nothing from third parties.
    app = FastAPIOffline(
        title="tiktok-publisher",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = service
    if max_body_bytes is None:
        from worker.settings import load_settings

        max_body_bytes = load_settings().api_max_body_bytes
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    problems.install(app)
    ops.install(app)  # /metrics, /healthz, /readyz (outside the OpenAPI document)
    app.include_router(posts.router)
    app.include_router(accounts.router)
    app.include_router(accounts.oauth)
    app.include_router(platform_sets.router)
    app.include_router(webhooks.tiktok)
    app.include_router(webhooks.outgoing)
    if mcp_app is not None:
        from starlette.routing import Route

        # A plain route (not in the OpenAPI document): the MCP transport checks the key.
        app.router.routes.append(Route("/mcp", endpoint=mcp_app, methods=["GET", "POST", "DELETE"]))
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                v.replace("#/$defs/", "#/components/schemas/")
                if k == "$ref" and isinstance(v, str)
                else _rewrite_refs(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with the engine's own request schema and problem+json errors."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    request = json_schema()
    for name, schema in request.get("$defs", {}).items():
        schemas.setdefault(name, _rewrite_refs(schema))
    schemas["PostRequest"] = _rewrite_refs(
        {k: v for k, v in request.items() if k not in ("$defs", "$schema", "$id")}
    )
    for name, dialect in zip(
        ("AmpostPostRequest", "PostForMePostRequest"), dialect_schemas().values(), strict=True
    ):
        for sub, schema in dialect.get("$defs", {}).items():
            schemas.setdefault(sub, _rewrite_refs(schema))
        schemas[name] = _rewrite_refs(
            {k: v for k, v in dialect.items() if k not in ("$defs", "$schema", "$id")}
        )
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["ProblemDocument"] = _rewrite_refs(
        ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for name, sub in list(schemas["ProblemDocument"].pop("$defs", {}).items()):
        schemas.setdefault(name, sub)
    problem = {
        "content": {
            problems.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}
        }
    }
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            codes = {"422": "The request is invalid (every problem listed).",
                     "500": "Unexpected failure (logged with the id the detail names).",
                     "502": "Temporal refused the request (TEMPORAL_REFUSED): the server's "
                            "Temporal settings are wrong; asking again will not help.",
                     "503": "Not now: Temporal, the worker, the post or the account did not "
                            "answer in time (TEMPORAL_UNAVAILABLE, WORKER_UNAVAILABLE, "
                            "POST_NOT_READY, ACCOUNT_BUSY); ask again after Retry-After."
                     }  # fmt: skip
            if not path.startswith("/v1/oauth/"):
                codes["401"] = "No valid API key."
            if "requestBody" in operation:
                codes["413"] = "The body is over API_MAX_BODY_BYTES."
            if path.startswith("/v1/webhooks/wh_") or path.startswith("/v1/webhooks/{"):
                codes["404"] = "No such webhook endpoint."
            if path == "/v1/webhooks/tiktok":
                codes["400"] = "Signed correctly, but not TikTok's webhook envelope."
                codes["401"] = "Missing, wrong or stale TikTok-Signature; nothing changed."
            if "{" in path:
                codes["404"] = "Not found."
            if path.startswith("/v1/posts/") and operation.get("operationId", "").startswith(
                ("schedule", "publish_now", "reschedule", "cancel", "retry")
            ):
                codes["409"] = (
                    "The post refused the action (the detail says why). A retry's refusal is "
                    "RETRY_NEEDS_CONFIRMATION, RETRY_NOT_ALLOWED or RETRY_NOT_FAILED."
                )
            if path.startswith("/v1/accounts/") and "creator-info" in path:
                codes["409"] = "TikTok refused for good (e.g. revoked tokens): reconnect."
                codes["502"] = "TikTok failed the call (its code in `code`), or Temporal refused."
            if path.startswith("/v1/oauth/"):
                codes["400"] = "The connect failed (state, denial, code exchange)."
                codes["409"] = "The account id belongs to another creator."
                codes["502"] = "TikTok's token endpoint failed."
            if path.startswith("/v1/platform-sets"):
                codes["409"] = "A platform set with this id or name exists."
            if path == "/v1/accounts/{accountId}" and "delete" in operations:
                codes["409"] = "TikTok refused for good."
                codes["502"] = "TikTok failed the call."
            for code, text in codes.items():
                responses[code] = {"description": text, **problem}
    app.openapi_schema = doc
    return doc
