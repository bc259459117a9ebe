"""What the HTTP API and the MCP tools do, in one place: thin calls to the starter API
(`PostPublisher`, `Operations`), the account store and the account entity, answering with
the wire models of `starter.service_models` and failing with `ServiceProblem` (rendered as
problem+json by the API, as a tool error by MCP). Nothing here talks to TikTok: creator_info
and revoke run on the worker; only the connect's code exchange is in `starter.tiktok_oauth`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.converter import decode_typed_search_attributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from account_store.analytics import Analytics
from account_store.api_keys import ApiKeys
from account_store.database import Database
from account_store.platform_sets import PlatformSets
from account_store.store import AccountRecord, AccountStore
from account_store.webhook_endpoints import WebhookEndpoints
from account_store.webhook_events import ReceivedEvents
from starter.account_entity import EntityUnavailable, account_state, signal_account
from starter.answer_codes import ANSWER_CODES
from starter.api import NOT_READY, ActionRejected, PostNotFound, PostPublisher, SubmittedTarget
from starter.connect import ConnectFailed, ConnectFlow
from starter.connected_accounts import ConnectedAccounts
from starter.connected_accounts import not_connected as not_connected_message
from starter.followers import followers, stop_followers_schedule
from starter.operations import Fixes, Operations
from starter.post_list import FilterInvalid, filters_query, latest_runs
from starter.post_metrics import PostMetricsOut, post_metrics, with_metrics
from starter.service_models import (
    AccountList,
    AccountOut,
    ConnectedResponse,
    ConnectResponse,
    CreatorInfoOut,
    DisconnectResponse,
    Links,
    ListedTarget,
    PostList,
    PostOverview,
    RetryBody,
    RetryResponse,
    SubmitResponse,
    SubmittedTargetOut,
    SubmitWarning,
    TargetSummary,
)
from starter.tiktok_webhooks import TikTokWebhookInbox
from starter.webhook_registry import with_delivery_log
from telemetry import tracing
from workflows import search_attributes as sa
from workflows.contracts import WORKFLOW_TYPE, Phase, PostState
from workflows.creator_info_lookup import (
    ACCOUNT_BUSY,
    CREATOR_INFO_LOOKUP_TYPE,
    REVOKE_ACCESS_TYPE,
    RevokeOutcome,
)
from workflows.request import RequestInvalid, workflow_id
from workflows.tiktok import CreatorInfo
from workflows.validation import Problem

TYPE_BASE = "urn:tiktok-publisher:problem:"
#: Statuses whose answer is "not now" rather than "no": asking again can succeed.
RETRYABLE_STATUSES = frozenset({429, 503})
#: How long a caller waits for the worker to answer a creator_info or a revoke.
WORKER_CALL_TIMEOUT = timedelta(seconds=30)
#: How long a state query may take before the search attribute stands in for it.
STATE_QUERY_SECONDS = 3.0


class ServiceProblem(Exception):
    """An answer that is an error: HTTP status, stable code, title, detail, field problems."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        *,
        kind: str | None = None,
        problems: Sequence[Problem] = (),
        headers: dict[str, str] | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.kind = kind or code.lower().replace("_", "-")
        self.problems = list(problems)
        self.headers = headers or {}
        if retryable is None:  # what error-codes.md says of the code, else by the status
            documented = ANSWER_CODES.get(code)
            retryable = documented.retryable if documented else status in RETRYABLE_STATUSES
        self.retryable = retryable
        """Whether the same request, sent again unchanged (after Retry-After, if given), can
        succeed: a 429 or 503 can; a refusal, an invalid request or a bug cannot."""
        self.extra: dict[str, Any] = {}
        """Extension members of the document (RFC 9457), e.g. a refused retry's errorCode."""

    def document(self) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "retryable": self.retryable,
            "problems": [p.as_dict() for p in self.problems],
            **self.extra,
        }


def invalid(problems: Sequence[Problem], detail: str = "") -> ServiceProblem:
    return ServiceProblem(
        422,
        "REQUEST_INVALID",
        "The request is invalid",
        detail or f"{len(problems)} problem(s); nothing was started.",
        kind="request-invalid",
        problems=problems,
    )


def not_found(code: str, detail: str) -> ServiceProblem:
    return ServiceProblem(404, code, "Not found", detail, kind="not-found")


def refused(code: str, detail: str) -> ServiceProblem:
    return ServiceProblem(409, code, "The action was refused", detail, kind="action-refused")


#: Temporal's answers that a later, identical request may not get: it was busy, slow or
#: unreachable. Any other status (PERMISSION_DENIED, NOT_FOUND for the namespace, ...) is
#: the API's own configuration, which asking again does not change.
TRANSIENT_RPC = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNKNOWN,
    }
)


def temporal_unavailable(err: RPCError) -> ServiceProblem:
    if err.status in TRANSIENT_RPC:
        return ServiceProblem(
            503,
            "TEMPORAL_UNAVAILABLE",
            "Temporal did not answer",
            f"Temporal failed the request ({err.status.name}); try again.",
            headers={"Retry-After": "5"},
        )
    return ServiceProblem(
        502,
        "TEMPORAL_REFUSED",
        "Temporal refused the request",
        f"Temporal refused the request ({err.status.name}): check the server's Temporal "
        "settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, its API key or TLS); asking again "
        "will not help.",
    )


def not_ready(err: ActionRejected) -> ServiceProblem:
    """No worker answered the action in time: it may still be applied when one comes."""
    return ServiceProblem(
        503,
        err.code,
        "The post cannot answer now",
        str(err),
        kind="post-not-ready",
        headers={"Retry-After": "5"},
    )


def problem_of(err: Exception) -> ServiceProblem | None:
    """The problem document a front door (HTTP, MCP) answers for an error of the service's
    callers; None for an error that is a bug."""
    if isinstance(err, ServiceProblem):
        return err
    if isinstance(err, RequestInvalid):
        return invalid(err.problems)
    if isinstance(err, PostNotFound):
        return not_found("POST_NOT_FOUND", str(err))
    if isinstance(err, ActionRejected):
        return not_ready(err) if err.code == NOT_READY else refused(err.code, str(err))
    if isinstance(err, RPCError):
        return temporal_unavailable(err)
    return None


def _field_invalid(field_path: str, message: str) -> ServiceProblem:
    return invalid([Problem("TT_FIELD_INVALID", field_path, message)])


def overall_status(phases: Sequence[str | None]) -> str:
    done = {Phase.PUBLISHED.value, Phase.DELIVERED_TO_INBOX.value}
    terminal = done | {Phase.CANCELLED.value, Phase.FAILED.value}
    if any(p not in terminal for p in phases):
        return "in_progress"
    published = sum(p in done for p in phases)
    if published == len(phases):
        return "published"
    if published:
        return "partly_published"
    if all(p == Phase.CANCELLED.value for p in phases):
        return "cancelled"
    return "failed"


def _encode_cursor(token: bytes | None) -> str | None:
    return base64.urlsafe_b64encode(token).decode() if token else None


def _decode_cursor(cursor: str | None) -> bytes | None:
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _field_invalid("cursor", "not a cursor this API returned") from None


FINISHED_STATES = frozenset(
    p.value for p in (Phase.PUBLISHED, Phase.DELIVERED_TO_INBOX, Phase.CANCELLED, Phase.FAILED)
)


def not_connected(account_id: str) -> SubmitWarning:
    return SubmitWarning(
        code="TOKEN_MISSING",
        accountId=account_id,
        message=not_connected_message(account_id, "POST /v1/accounts/connect"),
    )


@dataclass
class Service:
    publisher: PostPublisher
    database: Database
    accounts_store: AccountStore
    api_keys: ApiKeys
    connect_flow: ConnectFlow
    connected: ConnectedAccounts | None = None
    """Set where the workers read tokens from this account store: a submit for an account
    with no token is answered with a warning (starter/connected_accounts.py)."""

    @cached_property
    def tiktok_webhooks(self) -> TikTokWebhookInbox:
        """TikTok's webhooks in (starter.tiktok_webhooks), verified with the app's secret."""
        return TikTokWebhookInbox(
            self.publisher.client,
            ReceivedEvents(self.database),
            self.accounts_store,
            self.connect_flow.settings.client_secret,
        )

    @property
    def operations(self) -> Operations:
        return Operations(self.publisher)

    def _links(self, post_id: str, account_id: str) -> Links:
        wf_id = workflow_id(post_id, account_id)
        return Links.model_validate(
            {
                "self": f"/v1/posts/{post_id}/targets/{account_id}",
                "ui": self.publisher.workflow_url(wf_id),
            }
        )

    # -- posts -----------------------------------------------------------------------------

    @property
    def platform_sets(self) -> PlatformSets:
        return PlatformSets(self.database)

    async def submit(
        self, raw: Any, *, dialect: str | None = None, idempotency_key: str | None = None
    ) -> tuple[SubmitResponse, bool]:
        """(answer, created): created is False when every target existed (a repeat).

        `dialect` and `idempotency_key` come from the API's Dialect / Idempotency-Key
        headers (docs/dialects.md); platformSetId is resolved from the account store."""
        if not isinstance(raw, dict):
            raise _field_invalid("", "the request must be a JSON object")
        with tracing.span("submit"):
            post = await self.publisher.parse(
                raw,
                dialect=dialect,
                idempotency_key=idempotency_key,
                platform_sets=self.platform_sets.members,
            )
            submitted = await self.publisher.submit_post(post)
        drafts = {t.account_id: t.system_draft for t in post.targets}
        targets = [await self._submitted(item, drafts) for item in submitted]
        answer = SubmitResponse(postId=post.post_id, targets=targets)
        if self.connected is not None:
            # A repeat of a target that has ended (published, cancelled) waits for nothing.
            waiting = [t.accountId for t in targets if t.state not in FINISHED_STATES]
            for account in await self.connected.missing(waiting):
                answer.warnings.append(not_connected(account))
        return answer, any(s.created for s in submitted)

    async def _submitted(
        self, item: SubmittedTarget, drafts: dict[str, bool]
    ) -> SubmittedTargetOut:
        state: str | None
        if item.created:
            state = Phase.DRAFT.value if drafts.get(item.account_id) else Phase.SCHEDULED.value
        else:
            state = await self._phase_of(item.workflow_id)
        return SubmittedTargetOut(
            accountId=item.account_id,
            workflowId=item.workflow_id,
            runId=item.run_id,
            state=state or "UNKNOWN",
            created=item.created,
            links=self._links(item.post_id, item.account_id),
        )

    async def _quick_state(self, post_id: str, account_id: str) -> PostState | None:
        try:
            return await asyncio.wait_for(
                self.publisher.state(post_id, account_id), STATE_QUERY_SECONDS
            )
        except (TimeoutError, RPCError, PostNotFound):
            return None
        except Exception:  # a query can fail in several SDK ways; the attribute stands in
            return None

    async def _phase_of(self, wf_id: str) -> str | None:
        """The post's phase from its search attribute (no query: a repeat answers fast)."""
        request = DescribeWorkflowExecutionRequest(
            namespace=self.publisher.client.namespace,
            execution=WorkflowExecution(workflow_id=wf_id),
        )
        try:
            described = await self.publisher.client.workflow_service.describe_workflow_execution(
                request
            )
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        attrs = decode_typed_search_attributes(described.workflow_execution_info.search_attributes)
        return attrs.get(sa.POST_STATE)

    async def target(self, post_id: str, account_id: str) -> PostState:
        state = await self.publisher.state(post_id, account_id)
        state = await with_delivery_log(state, WebhookEndpoints(self.database))
        return await with_metrics(state, Analytics(self.database))

    async def metrics(self, post_id: str, account_id: str) -> PostMetricsOut:
        found = await post_metrics(Analytics(self.database), post_id, account_id)
        if not found.history:  # nothing measured yet, or no such post: Temporal knows which
            wf_id = workflow_id(post_id, account_id)
            if await self.publisher.run_status(wf_id) is None:
                raise PostNotFound(wf_id)
        return found

    async def post(self, post_id: str) -> PostOverview:
        query = f"{sa.POST_ID.name} = '{post_id}'"
        runs: dict[str, Any] = {}
        async for execution in self.publisher.client.list_workflows(
            f"WorkflowType = '{WORKFLOW_TYPE}' AND {query}", limit=1000
        ):
            runs.setdefault(execution.id, execution)  # newest run first
        if not runs:
            raise not_found("POST_NOT_FOUND", f"No post with postId {post_id}.")
        targets = []
        for wf_id, execution in sorted(runs.items()):
            account_id = wf_id.removeprefix(workflow_id(post_id, ""))
            if workflow_id(post_id, account_id) != wf_id or not account_id:
                continue  # started under another id (it fails INPUT_INVALID): not this post's
            state = await self._quick_state(post_id, account_id)
            attrs = execution.typed_search_attributes
            phase = state.phase.value if state else attrs.get(sa.POST_STATE)
            targets.append(
                TargetSummary(
                    accountId=account_id,
                    workflowId=wf_id,
                    runId=execution.run_id,
                    runStatus=execution.status.name if execution.status else "UNKNOWN",
                    state=phase,
                    errorCode=(state.error.code if state and state.error else None)
                    or attrs.get(sa.ERROR_CODE),
                    publicPostIds=list(state.public_post_ids) if state else [],
                    links=self._links(post_id, account_id),
                )
            )
        if not targets:
            raise not_found("POST_NOT_FOUND", f"No post with postId {post_id}.")
        return PostOverview(
            postId=post_id, status=overall_status([t.state for t in targets]), targets=targets
        )

    async def list_posts(
        self,
        *,
        state: Phase | None = None,
        account_id: str | None = None,
        post_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> PostList:
        # Values are checked (enum, id pattern) before they enter the visibility query; the
        # CLI's `list` builds its query with the same function.
        try:
            query = filters_query(state=state, account_id=account_id, post_id=post_id)
        except FilterInvalid as err:
            raise _field_invalid(err.field, err.message) from None
        iterator = self.publisher.client.list_workflows(
            query, page_size=limit, next_page_token=_decode_cursor(cursor)
        )
        try:
            await iterator.fetch_next_page()
        except RPCError as err:
            # Temporal says INVALID_ARGUMENT or UNKNOWN for a page token it did not issue.
            bad_token = err.status in (RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.UNKNOWN)
            if bad_token and cursor:
                raise _field_invalid("cursor", "not a cursor this API returned") from None
            raise
        seen: set[str] = set()
        items = []
        page = list(iterator.current_page or [])
        # A retried post's older FAILED run still matches its old state: each post target
        # is listed as its latest run only.
        latest = await latest_runs(self.publisher.client, list(dict.fromkeys(e.id for e in page)))
        for execution in page:
            if (
                execution.id in seen
                or latest.get(execution.id, execution.run_id) != execution.run_id
            ):
                continue
            seen.add(execution.id)
            parts = execution.id.split("/", 2)
            attrs = execution.typed_search_attributes
            items.append(
                ListedTarget(
                    postId=attrs.get(sa.POST_ID) or (parts[1] if len(parts) == 3 else ""),
                    accountId=attrs.get(sa.ACCOUNT_ID) or (parts[2] if len(parts) == 3 else ""),
                    workflowId=execution.id,
                    runId=execution.run_id,
                    runStatus=execution.status.name if execution.status else "UNKNOWN",
                    state=attrs.get(sa.POST_STATE),
                    errorCode=attrs.get(sa.ERROR_CODE),
                    startedAt=execution.start_time,
                    closedAt=execution.close_time,
                )
            )
        return PostList(items=items, nextCursor=_encode_cursor(iterator.next_page_token))

    async def schedule(self, post_id: str, account_id: str, at: datetime | None) -> PostState:
        return await self.publisher.schedule(post_id, account_id, at)

    async def publish_now(self, post_id: str, account_id: str) -> PostState:
        return await self.publisher.publish_now(post_id, account_id)

    async def reschedule(self, post_id: str, account_id: str, at: datetime) -> PostState:
        return await self.publisher.reschedule(post_id, account_id, at)

    async def cancel(self, post_id: str, account_id: str, reason: str | None) -> PostState:
        return await self.publisher.cancel(post_id, account_id, reason)

    async def retry(self, post_id: str, account_id: str, body: RetryBody) -> RetryResponse:
        fixes = Fixes(privacy=body.privacy, at=body.at, caption=body.caption)
        outcome = await self.operations.retry(
            workflow_id(post_id, account_id),
            fixes=fixes,
            confirm_not_posted=body.confirmNotPosted,
        )
        if not outcome.ok:
            problem = refused(outcome.refusal or "RETRY_REFUSED", outcome.reason)
            problem.extra["errorCode"] = outcome.error_code  # the failed run's own code
            raise problem
        return RetryResponse(
            workflowId=outcome.workflow_id,
            action=outcome.action,
            reason=outcome.reason,
            errorCode=outcome.error_code,
            runId=outcome.run_id,
        )

    # -- accounts ----------------------------------------------------------------------------

    async def _account_out(self, record: AccountRecord | None, account_id: str) -> AccountOut:
        unavailable = False
        try:
            entity = await account_state(self.publisher.client, account_id)
        except EntityUnavailable:
            entity, unavailable = None, True
        profile = record.profile if record else None
        return AccountOut(
            accountId=account_id,
            openId=profile.open_id if profile else "",
            username=profile.username if profile else "",
            displayName=profile.display_name if profile else "",
            avatarUrl=profile.avatar_url if profile else "",
            connectedAt=record.connected_at if record else None,
            hasTokens=record.has_tokens if record else False,
            scope=record.scope if record else "",
            tokenExpiresAt=record.expires_at if record else None,
            entity=entity,
            entityUnavailable=unavailable,
            followers=await followers(self.publisher.client, Analytics(self.database), account_id),
        )

    async def accounts(self) -> AccountList:
        records = await self.accounts_store.list_accounts()
        return AccountList(items=[await self._account_out(r, r.account_id) for r in records])

    async def account(self, account_id: str) -> AccountOut:
        record = await self.accounts_store.get(account_id)
        out = await self._account_out(record, account_id)
        if record is None and out.entity is None:
            raise not_found("ACCOUNT_NOT_FOUND", f"No connected account {account_id}.")
        return out

    async def _require_account(self, account_id: str) -> AccountRecord:
        record = await self.accounts_store.get(account_id)
        if record is None or not record.has_tokens:
            raise not_found(
                "ACCOUNT_NOT_FOUND",
                f"No connected account {account_id} (connect it with POST /v1/accounts/connect).",
            )
        return record

    async def _on_worker(self, workflow: str, account_id: str, result_type: type[Any]) -> Any:
        """Run one of the edge's short workflows on the worker and wait for its answer."""
        try:
            return await self.publisher.client.execute_workflow(
                workflow,
                account_id,
                id=f"tiktok-edge/{workflow}/{account_id}/{uuid.uuid4().hex[:12]}",
                task_queue=self.publisher.task_queue,
                result_type=result_type,
                execution_timeout=WORKER_CALL_TIMEOUT,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowFailureError as err:
            cause: BaseException | None = err.cause
            while cause is not None and not isinstance(cause, ApplicationError):
                cause = cause.__cause__
            if isinstance(cause, ApplicationError) and cause.type:
                # Missing tokens: no such connected account. A final refusal (revoked or
                # expired tokens, scope withdrawn): the account must be reconnected (409).
                # Anything else TikTok did is an upstream failure (502).
                # The account holding its calls (paused, or creator_info refused a while) is
                # "not now" (503).
                retryable, headers = False, {}
                if cause.type == "TOKEN_MISSING":
                    status, title, kind = 404, "Not found", "not-found"
                elif cause.type == ACCOUNT_BUSY:
                    status, title, kind = 503, "The account is busy", "account-busy"
                    headers = {"Retry-After": "30"}
                elif cause.non_retryable:
                    status, title, kind = 409, "TikTok refused the call", "tiktok-refused"
                else:
                    status, title, kind = 502, "TikTok failed the call", "tiktok-failed"
                    retryable = True
                raise ServiceProblem(
                    status,
                    cause.type,
                    title,
                    cause.message,
                    kind=kind,
                    headers=headers,
                    retryable=retryable or None,
                ) from None
            raise ServiceProblem(
                503,
                "WORKER_UNAVAILABLE",
                "No worker answered",
                f"No worker finished the {workflow} call within "
                f"{WORKER_CALL_TIMEOUT.total_seconds():.0f} s; is a worker running on task "
                f"queue {self.publisher.task_queue}?",
            ) from None

    async def creator_info(self, account_id: str) -> CreatorInfoOut:
        await self._require_account(account_id)
        info: CreatorInfo = await self._on_worker(CREATOR_INFO_LOOKUP_TYPE, account_id, CreatorInfo)
        return CreatorInfoOut(
            accountId=account_id,
            username=info.username,
            nickname=info.nickname,
            avatarUrl=info.avatar_url,
            privacyLevelOptions=[p.value for p in info.privacy_level_options],
            commentDisabled=info.comment_disabled,
            duetDisabled=info.duet_disabled,
            stitchDisabled=info.stitch_disabled,
            maxVideoPostDurationSec=info.max_video_post_duration_sec,
        )

    async def disconnect(self, account_id: str) -> DisconnectResponse:
        """Revoke at TikTok (on the worker), forget the tokens, tell the entity."""
        await self._require_account(account_id)
        outcome: RevokeOutcome = await self._on_worker(
            REVOKE_ACCESS_TYPE, account_id, RevokeOutcome
        )
        await self.accounts_store.forget(account_id)
        signalled = await signal_account(self.publisher.client, account_id, "forgotten")
        await stop_followers_schedule(self.publisher.client, account_id)
        return DisconnectResponse(
            accountId=account_id,
            revokedAtTikTok=outcome.revoked,
            revokeError=outcome.code,
            entitySignalled=signalled,
        )

    async def connect(self, account_id: str | None) -> ConnectResponse:
        try:
            start = await self.connect_flow.begin(account_id or "")
        except ConnectFailed as err:
            if err.code == "TT_FIELD_INVALID":
                raise _field_invalid("accountId", str(err)) from None
            raise ServiceProblem(err.status, err.code, "Cannot connect", str(err)) from None
        return ConnectResponse(
            authorizeUrl=start.authorize_url, state=start.state, expiresAt=start.expires_at
        )

    async def connect_callback(
        self, *, state: str, code: str, error: str, error_description: str
    ) -> ConnectedResponse:
        try:
            done = await self.connect_flow.complete(
                state=state, code=code, error=error, error_description=error_description
            )
        except ConnectFailed as err:
            raise ServiceProblem(
                err.status,
                err.code,
                "The account was not connected",
                str(err),
                kind="connect",
            ) from None
        return ConnectedResponse(
            accountId=done.account_id,
            openId=done.open_id,
            username=done.username,
            displayName=done.display_name,
            entityWoken=done.entity_woken,
            followersScheduled=done.followers_scheduled,
        )


def parse_json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _field_invalid("", "the body is not valid JSON") from None
    except RecursionError:
        raise _field_invalid("", "the body nests deeper than JSON parsing allows") from None


def request_problems(err: RequestInvalid) -> ServiceProblem:
    return invalid(err.problems)
