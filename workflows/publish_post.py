"""PublishPost: one TikTok post target, from acceptance to TikTok's final word.

The workflow owns the lifecycle (draft, schedule, creator check, init, polling, error
classification); activities do every call to TikTok. Its one promise above all others:
never two posts for one target. The publish_id is recorded the moment init returns and
nothing after that point can run init again, except a new attempt after TikTok itself
reported the previous upload FAILED (which never went live).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.publishing import TikTokActivities
    from activities.staging import MediaActivities
    from workflows import search_attributes as sa
    from workflows.account_contracts import RESERVATION_GRACE, CallKind, CapKind, SlotAnswer
    from workflows.account_link import AccountLink, WaitEnded
    from workflows.ambiguity import EvidenceWait, evidence_window
    from workflows.analytics import (
        ANALYTICS_PATCH,
        AnalyticsInput,
        PostAnalytics,
        analytics_id,
    )
    from workflows.claims import CLAIM_VERDICT_SIGNAL, ClaimVerdict
    from workflows.contracts import (
        AttemptMedia,
        ChunkUpload,
        CreatorInfoQuery,
        FailureDetails,
        GhostInit,
        InitPublishInput,
        InitPublishResult,
        MediaProgress,
        Phase,
        PostError,
        PostState,
        PublishPostInput,
        PublishResult,
        PublishSettings,
        StagedMedia,
        StagedTarget,
        StagingRetry,
        StatusQuery,
        pull_attempt,
    )
    from workflows.errors import Retryability, classify_error, classify_fail_reason
    from workflows.pacing import ACCOUNT_CODES, BANNED_CODE
    from workflows.request import MediaItem, PublishMode, PublishTarget
    from workflows.tiktok import CreatorInfo, Privacy, PublishStatus, TikTokStatus
    from workflows.tiktok_events import TIKTOK_EVENT_SIGNAL, WEBHOOK_WAKE_PATCH, TikTokEvent
    from workflows.validation import (
        ValidationPolicy,
        check_against_creator,
        validate_target,
    )
    from workflows.webhooks_out import (
        WEBHOOKS_OUT_PATCH,
        DeliverEvent,
        DeliverEventInput,
        OutgoingEvent,
        child_id,
        event_for,
    )

T = TypeVar("T")

# Reads are safe to repeat, so they retry generously; Temporal keeps the backoff durable.
READ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=8,
)
# Init creates a post and TikTok gives it no idempotency key, so Temporal must never repeat
# it on its own: a timed-out or crashed attempt may have reached TikTok. Each execution gets
# one attempt; the workflow itself tries again only after failures the error table says
# provably did nothing (a connection refused, a TikTok error envelope, a 429).
INIT_ONCE = RetryPolicy(maximum_attempts=1)
INIT_MAX_TRIES = 6
#: Paced calls get one attempt per slot: every try, retries included, is granted by the
#: account entity, so no retry can overrun TikTok's per-minute budget.
ONCE = RetryPolicy(maximum_attempts=1)
READ_TRIES = 8
#: Posts started before the account entity existed keep their own path on replay.
ACCOUNT_PACING = "account-entity-pacing"
#: FILE_UPLOAD inits whose answer was lost are started again (runs before it replay as before).
GHOST_INIT_RETRY = "ghost-init-retry"
#: A paced read with no answer at all (timeout, lost worker) is asked again, not fatal.
PACED_READ_SURVIVES_LOST_WORKERS = "paced-read-survives-lost-workers"
#: Pulled media: a lost answer withdraws that attempt's copies at once.
WITHDRAW_PULLED_ATTEMPT = "withdraw-pulled-attempt"
#: Failed staging attempts shown in `state` and TikTokStagingError (runs started earlier
#: never got the signal, so they replay unchanged either way).
STAGING_RETRY_VISIBLE = "staging-retry-visible"
#: A scheduled post reads the creator's settings and reserves its init shortly before its
#: due time, so that at the due time only the init is left (runs before it replay as before).
PREPARE_BEFORE_DUE = "prepare-before-due"
CALL_TIMEOUT = timedelta(seconds=90)  # reads and deletes; init uses the post's settings
# Copying gigabytes takes a while; heartbeats (not this timeout) detect a dead attempt.
TRANSFER_TIMEOUT = timedelta(hours=3)
TRANSFER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
)


class _DeadlineReached(Exception):
    """The publish deadline passed while the post waited for the account."""


class _Interrupted(Exception):
    """A reschedule or cancel ended a wait for the account while the post got ready."""


class _PostFailed(Exception):
    def __init__(self, error: PostError) -> None:
        super().__init__(error.code)
        self.error = error


@dataclass
class _Prepared:
    """What a post did ahead of its due time; good only for that due time."""

    due: datetime | None
    creator: CreatorInfo
    init_use_by: datetime | None = None
    """The init's reservation: used by then, or given back and asked for again."""
    status_use_by: datetime | None = None
    """The first status check's reservation, likewise."""
    copies_for: str | None = None
    """Pulled media: the init attempt (`pull_attempt`) whose copies were made ahead."""


@workflow.defn(name="PublishPost")
class PublishPost:
    @workflow.init
    def __init__(self, request: PublishPostInput) -> None:
        # State exists before any handler runs: an update may arrive in the very first
        # activation, together with the start itself.
        target = request.target
        self._target: PublishTarget = target
        self._wake = False
        self._nudged = False  # a verified TikTok webhook asks for a confirming status fetch
        self._events_seen: set[str] = set()
        self._webhooks_out = request.settings.webhooks_out
        self._webhook_retry = request.settings.webhook_retry_initial_seconds
        self._announcing: list[asyncio.Future[None]] = []
        self._call_timeout = request.settings.init_timeout_seconds
        self._staging: asyncio.Task[StagedMedia] | None = None
        self._staging_code: str | None = None  # what TikTokStagingError holds now
        self._paced = False
        self._prepared: _Prepared | None = None
        self._reserved: dict[CallKind, datetime] = {}
        self._copies_ready: str | None = None  # the init attempt whose copies were made ahead
        """Slots reserved ahead of the due time, each good until its `use_by`."""
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
        self._enter(Phase.SCHEDULED, f"scheduled for {_fmt(at) if at else 'now'}")
        self._resummarize()
        return self._current

    @schedule.validator
    def _validate_schedule(self, at: datetime | None) -> None:
        self._require_phase("schedule", Phase.DRAFT)
        _require_aware(at)

    @workflow.update
    async def publish_now(self) -> PostState:
        """Publish a draft or a scheduled post immediately."""
        self._set_schedule(None)
        self._enter(Phase.SCHEDULED, "publish now requested")
        self._resummarize()
        return self._current

    @publish_now.validator
    def _validate_publish_now(self) -> None:
        self._require_phase("publish_now", Phase.DRAFT, Phase.SCHEDULED)

    @workflow.update
    async def reschedule(self, at: datetime) -> PostState:
        """Change the time of a scheduled post; wakes the durable wait at once."""
        self._set_schedule(at)
        self._log(f"rescheduled to {_fmt(at)}")
        self._resummarize()
        self._wake = True
        return self._current

    @reschedule.validator
    def _validate_reschedule(self, at: datetime) -> None:
        self._require_phase("reschedule", Phase.SCHEDULED, Phase.DRAFT)
        _require_aware(at)

    @workflow.update
    async def cancel(self, reason: str | None = None) -> PostState:
        """Cancel a post that has not started publishing. Nothing reaches TikTok."""
        self._enter(Phase.CANCELLED, f"cancelled{': ' + reason if reason else ''}")
        if self._staging is not None and not self._staging.done():
            self._staging.cancel()  # stop copying media nobody will publish
        self._current.finished_at = workflow.now()
        return self._current

    @cancel.validator
    def _validate_cancel(self, reason: str | None = None) -> None:
        self._require_phase("cancel", Phase.DRAFT, Phase.SCHEDULED)

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
        # Starters set these at start; repeated here for runs started any other way.
        workflow.upsert_search_attributes(
            [
                sa.POST_STATE.value_set(self._current.phase.value),
                sa.ACCOUNT_ID.value_set(target.account_id),
                sa.POST_ID.value_set(target.post_id),
                sa.MODE.value_set(target.kind.value),
                sa.scheduled_for_update(target.scheduled_for),
            ]
        )
        if self._current.phase is Phase.SCHEDULED:
            self._announce()
        try:
            # Starters validate before starting; this guards direct `temporal workflow start`.
            self._fail_on_problems(validate_target(target, ValidationPolicy()))
            # Custody first: a week of waiting must not depend on the source URL surviving.
            staged = await self._stage(target, request.settings)
            measured = measured_target(target, staged)
            self._fail_on_problems(validate_target(measured, ValidationPolicy()))
            await self._wait_until_due(measured, staged, request.settings)
            if self._current.phase is Phase.CANCELLED:
                await self._unprepare()
                await self._delete_staged(request.settings, after_success=False)
                return self._result()
            await self._publish(request, measured, staged)
            await self._delete_staged(request.settings, after_success=True)
        except _PostFailed as failed:
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
        prepare = settings.prepare_seconds > 0 and workflow.patched(PREPARE_BEFORE_DUE)
        # Posts due in the same second get ready over the second half of the lead time, not
        # all in its first instant (deterministic: the run's own random source).
        lead = settings.prepare_seconds * (workflow.random().uniform(0.5, 1.0) if prepare else 0)
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
            self._wake = False
            ready = " (ready: creator checked, init reserved)" if self._prepared else ""
            workflow.set_current_details(f"Scheduled: waiting until {_fmt(due)}{ready}.")
            try:
                await workflow.wait_condition(
                    lambda: self._wake or self._current.phase is not Phase.SCHEDULED,
                    timeout=wake - now,
                    timeout_summary=(
                        f"wait until {_fmt(wake)}" if wake == due else f"get ready at {_fmt(wake)}"
                    ),
                )
            except TimeoutError:
                pass

    async def _prepare(
        self, target: PublishTarget, staged: StagedMedia, settings: PublishSettings, due: datetime
    ) -> None:
        """Shortly before the due time: read and check the creator's settings, and reserve
        the init with the account for the due time itself. A reschedule or cancel meanwhile
        drops what was done; a problem with the creator fails the post here as it would at
        the due time."""
        self._paced = workflow.patched(ACCOUNT_PACING)
        if not self._paced:
            return

        def moved() -> bool:
            return self._wake or self._current.phase is not Phase.SCHEDULED

        try:
            creator = await self._check_creator(target, settings, interrupted=moved)
            if moved():
                return  # rescheduled or cancelled while reading: start over at the new time
            self._current.creator_username = creator.username
            prepared = _Prepared(due=due, creator=creator)
            self._prepared = prepared  # from here on, a reschedule gives back what it holds
            init_use_by = due + RESERVATION_GRACE
            await self._slot(CallKind.INIT, settings, use_by=init_use_by, interrupted=moved)
            prepared.init_use_by = init_use_by
            # The first status check follows the init after the first poll interval.
            status_use_by = init_use_by + timedelta(seconds=settings.poll_initial_seconds)
            await self._slot(CallKind.STATUS, settings, use_by=status_use_by, interrupted=moved)
            prepared.status_use_by = status_use_by
            if self._pulls(target, staged):
                # TikTok will pull the first init's own copies: made now, not at the due time.
                first = self._init_input(target, staged, attempt=self._current.init_attempts + 1)
                await workflow.execute_activity_method(
                    TikTokActivities.copy_attempt_media,
                    first,
                    start_to_close_timeout=CALL_TIMEOUT,
                    retry_policy=READ_RETRY,
                    summary="copy the media TikTok will pull",
                )
                prepared.copies_for = pull_attempt(first)
        except _Interrupted:
            return
        except ActivityError as err:
            # The init makes the copies itself then; only the head start is lost.
            self._log(f"copies not made ahead ({_activity_error(err).code}); init makes them")
        self._current.prepared_at = workflow.now()
        self._log(f"ready for {_fmt(due)}: creator @{creator.username} checked, calls reserved")

    async def _unprepare(self) -> None:
        """Give back what `_prepare` reserved (the account uncounts the init)."""
        prepared, self._prepared = self._prepared, None
        if prepared is None:
            return
        self._current.prepared_at = None
        if prepared.init_use_by is not None:
            await self._link.release(CallKind.INIT)
            self._log("reserved init given back (the post's time changed)")

    async def _stage(self, target: PublishTarget, settings: PublishSettings) -> StagedMedia:
        count = len(target.media)
        workflow.set_current_details(f"Staging {count} media file(s) into the bucket.")
        # A task, so that `cancel` can stop a copy in progress instead of waiting for it.
        self._staging = asyncio.ensure_future(
            workflow.execute_activity_method(
                MediaActivities.stage_media,
                target,
                start_to_close_timeout=TRANSFER_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=settings.transfer_heartbeat_seconds),
                retry_policy=TRANSFER_RETRY,
                summary=f"stage {count} media file(s)",
                # On cancel, wait until the copy has really stopped (its multipart upload
                # aborted) before cleaning up, so nothing is written after the cleanup.
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        )
        try:
            staged: StagedMedia = await self._staging
        except ActivityError as err:
            raise _PostFailed(_activity_error(err)) from None
        except asyncio.CancelledError:
            if self._current.phase is not Phase.CANCELLED:
                raise
            raise _PostFailed(
                PostError(code="CANCELLED", message="Cancelled while the media was being staged.")
            ) from None
        finally:
            self._current.progress = None
            self._staging = None
            self._staging_over()
        self._current.staged_media = list(staged.items)
        size = sum(item.size_bytes for item in staged.items)
        reused = " (already staged)" if all(item.reused for item in staged.items) else ""
        self._log(f"media staged: {count} file(s), {_size(size)}{reused}")
        return staged

    async def _upload(self, upload: ChunkUpload, settings: PublishSettings) -> None:
        """Chunks are safe to resend, so the upload retries freely (resuming each time)."""
        workflow.set_current_details("Uploading the video to TikTok.")
        try:
            await workflow.execute_activity_method(
                MediaActivities.upload_video,
                upload,
                start_to_close_timeout=TRANSFER_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=settings.transfer_heartbeat_seconds),
                retry_policy=TRANSFER_RETRY,
                summary=f"upload {upload.total_chunk_count} chunk(s)",
            )
        except ActivityError as err:
            raise _PostFailed(_activity_error(err)) from None
        finally:
            self._current.progress = None
        chunks = upload.total_chunk_count
        self._log(f"uploaded {_size(upload.video_size)} in {chunks} chunk(s)")

    async def _delete_staged(self, settings: PublishSettings, *, after_success: bool) -> None:
        """Nothing can need the media again; a FAILED post keeps it for `retry`."""
        keep = settings.staged_media_retention_seconds if after_success else 0
        if keep > 0:
            await workflow.sleep(timedelta(seconds=keep), summary="keep staged media")
        target = StagedTarget(post_id=self._target.post_id, account_id=self._target.account_id)
        try:
            await workflow.execute_activity_method(
                MediaActivities.delete_staged_media,
                target,
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=READ_RETRY,
                summary="delete staged media",
            )
        except ActivityError as err:
            # The post itself is done; a bucket lifecycle rule removes leftovers.
            self._log(f"staged media not deleted ({_activity_error(err).code})")
            return
        self._log("staged media deleted")

    @workflow.signal
    def media_progress(self, progress: MediaProgress) -> None:
        """Sent by staging and upload activities; shown in `state` and the UI's details."""
        self._current.progress = progress
        total = f" of {_size(progress.total_bytes)}" if progress.total_bytes else ""
        percent = f" ({progress.percent} %)" if progress.percent is not None else ""
        workflow.set_current_details(
            f"{progress.step.capitalize()} media: {_size(progress.done_bytes)}{total}{percent}."
        )

    @workflow.signal(name="staging_retry")
    def staging_retry(self, retry: StagingRetry) -> None:
        """Sent by the staging activity after a failed attempt: a post whose media keeps
        failing says so (state, details, TikTokStagingError) instead of a plain SCHEDULED."""
        if self._staging is None or not workflow.patched(STAGING_RETRY_VISIBLE):
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
            then = f"next attempt about {_fmt(state.next_staging_attempt_at)}"
        if retry.index and retry.code != self._staging_code:
            workflow.upsert_search_attributes([sa.STAGING_ERROR.value_set(retry.code)])
            self._staging_code = retry.code
        self._log(f"staging attempt {retry.attempt} failed ({retry.code}); {then}")
        workflow.set_current_details(
            f"Staging failing (attempt {retry.attempt}, {retry.code}): {retry.message} "
            f"{then.capitalize()}."
        )

    def _staging_over(self) -> None:
        """Staging ended (copied, failed or cancelled): no retry is pending any more."""
        state = self._current
        state.staging_error = None
        state.next_staging_attempt_at = None
        if self._staging_code is not None:
            workflow.upsert_search_attributes([sa.STAGING_ERROR.value_unset()])
            self._staging_code = None

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
        state.publishing_started_at = workflow.now()
        self._enter(Phase.PUBLISHING, "publishing started")
        # Every TikTok call of this run asks the account entity for a slot first.
        self._paced = workflow.patched(ACCOUNT_PACING)

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
            if settings.webhook_fallback_poll_seconds and workflow.patched(WEBHOOK_WAKE_PATCH):
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
                raise _PostFailed(error)
            # TikTok says this upload FAILED, so it never went live: a new init is safe.
            delay = timedelta(seconds=rule.delay_seconds or 30)
            self._log(f"TikTok failed the upload ({rule.code}); trying again in {delay}")
            await workflow.sleep(delay, summary=f"retry after {rule.code}")

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
            raise _PostFailed(_activity_error(err)) from None
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
                    if not workflow.patched(PACED_READ_SURVIVES_LOST_WORKERS):
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
        self._log(f"reserved {call.value} slot expired at {_fmt(use_by)}; asking again")
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
        """Wait for the account's permission; a wait that ends the post fails it here."""
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
            )
        except WaitEnded as ended:
            if ended.code == "DEADLINE":
                raise _DeadlineReached() from None
            if ended.code == "INTERRUPTED":
                raise _Interrupted() from None
            rule = classify_error(ended.code)
            waited = (
                f" (waiting since {_fmt(ended.since)} for {ended.reason.value})"
                if ended.reason
                else ""
            )
            raise _PostFailed(
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
            until = f" until {_fmt(state.waiting_until)}" if state.waiting_until else ""
            workflow.set_current_details(
                f"Waiting for {reason}{until} (account {self._target.account_id})."
            )

    async def _init(
        self, target: PublishTarget, staged: StagedMedia, settings: PublishSettings
    ) -> InitPublishResult:
        state = self._current
        state.init_attempts += 1
        state.publish_id = None
        state.tiktok_status = None
        attempt = 0
        while attempt < INIT_MAX_TRIES:
            attempt += 1
            if self._paced and not await self._use_reserved(CallKind.INIT):
                await self._slot(CallKind.INIT, settings)
            lost_note = (
                f", {len(state.ghost_inits)} lost answer(s) before" if state.ghost_inits else ""
            )
            workflow.set_current_details(
                f"Starting the TikTok upload (publish attempt {state.init_attempts}, "
                f"try {attempt}{lost_note})."
            )
            sent_at = workflow.now()
            try:
                request = self._init_input(
                    target, staged, attempt=state.init_attempts, try_number=attempt
                )
                if self._copies_ready == pull_attempt(request):
                    request.copies_made = True
                self._copies_ready = None
                init = await workflow.execute_activity_method(
                    TikTokActivities.init_publish,
                    request,
                    start_to_close_timeout=timedelta(seconds=self._call_timeout),
                    retry_policy=INIT_ONCE,
                    summary=f"init {target.kind.value} upload",
                )
            except ActivityError as err:
                error = _activity_error(err)
                retryability = _retryability(err)
                details = FailureDetails.of(err)
                if self._paced and details is not None:
                    if await self._report_account_code(CallKind.INIT, details):
                        attempt -= 1  # TikTok refused outright; the account's wait is no try
                        continue
                    await self._link.outcome(
                        CallKind.INIT,
                        code=details.code,
                        may_have_taken_effect=retryability
                        not in (Retryability.RETRYABLE, Retryability.NON_RETRYABLE),
                    )
                if retryability is Retryability.RETRYABLE and attempt < INIT_MAX_TRIES:
                    delay = _retry_delay(err, attempt)
                    self._log(f"init refused ({error.code}), nothing was created; again in {delay}")
                    await workflow.sleep(delay, summary=f"init again after {error.code}")
                    continue
                if retryability in (
                    Retryability.RETRYABLE,
                    Retryability.NON_RETRYABLE,
                    Retryability.LATER,
                ):
                    raise _PostFailed(error) from None
                # Ambiguous, a timeout, a crashed worker, an unexpected exception: TikTok may
                # have created the post.
                if self._may_start_again_after_ghost(target, staged, settings):
                    # FILE_UPLOAD: that publish can only go live once its bytes reach the
                    # upload URL in the answer that was lost, so it never can. Start again.
                    self._record_ghost(error)
                    if evidence_window(settings, self._paced):
                        await self._evidence.note_file_upload_ghost(
                            self._link.granted_id(CallKind.INIT), sent_at
                        )
                    attempt -= 1
                    delay = timedelta(seconds=2 * len(state.ghost_inits))
                    await workflow.sleep(delay, summary="init again after a lost answer")
                    continue
                if state.ghost_inits:
                    # Every lost answer was a FILE_UPLOAD ghost: none of them can be live.
                    lost = classify_error("INIT_ANSWERS_LOST")
                    raise _PostFailed(
                        PostError(
                            code=lost.code,
                            message=f"{lost.meaning} ({len(state.ghost_inits)} lost answers; "
                            f"the last: {error.code})",
                            remedy=lost.remedy,
                            retryable=False,
                            details=[{"cause": error.model_dump(mode="json")}],
                        )
                    ) from None
                # Anything else (pulled media, a run from before ghosts were recorded): a
                # person decides; nothing retries it blindly.
                await self._withdraw_pulled_attempt(target, staged, settings, attempt)
                ghost = await self._settle_by_evidence(target, staged, settings, sent_at)
                if ghost is not None:
                    return ghost
                ambiguous = classify_error("AMBIGUOUS_INIT")
                evidence = state.ambiguity_evidence
                why = f" Evidence: {evidence.explanation}." if evidence else ""
                raise _PostFailed(
                    PostError(
                        code=ambiguous.code,
                        message=f"{ambiguous.meaning}{why}",
                        remedy=ambiguous.remedy,
                        may_be_live=True,
                        details=[{"cause": error.model_dump(mode="json")}],
                    )
                ) from None
            # Recorded before anything else can happen: from here on this target has a post.
            state.publish_id = init.publish_id
            self._log(f"init ok: publish_id {init.publish_id}")
            if self._paced:
                await self._link.outcome(CallKind.INIT, code=None, publish_id=init.publish_id)
            return init
        raise AssertionError("unreachable")  # the loop returns or raises

    def _init_input(
        self, target: PublishTarget, staged: StagedMedia, *, attempt: int, try_number: int = 1
    ) -> InitPublishInput:
        return InitPublishInput(
            target=target, attempt=attempt, try_number=try_number, staged=staged, paced=self._paced
        )

    @staticmethod
    def _pulls(target: PublishTarget, staged: StagedMedia) -> bool:
        """TikTok fetches this post's media itself (photos; videos staged for pull)."""
        return not target.is_video or staged.video_source == "pull_from_url"

    async def _settle_by_evidence(
        self,
        target: PublishTarget,
        staged: StagedMedia,
        settings: PublishSettings,
        sent_at: datetime,
    ) -> InitPublishResult | None:
        """With TikTok's webhooks: wait for the account's evidence about the ghost of a lost
        pulled init (workflows/ambiguity.py). Its publish_id, taken as this attempt's, or
        None: AMBIGUOUS_INIT for a person."""
        if target.is_video and staged.video_source == "file_upload":
            return None  # no pull to prove anything (and it can never go live)
        window = evidence_window(settings, self._paced)
        if window is None:
            return None
        publish_id = await self._evidence.settle(
            state=self._current,
            request_id=self._link.granted_id(CallKind.INIT),
            sent_at=sent_at,
            window=window,
            inbox=target.options.inbox,
            fetch_status=lambda pid: self._fetch_status(
                target, pid, workflow.now() + window, settings
            ),
            log=self._log,
        )
        evidence = self._current.ambiguity_evidence
        if evidence is not None:
            self._log(f"ambiguity {evidence.outcome}: {evidence.explanation}")
        if publish_id is None:
            return None
        self._current.publish_id = publish_id
        self._nudged = True  # the poll loop confirms at once, then goes on as for any publish
        return InitPublishResult(publish_id=publish_id)

    def _may_start_again_after_ghost(
        self, target: PublishTarget, staged: StagedMedia, settings: PublishSettings
    ) -> bool:
        """A lost init answer may be followed by a new init only for FILE_UPLOAD videos
        (recorded at staging), within `max_ghost_inits`, on runs that know ghosts."""
        file_upload = target.is_video and staged.video_source == "file_upload"
        if not file_upload or len(self._current.ghost_inits) >= settings.max_ghost_inits:
            return False
        return workflow.patched(GHOST_INIT_RETRY)

    async def _withdraw_pulled_attempt(
        self, target: PublishTarget, staged: StagedMedia, settings: PublishSettings, tried: int
    ) -> None:
        """TikTok pulls by itself, so a lost answer may hide a pull still to come: delete the
        copies that attempt pointed at, at once. A pull that has not fetched them yet then
        fails instead of going live. Best effort: the post's outcome does not depend on it."""
        if staged.video_source == "file_upload" and target.is_video:
            return
        if not workflow.patched(WITHDRAW_PULLED_ATTEMPT):
            return
        label = f"{self._current.init_attempts}-{tried}"
        try:
            removed = await workflow.execute_activity_method(
                MediaActivities.withdraw_attempt_media,
                AttemptMedia(post_id=target.post_id, account_id=target.account_id, attempt=label),
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=READ_RETRY,
                summary="withdraw the pulled copies of the unanswered init",
            )
            self._log(f"the media of unanswered init {label} was withdrawn ({removed} objects)")
        except ActivityError as err:
            self._log(f"could not withdraw the media of unanswered init {label}: {err.message}")

    def _record_ghost(self, error: PostError) -> None:
        state = self._current
        state.ghost_inits.append(
            GhostInit(
                at=workflow.now(),
                publish_attempt=state.init_attempts,
                code=error.code,
                reason=error.message,
            )
        )
        self._log(
            f"init answer lost ({error.code}): that publish can never receive its bytes, "
            f"so a new init is safe (lost answer {len(state.ghost_inits)})"
        )

    async def _poll_until_final(
        self,
        target: PublishTarget,
        publish_id: str,
        deadline: datetime,
        settings: PublishSettings,
    ) -> PublishStatus:
        """Durable-timer polling.

        Timers in the workflow (rather than a long-retrying activity) make every poll and its
        answer visible in history and in the `state` query, let the interval grow from seconds
        to minutes so hours of moderation cost a few hundred small events, and keep each
        account well inside TikTok's 30 status calls per minute.
        """
        state = self._current
        # With TikTok's webhooks configured, polling is only the slow fallback.
        fallback = settings.webhook_fallback_poll_seconds
        if not workflow.patched(WEBHOOK_WAKE_PATCH):
            fallback = None
        interval = fallback or float(settings.poll_initial_seconds)
        live_since: datetime | None = None
        while True:
            now = workflow.now()
            if now >= deadline and live_since is not None:
                self._log("deadline reached while waiting for the public post id; the post is live")
                return PublishStatus(status=TikTokStatus.PUBLISH_COMPLETE)
            if now >= deadline:
                raise _PostFailed(self._unconfirmed(publish_id))
            wait = min(interval, (deadline - now).total_seconds())
            state.next_poll_at = now + timedelta(seconds=wait)
            workflow.set_current_details(
                f"TikTok status {state.tiktok_status or 'pending'}; "
                f"next check {_fmt(state.next_poll_at)}."
            )
            await self._poll_wait(wait)
            if not fallback:
                interval = min(interval * settings.poll_backoff, settings.poll_max_seconds)
            state.polls += 1
            try:
                status = await self._fetch_status(target, publish_id, deadline, settings)
            except _DeadlineReached:
                continue  # the loop's deadline check decides what the post is now
            except ActivityError as err:
                error = _activity_error(err)
                if live_since is not None:
                    # Already PUBLISH_COMPLETE: only the public id is missing. The post is
                    # live; failing it now would invite a duplicate by retry.
                    self._log(f"public post id not fetched ({error.code}); the post is live")
                    return PublishStatus(status=TikTokStatus.PUBLISH_COMPLETE)
                if not error.retryable and not self._paced:
                    raise _PostFailed(error) from None
                # TikTok has this publish and never said FAILED: whatever goes wrong with the
                # asking (tokens, the network, TikTok itself), keep asking until the deadline.
                self._log(f"status check failed ({error.code}); polling continues")
                continue
            state.next_poll_at = None
            if status.status.value != state.tiktok_status:
                self._log(f"TikTok status {status.status.value}")
            state.tiktok_status = status.status.value
            state.uploaded_bytes = status.uploaded_bytes
            state.downloaded_bytes = status.downloaded_bytes
            state.public_post_ids = list(status.public_post_ids)
            if status.status is TikTokStatus.PUBLISH_COMPLETE and self._awaits_public_id(status):
                if live_since is None:
                    live_since = workflow.now()
                    self._log("live on TikTok; waiting for the public post id (moderation)")
                waited = (workflow.now() - live_since).total_seconds()
                if waited < settings.public_id_wait_seconds:
                    continue
                self._log("no public post id after moderation wait; the post is live")
                return status
            if status.is_terminal:
                return status

    async def _poll_wait(self, seconds: float) -> None:
        """The poll interval; a TikTok webhook (signal `tiktok_event`) ends it early."""
        if not workflow.patched(WEBHOOK_WAKE_PATCH):
            await workflow.sleep(timedelta(seconds=seconds), summary="poll interval")
            return
        if not self._nudged:
            try:
                await workflow.wait_condition(
                    lambda: self._nudged,
                    timeout=timedelta(seconds=seconds),
                    timeout_summary="poll interval",
                )
            except TimeoutError:
                pass
        self._nudged = False

    async def _fetch_status(
        self,
        target: PublishTarget,
        publish_id: str,
        deadline: datetime,
        settings: PublishSettings,
    ) -> PublishStatus:
        query = StatusQuery(account_id=target.account_id, publish_id=publish_id, paced=self._paced)
        if not self._paced:
            status: PublishStatus = await workflow.execute_activity_method(
                TikTokActivities.fetch_publish_status,
                query,
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=READ_RETRY,
                summary=f"status of {publish_id}",
            )
            return status
        return await self._paced_read(
            CallKind.STATUS,
            settings,
            lambda: workflow.execute_activity_method(
                TikTokActivities.fetch_publish_status,
                query,
                start_to_close_timeout=timedelta(seconds=settings.read_timeout_seconds),
                retry_policy=ONCE,
                summary=f"status of {publish_id}",
            ),
            give_up_at=deadline,
        )

    def _unconfirmed(self, publish_id: str) -> PostError:
        """The deadline passed without TikTok's final word on a publish it has."""
        code = "PUBLISH_UNCONFIRMED" if self._paced else "PUBLISH_TIMEOUT"
        rule = classify_error(code)
        return PostError(
            code=rule.code,
            message=f"{rule.meaning} Last TikTok status: "
            f"{self._current.tiktok_status or 'none'} (publish_id {publish_id}).",
            remedy=rule.remedy,
            may_be_live=True,
        )

    # -- helpers -------------------------------------------------------------------------

    @property
    def _current(self) -> PostState:
        return self._state

    def _awaits_public_id(self, status: PublishStatus) -> bool:
        """Only public direct posts get a public id, and only once moderation passes."""
        return (
            not status.public_post_ids
            and self._target.kind in (PublishMode.VIDEO_DIRECT, PublishMode.PHOTO_DIRECT)
            and self._target.options.privacy is Privacy.PUBLIC_TO_EVERYONE
        )

    def _require_phase(self, action: str, *allowed: Phase) -> None:
        phase = self._current.phase
        if phase not in allowed:
            reason = (
                "publishing has already begun, so TikTok may already have the post"
                if phase is Phase.PUBLISHING
                else f"the post is already {phase.value}"
            )
            raise ApplicationError(
                f"Cannot {action}: {reason}.", type="INVALID_PHASE", non_retryable=True
            )

    def _enter(self, phase: Phase, event: str) -> None:
        if phase is not self._current.phase:
            workflow.upsert_search_attributes([sa.POST_STATE.value_set(phase.value)])
        changed = phase is not self._current.phase
        self._current.phase = phase
        self._wake = True
        self._log(event)
        if changed:
            self._announce()

    def _announce(self) -> None:
        """Deliver the phase's event to the caller's webhook endpoints (a child workflow
        per event, abandoned when the post ends, retrying for up to 72 h)."""
        callback = self._target.callback_url
        if not (self._webhooks_out or callback) or not workflow.patched(WEBHOOKS_OUT_PATCH):
            return
        kind = event_for(self._current)
        if kind is None:
            return
        state = self._current
        event = OutgoingEvent(
            id=f"evt_{workflow.uuid4().hex}",
            type=kind,
            created_at=workflow.now(),
            account_id=state.account_id,
            post_id=state.post_id,
            workflow_id=state.workflow_id,
            data=state.model_dump(mode="json", exclude={"history"}),
        )
        self._log(f"event {kind.value} ({event.id}) sent to the webhook endpoints")
        self._announcing.append(asyncio.ensure_future(self._start_delivery(event)))

    def _follow_metrics(self, settings: PublishSettings) -> None:
        """Live with a public id: refresh its numbers on the analytics schedule."""
        state = self._current
        if settings.analytics is None or not state.public_post_ids:
            return
        if not workflow.patched(ANALYTICS_PATCH):
            return
        request = AnalyticsInput(
            post_id=state.post_id,
            account_id=state.account_id,
            video_ids=list(state.public_post_ids),
            live_at=workflow.now(),
            schedule=settings.analytics,
        )
        self._log("metrics refreshes scheduled (analytics)")
        self._announcing.append(asyncio.ensure_future(self._start_analytics(request)))

    async def _start_analytics(self, request: AnalyticsInput) -> None:
        await workflow.start_child_workflow(
            PostAnalytics.run,
            request,
            id=analytics_id(request.post_id, request.account_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"metrics of {request.post_id}",
        )

    async def _start_delivery(self, event: OutgoingEvent) -> None:
        await workflow.start_child_workflow(
            DeliverEvent.run,
            DeliverEventInput(
                event=event,
                retry_initial_seconds=self._webhook_retry,
                callback_url=self._target.callback_url,
            ),
            id=child_id(event.id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"{event.type.value} for {event.post_id}",
        )

    def _set_schedule(self, at: datetime | None) -> None:
        self._current.scheduled_for = at
        workflow.upsert_search_attributes([sa.scheduled_for_update(at)])

    def _resummarize(self) -> None:
        """The summary in `state` follows the current schedule (and drops "system draft"
        once the draft is scheduled). Query data only: no command, nothing to replay."""
        state = self._current
        now = self._target.model_copy(
            update={
                "scheduled_for": state.scheduled_for,
                "system_draft": state.phase is Phase.DRAFT,
            }
        )
        state.summary = now.summary()

    def _finish(self, phase: Phase, event: str) -> None:
        self._current.finished_at = workflow.now()
        self._current.next_poll_at = None
        self._enter(phase, event)
        ids = ", ".join(self._current.public_post_ids)
        workflow.set_current_details(f"{phase.value}{': ' + ids if ids else ''}.")

    def _log(self, event: str) -> None:
        self._current.history.append(f"{_fmt(workflow.now())} {event}")

    def _fail_on_problems(self, problems: list[Any]) -> None:
        if not problems:
            return
        first = problems[0]
        raise _PostFailed(
            PostError(
                code=first.code,
                message=first.message,
                remedy="Fix the post: `tiktok-publisher retry POST_ID ACCOUNT_ID` can change "
                "--privacy, --caption and --at; any other fix needs the fixed post submitted "
                "under a new postId (the same postId is not started again).",
                field=first.field,
                details=[
                    {"code": p.code, "field": p.field, "message": p.message} for p in problems
                ],
            )
        )

    def _result(self) -> PublishResult:
        state = self._current
        return PublishResult(
            post_id=state.post_id,
            account_id=state.account_id,
            phase=state.phase,
            publish_id=state.publish_id,
            public_post_ids=state.public_post_ids,
        )


def _activity_error(err: ActivityError) -> PostError:
    """Turn an activity failure into the post's error, keeping TikTok's code and log id."""
    details = FailureDetails.of(err)
    if details is not None:
        rule = classify_error(details.code, details.http_status)
        return PostError(
            code=details.code,
            message=details.meaning or rule.meaning,
            remedy=details.remedy or rule.remedy,
            retryable=details.retryability is Retryability.RETRYABLE,
            http_status=details.http_status,
            log_id=details.log_id or None,
        )
    cause = err.cause
    message = str(cause) if cause is not None else str(err)
    return PostError(
        code="ACTIVITY_FAILED",
        message=f"An engine step failed: {message}",
        remedy="Check the worker's logs; retry the post once the cause is fixed.",
        retryable=True,
    )


def _retry_delay(err: ActivityError, attempt: int) -> timedelta:
    """TikTok's own delay where it gave one, else 2 s doubling per try."""
    details = FailureDetails.of(err)
    if details is not None and details.retry_after_seconds:
        return timedelta(seconds=details.retry_after_seconds)
    return timedelta(seconds=2**attempt)


def _retryability(err: ActivityError) -> Retryability | None:
    details = FailureDetails.of(err)
    return details.retryability if details is not None else None


def _require_aware(at: datetime | None) -> None:
    """A new time must be explicit and ahead: a typo in a bulk --at must not publish now."""
    if at is None:
        return
    if at.tzinfo is None:
        raise ApplicationError(
            "The time needs a UTC offset (for example 2026-12-01T09:00:00Z).",
            type="TT_TIMEZONE_REQUIRED",
            non_retryable=True,
        )
    if at < workflow.now():
        raise ApplicationError(
            f"{_fmt(at)} is in the past; give a future time, or use publish_now.",
            type="TIME_IN_PAST",
            non_retryable=True,
        )


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _fmt(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def measured_target(target: PublishTarget, staged: StagedMedia) -> PublishTarget:
    """The target as its bytes really are: measured type, size, duration and dimensions
    replace what the request declared (declared values stay where nothing was measured)."""
    media: list[MediaItem] = []
    for item, facts in zip(target.media, staged.items, strict=True):
        media.append(
            item.model_copy(
                update={
                    "mime_type": facts.mime_type,
                    "size_bytes": facts.size_bytes,
                    "duration_seconds": facts.duration_seconds or item.duration_seconds,
                    "width": facts.width or item.width,
                    "height": facts.height or item.height,
                }
            )
        )
    return target.model_copy(update={"media": media})
