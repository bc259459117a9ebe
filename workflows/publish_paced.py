"""Paced calls: every TikTok call of a paced post waits for a slot from its account entity.

The slot wait itself (with its visible reason), slots reserved ahead of the due time,
failures that are the account's business (429, caps, a rejected token) handed to the
entity, reads asked again when an answer is lost, and the creator check built on them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.publishing import TikTokActivities
    from workflows import search_attributes as sa
    from workflows.account_contracts import CallKind, SlotAnswer
    from workflows.account_link import AccountLink, WaitEnded
    from workflows.contracts import (
        CreatorInfoQuery,
        FailureDetails,
        Phase,
        PostError,
        PublishSettings,
    )
    from workflows.errors import Retryability, classify_error
    from workflows.pacing import ACCOUNT_CODES, BANNED_CODE
    from workflows.publish_base import PostBase
    from workflows.publish_calls import (
        CALL_TIMEOUT,
        ONCE,
        PACED_READ_SURVIVES_LOST_WORKERS,
        READ_RETRY,
        READ_TRIES,
        CancelledWhileHeld,
        DeadlineReached,
        Interrupted,
        PostFailed,
        activity_error,
        fmt_time,
    )
    from workflows.request import PublishTarget
    from workflows.tiktok import CreatorInfo
    from workflows.validation import check_against_creator

T = TypeVar("T")


class PacedCalls(PostBase):
    """TikTok calls granted by the account entity (workflows/account_link.py)."""

    _link: AccountLink
    _reserved: dict[CallKind, datetime]
    """Slots reserved ahead of the due time, each good until its `use_by`."""

    async def _check_creator(
        self,
        target: PublishTarget,
        settings: PublishSettings,
        *,
        interrupted: Callable[[], bool] | None = None,
    ) -> CreatorInfo:
        """Read creator_info and check the post against it. `interrupted`: getting ready
        ahead of the due time, where a reschedule or cancel ends the wait for a slot."""
        ahead = " (getting ready for the due time)" if interrupted else ""
        workflow.set_current_details(f"Checking the creator's TikTok settings{ahead}.")
        try:
            if self._paced:
                creator = await self._paced_read(
                    CallKind.CREATOR_INFO,
                    settings,
                    lambda: workflow.execute_activity_method(
                        TikTokActivities.creator_info,
                        CreatorInfoQuery(account_id=target.account_id),
                        start_to_close_timeout=timedelta(seconds=settings.read_timeout_seconds),
                        retry_policy=ONCE,
                        summary=f"creator_info for {target.account_id}",
                    ),
                    interrupted=interrupted,
                )
            else:
                creator = await workflow.execute_activity_method(
                    TikTokActivities.query_creator_info,
                    target.account_id,
                    start_to_close_timeout=CALL_TIMEOUT,
                    retry_policy=READ_RETRY,
                    summary=f"creator_info for {target.account_id}",
                )
        except ActivityError as err:
            raise PostFailed(activity_error(err)) from None
        self._log(f"creator check: @{creator.username}")
        self._fail_on_problems(check_against_creator(target, creator))
        return creator

    async def _paced_read(
        self,
        call: CallKind,
        settings: PublishSettings,
        run: Callable[[], Awaitable[T]],
        *,
        give_up_at: datetime | None = None,
        interrupted: Callable[[], bool] | None = None,
    ) -> T:
        """A read (creator_info, status) granted by the account: what the account must
        handle (429, caps, a rejected token) is reported and asked again, never counted as
        the post's failure; other retryable failures are tried again, bounded."""
        tries = 0
        while True:
            if not (tries == 0 and await self._use_reserved(call)):
                await self._slot(call, settings, give_up_at=give_up_at, interrupted=interrupted)
            try:
                return await run()
            except ActivityError as err:
                details = FailureDetails.of(err)
                if details is None:
                    # A timeout or a lost worker (kill -9 mid-call): a read is safe to
                    # repeat, and a post TikTok may already have must not fail for it.
                    if not self._patched(PACED_READ_SURVIVES_LOST_WORKERS):
                        raise
                    tries += 1
                    if tries >= READ_TRIES:
                        raise
                    self._log(f"{call.value}: no answer ({err.message}); asking again")
                    await workflow.sleep(
                        timedelta(seconds=min(2**tries, 60)), summary=f"{call.value} again"
                    )
                    continue
                if await self._report_account_code(call, details):
                    continue
                tries += 1
                if details.retryability is Retryability.NON_RETRYABLE or tries >= READ_TRIES:
                    raise
                await workflow.sleep(
                    timedelta(seconds=min(2**tries, 60)), summary=f"{call.value} again"
                )

    async def _use_reserved(self, call: CallKind) -> bool:
        """True if a slot reserved ahead of the due time covers this call now. One the post
        is too late for is given back (the account counted it at its `use_by`)."""
        use_by = self._reserved.pop(call, None)
        if use_by is None:
            return False
        if workflow.now() <= use_by:
            return True
        self._log(f"reserved {call.value} slot expired at {fmt_time(use_by)}; asking again")
        if call is CallKind.INIT:
            await self._link.release(call)
        return False

    async def _report_account_code(self, call: CallKind, details: FailureDetails) -> bool:
        """Hand a failure that is the account's business to the entity. True if it was."""
        if details.code not in ACCOUNT_CODES:
            return False
        await self._link.outcome(
            call,
            code=details.code,
            retry_after_seconds=details.retry_after_seconds,
            rejected_fingerprint=details.rejected_fingerprint,
        )
        if details.code == BANNED_CODE:
            return False  # the account is BANNED now; this post fails with TikTok's own word
        self._log(f"{call.value}: {details.code}; the account handles it and the post waits")
        return True

    async def _slot(
        self,
        call: CallKind,
        settings: PublishSettings,
        *,
        give_up_at: datetime | None = None,
        use_by: datetime | None = None,
        interrupted: Callable[[], bool] | None = None,
    ) -> None:
        """Wait for the account's permission; a wait that ends the post fails it here.
        While PUBLISHING, a cancel ends the wait (CancelledWhileHeld): the cancel validator
        accepts one only before any init of the post reached TikTok. Getting ready
        (SCHEDULED), a cancel is one of the moves `interrupted` sees."""
        publishing = self._current.phase is Phase.PUBLISHING
        try:
            await self._link.slot(
                call,
                give_up_at=give_up_at,
                quota_limit=timedelta(seconds=settings.max_quota_wait_seconds),
                reconnect_limit=(
                    None if give_up_at else timedelta(seconds=settings.max_reconnect_wait_seconds)
                ),
                use_by=use_by,
                interrupted=interrupted,
                cancelled=(lambda: self._current.phase is Phase.CANCELLED) if publishing else None,
            )
        except WaitEnded as ended:
            if ended.code == "DEADLINE":
                raise DeadlineReached() from None
            if ended.code == "INTERRUPTED":
                raise Interrupted() from None
            if ended.code == "CANCELLED":
                raise CancelledWhileHeld() from None
            rule = classify_error(ended.code)
            waited = (
                f" (waiting since {fmt_time(ended.since)} for {ended.reason.value})"
                if ended.reason
                else ""
            )
            raise PostFailed(
                PostError(code=rule.code, message=f"{rule.meaning}{waited}", remedy=rule.remedy)
            ) from None

    def _show_wait(self, answer: SlotAnswer | None) -> None:
        """What the post waits for, in `state`, the UI's details and TikTokWaitingFor."""
        state = self._current
        reason = answer.waiting_for.value if answer and answer.waiting_for else None
        if reason != state.waiting_for:
            workflow.upsert_search_attributes(
                [sa.WAITING_FOR.value_set(reason) if reason else sa.WAITING_FOR.value_unset()]
            )
            self._log(f"waiting for {reason}" if reason else "account wait over")
        state.waiting_for = reason
        state.waiting_until = answer.until if answer and reason else None
        if reason:
            until = f" until {fmt_time(state.waiting_until)}" if state.waiting_until else ""
            workflow.set_current_details(
                f"Waiting for {reason}{until} (account {self._target.account_id})."
            )
