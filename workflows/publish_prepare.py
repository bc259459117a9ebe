"""Getting ready before the due time: shortly before it, a scheduled post reads and checks
the creator's settings, reserves its init and first status check with the account, and
(pulled media) makes the first init's copies, so that at the due time only the init is left.
A reschedule gives back what was reserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.publishing import TikTokActivities
    from workflows.account_contracts import RESERVATION_GRACE, CallKind
    from workflows.contracts import Phase, PublishSettings, StagedMedia, pull_attempt
    from workflows.publish_calls import (
        ACCOUNT_PACING,
        CALL_TIMEOUT,
        READ_RETRY,
        Interrupted,
        activity_error,
        fmt_time,
    )
    from workflows.publish_init import Initiating
    from workflows.request import PublishTarget
    from workflows.tiktok import CreatorInfo


@dataclass
class Prepared:
    """What a post did ahead of its due time; good only for that due time."""

    due: datetime | None
    creator: CreatorInfo
    init_use_by: datetime | None = None
    """The init's reservation: used by then, or given back and asked for again."""
    status_use_by: datetime | None = None
    """The first status check's reservation, likewise."""
    copies_for: str | None = None
    """Pulled media: the init attempt (`pull_attempt`) whose copies were made ahead."""


class Preparing(Initiating):
    """Getting ready (`_prepare`) and giving back what is no longer needed (`_unprepare`)."""

    _prepared: Prepared | None

    async def _prepare(
        self, target: PublishTarget, staged: StagedMedia, settings: PublishSettings, due: datetime
    ) -> None:
        """Shortly before the due time: read and check the creator's settings, and reserve
        the init with the account for the due time itself. A reschedule or cancel meanwhile
        drops what was done; a problem with the creator fails the post here as it would at
        the due time."""
        self._paced = self._patched(ACCOUNT_PACING)
        if not self._paced:
            return

        def moved() -> bool:
            return self._wake or self._current.phase is not Phase.SCHEDULED

        try:
            creator = await self._check_creator(target, settings, interrupted=moved)
            if moved():
                return  # rescheduled or cancelled while reading: start over at the new time
            self._current.creator_username = creator.username
            prepared = Prepared(due=due, creator=creator)
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
        except Interrupted:
            return
        except ActivityError as err:
            # The init makes the copies itself then; only the head start is lost.
            self._log(f"copies not made ahead ({activity_error(err).code}); init makes them")
        self._current.prepared_at = workflow.now()
        self._log(f"ready for {fmt_time(due)}: creator @{creator.username} checked, calls reserved")

    async def _unprepare(self, why: str = "the post's time changed") -> None:
        """Give back what `_prepare` reserved (the account uncounts the init); `why` goes
        into the post's history."""
        prepared, self._prepared = self._prepared, None
        if prepared is None:
            return
        self._current.prepared_at = None
        if prepared.init_use_by is not None:
            await self._link.release(CallKind.INIT)
            self._log(f"reserved init given back ({why})")
