"""A finished post's state, read from Temporal without a worker.

The `state` query needs a worker to replay the run, even when the run is long over. When no
worker answers (an incident, a retired task queue), a finished post still has everything that
matters in Temporal itself: its search attributes, its start and close times, and its result or
failure. This module turns those into the same `PostState` the query returns, so `status`, the
API and the MCP tools can answer for finished posts while every worker is down.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from workflows import search_attributes as sa
from workflows.contracts import Phase, PostError, PostState, PublishResult
from workflows.errors import classify_error

#: Temporal run statuses after which a post cannot change any more.
CLOSED = {
    WorkflowExecutionStatus.COMPLETED,
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.CANCELED,
    WorkflowExecutionStatus.TIMED_OUT,
}
NOTE = "read from the finished run's history: no worker answered the state query"


async def closed_state(handle: WorkflowHandle[Any, Any]) -> PostState | None:
    """The post's final state from Temporal's record of a finished run, or None while the run
    is still open (then only a worker can tell)."""
    described = await handle.describe()
    if described.status not in CLOSED:
        return None
    _, post_id, account_id = described.id.split("/", 2)
    attrs = described.typed_search_attributes
    phase = Phase(attrs.get(sa.POST_STATE) or Phase.FAILED.value)
    state = PostState(
        workflow_id=described.id,
        post_id=attrs.get(sa.POST_ID) or post_id,
        account_id=attrs.get(sa.ACCOUNT_ID) or account_id,
        mode=attrs.get(sa.MODE) or "",
        phase=phase,
        summary="",
        accepted_at=described.start_time,
        finished_at=described.close_time,
    )
    status = described.status
    if status is WorkflowExecutionStatus.COMPLETED:
        result = PublishResult.model_validate(await handle.result())
        state.phase = result.phase
        state.publish_id = result.publish_id
        state.public_post_ids = list(result.public_post_ids)
    elif status is WorkflowExecutionStatus.FAILED:
        state.phase = Phase.FAILED
        state.error = await _failure(handle, attrs.get(sa.ERROR_CODE))
    else:
        # Terminated, cancelled or timed out by Temporal: the post did not end by itself.
        rule = classify_error("RUN_ENDED_OUTSIDE_ENGINE")
        state.phase = Phase.FAILED if phase not in (Phase.PUBLISHED, Phase.CANCELLED) else phase
        state.error = PostError(
            code=rule.code,
            message=f"The run was {status.name.lower()} in Temporal. {rule.meaning}",
            remedy=rule.remedy,
            retryable=rule.retryable,
            may_be_live=True,
        )
    outcome = state.error.code if state.error else state.phase.value
    state.summary = f"{state.phase.value} ({outcome}); {NOTE}."
    state.history = [f"{state.finished_at:%Y-%m-%d %H:%M:%SZ} {NOTE}"] if state.finished_at else []
    return state


async def _failure(handle: WorkflowHandle[Any, Any], code: str | None) -> PostError:
    try:
        await handle.result()
    except WorkflowFailureError as failed:
        cause = failed.cause
        if isinstance(cause, ApplicationError) and cause.details:
            detail = cause.details[0]
            if isinstance(detail, dict):
                try:
                    return PostError.model_validate(detail)
                except ValueError:
                    pass
        code = code or (cause.type if isinstance(cause, ApplicationError) else None)
    rule = classify_error(code or "UNKNOWN")
    return PostError(
        code=rule.code, message=rule.meaning, remedy=rule.remedy, retryable=rule.retryable
    )
