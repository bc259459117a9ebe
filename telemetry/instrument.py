"""Where the worker's series come from, without the activities or workflows knowing.

- `MeteredTransport` wraps the TikTok client's HTTP transport: every request is counted by
  endpoint and status and timed; 429s and uploaded chunk bytes too.
- `MeteredTikTokClient` counts token refreshes by result.
- `MetricsInterceptor` counts finished posts (from the workflow's result or failure type),
  times staging (from the stage_media activity's result) and times the waits for the
  account entity (from the `account_answer` signals a run receives; `telemetry.waits`).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    HandleSignalInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from activities.http_transport import AiohttpTransport
from activities.tiktok_client import (
    Endpoint,
    TikTokApiError,
    TikTokClient,
    TokenGrant,
    endpoint_for_path,
)
from telemetry import metrics
from telemetry.waits import WaitClock
from workflows.account_contracts import ANSWER_SIGNAL, SlotAnswer
from workflows.contracts import WORKFLOW_TYPE, PublishResult, StagedMedia


class MeteredTransport(httpx.AsyncBaseTransport):
    """An httpx transport that records each TikTok request in `telemetry.metrics`."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or AiohttpTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        found = endpoint_for_path(request.url.path)
        endpoint = found.value if found else Endpoint.UPLOAD.value
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            metrics.record_api_call(endpoint, None, time.perf_counter() - started)
            raise
        metrics.record_api_call(endpoint, response.status_code, time.perf_counter() - started)
        if endpoint == Endpoint.UPLOAD.value and response.status_code in (200, 201, 206):
            metrics.record_uploaded(int(request.headers.get("content-length") or 0))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class MeteredTikTokClient(TikTokClient):
    """The TikTok client with a metered transport and counted token refreshes."""

    def __init__(self, base_url: str, *, timeout: httpx.Timeout | None = None) -> None:
        super().__init__(base_url, timeout=timeout, transport=MeteredTransport())

    async def refresh_access_token(
        self, *, client_key: str, client_secret: str, refresh_token: str
    ) -> TokenGrant:
        try:
            grant = await super().refresh_access_token(
                client_key=client_key, client_secret=client_secret, refresh_token=refresh_token
            )
        except TikTokApiError as err:
            metrics.record_token_refresh(err.code)
            raise
        metrics.record_token_refresh("ok")
        return grant


class MetricsInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TimeStaging(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _CountOutcome


class _TimeStaging(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        from temporalio import activity

        if activity.info().activity_type != "stage_media":
            return await super().execute_activity(input)
        started = time.perf_counter()
        try:
            result = await super().execute_activity(input)
        except ApplicationError as err:
            metrics.record_staging(err.type or "ERROR", time.perf_counter() - started)
            raise
        except BaseException:
            metrics.record_staging("ERROR", time.perf_counter() - started)
            raise
        if isinstance(result, StagedMedia):
            staged = sum(i.size_bytes for i in result.items if not i.reused)
            metrics.record_staging("ok", time.perf_counter() - started, staged)
        return result


class _CountOutcome(WorkflowInboundInterceptor):
    """Counts a PublishPost run's end once: not while replaying history (a worker that picks
    up a finished-but-unreported task replays the end without counting it again). Times the
    run's waits for its account the same way (any workflow type that asks for slots)."""

    def __init__(self, next: WorkflowInboundInterceptor) -> None:
        super().__init__(next)
        self._waits = WaitClock()

    async def handle_signal(self, input: HandleSignalInput) -> None:
        if input.signal == ANSWER_SIGNAL and input.args and isinstance(input.args[0], SlotAnswer):
            self._waits.answer(input.args[0], workflow.now(), live=_live())
        return await super().handle_signal(input)

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        try:
            return await self._execute(input)
        finally:
            # The run ended while waiting (QUOTA_WAIT_EXCEEDED, cancelled, ...). An eviction
            # from the cache also ends this coroutine, but counts as replay: nothing then.
            if self._waits.waiting_for is not None and _live():
                self._waits.end(workflow.now(), live=True)

    async def _execute(self, input: ExecuteWorkflowInput) -> Any:
        if workflow.info().workflow_type != WORKFLOW_TYPE:
            return await super().execute_workflow(input)
        try:
            result = await super().execute_workflow(input)
        except ApplicationError as err:
            if _live():
                metrics.record_post_finished("FAILED", err.type or "")
            raise
        if isinstance(result, PublishResult) and _live():
            metrics.record_post_finished(result.phase.value)
        return result


def _live() -> bool:
    return not workflow.unsafe.is_replaying()
