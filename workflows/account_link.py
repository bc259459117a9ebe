"""A post's line to its account entity: ask for a slot, wait visibly, report what happened.

Used by PublishPost from workflow code (deterministic). Before every paced TikTok call the
post sends a `SlotRequest` to `tiktok-account/<account_id>` and waits for the entity's
`account_answer` signal. The first request of a run goes through an activity that
signal-with-starts the entity (it may not exist yet); later ones are plain external signals,
with the activity as the fallback. A request unanswered for a long while is sent again (the
entity ignores duplicates), so a lost or restarted entity cannot strand a post.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from workflows.account_contracts import (
        CALL_OUTCOME,
        REQUEST_SLOT,
        WITHDRAW_SLOT,
        AccountSlotInput,
        CallKind,
        CallOutcome,
        CapKind,
        SlotAnswer,
        SlotRequest,
        SuccessReport,
        WaitReason,
        account_workflow_id,
    )

SIGNAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
)


class WaitEnded(Exception):
    """The post stopped waiting for its slot: a bound was reached, or the account refused."""

    def __init__(self, code: str, reason: WaitReason | None, since: datetime) -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason
        self.since = since


class AccountLink:
    def __init__(
        self,
        *,
        account_id: str,
        cap: CapKind | None,
        due_at: Callable[[], datetime],
        on_wait: Callable[[SlotAnswer | None], None],
        resend_after: timedelta,
    ) -> None:
        self.account_id = account_id
        self._cap = cap
        self._due_at = due_at
        self._on_wait = on_wait
        self._resend_after = resend_after
        self._seq = 0
        self._pending: str | None = None
        self._answer: SlotAnswer | None = None
        self._contacted = False
        self._granted: dict[CallKind, str] = {}
        """The request id of the last slot granted per call kind: what an outcome reports."""

    def granted_id(self, call: CallKind) -> str:
        """The request id the account counts the last granted `call` under (what an
        outcome of that call reports)."""
        return self._granted.get(call, f"{workflow.info().run_id}/{self._seq}")

    def answer(self, answer: SlotAnswer) -> None:
        """The entity's answer (PublishPost's `account_answer` signal); stale ones drop."""
        if answer.request_id == self._pending:
            self._answer = answer

    async def slot(
        self,
        call: CallKind,
        *,
        give_up_at: datetime | None = None,
        quota_limit: timedelta,
        reconnect_limit: timedelta | None,
        use_by: datetime | None = None,
        interrupted: Callable[[], bool] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> None:
        """Wait for permission to make one `call` (with `use_by`: a reservation for a call
        made no later than then, see `SlotRequest.use_by`). Raises WaitEnded when
        `give_up_at` passes (the publish deadline), a quota wait would outlast
        `quota_limit`, a reconnect wait outlasts `reconnect_limit`, the account refuses the
        post (BANNED), or (code INTERRUPTED) `interrupted()` turns true, e.g. a reschedule
        while getting ready. `cancelled()` (code CANCELLED) comes before everything else,
        a grant that arrived in the same activation included: that slot is given back."""
        self._seq += 1
        info = workflow.info()
        request = SlotRequest(
            request_id=f"{info.run_id}/{self._seq}",
            workflow_id=info.workflow_id,
            call=call,
            due_at=self._due_at(),
            cap=self._cap if call is not CallKind.STATUS else None,
            use_by=use_by,
        )
        stop = interrupted or (lambda: False)
        cancel = cancelled or (lambda: False)
        self._pending, self._answer = request.request_id, None
        await self._send(request)
        quota_since: datetime | None = None
        waiting: SlotAnswer | None = None
        since = workflow.now()
        try:
            while True:
                now = workflow.now()
                bounds = [now + self._resend_after]
                if give_up_at is not None:
                    bounds.append(give_up_at)
                if quota_since is not None:
                    bounds.append(quota_since + quota_limit)
                if waiting is not None and waiting.waiting_for is WaitReason.NEEDS_RECONNECT:
                    if reconnect_limit is not None:
                        bounds.append(since + reconnect_limit)
                wake = min(bounds)
                try:
                    await workflow.wait_condition(
                        lambda: self._answer is not None or stop() or cancel(),
                        timeout=max(wake - now, timedelta(milliseconds=10)),
                        timeout_summary="wait for the account",
                    )
                    held_by = waiting.waiting_for if waiting else None
                    if cancel():
                        raise WaitEnded("CANCELLED", held_by, since)
                    if self._answer is None:
                        raise WaitEnded("INTERRUPTED", held_by, since)
                except TimeoutError:
                    now = workflow.now()
                    reason = waiting.waiting_for if waiting else None
                    if cancel():  # cancelled in the activation the timer fired in
                        raise WaitEnded("CANCELLED", reason, since) from None
                    if give_up_at is not None and now >= give_up_at:
                        raise WaitEnded("DEADLINE", reason, since) from None
                    if quota_since is not None and now >= quota_since + quota_limit:
                        raise WaitEnded("QUOTA_WAIT_EXCEEDED", reason, quota_since) from None
                    if (
                        reason is WaitReason.NEEDS_RECONNECT
                        and reconnect_limit is not None
                        and now >= since + reconnect_limit
                    ):
                        raise WaitEnded("ACCOUNT_NEEDS_RECONNECT", reason, since) from None
                    try:
                        await self._send(request, start=True)  # unanswered a long while: again
                    except ActivityError:
                        if cancel():  # cancelled while the request was being sent again
                            raise WaitEnded("CANCELLED", reason, since) from None
                        raise
                    continue
                answer, self._answer = self._answer, None
                assert answer is not None
                if answer.granted:
                    self._granted[call] = request.request_id
                    return
                if answer.refused_code:
                    raise WaitEnded(answer.refused_code, None, since)
                waiting = answer
                self._on_wait(answer)
                if answer.waiting_for is not None and answer.waiting_for.is_quota:
                    quota_since = quota_since or workflow.now()
                    if answer.until is not None and answer.until > quota_since + quota_limit:
                        raise WaitEnded("QUOTA_WAIT_EXCEEDED", answer.waiting_for, quota_since)
                elif answer.waiting_for is not WaitReason.PACING:
                    quota_since = None
        except WaitEnded:
            await self._signal(WITHDRAW_SLOT, request.request_id)
            raise
        finally:
            self._pending = None
            if waiting is not None:
                self._on_wait(None)

    async def wake(self) -> None:
        """Make sure the entity runs (start it if need be), ahead of the first request;
        that request then goes as a plain signal."""
        await workflow.execute_activity_method(
            AccountActivities.wake_account_entity,
            self.account_id,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=SIGNAL_RETRY,
            summary=f"wake account {self.account_id}",
        )
        self._contacted = True

    async def release(self, call: CallKind) -> None:
        """Give back the slot granted for `call` without using it (a reservation the post
        no longer needs): the account uncounts it from its daily cap."""
        request_id = self._granted.pop(call, None)
        if request_id is not None:
            await self._signal(WITHDRAW_SLOT, request_id)

    async def report(self, outcome: CallOutcome) -> None:
        await self._signal(CALL_OUTCOME, outcome)

    async def outcome(
        self,
        call: CallKind,
        *,
        code: str | None,
        retry_after_seconds: float | None = None,
        rejected_fingerprint: str | None = None,
        publish_id: str | None = None,
        may_have_taken_effect: bool = False,
    ) -> None:
        await self.report(
            self._outcome(
                call,
                code=code,
                retry_after_seconds=retry_after_seconds,
                rejected_fingerprint=rejected_fingerprint,
                publish_id=publish_id,
                may_have_taken_effect=may_have_taken_effect,
            )
        )

    def _outcome(self, call: CallKind, **fields: Any) -> CallOutcome:
        """The outcome of the last granted `call`, as the account counts it, now."""
        return CallOutcome(
            request_id=self.granted_id(call),
            call=call,
            cap=self._cap if call is not CallKind.STATUS else None,
            at=workflow.now(),
            **fields,
        )

    def success_report(self, call: CallKind) -> SuccessReport:
        """For the activity making the granted `call`: how to tell the account of its
        success itself (the activity fills in the answer's time and publish_id)."""
        return SuccessReport(
            account_workflow_id=account_workflow_id(self.account_id), outcome=self._outcome(call)
        )

    # -- delivery ------------------------------------------------------------------------

    async def _send(self, request: SlotRequest, *, start: bool = False) -> None:
        if self._contacted and not start:
            try:
                handle = workflow.get_external_workflow_handle(account_workflow_id(self.account_id))
                await handle.signal(REQUEST_SLOT, request)
                return
            except Exception:
                pass  # not running (never started, or terminated): start it
        await workflow.execute_activity_method(
            AccountActivities.request_account_slot,
            AccountSlotInput(account_id=self.account_id, slot=request),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=SIGNAL_RETRY,
            summary=f"ask account {self.account_id} for a {request.call.value} slot",
        )
        self._contacted = True

    async def _signal(self, name: str, arg: object) -> None:
        try:
            handle = workflow.get_external_workflow_handle(account_workflow_id(self.account_id))
            await handle.signal(name, arg)
        except Exception:
            # The entity is gone; its replacement starts fresh from the next request.
            workflow.logger.warning("account %s did not take %s", self.account_id, name)
