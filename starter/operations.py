"""What incident responders do: retry failed posts, act on many posts at once, explain one.

Everything here reads the runs' own histories (the original request, how the run ended), so
it works with no worker running and never needs a database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowExecution, WorkflowExecutionDescription, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.converter import DataConverter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from starter.api import NOT_READY, ActionRejected, PostNotFound, PostPublisher
from workflows import search_attributes as sa
from workflows.claims import CLAIM_VERDICT_SIGNAL, ClaimVerdict
from workflows.contracts import (
    WORKFLOW_TYPE,
    Phase,
    PublishPostInput,
    RetryOf,
    StagingRetry,
)
from workflows.errors import rule_for
from workflows.post_actions import TAKEN_IN, TAKEN_WHILE_HELD, may_be_held_before_any_init
from workflows.request import RequestInvalid
from workflows.tiktok import Privacy
from workflows.validation import validate_target

RUN_ENDED_OUTSIDE_ENGINE = "RUN_ENDED_OUTSIDE_ENGINE"
ENDED_OUTSIDE_ENGINE = frozenset({"TERMINATED", "CANCELED", "TIMED_OUT"})
"""Run statuses only Temporal (an operator, a timeout) gives a post: the engine never does."""
_ENDED_OUTSIDE_ENGINE_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    }
)
NOT_LATEST = "not retried: the matched run is not the post's latest"
#: Why a retry was refused (`Outcome.refusal`; the HTTP API's and MCP's 409 code).
NEEDS_CONFIRMATION = "RETRY_NEEDS_CONFIRMATION"
NOT_ALLOWED = "RETRY_NOT_ALLOWED"
NOT_FAILED = "RETRY_NOT_FAILED"
ENDED_FOR_GOOD = frozenset(
    {Phase.PUBLISHED.value, Phase.DELIVERED_TO_INBOX.value, Phase.CANCELLED.value}
)


@dataclass(frozen=True)
class Fixes:
    """Changes a retry applies to the original request."""

    privacy: Privacy | None = None
    at: datetime | None = None
    caption: str | None = None

    def describe(self) -> list[str]:
        said = []
        if self.privacy is not None:
            said.append(f"privacy {self.privacy.value}")
        if self.at is not None:
            said.append(f"scheduled for {self.at.isoformat()}")
        if self.caption is not None:
            said.append("new caption")
        return said


@dataclass(frozen=True)
class Outcome:
    """What happened (or, in a dry run, would happen) to one post."""

    workflow_id: str
    action: str
    """retried | would retry | cancelled | would cancel | rescheduled | would reschedule |
    skipped"""
    reason: str = ""
    error_code: str | None = None
    """The code the post's failed run ended with (what a retry would fix)."""
    run_id: str | None = None
    refusal: str | None = None
    """For a skipped post, why, as a stable code: RETRY_NEEDS_CONFIRMATION (TikTok may
    have the post: retry it alone with confirm-not-posted), RETRY_NOT_ALLOWED (it had
    published or been cancelled), RETRY_NOT_FAILED (running, finished, or retried
    meanwhile), or the refused action's own code."""

    @property
    def ok(self) -> bool:
        return self.action != "skipped"


@dataclass
class FailedRun:
    run_id: str
    request: PublishPostInput
    error_code: str
    error_message: str
    may_be_live: bool = False
    events: list[HistoryEvent] = field(default_factory=list)
    schedule: dict[str, Any] = field(default_factory=dict)
    """The target's `scheduled_for` and `system_draft` as the run's schedule, schedule and
    publish_now updates left them (empty: unchanged since the start)."""


class Operations:
    def __init__(self, publisher: PostPublisher) -> None:
        self.publisher = publisher
        self.client = publisher.client

    # -- retry -------------------------------------------------------------------------

    async def retry(
        self,
        workflow_id: str,
        *,
        fixes: Fixes = Fixes(),
        confirm_not_posted: bool = False,
        dry_run: bool = False,
        expected_run_id: str | None = None,
    ) -> Outcome:
        """Start a new run of a FAILED post from its original request, with optional fixes.

        `expected_run_id`: act only if that run is still the post's latest (bulk retries
        select runs by query; an older run of the same post must not stand for the latest).
        """
        latest = await self.publisher.latest_run(workflow_id)
        if latest is None:
            raise PostNotFound(workflow_id)
        status, run_id = latest
        if expected_run_id is not None and run_id != expected_run_id:
            return Outcome(workflow_id, "skipped", NOT_LATEST)
        _require_future(fixes.at)
        if status in ENDED_OUTSIDE_ENGINE:
            skipped = await self._ended_outside_engine(workflow_id, status, confirm_not_posted)
            if skipped is not None:
                return skipped
        elif status != "FAILED":
            why = {
                "RUNNING": "it is still running (cancel or reschedule it instead)",
                "COMPLETED": "it finished without failing (published, delivered or cancelled)",
            }.get(status, f"its run ended {status}, not FAILED")
            return Outcome(workflow_id, "skipped", f"not retried: {why}", refusal=NOT_FAILED)
        failed = await self._failed_run(workflow_id)
        if failed.may_be_live and not confirm_not_posted:
            return Outcome(
                workflow_id,
                "skipped",
                f"not retried: TikTok may already have this post ({failed.error_code} after "
                "the upload was sent). Check the creator's profile and inbox; if it is not "
                "there, retry this post with --confirm-not-posted (confirmNotPosted in the API).",
                failed.error_code,
                failed.run_id,
                refusal=NEEDS_CONFIRMATION,
            )
        target = failed.request.target
        options = target.options
        if fixes.privacy is not None:
            options = options.model_copy(update={"privacy": fixes.privacy})
        # The schedule the failed run ended with, not the one it was submitted with: a draft
        # that was scheduled or published now, or a post rescheduled, keeps that.
        update: dict[str, Any] = {"options": options, **failed.schedule}
        if fixes.at is not None:
            update["scheduled_for"] = fixes.at  # a draft stays one: `schedule` releases it
        if fixes.caption is not None:
            update["caption"] = fixes.caption
        fixed = target.model_validate({**target.model_dump(), **update})
        problems = validate_target(fixed, self.publisher.policy)
        if problems:
            raise RequestInvalid(problems)
        if dry_run:
            return Outcome(workflow_id, "would retry", _fixes_text(fixes), failed.error_code)
        request = PublishPostInput(
            target=fixed,
            settings=failed.request.settings,
            retry_of=RetryOf(
                run_id=failed.run_id, error_code=failed.error_code, fixes=fixes.describe()
            ),
        )
        try:
            handle = await self.publisher.start_run(
                request,
                # Only a FAILED (or terminated, cancelled, timed out) run may be replaced: a
                # published post can never be re-run.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            return Outcome(
                workflow_id,
                "skipped",
                "not retried: another run started meanwhile",
                refusal=NOT_FAILED,
            )
        return Outcome(
            workflow_id, "retried", _fixes_text(fixes), failed.error_code, handle.result_run_id
        )

    async def _ended_outside_engine(
        self, workflow_id: str, status: str, confirm_not_posted: bool
    ) -> Outcome | None:
        """A run Temporal terminated, cancelled or timed out (RUN_ENDED_OUTSIDE_ENGINE) was
        cut short in whatever step it was in: it is retried only on the responder's word that
        TikTok does not have the post, and never once it had published or been cancelled."""
        described = await self.client.get_workflow_handle(workflow_id).describe()
        phase = described.typed_search_attributes.get(sa.POST_STATE)
        if phase in ENDED_FOR_GOOD:
            return Outcome(
                workflow_id,
                "skipped",
                f"not retried: it had reached {phase} before its run was {status.lower()}",
                RUN_ENDED_OUTSIDE_ENGINE,
                refusal=NOT_ALLOWED,
            )
        if not confirm_not_posted:
            return Outcome(
                workflow_id,
                "skipped",
                f"not retried: its run was {status.lower()} in Temporal while it was "
                f"{phase or 'starting'}, so TikTok may have the post. Check the creator's "
                "profile and inbox; if it is not there, retry this post with "
                "--confirm-not-posted (confirmNotPosted in the API).",
                RUN_ENDED_OUTSIDE_ENGINE,
                refusal=NEEDS_CONFIRMATION,
            )
        return None

    async def retry_matching(
        self,
        query: str,
        *,
        fixes: Fixes = Fixes(),
        confirm_not_posted: bool = False,
        dry_run: bool = False,
        limit: int = 1000,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Retry every FAILED post the visibility query matches, up to `limit` retried (the
        skipped ones are listed, not counted: running the command again goes on past them).
        `on_outcome` hears each post's outcome as it is decided.

        Confirming "not posted" is a per-post judgement, so it is refused in bulk.
        """
        if confirm_not_posted:
            raise ValueError(
                "--confirm-not-posted is a per-post decision: retry such posts one at a time"
            )
        if fixes.caption is not None:
            raise ValueError("--caption is one post's text: retry such posts one at a time")
        _require_future(fixes.at)  # once, not a refusal per matched post
        batch = _Batch(limit, on_outcome)
        async for wf in self._each_match(f"({query}) AND ExecutionStatus = 'Failed'"):
            if batch.full:
                break
            retry = self.retry(wf.id, fixes=fixes, dry_run=dry_run, expected_run_id=wf.run_id)
            outcome = await self._guarded(wf.id, retry)
            if outcome.refusal == "POST_NOT_FOUND" or outcome.reason == NOT_LATEST:
                # Gone since it was listed (retention), or retried already (its old FAILED
                # run still matches): not a failed post now.
                continue
            batch.add(outcome)
        return batch.outcomes

    # -- bulk cancel and reschedule ---------------------------------------------------

    async def cancel_matching(
        self,
        query: str,
        *,
        reason: str | None = None,
        dry_run: bool = False,
        limit: int = 1000,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Cancel every running post the query matches, up to `limit` cancelled (refused
        ones are listed, not fatal, and not counted)."""
        return await self._each_running(
            query,
            _Batch(limit, on_outcome),
            "cancel",
            None if dry_run else lambda post, acct: self.publisher.cancel(post, acct, reason),
        )

    async def reschedule_matching(
        self,
        query: str,
        at: datetime,
        *,
        dry_run: bool = False,
        limit: int = 1000,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Move every running post the query matches to `at` (those already there are not
        matched again, so that a second run of the command goes on past the first `limit`)."""
        _require_future(at)  # once, not a refusal per matched post
        return await self._each_running(
            query,
            _Batch(limit, on_outcome),
            "reschedule",
            None if dry_run else lambda post, acct: self.publisher.reschedule(post, acct, at),
            already=lambda wf: _same_second(wf.typed_search_attributes.get(sa.SCHEDULED_FOR), at),
        )

    async def _each_running(
        self,
        query: str,
        batch: _Batch,
        verb: str,
        act: Callable[[str, str], Awaitable[Any]] | None,
        already: Callable[[WorkflowExecution], bool] = lambda _: False,
    ) -> list[Outcome]:
        """Apply `act` to each running match; with `act` None (dry run) only list them.
        Matches `already` done are left out."""
        async for wf in self._each_match(f"({query}) AND ExecutionStatus = 'Running'"):
            if already(wf):
                continue
            if batch.full:
                break
            wf_id = wf.id
            if act is None:
                batch.add(_predicted(wf, verb))
                continue
            post_id, account_id = _ids(wf_id)
            done = {"cancel": "cancelled", "reschedule": "rescheduled"}[verb]
            outcome = await self._guarded(wf_id, act(post_id, account_id), done)
            if outcome.refusal != "POST_NOT_FOUND":  # ended and gone since it was listed
                batch.add(outcome)
        return batch.outcomes

    # -- describe ------------------------------------------------------------------------

    async def describe(self, workflow_id: str) -> list[str]:
        """A human timeline of the latest run, built from its history (no worker needed)."""
        if await self.publisher.run_status(workflow_id) is None:
            raise PostNotFound(workflow_id)
        handle = self.client.get_workflow_handle(workflow_id)
        history = await handle.fetch_history()
        lines = await timeline(history, self.client.data_converter)
        return lines + pending_lines(await handle.describe())

    # -- internals -----------------------------------------------------------------------

    async def _failed_run(self, workflow_id: str) -> FailedRun:
        history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        converter = self.client.data_converter
        started = history.events[0].workflow_execution_started_event_attributes
        try:
            [request] = await converter.decode(started.input.payloads, [PublishPostInput])
        except ValidationError:
            raise ActionRejected(
                "INPUT_INVALID",
                "its run was started with an input that is not a PublishPostInput, so there is "
                "no request to retry: start the post again with a fixed input",
            ) from None
        code, message, may_be_live = "UNKNOWN", "", True  # unknown: assume the worst
        for event in reversed(history.events):
            if event.event_type in _ENDED_OUTSIDE_ENGINE_EVENTS:
                code = RUN_ENDED_OUTSIDE_ENGINE
                break
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
                failure = event.workflow_execution_failed_event_attributes.failure
                info = failure.application_failure_info
                code = info.type or "UNKNOWN"
                message = failure.message
                details = await converter.decode(info.details.payloads) if info.details else []
                if details and isinstance(details[0], dict):
                    may_be_live = bool(details[0].get("may_be_live"))
                break
        schedule = await _schedule_changes(history.events, converter)
        return FailedRun(
            history.run_id, request, code, message, may_be_live, list(history.events), schedule
        )

    async def _each_match(self, query: str) -> AsyncIterator[WorkflowExecution]:
        """Per matching post, its newest matching run, each post once, page after page (a
        bulk command's limit counts the posts it acts on, not the runs listed)."""
        full = f"WorkflowType = '{WORKFLOW_TYPE}' AND {query}"
        seen: set[str] = set()
        async for wf in self.client.list_workflows(full):
            if wf.id not in seen:
                seen.add(wf.id)
                yield wf

    async def _guarded(self, wf_id: str, action: Any, done: str | None = None) -> Outcome:
        """One post's failure is reported on its line; it never stops the batch (only
        `_Batch` does, when no worker answers)."""
        try:
            result = await action
        except ActionRejected as err:
            return Outcome(wf_id, "skipped", f"{err.code}: {err}", refusal=err.code)
        except RequestInvalid as err:
            return Outcome(wf_id, "skipped", f"the fix is invalid: {err}")
        except PostNotFound:
            return Outcome(wf_id, "skipped", "gone since it was listed", refusal="POST_NOT_FOUND")
        except RPCError as err:
            return Outcome(
                wf_id,
                "skipped",
                f"Temporal failed the request ({err.status.name}): {err.message}",
                refusal="TEMPORAL_UNAVAILABLE",
            )
        if isinstance(result, Outcome):
            return result
        return Outcome(wf_id, done or "done")


def _predicted(wf: WorkflowExecution, verb: str) -> Outcome:
    """A dry run's line: what the post would answer, from the phase visibility last saw (a
    post that has begun publishing is listed as refused, as the real run would list it; for
    a cancel, one visibility shows waiting is listed as maybe taken)."""
    phase = wf.typed_search_attributes.get(sa.POST_STATE)
    waiting = wf.typed_search_attributes.get(sa.WAITING_FOR)
    if verb in TAKEN_WHILE_HELD and may_be_held_before_any_init(phase, waiting):
        return Outcome(
            wf.id,
            f"would {verb}",
            f"if its account still holds it before any init reached TikTok ({waiting})",
        )
    if phase is not None and phase not in {p.value for p in TAKEN_IN[verb]}:
        return Outcome(
            wf.id,
            "skipped",
            f"would be refused: it is {phase}",
            refusal="INVALID_PHASE",
        )
    return Outcome(wf.id, f"would {verb}")


class BulkStopped(Exception):
    """A bulk action stopped before the end: `outcomes` are the posts it handled."""

    def __init__(self, message: str, outcomes: list[Outcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


#: POST_NOT_READY answers in a row after which a bulk action stops: no worker is taking
#: actions, and each further post would wait its full action timeout for nothing.
NOT_READY_STREAK = 3


class _Batch:
    """A bulk action's outcomes: told to `on_outcome` as they come, counted against `limit`
    (posts acted on, not skipped), and stopped when no worker answers."""

    def __init__(self, limit: int, on_outcome: Callable[[Outcome], None] | None) -> None:
        self.limit = limit
        self.on_outcome = on_outcome
        self.outcomes: list[Outcome] = []
        self.acted = 0
        self._not_ready = 0

    @property
    def full(self) -> bool:
        return self.acted >= self.limit

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.acted += outcome.ok
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        self._not_ready = self._not_ready + 1 if outcome.refusal == NOT_READY else 0
        if self._not_ready >= NOT_READY_STREAK:
            raise BulkStopped(
                f"stopped: {NOT_READY_STREAK} posts in a row got no answer from a worker "
                "(POST_NOT_READY). Check that a worker polls the task queue, read those "
                "posts' state (Temporal may still hand them the action), then run the "
                "command again.",
                self.outcomes,
            )


#: The updates that change a post's schedule, and what each sets on its target.
_SCHEDULE_UPDATES = ("schedule", "publish_now", "reschedule")
_MAYBE_TIME: TypeAdapter[datetime | None] = TypeAdapter(datetime | None)


async def _schedule_changes(
    events: Sequence[HistoryEvent], converter: DataConverter
) -> dict[str, Any]:
    """What the run's completed schedule updates made of its target's schedule, in order."""
    accepted: dict[str, tuple[str, Any]] = {}
    changes: dict[str, Any] = {}
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            name = request.input.name
            if name in _SCHEDULE_UPDATES:
                payloads = request.input.args.payloads
                given = (await converter.decode(payloads))[0] if payloads else None
                accepted[request.meta.update_id] = (name, _MAYBE_TIME.validate_python(given))
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            done = event.workflow_execution_update_completed_event_attributes
            if done.meta.update_id not in accepted or not done.outcome.HasField("success"):
                continue
            name, at = accepted.pop(done.meta.update_id)
            changes["scheduled_for"] = at if name != "publish_now" else None
            if name != "reschedule":
                changes["system_draft"] = False
    return changes


def _require_future(at: datetime | None) -> None:
    """As a post's reschedule refuses it: a typo in a (bulk) --at must not publish now."""
    if at is not None and at <= datetime.now(UTC):
        raise ActionRejected(
            "TIME_IN_PAST",
            f"--at {at.isoformat()} is in the past; give a future time, or leave --at out "
            "to keep the post's own",
        )


def _same_second(when: datetime | None, at: datetime) -> bool:
    """Visibility keeps a datetime attribute to whatever precision its store has."""
    return when is not None and abs((when - at).total_seconds()) < 1


def _ids(workflow_id: str) -> tuple[str, str]:
    _, post_id, account_id = workflow_id.split("/", 2)
    return post_id, account_id


def _fixes_text(fixes: Fixes) -> str:
    said = fixes.describe()
    return "with " + ", ".join(said) if said else "from the original request"


# -- the timeline ------------------------------------------------------------------------


def verdict_line(verdict: ClaimVerdict) -> str:
    """The account's verdict on a lost pulled init, as `describe` tells it."""
    if verdict.decision == "evidence" and verdict.event is not None:
        return (
            f"evidence from the account: TikTok's {verdict.event.event} for publish "
            f"{verdict.event.publish_id}, which no other post can own (confirming its status)"
        )
    if verdict.decision == "contested":
        return f"no evidence can decide the lost init: {verdict.reason}"
    return "no TikTok event about the lost init came within its window"


async def timeline(history: WorkflowHistory, converter: Any) -> list[str]:
    """Turn history events into lines a person reads: what happened, when, and why."""
    lines: list[str] = []
    scheduled: dict[int, str] = {}
    attempts: dict[int, int] = {}
    polls = 0
    last_poll_line = ""
    ids = "POST_ID ACCOUNT_ID"

    def at(event: HistoryEvent) -> str:
        return event.event_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%SZ")

    async def summary_of(event: HistoryEvent) -> str:
        if event.user_metadata.HasField("summary"):
            [text] = await converter.decode([event.user_metadata.summary], [str])
            return str(text)
        return ""

    def flush_polls() -> None:
        nonlocal polls
        if polls:
            lines.append(f"{last_poll_line}  (status polled {polls} time(s) in all)")
            polls = 0

    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attrs = event.workflow_execution_started_event_attributes
            try:
                [request] = await converter.decode(attrs.input.payloads, [PublishPostInput])
            except ValidationError:
                lines.append(f"{at(event)} started with an input that is not a PublishPostInput")
                continue
            ids = f"{request.target.post_id} {request.target.account_id}"
            lines.append(f"{at(event)} accepted: {request.target.summary()}")
            if request.retry_of:
                lines.append(
                    f"{at(event)} this run retries {request.retry_of.run_id} "
                    f"(failed with {request.retry_of.error_code})"
                )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signalled = event.workflow_execution_signaled_event_attributes
            if signalled.signal_name == CLAIM_VERDICT_SIGNAL and signalled.input.payloads:
                [verdict] = await converter.decode(signalled.input.payloads, [ClaimVerdict])
                lines.append(f"{at(event)} {verdict_line(verdict)}")
            if signalled.signal_name == "staging_retry" and signalled.input.payloads:
                [retry] = await converter.decode(signalled.input.payloads, [StagingRetry])
                then = (
                    f"next attempt in {retry.retry_in_seconds:g} s"
                    if retry.retry_in_seconds is not None
                    else "no further attempt"
                )
                lines.append(
                    f"{at(event)} staging attempt {retry.attempt} failed with {retry.code}: "
                    f"{retry.message} ({then})"
                )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            accepted = event.workflow_execution_update_accepted_event_attributes
            lines.append(f"{at(event)} update: {accepted.accepted_request.input.name}")
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            timer = event.timer_started_event_attributes
            text = await summary_of(event)
            if text != "poll interval":
                span = timer_span(timer.start_to_fire_timeout.ToTimedelta())
                lines.append(f"{at(event)} waiting: {text or 'timer'} (up to {span})")
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs_s = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = await summary_of(event) or attrs_s.activity_type.name
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started_attrs = event.activity_task_started_event_attributes
            attempts[started_attrs.scheduled_event_id] = started_attrs.attempt
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = event.activity_task_completed_event_attributes
            name = scheduled.get(done.scheduled_event_id, "activity")
            if name.startswith("status of"):
                polls += 1
                last_poll_line = f"{at(event)} {name}: checked"
                continue
            flush_polls()
            lines.append(f"{at(event)} {name}: done")
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            flush_polls()
            failed = event.activity_task_failed_event_attributes
            name = scheduled.get(failed.scheduled_event_id, "activity")
            tries = attempts.get(failed.scheduled_event_id, 1)
            code = failed.failure.application_failure_info.type or "error"
            lines.append(
                f"{at(event)} {name}: failed with {code} after {tries} attempt(s): "
                f"{failed.failure.message}"
            )
        elif kind in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
            EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
        ):
            flush_polls()
            if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
                ended = event.activity_task_timed_out_event_attributes
                what = "timed out (worker lost or too slow)"
            else:
                ended = event.activity_task_canceled_event_attributes  # type: ignore[assignment]
                what = "was cancelled"
            name = scheduled.get(ended.scheduled_event_id, "activity")
            tries = attempts.get(ended.scheduled_event_id, 1)
            lines.append(f"{at(event)} {name}: {what} after {tries} attempt(s)")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            flush_polls()
            lines.append(f"{at(event)} finished")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            flush_polls()
            failure = event.workflow_execution_failed_event_attributes.failure
            code = failure.application_failure_info.type
            said = failure.message.removeprefix(f"{code}: ")
            lines.append(f"{at(event)} FAILED {code}: {said}")
            rule = rule_for(code)
            remedy = rule.remedy.replace("POST_ID ACCOUNT_ID", ids) if rule else ""
            if rule is not None and remedy not in failure.message:
                if rule.remedy not in failure.message:  # runs failed before ids were filled in
                    lines.append(f"  what to do: {remedy}")
    flush_polls()
    return lines


def timer_span(span: timedelta) -> str:
    """A timer's length as a person reads it: 45 s, 10 min, 59 min 36 s, 2 h 5 min, 7 d."""
    seconds = round(span.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2])


def pending_lines(described: WorkflowExecutionDescription) -> list[str]:
    """What the run is doing right now that history does not show yet: an activity that
    Temporal is retrying (its attempt, last failure and next attempt)."""
    lines: list[str] = []
    for pending in described.raw_description.pending_activities:
        if pending.attempt <= 1 and not pending.HasField("last_failure"):
            continue
        name = pending.activity_type.name
        line = f"now: {name} attempt {pending.attempt}"
        if pending.HasField("last_failure"):
            failure = pending.last_failure
            code = failure.application_failure_info.type or "error"
            said = failure.message.removeprefix(f"{code}: ")
            line += f", last attempt failed with {code}: {said}"
        if pending.HasField("next_attempt_schedule_time"):
            when = pending.next_attempt_schedule_time.ToDatetime()
            line += f"; next attempt at {when.strftime('%Y-%m-%d %H:%M:%SZ')}"
        lines.append(line)
    return lines


#: Width of the action column (the longest action, "would reschedule").
_ACTION_WIDTH = 16


def render_row(outcome: Outcome) -> str:
    code = f" [{outcome.error_code}]" if outcome.error_code else ""
    return (
        f"{outcome.action:<{_ACTION_WIDTH}}  {outcome.workflow_id}{code}  {outcome.reason}".rstrip()
    )


def render_summary(outcomes: Sequence[Outcome]) -> str:
    if not outcomes:
        return "No posts match."
    done = [o for o in outcomes if o.ok]
    return f"{len(done)} of {len(outcomes)} post(s): {done[0].action if done else 'none'}"


def render(outcomes: Sequence[Outcome]) -> str:
    return "\n".join([*(render_row(o) for o in outcomes), render_summary(outcomes)])
