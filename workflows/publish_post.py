"""PublishPost: one TikTok post target, from acceptance to TikTok's final word.

The workflow owns the lifecycle (draft, schedule, creator check, init, polling, error
classification); activities do every call to TikTok. Its one promise above all others:
never two posts for one target. The publish_id is recorded the moment init returns and
nothing after that point can run init again, except a new attempt after TikTok itself
reported the previous upload FAILED (which never went live).

This module holds the workflow itself: its updates, signals and query, and the lifecycle
(`run`, waiting until due, publishing, finishing). Its steps live beside it, each a mixin
on `PostBase` (workflows/publish_base.py), each layer using only the ones below it:

* workflows/publish_paced.py: calls granted by the account entity, the creator check;
* workflows/publish_polling.py: status polling after the init;
* workflows/publish_init.py: the init, lost answers (ghosts) and ambiguity;
* workflows/publish_prepare.py: getting ready shortly before the due time;
* workflows/publish_media.py: staging, chunk upload and deleting the staged media;
* workflows/publish_events.py: webhook deliveries and metrics (child workflows);
* workflows/publish_calls.py: retry policies, timeouts, patch names, failure helpers.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa
    from workflows.account_contracts import CallKind, CapKind, SlotAnswer
    from workflows.account_link import AccountLink
    from workflows.ambiguity import EvidenceWait
    from workflows.claims import CLAIM_VERDICT_SIGNAL, ClaimVerdict
    from workflows.contracts import (
        MediaProgress,
        Phase,
        PostError,
        PostState,
        PublishPostInput,
        PublishResult,
        PublishSettings,
        StagedMedia,
        StagingRetry,
    )
    from workflows.errors import ENGINE_CODES, classify_fail_reason
    from workflows.post_actions import require_future, require_phase
    from workflows.publish_calls import (
        ACCOUNT_PACING,
        INIT_ARMED_BEFORE_DUE,
        PREPARE_BEFORE_DUE,
        STAGING_RETRY_VISIBLE,
        WORKFLOW_ID_CHECKED,
        CancelledWhileHeld,
        PostFailed,
        fmt_size,
        fmt_time,
    )
    from workflows.publish_events import Announcements
    from workflows.publish_media import MediaCustody, measured_target
    from workflows.publish_prepare import Preparing
    from workflows.request import PublishTarget
    from workflows.tiktok import TikTokStatus
    from workflows.tiktok_events import TIKTOK_EVENT_SIGNAL, WEBHOOK_WAKE_PATCH, TikTokEvent
    from workflows.validation import ValidationPolicy, validate_target


@workflow.defn(name="PublishPost")
class PublishPost(Preparing, MediaCustody, Announcements):
    @workflow.init
    def __init__(self, request: PublishPostInput) -> None:
        # State exists before any handler runs: an update may arrive in the very first
        # activation, together with the start itself.
        target = request.target
        self._target = target
        self._wake = False
        self._nudged = False
        self._events_seen: set[str] = set()
        self._webhooks_out = request.settings.webhooks_out
        self._webhook_retry = request.settings.webhook_retry_initial_seconds
        self._announcing = []
        self._call_timeout = request.settings.init_timeout_seconds
        self._staging = None
        self._staging_code = None
        self._paced = False
        self._prepared = None
        self._reserved = {}
        self._copies_ready = None
        self._staged_released = False
        self._armed_for = None
        self._baseline = frozenset()  # set at the start of the run (BASELINES)
        self._evidence = EvidenceWait(target.account_id)
        self._link = AccountLink(
            account_id=target.account_id,
            cap=CapKind.INBOX if target.options.inbox else CapKind.DIRECT,
            due_at=lambda: self._current.scheduled_for or self._current.accepted_at,
            on_wait=self._show_wait,
            resend_after=timedelta(seconds=request.settings.account_resend_seconds),
        )
        self._state = PostState(
            workflow_id=workflow.info().workflow_id,
            post_id=target.post_id,
            account_id=target.account_id,
            mode=target.kind.value,
            phase=Phase.DRAFT if target.system_draft else Phase.SCHEDULED,
            summary=target.summary(),
            scheduled_for=target.scheduled_for,
            accepted_at=workflow.now(),
        )
        self._log("accepted" + (" as a system draft" if target.system_draft else ""))
        if request.retry_of is not None:
            fixes = ", ".join(request.retry_of.fixes) or "no changes"
            self._log(
                f"retry of run {request.retry_of.run_id} that failed with "
                f"{request.retry_of.error_code} ({fixes})"
            )

    # -- queries and updates -------------------------------------------------------------

    @workflow.query
    def state(self) -> PostState:
        """The whole picture: phase, times, publish_id, TikTok status, attempts, error."""
        return self._current

    @workflow.update
    async def schedule(self, at: datetime | None) -> PostState:
        """Move a system draft onto the schedule (None: publish as soon as possible)."""
        self._set_schedule(at)
        self._enter(Phase.SCHEDULED, f"scheduled for {fmt_time(at) if at else 'now'}")
        self._resummarize()
        return self._current

    @schedule.validator
    def _validate_schedule(self, at: datetime | None) -> None:
        self._require_phase("schedule")
        require_future(at, workflow.now())

    @workflow.update
    async def publish_now(self) -> PostState:
        """Publish a draft or a scheduled post immediately."""
        self._set_schedule(None)
        self._enter(Phase.SCHEDULED, "publish now requested")
        self._resummarize()
        return self._current

    @publish_now.validator
    def _validate_publish_now(self) -> None:
        self._require_phase("publish_now")

    @workflow.update
    async def reschedule(self, at: datetime) -> PostState:
        """Change the time of a scheduled post; wakes the durable wait at once."""
        self._set_schedule(at)
        self._log(f"rescheduled to {fmt_time(at)}")
        self._resummarize()
        self._wake = True
        return self._current

    @reschedule.validator
    def _validate_reschedule(self, at: datetime) -> None:
        self._require_phase("reschedule")
        require_future(at, workflow.now())

    @workflow.update
    async def cancel(self, reason: str | None = None) -> PostState:
        """Cancel a post that has not started publishing, or that its account holds before
        any init of it reached TikTok (`post_actions.TAKEN_WHILE_HELD`). Nothing reaches
        TikTok."""
        if self._current.phase is Phase.PUBLISHING:
            self._show_wait(None)  # the hold is over: the answer and the event say so
        # Before the phase changes: the post.cancelled event carries the state as it ends.
        self._current.finished_at = workflow.now()
        self._enter(Phase.CANCELLED, f"cancelled{': ' + reason if reason else ''}")
        if self._staging is not None and not self._staging.done():
            self._staging.cancel()  # stop copying media nobody will publish
        return self._current

    @cancel.validator
    def _validate_cancel(self, reason: str | None = None) -> None:
        self._require_phase("cancel")

    # -- the lifecycle -------------------------------------------------------------------

    @workflow.run
    async def run(self, request: PublishPostInput) -> PublishResult:
        try:
            return await self._lifecycle(request)
        finally:
            # The deliveries outlive the post, but must have started before it ends.
            await asyncio.gather(*self._announcing, return_exceptions=True)

    async def _lifecycle(self, request: PublishPostInput) -> PublishResult:
        target = request.target
        self._baseline = self._baseline_patches()
        # Starters set these at start; repeated here for runs started any other way.
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.POST_STATE.value_set(self._current.phase.value),
            sa.ACCOUNT_ID.value_set(target.account_id),
            sa.POST_ID.value_set(target.post_id),
            sa.MODE.value_set(target.kind.value),
            sa.scheduled_for_update(target.scheduled_for),
        ]
        if self._baseline:
            given = workflow.info().typed_search_attributes
            updates = [u for u in updates if given.get(u.key) != u.value]
        if updates:
            workflow.upsert_search_attributes(updates)
        if self._current.phase is Phase.SCHEDULED:
            self._announce()
        try:
            given_id = workflow.info().workflow_id
            if given_id != target.workflow_id and self._patched(WORKFLOW_ID_CHECKED):
                # The id is the idempotency key and how every tool finds the post.
                rule = ENGINE_CODES["INPUT_INVALID"]
                raise PostFailed(
                    PostError(
                        code=rule.code,
                        message=f"The workflow id {given_id!r} is not the target's "
                        f"{target.workflow_id!r}.",
                        remedy=rule.remedy,
                    )
                )
            # Starters validate before starting; this guards direct `temporal workflow start`.
            self._fail_on_problems(validate_target(target, ValidationPolicy()))
            # Custody first: a week of waiting must not depend on the source URL surviving.
            staged = await self._stage(target, request.settings)
            measured = measured_target(target, staged)
            self._fail_on_problems(validate_target(measured, ValidationPolicy()))
            await self._wait_until_due(measured, staged, request.settings)
            if self._current.phase is Phase.CANCELLED:
                await self._unprepare("the post was cancelled")
                await self._delete_staged(request.settings, after_success=False)
                return self._result()
            try:
                await self._publish(request, measured, staged)
            except CancelledWhileHeld:
                self._log("the cancel ended the account's hold before any init could go live")
                workflow.set_current_details("CANCELLED while its account held it: nothing sent.")
                await self._delete_staged(request.settings, after_success=False)
                return self._result()
            await self._delete_staged(request.settings, after_success=True)
        except PostFailed as failed:
            if self._current.phase is Phase.CANCELLED:
                # Cancelled while staging: the customer's decision stands over the failure,
                # and whatever was copied before the cancel goes.
                self._log(f"staging stopped ({failed.error.code}) by the cancel")
                await self._delete_staged(request.settings, after_success=False)
                return self._result()
            if self._current.publish_id and self._current.tiktok_status != "FAILED":
                # TikTok has this upload and never said it failed: it may be live.
                failed.error.may_be_live = True
            self._current.error = failed.error
            self._current.finished_at = workflow.now()
            workflow.upsert_search_attributes([sa.ERROR_CODE.value_set(failed.error.code)])
            self._enter(Phase.FAILED, f"failed: {failed.error.code}")
            # The UI's text names this post in the commands it suggests.
            remedy = failed.error.remedy.replace(
                "POST_ID ACCOUNT_ID", f"{target.post_id} {target.account_id}"
            )
            explained = f"{failed.error.code}: {failed.error.message} {remedy}"
            workflow.set_current_details(f"FAILED {explained}")
            raise ApplicationError(
                explained.strip(),
                failed.error.model_dump(mode="json"),
                type=failed.error.code,
                non_retryable=True,
            ) from None
        return self._result()

    async def _wait_until_due(
        self, target: PublishTarget, staged: StagedMedia, settings: PublishSettings
    ) -> None:
        """Hold drafts; sleep durably until the scheduled time, waking on every update.
        `prepare_seconds` ahead of it the post gets ready (`_prepare`)."""
        prepare = settings.prepare_seconds > 0 and self._patched(PREPARE_BEFORE_DUE)
        # Posts due in the same second get ready over the second half of the lead time, not
        # all in its first instant (deterministic: the run's own random source).
        lead = settings.prepare_seconds * (workflow.random().uniform(0.5, 1.0) if prepare else 0)
        # A post that got ready hands its init to the worker shortly before the due time.
        # Like getting ready, spread over the second half of its lead, so that posts due in
        # the same second do not all arm in the same instant.
        arm = (
            timedelta(seconds=settings.arm_seconds * workflow.random().uniform(0.5, 1.0))
            if prepare and settings.arm_seconds > 0 and self._patched(INIT_ARMED_BEFORE_DUE)
            else None
        )
        due = self._current.scheduled_for
        if prepare and due is not None and due - workflow.now() > timedelta(seconds=2 * lead):
            # The account's entity starts now, not in the rush before the due time.
            await self._link.wake()
        while True:
            phase = self._current.phase
            if phase is Phase.DRAFT:
                workflow.set_current_details("System draft: waiting for schedule or publish_now.")
                await workflow.wait_condition(lambda: self._current.phase is not Phase.DRAFT)
                continue
            if phase is Phase.CANCELLED:
                return
            due = self._current.scheduled_for
            if self._prepared is not None and self._prepared.due != due:
                await self._unprepare()  # rescheduled: ready for a time that is gone
            now = workflow.now()
            if due is None or due <= now:
                return
            wake = due
            # Too close to the due time (accepted or rescheduled into the last moments, or
            # woken late), getting ready would only delay the init: publish as it is.
            if prepare and self._prepared is None and due - now > timedelta(seconds=lead / 2):
                wake = due - timedelta(seconds=lead)
                if wake <= now:
                    self._wake = False
                    await self._prepare(target, staged, settings, due)
                    continue
            elif arm is not None and self._prepared is not None:
                if due - now <= arm:
                    self._armed_for = due  # `_publish` now, its init sent at `due`
                    return
                wake = due - arm
            self._wake = False
            ready = " (ready: creator checked, init reserved)" if self._prepared else ""
            workflow.set_current_details(f"Scheduled: waiting until {fmt_time(due)}{ready}.")
            try:
                await workflow.wait_condition(
                    lambda: self._wake or self._current.phase is not Phase.SCHEDULED,
                    timeout=wake - now,
                    timeout_summary=(
                        f"wait until {fmt_time(wake)}"
                        if wake == due
                        else f"arm the init for {fmt_time(due)}"
                        if self._prepared is not None
                        else f"get ready at {fmt_time(wake)}"
                    ),
                )
            except TimeoutError:
                pass

    @workflow.signal
    def media_progress(self, progress: MediaProgress) -> None:
        """Sent by staging and upload activities; shown in `state` and the UI's details."""
        self._current.progress = progress
        total = f" of {fmt_size(progress.total_bytes)}" if progress.total_bytes else ""
        percent = f" ({progress.percent} %)" if progress.percent is not None else ""
        workflow.set_current_details(
            f"{progress.step.capitalize()} media: {fmt_size(progress.done_bytes)}{total}{percent}."
        )

    @workflow.signal(name="staging_retry")
    def staging_retry(self, retry: StagingRetry) -> None:
        """Sent by the staging activity after a failed attempt: a post whose media keeps
        failing says so (state, details, TikTokStagingError) instead of a plain SCHEDULED."""
        if self._staging is None or not self._patched(STAGING_RETRY_VISIBLE):
            return  # a late signal: staging is already over
        state = self._current
        state.staging_failures = max(state.staging_failures, retry.attempt)
        state.staging_error = f"{retry.code}: {retry.message}"
        if retry.retry_in_seconds is None:
            state.next_staging_attempt_at = None
            then = "no further attempt"
        else:
            state.next_staging_attempt_at = workflow.now() + timedelta(
                seconds=retry.retry_in_seconds
            )
            then = f"next attempt about {fmt_time(state.next_staging_attempt_at)}"
        if retry.index and retry.code != self._staging_code:
            workflow.upsert_search_attributes([sa.STAGING_ERROR.value_set(retry.code)])
            self._staging_code = retry.code
        self._log(f"staging attempt {retry.attempt} failed ({retry.code}); {then}")
        workflow.set_current_details(
            f"Staging failing (attempt {retry.attempt}, {retry.code}): {retry.message} "
            f"{then.capitalize()}."
        )

    @workflow.signal(name="account_answer")
    def account_answer(self, answer: SlotAnswer) -> None:
        """The account entity's answer to a slot request: go ahead, or what to wait for."""
        self._link.answer(answer)

    @workflow.signal(name=TIKTOK_EVENT_SIGNAL)
    def tiktok_event(self, event: TikTokEvent) -> None:
        """A verified TikTok webhook for this post's publish: a trigger for one status fetch,
        never the truth itself (duplicates and stale publish ids are ignored)."""
        if event.event_key in self._events_seen:
            return
        self._events_seen.add(event.event_key)
        if event.publish_id and event.publish_id != self._current.publish_id:
            self._log(f"TikTok event {event.event} for another publish_id ignored")
            return
        self._log(f"TikTok event {event.event}; confirming with a status fetch")
        self._nudged = True

    @workflow.signal(name=CLAIM_VERDICT_SIGNAL)
    def claim_verdict(self, verdict: ClaimVerdict) -> None:
        """The account's verdict on this post's ambiguous init (workflows/ambiguity.py)."""
        self._evidence.receive(verdict)

    async def _publish(
        self, request: PublishPostInput, target: PublishTarget, staged: StagedMedia
    ) -> None:
        settings = request.settings
        state = self._current
        armed, now = self._armed_for, workflow.now()
        # When the init is sent: now, or the due time of an init armed just before it.
        sends = armed if armed is not None and armed > now else now
        state.publishing_started_at = sends
        self._enter(
            Phase.PUBLISHING,
            f"publishing started: the init is sent at {fmt_time(sends)}"
            if sends > now
            else "publishing started",
        )
        # Every TikTok call of this run asks the account entity for a slot first.
        self._paced = self._patched(ACCOUNT_PACING)

        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared.due == state.scheduled_for:
            creator = prepared.creator
            self._copies_ready = prepared.copies_for
            self._reserved = {
                call: use_by
                for call, use_by in (
                    (CallKind.INIT, prepared.init_use_by),
                    (CallKind.STATUS, prepared.status_use_by),
                )
                if use_by is not None
            }
        else:
            if prepared is not None:
                self._prepared = prepared
                await self._unprepare()
            creator = await self._check_creator(target, settings)
        state.creator_username = creator.username
        deadline = workflow.now() + timedelta(seconds=settings.publish_deadline_seconds)

        while True:
            init = await self._init(target, staged, settings)
            if settings.webhook_fallback_poll_seconds and self._patched(WEBHOOK_WAKE_PATCH):
                # TikTok's webhooks name the publish_id only: the API finds the post by it.
                # (Only with webhooks configured: `setup` registers the attribute for them.)
                workflow.upsert_search_attributes([sa.PUBLISH_ID.value_set(init.publish_id)])
            if init.upload is not None:
                await self._upload(init.upload, settings)
            status = await self._poll_until_final(target, init.publish_id, deadline, settings)
            if status.status is TikTokStatus.PUBLISH_COMPLETE:
                self._finish(Phase.PUBLISHED, "published on TikTok")
                self._follow_metrics(settings)
                return
            if status.status is TikTokStatus.SEND_TO_USER_INBOX:
                self._finish(Phase.DELIVERED_TO_INBOX, "delivered to the creator's inbox")
                return
            rule = classify_fail_reason(status.fail_reason)
            error = PostError(
                code=rule.code,
                message=rule.meaning,
                remedy=rule.remedy,
                retryable=rule.retryable,
            )
            if not rule.retryable or state.init_attempts >= settings.max_publish_attempts:
                raise PostFailed(error)
            # TikTok says this upload FAILED, so it never went live: a new init is safe.
            delay = timedelta(seconds=rule.delay_seconds or 30)
            self._log(f"TikTok failed the upload ({rule.code}); trying again in {delay}")
            await workflow.sleep(delay, summary=f"retry after {rule.code}")

    # -- helpers -------------------------------------------------------------------------

    def _require_phase(self, action: str) -> None:
        require_phase(self._current, action, workflow.now())

    def _enter(self, phase: Phase, event: str) -> None:
        if phase is not self._current.phase:
            workflow.upsert_search_attributes([sa.POST_STATE.value_set(phase.value)])
        changed = phase is not self._current.phase
        self._current.phase = phase
        self._wake = True
        self._log(event)
        if changed:
            self._announce()

    def _set_schedule(self, at: datetime | None) -> None:
        self._current.scheduled_for = at
        workflow.upsert_search_attributes([sa.scheduled_for_update(at)])

    def _finish(self, phase: Phase, event: str) -> None:
        self._current.finished_at = workflow.now()
        self._current.next_poll_at = None
        self._enter(phase, event)
        ids = ", ".join(self._current.public_post_ids)
        workflow.set_current_details(f"{phase.value}{': ' + ids if ids else ''}.")
