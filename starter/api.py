"""The Python API for services: submit posts and control them, one call each.

    publisher = await PostPublisher.connect()
    submitted = await publisher.submit(request_dict)      # raises RequestInvalid on bad input
    state = await publisher.state("post-123", "acct_1")

Everything the CLI does goes through here, so a service and an operator see the same thing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    StartWorkflowExecutionResponse,
)
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from starter.closed_runs import closed_state
from telemetry import tracing
from telemetry.metrics import record_submitted
from worker.config import connect
from worker.custody import CustodySettings
from worker.settings import Settings, load_settings
from workflows import search_attributes as sa
from workflows.contracts import (
    TASK_QUEUE,
    WORKFLOW_TYPE,
    Phase,
    PostState,
    PublishPostInput,
    PublishSettings,
    workflow_id,
)
from workflows.dialects import parse_request, platform_set_references
from workflows.request import Post, PublishTarget, RequestInvalid
from workflows.validation import Problem, ValidationPolicy

DEFAULT_UI_URL = "http://localhost:8233"
#: How long a state query waits for a worker before the answer comes from elsewhere.
STATE_QUERY_TIMEOUT = timedelta(seconds=10)
#: How long an action (reschedule, publish now, cancel, ...) waits for a worker to take it.
ACTION_TIMEOUT = timedelta(seconds=30)


PlatformSetSource = (
    Callable[[str], Awaitable[Sequence[str] | None]] | Mapping[str, Sequence[str] | None]
)
"""Where platformSetId is looked up: `PlatformSets(database).members`, or a plain mapping."""


async def resolve_platform_sets(
    request: Any, dialect: str | None, source: PlatformSetSource | None
) -> dict[str, Sequence[str] | None]:
    """The platform sets a request names, looked up (a missing set maps to None). Without a
    `source`, the account store of the environment (DATABASE_URL) is opened, only when the
    request names a set."""
    found: dict[str, Sequence[str] | None] = {}
    references = platform_set_references(request, dialect)
    if references and source is None:
        from account_store.database import open_database
        from account_store.platform_sets import PlatformSets

        source = PlatformSets(open_database()).members
    for set_id in references:
        if isinstance(source, Mapping):
            found[set_id] = source.get(set_id)
        elif source is not None:
            found[set_id] = await source(set_id)
    return found


class PostNotFound(LookupError):
    def __init__(self, wf_id: str) -> None:
        super().__init__(f"No post with workflow id {wf_id} (check the post id and account id).")
        self.workflow_id = wf_id


NOT_READY = "POST_NOT_READY"
"""The code of an action or a state no worker answered in time (it may still be applied)."""


class ActionRejected(Exception):
    """An action the post refused (`code` e.g. INVALID_PHASE: cancel after publishing
    began; TIME_IN_PAST; POST_CLOSED), or, with `code` POST_NOT_READY, one no worker took
    in time: that one is `retryable`, and Temporal may still apply it when a worker comes,
    so read the post's state before asking again."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def retryable(self) -> bool:
        """Whether asking again, unchanged, can succeed (only when no worker answered)."""
        return self.code == NOT_READY


@dataclass(frozen=True)
class SubmittedTarget:
    workflow_id: str
    run_id: str
    post_id: str
    account_id: str
    created: bool
    """False when a workflow for this target already existed: nothing new was started."""
    ui_url: str
    summary: str


@dataclass(frozen=True)
class ListedPost:
    workflow_id: str
    run_id: str
    status: str
    start_time: datetime | None
    close_time: datetime | None
    post_state: str | None = None
    """TikTokPostState: the post's phase (the run's status says only how Temporal sees it)."""
    error_code: str | None = None
    waiting_for: str | None = None
    """TikTokWaitingFor: what the post waits for (daily_post_cap, needs_reconnect, ...)."""


def events_settings(s: Settings) -> PublishSettings:
    """PublishSettings with the events features the settings turn on (README, Webhooks)."""
    from workflows.analytics import AnalyticsSchedule

    schedule = AnalyticsSchedule(
        every_seconds=s.analytics_every_hours * 3600, for_seconds=s.analytics_days * 86400
    )
    return PublishSettings(
        webhook_fallback_poll_seconds=s.webhook_fallback_poll_seconds or None,
        ambiguity_evidence_window_seconds=s.ambiguity_evidence_window_seconds,
        webhooks_out=s.webhooks_out,
        analytics=schedule if s.analytics else None,
    )


class PostPublisher:
    def __init__(
        self,
        client: Client,
        *,
        task_queue: str = TASK_QUEUE,
        policy: ValidationPolicy | None = None,
        settings: PublishSettings | None = None,
        ui_url: str = DEFAULT_UI_URL,
        pull_base_url: str | None = None,
        verified_url_prefixes: tuple[str, ...] = (),
        video_source: str = "file_upload",
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        policy = policy or ValidationPolicy()
        if policy.source_rule is None:  # literal addresses are refused at submit, always
            policy = dataclasses.replace(policy, source_rule=CustodySettings.from_env().source_rule)
        self.policy = policy
        self.settings = settings or PublishSettings()
        self.ui_url = ui_url.rstrip("/")
        self.pull_base_url = pull_base_url
        """Where TikTok will pull staged media from (the bucket's public or S3 URL)."""
        self.verified = ValidationPolicy(verified_url_prefixes=verified_url_prefixes)
        self.video_source = video_source
        self.action_timeout = ACTION_TIMEOUT
        """How long an action waits for a worker before it is POST_NOT_READY."""

    @classmethod
    async def connect(
        cls,
        settings: Settings | None = None,
        *,
        publish_settings: PublishSettings | None = None,
        **kwargs: Any,
    ) -> PostPublisher:
        """Connect with Temporal's envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...); the
        rest (task queue, UI address, bucket URL, verified prefixes) from `worker.settings`.
        `publish_settings`: what every post this publisher starts carries (timeouts, polling,
        webhooks out, analytics); by default PublishSettings with the events features the
        environment turns on: `events_settings(load_settings()).model_copy(update={...})`
        changes one field and keeps those.
        Raises ConfigError naming any bad variable."""
        s = settings or load_settings()
        if publish_settings is not None:
            kwargs["settings"] = publish_settings
        if not tracing.enabled():
            tracing.configure(s.otlp_endpoint, f"{s.service_name}-starter")
        kwargs.setdefault("task_queue", s.task_queue)
        kwargs.setdefault("ui_url", s.temporal_ui_url)
        kwargs.setdefault("pull_base_url", s.media_public_base_url or s.media_endpoint_url)
        kwargs.setdefault("verified_url_prefixes", s.verified_url_prefixes)
        kwargs.setdefault("video_source", s.video_source)
        if s.webhook_fallback_poll_seconds or s.webhooks_out or s.analytics:
            kwargs.setdefault("settings", events_settings(s))
        return cls(await connect(), **kwargs)

    async def close(self) -> None:
        """Export the traces this process still buffers (with an OTLP endpoint; a no-op
        without). The Temporal client holds nothing that needs closing."""
        await asyncio.to_thread(tracing.flush)

    async def __aenter__(self) -> PostPublisher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def workflow_url(self, wf_id: str) -> str:
        namespace = quote(self.client.namespace, safe="")
        return f"{self.ui_url}/namespaces/{namespace}/workflows/{quote(wf_id, safe='')}"

    async def submit(
        self,
        request: Mapping[str, Any],
        *,
        dialect: str | None = None,
        idempotency_key: str | None = None,
        platform_sets: PlatformSetSource | None = None,
    ) -> list[SubmittedTarget]:
        """Validate, then start one PublishPost per target. Idempotent per (postId, account).

        `dialect`: native, ampost or post-for-me (None: detected, docs/dialects.md);
        `idempotency_key`: what the API's Idempotency-Key header carries; `platform_sets`:
        where Ampost's platformSetId is looked up (e.g. `PlatformSets(database).members`).
        Raises `workflows.request.RequestInvalid` (every problem, with codes and field paths)
        before anything starts, and temporalio's `RPCError` when Temporal fails a start: the
        targets before it have started, and submitting the same request again is safe (it
        attaches to them and starts the rest).
        """
        with tracing.span("submit"):
            post = await self.parse(
                request,
                dialect=dialect,
                idempotency_key=idempotency_key,
                platform_sets=platform_sets,
            )
            return await self.submit_post(post)

    async def parse(
        self,
        request: Any,
        *,
        dialect: str | None = None,
        idempotency_key: str | None = None,
        platform_sets: PlatformSetSource | None = None,
    ) -> Post:
        """The request in any dialect as the normalised post, its platform sets resolved."""
        sets = await resolve_platform_sets(request, dialect, platform_sets)
        return parse_request(
            request,
            dialect=dialect,
            idempotency_key=idempotency_key,
            platform_sets=sets,
            policy=self.policy,
        )

    async def submit_post(self, post: Post) -> list[SubmittedTarget]:
        """Start one PublishPost per target of an already validated post."""
        problems = self.delivery_problems(post.targets)
        if problems:
            raise RequestInvalid(problems)
        return [await self.start_target(target) for target in post.targets]

    def delivery_problems(self, targets: list[PublishTarget]) -> list[Problem]:
        """TikTok pulls staged photos (and PULL_FROM_URL videos) from our bucket's URL: if
        that host is not among the verified ones, say so now, not at publish time."""
        return delivery_problems(
            targets,
            pull_base_url=self.pull_base_url,
            verified=self.verified,
            video_source=self.video_source,
        )

    async def start_target(
        self, target: PublishTarget, *, settings: PublishSettings | None = None
    ) -> SubmittedTarget:
        wf_id = workflow_id(target.post_id, target.account_id)
        summary = target.summary()
        try:
            handle = await self.start_run(
                PublishPostInput(target=target, settings=settings or self.settings),
                summary=summary,
                # A running post attaches; a finished one is never started again by a
                # resubmission (retrying a failed post is an explicit, separate action).
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            run_id = handle.result_run_id or ""
            existed = not await self._started_by(handle)
        except RPCError as err:
            if err.status is not RPCStatusCode.ALREADY_EXISTS:
                raise
            existed, run_id = True, ""
        except WorkflowAlreadyStartedError as err:  # a closed run with this id
            existed, run_id = True, err.run_id or ""
        record_submitted(created=not existed)
        return SubmittedTarget(
            workflow_id=wf_id,
            run_id=run_id,
            post_id=target.post_id,
            account_id=target.account_id,
            created=not existed,
            ui_url=self.workflow_url(wf_id),
            summary=summary,
        )

    async def start_run(
        self,
        request: PublishPostInput,
        *,
        id_conflict_policy: WorkflowIDConflictPolicy,
        id_reuse_policy: WorkflowIDReusePolicy,
        summary: str | None = None,
    ) -> WorkflowHandle[Any, Any]:
        """Start a PublishPost run with its summary and search attributes set from the start
        (so it is findable before its first task runs)."""
        target = request.target
        return await self.client.start_workflow(
            WORKFLOW_TYPE,
            request,
            id=target.workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=id_conflict_policy,
            id_reuse_policy=id_reuse_policy,
            static_summary=summary if summary is not None else target.summary(),
            search_attributes=sa.initial(
                post_id=target.post_id,
                account_id=target.account_id,
                mode=target.kind.value,
                state=Phase.DRAFT.value if target.system_draft else Phase.SCHEDULED.value,
                scheduled_for=target.scheduled_for,
            ),
        )

    def handle(self, post_id: str, account_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(workflow_id(post_id, account_id))

    async def state(self, post_id: str, account_id: str) -> PostState:
        """The post's `state` query. A finished run whose worker does not answer within
        `STATE_QUERY_TIMEOUT`, or whose worker fails the query (it must replay the run to
        answer), is read from Temporal's record instead (`closed_runs`); an open one is
        POST_NOT_READY, because only a worker can say where it stands."""
        handle = self.handle(post_id, account_id)
        try:
            state: PostState = await handle.query(
                "state", result_type=PostState, rpc_timeout=STATE_QUERY_TIMEOUT
            )
            return state
        except WorkflowQueryFailedError as err:
            # The run's record is the answer a finished post needs; the worker's failure
            # (a replay that went wrong, say) is the operator's to see in its logs.
            closed = await closed_state(handle)
            if closed is not None:
                return closed
            raise ActionRejected(
                NOT_READY,
                f"{handle.id} is running but its worker could not answer ({err}); see the "
                "run's pending workflow task in the Temporal UI.",
            ) from None
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                raise PostNotFound(handle.id) from None
            if err.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                closed = await closed_state(handle)
                if closed is not None:
                    return closed
                raise ActionRejected(
                    NOT_READY,
                    f"{handle.id} did not answer within {STATE_QUERY_TIMEOUT.seconds} s: no "
                    f"worker polls task queue {self.task_queue!r}, or it is overloaded. Start "
                    "or check a worker, then ask again.",
                ) from None
            if err.status is RPCStatusCode.FAILED_PRECONDITION:
                # The server refuses at once when no worker polled the queue lately ("no
                # poller seen"): a finished run is still read from its record. An open run
                # cannot answer yet: its first step has not run, or that step keeps failing.
                closed = await closed_state(handle)
                if closed is not None:
                    return closed
                raise ActionRejected(
                    NOT_READY,
                    f"{handle.id} cannot report its state yet ({err.message}); check that a "
                    "worker polls the task queue, then ask again.",
                ) from None
            raise

    async def watch(
        self, post_id: str, account_id: str, *, interval: float = 1.0
    ) -> AsyncIterator[PostState]:
        """Yield the state each time it changes, until the post reaches a terminal phase."""
        last: str | None = None
        while True:
            try:
                state = await self.state(post_id, account_id)
            except ActionRejected as slow:
                if slow.code != NOT_READY:
                    raise
                await asyncio.sleep(interval)  # a busy or restarting worker: keep watching
                continue
            fingerprint = state.model_dump_json()
            if fingerprint != last:
                last = fingerprint
                yield state
            if state.phase.terminal:
                return
            await asyncio.sleep(interval)

    async def reschedule(self, post_id: str, account_id: str, at: datetime) -> PostState:
        """Move a scheduled post (or a draft's planned time) to `at`, a future time with a
        UTC offset. Raises PostNotFound, or ActionRejected (INVALID_PHASE once publishing
        began, TIME_IN_PAST, TT_TIMEZONE_REQUIRED, POST_CLOSED, POST_NOT_READY)."""
        return await self._update(post_id, account_id, "reschedule", at)

    async def schedule(self, post_id: str, account_id: str, at: datetime | None) -> PostState:
        """Put a system draft on the schedule at `at` (None: as soon as possible). Raises as
        `reschedule` does (INVALID_PHASE if it is not a draft)."""
        return await self._update(post_id, account_id, "schedule", at)

    async def publish_now(self, post_id: str, account_id: str) -> PostState:
        """Publish a draft or a scheduled post as soon as possible. Raises as `reschedule`."""
        return await self._update(post_id, account_id, "publish_now")

    async def cancel(self, post_id: str, account_id: str, reason: str | None = None) -> PostState:
        """Cancel a draft or scheduled post, or one its account holds before any init of it
        could go live: nothing reaches TikTok, and the same postId never runs again. Raises
        as `reschedule` (INVALID_PHASE once an init may have reached TikTok)."""
        return await self._update(post_id, account_id, "cancel", reason)

    async def list_posts(self, query: str | None = None, *, limit: int = 100) -> list[ListedPost]:
        """Runs of PublishPost, up to `limit`, filtered by a visibility `query`
        (e.g. "TikTokPostState = 'FAILED'"); a retried post appears once per run."""
        base = f"WorkflowType = '{WORKFLOW_TYPE}'"
        full = f"{base} AND ({query})" if query else base
        posts: list[ListedPost] = []
        async for execution in self.client.list_workflows(full, limit=limit):
            status = execution.status
            posts.append(
                ListedPost(
                    workflow_id=execution.id,
                    run_id=execution.run_id,
                    status=status.name if isinstance(status, WorkflowExecutionStatus) else "",
                    start_time=execution.start_time,
                    close_time=execution.close_time,
                    post_state=execution.typed_search_attributes.get(sa.POST_STATE),
                    error_code=execution.typed_search_attributes.get(sa.ERROR_CODE),
                    waiting_for=execution.typed_search_attributes.get(sa.WAITING_FOR),
                )
            )
        return posts

    async def _update(self, post_id: str, account_id: str, name: str, *args: Any) -> PostState:
        handle = self.handle(post_id, account_id)
        try:
            # Bounded here, not by rpc_timeout: with no worker, the server ends each wait
            # after about 20 s with the update only admitted and the SDK asks again, so a
            # per-call deadline of 30 s is never reached.
            try:
                async with asyncio.timeout(self.action_timeout.total_seconds()) as waiting:
                    update = await handle.start_update(
                        name,
                        args=list(args),
                        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                        result_type=PostState,
                    )
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                if not waiting.expired():
                    raise  # the caller gave up: not the post's answer
                raise ActionRejected(
                    NOT_READY,
                    f"{handle.id} did not take the {name} within "
                    f"{self.action_timeout.total_seconds():.0f} s: no worker polls task queue "
                    f"{self.task_queue!r}, or it is overloaded. Temporal may still hand the "
                    f"{name} to the post when a worker comes: start or check a worker, read "
                    "the post's state, then ask again if it is needed.",
                ) from None
            state: PostState = await update.result()  # a worker took it: it finishes
            return state
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                raise ActionRejected(cause.type or "REJECTED", cause.message) from None
            raise
        except RPCError as err:
            if err.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                raise
            # Either no such post, or its run has closed (servers word this differently).
            try:
                described = await handle.describe()
            except RPCError as gone:
                if gone.status is RPCStatusCode.NOT_FOUND:
                    raise PostNotFound(handle.id) from None
                raise
            status = described.status.name if described.status else "UNKNOWN"
            phase = described.typed_search_attributes.get(sa.POST_STATE)  # how the post ended
            ended = f"{phase}, run {status}" if phase else status
            raise ActionRejected(
                "POST_CLOSED", f"Cannot {name}: the post has already ended ({ended})."
            ) from None

    @staticmethod
    async def _started_by(handle: WorkflowHandle[Any, Any]) -> bool:
        """Whether this start created the run (False: it attached to a running one).

        The server says so in the start response (`started`), which the SDK keeps on the
        handle; reading it saves a DescribeWorkflowExecution round trip per target (the
        submit benchmark, bench/submit_rate.py, measures the difference).
        tests/test_cli.py's resubmission test fails if an SDK upgrade moves it."""
        response = getattr(handle, "_start_workflow_response", None)
        return isinstance(response, StartWorkflowExecutionResponse) and response.started

    async def run_status(self, wf_id: str) -> str | None:
        """RUNNING, COMPLETED, FAILED, ... of the latest run, or None when there is none."""
        latest = await self.latest_run(wf_id)
        return latest[0] if latest else None

    async def latest_run(self, wf_id: str) -> tuple[str, str] | None:
        """(status, run id) of the latest run, or None when there is none."""
        request = DescribeWorkflowExecutionRequest(
            namespace=self.client.namespace, execution=WorkflowExecution(workflow_id=wf_id)
        )
        try:
            response = await self.client.workflow_service.describe_workflow_execution(request)
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        info = response.workflow_execution_info
        status = WorkflowExecutionStatus(info.status).name if info.status else "UNKNOWN"
        return status, info.execution.run_id


def delivery_problems(
    targets: list[PublishTarget],
    *,
    pull_base_url: str | None,
    verified: ValidationPolicy,
    video_source: str,
) -> list[Problem]:
    """The check of `PostPublisher.delivery_problems`, usable without a Temporal client
    (`tiktok-publisher validate`)."""
    if not pull_base_url or not verified.verified_url_prefixes:
        return []
    pulled = any(not t.is_video or video_source == "pull_from_url" for t in targets)
    if not pulled or verified.covers(pull_base_url.rstrip("/") + "/"):
        return []
    host = urlsplit(pull_base_url).hostname or pull_base_url
    return [
        Problem(
            "TT_DOMAIN_UNVERIFIED",
            "media",
            f"TikTok would pull this post's media from {host} (the media bucket's URL), "
            "which is not in TIKTOK_VERIFIED_URL_PREFIXES. Verify that domain or URL "
            "prefix for the app in the TikTok developer portal and add it there, or "
            "TikTok will refuse the post with url_ownership_unverified.",
        )
    ]
