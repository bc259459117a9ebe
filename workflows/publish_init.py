"""The init: the one call that creates a post on TikTok, and what follows a lost answer.

Init is never repeated blindly. A refusal that provably did nothing is tried again; a
lost answer for a FILE_UPLOAD video is a ghost that can never go live (recorded, then a
new init); a lost answer for pulled media withdraws that attempt's copies and waits for
the account's evidence (workflows/ambiguity.py) before AMBIGUOUS_INIT goes to a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.publishing import TikTokActivities
    from activities.staging import MediaActivities
    from workflows.account_contracts import CallKind
    from workflows.ambiguity import EvidenceWait, evidence_window
    from workflows.contracts import (
        AttemptMedia,
        FailureDetails,
        GhostInit,
        InitPublishInput,
        InitPublishResult,
        PostError,
        PublishSettings,
        StagedMedia,
        pull_attempt,
    )
    from workflows.errors import Retryability, classify_error
    from workflows.publish_calls import (
        CALL_TIMEOUT,
        GHOST_INIT_RETRY,
        INIT_MAX_TRIES,
        INIT_ONCE,
        INIT_REPORTS_ITSELF,
        READ_RETRY,
        WITHDRAW_PULLED_ATTEMPT,
        PostFailed,
        activity_error,
        fmt_time,
        retry_delay,
        retryability_of,
    )
    from workflows.publish_polling import StatusPolling
    from workflows.request import PublishTarget


class Initiating(StatusPolling):
    """Init with its ghost and ambiguity handling."""

    _call_timeout: float
    _evidence: EvidenceWait
    _copies_ready: str | None
    """The init attempt whose copies were made ahead."""

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
            sent_at = workflow.now()
            armed, self._armed_for = self._armed_for, None
            wait = (armed - sent_at).total_seconds() if armed is not None else 0.0
            when = f" at {fmt_time(armed)}" if armed is not None and wait > 0 else ""
            workflow.set_current_details(
                f"Starting the TikTok upload{when} (publish attempt {state.init_attempts}, "
                f"try {attempt}{lost_note})."
            )
            try:
                request = self._init_input(
                    target, staged, attempt=state.init_attempts, try_number=attempt
                )
                if armed is not None and wait > 0:
                    # Armed just before the due time: the activity sends it at the due time.
                    request.send_at, request.wait_seconds = armed, wait
                    sent_at = armed
                if self._copies_ready == pull_attempt(request):
                    request.copies_made = True
                self._copies_ready = None
                if self._paced and self._patched(INIT_REPORTS_ITSELF):
                    request.report_success_to = self._link.success_report(CallKind.INIT)
                init = await workflow.execute_activity_method(
                    TikTokActivities.init_publish,
                    request,
                    start_to_close_timeout=timedelta(seconds=self._call_timeout + wait),
                    retry_policy=INIT_ONCE,
                    summary=f"init {target.kind.value} upload",
                )
            except ActivityError as err:
                error = activity_error(err)
                retryability = retryability_of(err)
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
                    delay = retry_delay(err, attempt)
                    self._log(f"init refused ({error.code}), nothing was created; again in {delay}")
                    await workflow.sleep(delay, summary=f"init again after {error.code}")
                    continue
                if retryability in (
                    Retryability.RETRYABLE,
                    Retryability.NON_RETRYABLE,
                    Retryability.LATER,
                ):
                    raise PostFailed(error) from None
                # Ambiguous, a timeout, a crashed worker, an unexpected exception: TikTok may
                # have created the post.
                if self._may_start_again_after_ghost(target, staged, settings):
                    # FILE_UPLOAD: that publish can only go live once its bytes reach the
                    # upload URL in the answer that was lost, so it never can. Start again.
                    self._record_ghost(error)
                    if evidence_window(settings, self._paced, self._patched):
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
                    raise PostFailed(
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
                raise PostFailed(
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
            if self._paced and not init.outcome_reported:
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
        window = evidence_window(settings, self._paced, self._patched)
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
        return self._patched(GHOST_INIT_RETRY)

    async def _withdraw_pulled_attempt(
        self, target: PublishTarget, staged: StagedMedia, settings: PublishSettings, tried: int
    ) -> None:
        """TikTok pulls by itself, so a lost answer may hide a pull still to come: delete the
        copies that attempt pointed at, at once. A pull that has not fetched them yet then
        fails instead of going live. Best effort: the post's outcome does not depend on it."""
        if staged.video_source == "file_upload" and target.is_video:
            return
        if not self._patched(WITHDRAW_PULLED_ATTEMPT):
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
