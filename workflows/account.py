"""TikTokAccount: one durable entity per TikTok account (`tiktok-account/<account_id>`).

TikTok's limits and failures are per creator, so one workflow per account is the one place
that knows them. Posts ask it for a slot before every paced call (creator_info, init, status);
it grants slots in order of the posts' due times while the per-minute budgets have room,
turns 429s and posting caps into waits the posts can show, orders token refreshes so one
account is refreshed once across every worker, and holds the account's health. It stores
times, counts and ids, never a token. It is started on first use (signal-with-start by the
post's first slot request, or by an operator command) and continues as new before its
history grows large.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from workflows import search_attributes as sa
    from workflows.account_contracts import (
        ACCOUNT_WORKFLOW_TYPE,
        ANSWER_SIGNAL,
        CALL_OUTCOME,
        REQUEST_SLOT,
        WITHDRAW_SLOT,
        AccountHealth,
        AccountState,
        CallOutcome,
        CapKind,
        RefreshRequest,
        SlotAnswer,
        SlotRequest,
    )
    from workflows.claims import (
        AMBIGUOUS_INIT_SIGNAL,
        CLAIM_VERDICT_SIGNAL,
        UNKNOWN_PUBLISH_EVENT_SIGNAL,
        AmbiguousInit,
        ClaimDecision,
        ClaimVerdict,
    )
    from workflows.contracts import FailureDetails
    from workflows.pacing import TOKEN_REJECTED_CODES, AccountBook, AccountInput
    from workflows.tiktok_events import AUTHORIZATION_REMOVED_SIGNAL, TikTokEvent
    from workflows.webhooks_out import (
        WEBHOOKS_OUT_PATCH,
        DeliverEvent,
        DeliverEventInput,
        EventType,
        OutgoingEvent,
        child_id,
    )


#: A withdrawn slot that was already granted (a reservation given back) is uncounted.
RELEASE_UNCOUNTS_PATCH = "release-uncounts-reservation"
HISTORY_LINES = 50
TOKEN_CALL = timedelta(seconds=60)
TOKEN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=4,
)
#: After a refresh failed for a reason that may pass (TikTok down), try again this late.
REFRESH_RETRY_AFTER = timedelta(minutes=1)


@workflow.defn(name=ACCOUNT_WORKFLOW_TYPE)
class TikTokAccount:
    @workflow.init
    def __init__(self, input: AccountInput) -> None:
        self._id = input.account_id
        self._book = input.book or AccountBook()
        self._token = input.token
        self._refresh_wanted = input.refresh_wanted
        self._last_refresh_at = input.last_refresh_at
        self._failed_fingerprint = input.failed_fingerprint
        self._history = list(input.history)
        self._check_token = input.token is None
        self._dirty = False
        self._next_refresh_retry: datetime | None = None
        self._next_reconnect_check: datetime | None = None
        self._verdicts: list[tuple[str, ClaimVerdict]] = []

    # -- what posts and operators send ---------------------------------------------------

    @workflow.signal(name=REQUEST_SLOT)
    def request_slot(self, request: SlotRequest) -> None:
        if self._book.add(request, workflow.now()):
            self._dirty = True

    @workflow.signal(name=CALL_OUTCOME)
    def call_outcome(self, outcome: CallOutcome) -> None:
        before = self._book.health
        line = self._book.record(outcome, workflow.now())
        if line:
            self._log(line)
        reconnect = AccountHealth.NEEDS_RECONNECT
        if before is not reconnect and self._book.health is reconnect:
            # Only credentials stored after this moment count as a reconnect.
            self._failed_fingerprint = self._token.fingerprint if self._token else None
        if outcome.code in TOKEN_REJECTED_CODES:
            current = self._token.fingerprint if self._token else None
            if outcome.rejected_fingerprint in (None, current):
                self._refresh_wanted = True
                self._log(f"TikTok rejected the access token on {outcome.call.value}")
        self._dirty = True

    @workflow.signal(name=WITHDRAW_SLOT)
    def withdraw_slot(self, request_id: str) -> None:
        if workflow.patched(RELEASE_UNCOUNTS_PATCH):
            self._book.release(request_id)  # also a granted, unused reservation
        else:
            self._book.withdraw(request_id)
        self._dirty = True

    @workflow.signal
    def pause(self, reason: str | None = None) -> None:
        """An operator holds every post of the account (they wait, visibly, until resume)."""
        if self._book.health is not AccountHealth.PAUSED:
            self._book.health = AccountHealth.PAUSED
            self._book.health_reason = reason or "paused by an operator"
            self._log(f"PAUSED{': ' + reason if reason else ''}")
        self._dirty = True

    @workflow.signal
    def resume(self) -> None:
        """Back to ACTIVE (from PAUSED, or from BANNED once TikTok lifted the ban); from
        NEEDS_RECONNECT, look at the stored tokens again."""
        health = self._book.health
        if health is AccountHealth.NEEDS_RECONNECT:
            self._check_token = True
        elif health is not AccountHealth.ACTIVE:
            self._book.health = AccountHealth.ACTIVE
            self._book.health_reason = None
            self._log(f"resumed from {health.value}")
        self._dirty = True

    @workflow.signal
    def reconnected(self) -> None:
        """New tokens were stored for the account (connect, import): check them now."""
        self._check_token = True
        self._log("new tokens announced")
        self._dirty = True

    @workflow.signal
    def forgotten(self) -> None:
        """The account was disconnected: its posts wait for a reconnect."""
        self._failed_fingerprint = self._token.fingerprint if self._token else None
        self._token = None
        line = self._book.needs_reconnect("account disconnected")
        if line:
            self._log(line)
        self._dirty = True

    @workflow.signal(name=AUTHORIZATION_REMOVED_SIGNAL)
    def authorization_removed(self, reason: str = "") -> None:
        """TikTok's `authorization.removed` webhook: the creator (or TikTok) withdrew the
        app's access, so the stored tokens are dead: posts wait for a reconnect."""
        self._failed_fingerprint = self._token.fingerprint if self._token else None
        line = self._book.needs_reconnect(f"authorization removed at TikTok (reason {reason})")
        if line:
            self._log(line)
        self._dirty = True

    @workflow.signal(name=AMBIGUOUS_INIT_SIGNAL)
    def ambiguous_init(self, init: AmbiguousInit) -> None:
        """A post's init lost its answer (workflows/claims.py): a pulled one waits for
        TikTok's evidence; a FILE_UPLOAD ghost is only noted (it can never go live)."""
        self._take(self._book.claims.register(init, workflow.now()))
        self._dirty = True

    @workflow.signal(name=UNKNOWN_PUBLISH_EVENT_SIGNAL)
    def unknown_publish_event(self, event: TikTokEvent) -> None:
        """A verified TikTok publish event that no running post took (the API forwards it)."""
        if self._book.claims.hold(event, workflow.now()):
            self._log(f"TikTok {event.event} for publish {event.publish_id}, unknown to posts")
        self._dirty = True

    @workflow.query
    def state(self) -> AccountState:
        now = workflow.now()
        book = self._book
        return AccountState(
            account_id=self._id,
            health=book.health,
            health_reason=book.health_reason,
            queued=len(book.waiting),
            queued_by_reason=book.queued_by_reason(now),
            next_free_slot=book.next_free_slots(now),
            posts_last_24h=book.counted(CapKind.DIRECT, now),
            inbox_shares_last_24h=book.counted(CapKind.INBOX, now),
            learned_daily_cap=book.learned_daily_cap,
            caps=[c for c in book.caps if c.until > now],
            paused_until=book.paused_until
            if book.paused_until and book.paused_until > now
            else None,
            token=self._token,
            next_refresh_at=self._refresh_due(),
            last_refresh_at=self._last_refresh_at,
            rate_limited_answers=book.rate_limited_answers,
            grants={k.value: v for k, v in book.grants.items()},
            history=list(self._history),
        )

    # -- the loop ------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: AccountInput) -> None:
        workflow.upsert_search_attributes([sa.ACCOUNT_ID.value_set(self._id)])
        self._book.settings = await workflow.execute_activity_method(
            AccountActivities.load_account_settings,
            start_to_close_timeout=TOKEN_CALL,
            retry_policy=TOKEN_RETRY,
            summary="load pacing settings",
        )
        if not self._history:
            self._log("account entity started")
        shown_health: AccountHealth | None = None
        announced_health = self._book.health  # carried over a continue-as-new: not news
        while True:
            # Cleared before deciding: whatever a signal brings while this turn awaits
            # (answers, token steps) wakes the next turn instead of being lost.
            self._dirty = False
            if self._check_token or self._reconnect_check_due():
                await self._inspect_token()
            if self._refresh_is_due():
                await self._refresh()
            now = workflow.now()
            decision = self._book.decide(now)
            if decision.answers:
                await asyncio.gather(*(self._tell(wf, answer) for wf, answer in decision.answers))
            claims_wake = await self._settle_claims(now)
            if shown_health is not self._book.health:
                shown_health = self._book.health
                workflow.upsert_search_attributes([sa.ACCOUNT_HEALTH.value_set(shown_health.value)])
            if announced_health is not self._book.health:
                announced_health = self._book.health
                if announced_health is AccountHealth.NEEDS_RECONNECT:
                    await self._announce_needs_reconnect()
            self._show(now)
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carry())
            wake_at = min(
                (
                    t
                    for t in (
                        decision.wake_at,
                        claims_wake,
                        self._refresh_due(),
                        self._reconnect_check_at(),
                    )
                    if t is not None
                ),
                default=None,
            )
            timeout = max(wake_at - now, timedelta(seconds=0.1)) if wake_at else None
            try:
                await workflow.wait_condition(
                    lambda: self._dirty, timeout=timeout, timeout_summary="next account event"
                )
            except TimeoutError:
                pass

    async def _announce_needs_reconnect(self) -> None:
        """`account.needs_reconnect` to the caller's webhook endpoints (webhooks out)."""
        if not self._book.settings.webhooks_out or not workflow.patched(WEBHOOKS_OUT_PATCH):
            return
        event = OutgoingEvent(
            id=f"evt_{workflow.uuid4().hex}",
            type=EventType.ACCOUNT_NEEDS_RECONNECT,
            created_at=workflow.now(),
            account_id=self._id,
            workflow_id=workflow.info().workflow_id,
            data={"health": self._book.health.value, "reason": self._book.health_reason},
        )
        self._log(f"event account.needs_reconnect ({event.id}) sent to the webhook endpoints")
        await workflow.start_child_workflow(
            DeliverEvent.run,
            DeliverEventInput(event=event),
            id=child_id(event.id),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"account.needs_reconnect for {self._id}",
        )

    async def _settle_claims(self, now: datetime) -> datetime | None:
        """Attribute held TikTok events to claimants, tell them, and say when to look again.
        Without claims nothing happens (no command), so older histories replay unchanged."""
        book = self._book
        if not (book.claims.claims or book.claims.held or self._verdicts):
            return None
        decision = book.claims.decide(now, book.known_publish_ids(), book.unresolved_inits())
        for request_id, publish_id in decision.attributed:
            book.attribute(request_id, publish_id)
        self._take(decision)
        verdicts, self._verdicts = self._verdicts, []
        for workflow_id, verdict in verdicts:
            try:
                handle = workflow.get_external_workflow_handle(workflow_id)
                await handle.signal(CLAIM_VERDICT_SIGNAL, verdict)
            except Exception:  # the claimant ended meanwhile: nobody needs the verdict
                self._log(f"claimant {workflow_id} gone; verdict {verdict.decision} dropped")
        return decision.wake_at

    def _take(self, decision: ClaimDecision) -> None:
        self._verdicts.extend(decision.answers)
        for line in decision.lines:
            self._log(line)

    async def _tell(self, workflow_id: str, answer: SlotAnswer) -> None:
        try:
            await workflow.get_external_workflow_handle(workflow_id).signal(ANSWER_SIGNAL, answer)
        except Exception:  # the post has ended meanwhile: nobody needs the answer
            self._book.withdraw(answer.request_id)

    async def _inspect_token(self) -> None:
        self._check_token = False
        try:
            facts = await workflow.execute_activity_method(
                AccountActivities.inspect_account_token,
                self._id,
                start_to_close_timeout=TOKEN_CALL,
                retry_policy=TOKEN_RETRY,
                summary="read token expiry",
            )
        except ActivityError as err:
            self._token_trouble(err)
            return
        self._token = facts
        if self._book.health is AccountHealth.NEEDS_RECONNECT:
            if facts.fingerprint and facts.fingerprint != self._failed_fingerprint:
                self._book.health = AccountHealth.ACTIVE
                self._book.health_reason = None
                self._failed_fingerprint = None
                self._refresh_wanted = False
                self._log("reconnected: new tokens stored; waiting posts continue")

    async def _refresh(self) -> None:
        book = self._book
        book.refreshing = True
        unless = self._token.fingerprint if self._token else None
        try:
            facts = await workflow.execute_activity_method(
                AccountActivities.refresh_account_token,
                RefreshRequest(account_id=self._id, unless_changed_from=unless),
                start_to_close_timeout=TOKEN_CALL,
                retry_policy=TOKEN_RETRY,
                summary="renew the access token",
            )
        except ActivityError as err:
            self._token_trouble(err)
            return
        finally:
            book.refreshing = False
        self._token = facts
        self._refresh_wanted = False
        self._next_refresh_retry = None
        self._last_refresh_at = workflow.now()
        expiry = f" (valid until {_fmt(facts.expires_at)})" if facts.expires_at else ""
        self._log(f"access token renewed{expiry}")

    def _token_trouble(self, err: ActivityError) -> None:
        details = FailureDetails.of(err)
        code = details.code if details else "TOKEN_ERROR"
        if details is not None and details.needs_reconnect:
            self._failed_fingerprint = self._token.fingerprint if self._token else None
            line = self._book.needs_reconnect(code)
            if line:
                self._log(line)
            self._refresh_wanted = False
            return
        # TikTok or the store failed for now: try again shortly; posts keep waiting.
        self._next_refresh_retry = workflow.now() + REFRESH_RETRY_AFTER
        self._log(f"token step failed ({code}); trying again at {_fmt(self._next_refresh_retry)}")

    # -- helpers -------------------------------------------------------------------------

    def _refresh_due(self) -> datetime | None:
        if self._book.health is not AccountHealth.ACTIVE and not self._refresh_wanted:
            return None
        if self._next_refresh_retry is not None:
            return self._next_refresh_retry
        if self._refresh_wanted:
            return workflow.now()
        if self._token is None or self._token.expires_at is None:
            return None
        ahead = timedelta(seconds=self._book.settings.refresh_ahead_seconds)
        return self._token.expires_at - ahead

    def _refresh_is_due(self) -> bool:
        if self._book.health in (AccountHealth.NEEDS_RECONNECT, AccountHealth.BANNED):
            return False
        due = self._refresh_due()
        return due is not None and due <= workflow.now()

    def _reconnect_check_at(self) -> datetime | None:
        """While NEEDS_RECONNECT, when to look at the stored tokens again."""
        if self._book.health is not AccountHealth.NEEDS_RECONNECT:
            self._next_reconnect_check = None
            return None
        if self._next_reconnect_check is None:
            every = timedelta(seconds=self._book.settings.reconnect_check_seconds)
            self._next_reconnect_check = workflow.now() + every
        return self._next_reconnect_check

    def _reconnect_check_due(self) -> bool:
        due = self._reconnect_check_at()
        if due is None or due > workflow.now():
            return False
        self._next_reconnect_check = None
        return True

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        limit = self._book.settings.max_history_events
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > limit

    def _carry(self) -> AccountInput:
        return AccountInput(
            account_id=self._id,
            book=self._book,
            token=self._token,
            refresh_wanted=self._refresh_wanted,
            last_refresh_at=self._last_refresh_at,
            failed_fingerprint=self._failed_fingerprint,
            history=self._history,
        )

    def _show(self, now: datetime) -> None:
        book = self._book
        waiting = len(book.waiting)
        direct = book.counted(CapKind.DIRECT, now)
        slots = book.next_free_slots(now)
        next_init = slots.get("init")
        free = "now" if next_init is None or next_init <= now else _fmt(next_init)
        expiry = (
            f"; token valid until {_fmt(self._token.expires_at)}"
            if self._token and self._token.expires_at
            else ""
        )
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(book.queued_by_reason(now).items()))
        workflow.set_current_details(
            f"{book.health.value}{': ' + book.health_reason if book.health_reason else ''}. "
            f"Posts queued: {waiting}{' (' + reasons + ')' if reasons else ''}. "
            f"Next init slot: {free}. Direct posts in the last 24 h: {direct}{expiry}."
        )

    def _log(self, event: str) -> None:
        self._history.append(f"{_fmt(workflow.now())} {event}")
        del self._history[:-HISTORY_LINES]


def _fmt(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@workflow.defn(name=ACCOUNT_WORKFLOW_TYPE, versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class VersionedTikTokAccount(TikTokAccount):
    """The same entity, as a worker with Worker Deployments on registers it (worker/versioning.py).

    Posts are pinned to the build they began on, but the entity never ends: it continues as
    new, and a pinned run's successor is pinned too, so it would stay on the first build it
    ran on and every later post of the account would wait for workers an upgrade stopped. It
    follows the current build instead, as an unversioned worker's runs do (`workflow.patched`
    and the replay tests keep its history replaying). A separate class because the server
    refuses a versioning behavior from an unversioned worker (the plain class declares none).
    """

    @workflow.run
    async def run(self, input: AccountInput) -> None:
        await super().run(input)
