"""Status polling: after the init, durable timers ask TikTok for the publish's status until
its final word, the deadline, or the public post id after moderation. A verified TikTok
webhook (signal `tiktok_event`) ends a poll interval early.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.publishing import TikTokActivities
    from workflows.account_contracts import CallKind
    from workflows.contracts import PostError, PublishSettings, StagedTarget, StatusQuery
    from workflows.errors import classify_error
    from workflows.publish_calls import (
        CALL_TIMEOUT,
        IN_ACTIVITY_WAIT_LIMIT,
        ONCE,
        READ_RETRY,
        STATUS_RELEASES_STAGED,
        STATUS_WAITS_IN_ACTIVITY,
        DeadlineReached,
        PostFailed,
        activity_error,
        fmt_time,
    )
    from workflows.publish_paced import PacedCalls
    from workflows.request import PublishMode, PublishTarget
    from workflows.tiktok import Privacy, PublishStatus, TikTokStatus
    from workflows.tiktok_events import WEBHOOK_WAKE_PATCH


class StatusPolling(PacedCalls):
    """From a publish_id to TikTok's final status."""

    _nudged: bool
    """A verified TikTok webhook asks for a confirming status fetch."""

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
        if not self._patched(WEBHOOK_WAKE_PATCH):
            fallback = None
        interval = fallback or float(settings.poll_initial_seconds)
        live_since: datetime | None = None
        while True:
            now = workflow.now()
            if now >= deadline and live_since is not None:
                self._log("deadline reached while waiting for the public post id; the post is live")
                return PublishStatus(status=TikTokStatus.PUBLISH_COMPLETE)
            if now >= deadline:
                raise PostFailed(self._unconfirmed(publish_id))
            wait = min(interval, (deadline - now).total_seconds())
            state.next_poll_at = now + timedelta(seconds=wait)
            workflow.set_current_details(
                f"TikTok status {state.tiktok_status or 'pending'}; "
                f"next check {fmt_time(state.next_poll_at)}."
            )
            waited_by_check = self._check_waits(wait, fallback)
            if waited_by_check is None:
                await self._poll_wait(wait)
            if not fallback:
                interval = min(interval * settings.poll_backoff, settings.poll_max_seconds)
            state.polls += 1
            try:
                status = await self._fetch_status(
                    target, publish_id, deadline, settings, wait=waited_by_check or 0
                )
            except DeadlineReached:
                continue  # the loop's deadline check decides what the post is now
            except ActivityError as err:
                error = activity_error(err)
                if live_since is not None:
                    # Already PUBLISH_COMPLETE: only the public id is missing. The post is
                    # live; failing it now would invite a duplicate by retry.
                    self._log(f"public post id not fetched ({error.code}); the post is live")
                    return PublishStatus(status=TikTokStatus.PUBLISH_COMPLETE)
                if not error.retryable and not self._paced:
                    raise PostFailed(error) from None
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

    def _check_waits(self, seconds: float, fallback: float | None) -> float | None:
        """How long the status check's activity itself waits before asking, when the poll
        interval is short and no webhook can end it early; None: a durable timer waits."""
        if fallback or seconds > IN_ACTIVITY_WAIT_LIMIT.total_seconds():
            return None
        if not self._patched(STATUS_WAITS_IN_ACTIVITY):
            return None
        if self._nudged:
            self._nudged = False
            return 0
        return seconds

    async def _poll_wait(self, seconds: float) -> None:
        """The poll interval; a TikTok webhook (signal `tiktok_event`) ends it early."""
        if not self._patched(WEBHOOK_WAKE_PATCH):
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
        *,
        wait: float = 0,
    ) -> PublishStatus:
        """One status check; `wait`: the poll interval, waited out by its activity."""
        query = StatusQuery(
            account_id=target.account_id,
            publish_id=publish_id,
            paced=self._paced,
            release_staged=self._release_with_status(settings),
            wait_seconds=wait,
        )
        waiting = timedelta(seconds=wait)
        summary = f"status of {publish_id}" + (f" after {wait:g} s" if wait else "")
        if not self._paced:
            status: PublishStatus = await workflow.execute_activity_method(
                TikTokActivities.fetch_publish_status,
                query,
                start_to_close_timeout=CALL_TIMEOUT + waiting,
                retry_policy=READ_RETRY,
                summary=summary,
            )
            return status
        status = await self._paced_read(
            CallKind.STATUS,
            settings,
            lambda: workflow.execute_activity_method(
                TikTokActivities.fetch_publish_status,
                query,
                start_to_close_timeout=timedelta(seconds=settings.read_timeout_seconds) + waiting,
                retry_policy=ONCE,
                summary=summary,
            ),
            give_up_at=deadline,
        )
        if status.staged_media_released is not None:
            self._staged_released = True
            self._log(f"staged media deleted ({status.staged_media_released} objects)")
        return status

    def _release_with_status(self, settings: PublishSettings) -> StagedTarget | None:
        """The staged media a final successful status check may delete with its answer
        (none while it must be kept, or once deleted)."""
        if self._staged_released or settings.staged_media_retention_seconds > 0:
            return None
        if not self._paced or not self._patched(STATUS_RELEASES_STAGED):
            return None
        return StagedTarget(post_id=self._target.post_id, account_id=self._target.account_id)

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

    def _awaits_public_id(self, status: PublishStatus) -> bool:
        """Only public direct posts get a public id, and only once moderation passes."""
        return (
            not status.public_post_ids
            and self._target.kind in (PublishMode.VIDEO_DIRECT, PublishMode.PHOTO_DIRECT)
            and self._target.options.privacy is Privacy.PUBLIC_TO_EVERYONE
        )
