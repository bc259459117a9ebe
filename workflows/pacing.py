"""The account's book: per-minute budgets, posting caps and the queue of posts waiting.

Pure and deterministic (no I/O, no clock of its own: every method takes `now`), so the
TikTokAccount workflow can carry it across continue-as-new and tests can drive it alone.
Posts ask for a slot before every paced call; `decide` grants slots in order of the posts'
due times while the budgets have room, and says for every other request what it waits for
and until when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from workflows.account_contracts import (
    AccountHealth,
    AccountSettings,
    CallKind,
    CallOutcome,
    CapKind,
    CapWindow,
    SlotAnswer,
    SlotRequest,
    TokenFacts,
    WaitReason,
)
from workflows.claims import ClaimBook

#: How many answered request ids the book remembers, so that a request delivered twice
#: (a retried signal) is never granted twice.
REMEMBERED_REQUESTS = 500

#: Codes a paced call can come back with that are the account's business, not the post's.
RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "http_429"})
TOKEN_REJECTED_CODES = frozenset({"access_token_invalid", "http_401"})
RECONNECT_CODES = frozenset(
    {
        "scope_not_authorized",
        "scope_permission_missed",
        "auth_removed",
        "TOKEN_MISSING",
        "invalid_grant",
    }
)
BANNED_CODE = "spam_risk_user_banned_from_posting"
CAP_CODES = {
    "spam_risk_too_many_posts": WaitReason.DAILY_POST_CAP,
    "spam_risk_too_many_pending_share": WaitReason.INBOX_SHARE_CAP,
    "reached_active_user_cap": WaitReason.ACTIVE_USER_CAP,
}
#: Missing scopes an analytics call can meet: analytics fail, the posts are unaffected.
ANALYTICS_SCOPE_CODES = frozenset({"scope_not_authorized", "scope_permission_missed"})
ACCOUNT_CODES = RATE_LIMIT_CODES | TOKEN_REJECTED_CODES | RECONNECT_CODES | set(CAP_CODES)
"""Every code after which a post asks the account again instead of failing."""


class AccountInput(BaseModel):
    """The TikTokAccount entity's one argument: its id, and on continue-as-new the book and
    everything else it knew."""

    account_id: str
    book: AccountBook | None = None
    token: TokenFacts | None = None
    refresh_wanted: bool = False
    last_refresh_at: datetime | None = None
    failed_fingerprint: str | None = Field(
        default=None, description="The credentials that could not be renewed (NEEDS_RECONNECT)."
    )
    history: list[str] = Field(default_factory=list)


class Waiting(BaseModel):
    request: SlotRequest
    since: datetime
    told: WaitReason | None = None
    told_until: datetime | None = None


class PostCount(BaseModel):
    """A post counted against a daily cap (counted at its init grant, uncounted if TikTok
    provably created nothing)."""

    request_id: str
    at: datetime
    publish_id: str | None = None


@dataclass
class Decision:
    """What the account does now: grant these, tell those what they wait for, wake then."""

    answers: list[tuple[str, SlotAnswer]] = field(default_factory=list)
    """(post workflow id, answer) for every request whose situation changed."""
    wake_at: datetime | None = None


class AccountBook(BaseModel):
    """Everything the account entity knows, carried across continue-as-new."""

    settings: AccountSettings = Field(default_factory=AccountSettings)
    health: AccountHealth = AccountHealth.ACTIVE
    health_reason: str | None = None
    refreshing: bool = False
    waiting: list[Waiting] = Field(default_factory=list)
    calls: dict[CallKind, list[datetime]] = Field(default_factory=dict)
    """Grant times still inside the sliding window, per call kind."""
    posts: dict[CapKind, list[PostCount]] = Field(default_factory=dict)
    learned_daily_cap: int | None = None
    caps: list[CapWindow] = Field(default_factory=list)
    paused_until: datetime | None = None
    analytics_paused_until: datetime | None = None
    """After a 429 on an analytics call: only analytics wait (posts keep their budgets)."""
    rate_limited_answers: int = 0
    grants: dict[CallKind, int] = Field(default_factory=dict)
    answered: list[str] = Field(default_factory=list)
    claims: ClaimBook = Field(default_factory=ClaimBook)
    """Ambiguous inits waiting for TikTok's evidence (workflows/claims.py)."""

    # -- what posts and TikTok tell the account ------------------------------------------

    def add(self, request: SlotRequest, now: datetime) -> bool:
        """Queue a request; False if it is a duplicate (already queued or answered)."""
        rid = request.request_id
        if rid in self.answered or any(w.request.request_id == rid for w in self.waiting):
            return False
        self.waiting.append(Waiting(request=request, since=now))
        return True

    def withdraw(self, request_id: str) -> None:
        """The post no longer needs the slot (it was cancelled, or it gave up waiting)."""
        self.waiting = [w for w in self.waiting if w.request.request_id != request_id]

    def release(self, request_id: str) -> None:
        """A granted slot the post will not use (a reservation given back): it no longer
        counts against a daily cap. Its place in the per-minute budget stays taken until
        the window passes, which errs on the safe side."""
        self.withdraw(request_id)
        for counted in self.posts.values():
            counted[:] = [c for c in counted if c.request_id != request_id]

    def record(self, outcome: CallOutcome, now: datetime) -> str | None:
        """Learn from a paced call's outcome. Returns a line for the account's history when
        the outcome changed something (a pause, a cap, a health change), else None."""
        code = outcome.code
        if outcome.call is CallKind.INIT and outcome.cap is not None:
            self._settle_count(outcome)
        if outcome.call is CallKind.ANALYTICS:
            return self._record_analytics(outcome, now)
        if code is None:
            return None
        if code in RATE_LIMIT_CODES:
            self.rate_limited_answers += 1
            pause = max(outcome.retry_after_seconds or 0, self.settings.rate_limit_pause_seconds)
            until = now + timedelta(seconds=pause)
            if self.paused_until is None or until > self.paused_until:
                self.paused_until = until
            return f"TikTok answered 429 on {outcome.call.value}; paused until {_fmt(until)}"
        if code in CAP_CODES:
            return self._close_cap(CAP_CODES[code], code, outcome, now)
        if code == BANNED_CODE:
            self.health = AccountHealth.BANNED
            self.health_reason = code
            return "TikTok banned the creator from posting: BANNED"
        if code in RECONNECT_CODES:
            return self.needs_reconnect(code)
        return None

    def _record_analytics(self, outcome: CallOutcome, now: datetime) -> str | None:
        """An analytics call never holds the account's posts: its 429 pauses analytics only,
        and a scope it lacks (video.list, user.info.stats) fails analytics only. Dead
        credentials are the account's business, whoever found out."""
        code = outcome.code
        if code in RATE_LIMIT_CODES:
            self.rate_limited_answers += 1
            pause = max(outcome.retry_after_seconds or 0, self.settings.rate_limit_pause_seconds)
            self.analytics_paused_until = now + timedelta(seconds=pause)
            return (
                "TikTok answered 429 on analytics; analytics paused until "
                f"{_fmt(self.analytics_paused_until)}"
            )
        if code in RECONNECT_CODES and code not in ANALYTICS_SCOPE_CODES:
            return self.needs_reconnect(code)
        return None

    def needs_reconnect(self, code: str) -> str | None:
        if self.health is AccountHealth.NEEDS_RECONNECT:
            return None
        self.health = AccountHealth.NEEDS_RECONNECT
        self.health_reason = code
        return f"NEEDS_RECONNECT ({code}): posts wait until the account is connected again"

    def _settle_count(self, outcome: CallOutcome) -> None:
        counted = self.posts.get(outcome.cap, []) if outcome.cap else []
        for entry in counted:
            if entry.request_id != outcome.request_id:
                continue
            if outcome.code is None:
                entry.publish_id = outcome.publish_id
                # TikTok counts the post from its call, which came after the grant: count
                # it from the later of the two, so the window never reopens early.
                entry.at = max(entry.at, outcome.at)
            elif not outcome.may_have_taken_effect:
                # TikTok refused the init outright: nothing was created, nothing counts.
                counted.remove(entry)
            return

    def _close_cap(self, reason: WaitReason, code: str, outcome: CallOutcome, now: datetime) -> str:
        window = timedelta(seconds=self.settings.cap_window_seconds)
        probe = now + timedelta(seconds=self.settings.cap_probe_seconds)
        until = probe
        if reason is not WaitReason.ACTIVE_USER_CAP:
            kind = CapKind.DIRECT if reason is WaitReason.DAILY_POST_CAP else CapKind.INBOX
            known = self._counted(kind, now)
            if known:
                # The window reopens when the oldest post the engine knows leaves it.
                until = max(min(c.at for c in known) + window, probe)
            confirmed = [c for c in known if c.publish_id]
            if kind is CapKind.DIRECT and confirmed:
                # Only posts TikTok confirmed count: an init still in flight may be refused
                # too, and a learned cap must never be above TikTok's.
                self.learned_daily_cap = len(confirmed)
        self.caps = [c for c in self.caps if c.reason is not reason]
        self.caps.append(CapWindow(reason=reason, until=until, code=code))
        learned = (
            f" (learned cap: {self.learned_daily_cap} a day)"
            if reason is WaitReason.DAILY_POST_CAP and self.learned_daily_cap
            else ""
        )
        return f"{code}{learned}: {reason.value} until {_fmt(until)}"

    # -- deciding ------------------------------------------------------------------------

    def decide(self, now: datetime) -> Decision:
        """Grant what the budgets allow, in order of due time; explain every other wait."""
        self._prune(now)
        decision = Decision()
        wakes: list[datetime] = []
        used = {kind: len(self.calls.get(kind, [])) for kind in CallKind}
        behind = dict.fromkeys(CallKind, 0)
        still: list[Waiting] = []
        for item in sorted(self.waiting, key=_order):
            request = item.request
            if self.health is AccountHealth.BANNED:
                # TikTok will refuse every post of this creator: say so instead of waiting.
                answer = SlotAnswer(request_id=request.request_id, refused_code=BANNED_CODE)
                decision.answers.append((request.workflow_id, answer))
                self._remember(request.request_id)
                continue
            blocked = self._blocker(request, now)
            if blocked is None and used[request.call] < self._limit(request.call):
                used[request.call] += 1
                self._grant(request, now)
                answer = SlotAnswer(request_id=request.request_id, granted=True)
                decision.answers.append((request.workflow_id, answer))
                continue
            if blocked is None:
                blocked = (WaitReason.PACING, self._next_free(request.call, behind[request.call]))
                behind[request.call] += 1
            reason, until = blocked
            if reason is WaitReason.PACING and until is not None and until <= now:
                until = now + timedelta(seconds=1)
            if until is not None:
                wakes.append(until)
            still.append(item)
            if self._worth_telling(item, reason, until):
                item.told, item.told_until = reason, until
                answer = SlotAnswer(request_id=request.request_id, waiting_for=reason, until=until)
                decision.answers.append((request.workflow_id, answer))
        self.waiting = still
        decision.wake_at = min(wakes) if wakes else None
        return decision

    def _blocker(
        self, request: SlotRequest, now: datetime
    ) -> tuple[WaitReason, datetime | None] | None:
        """Why this request cannot be served now (other than its budget), if anything."""
        if self.health is AccountHealth.PAUSED:
            return (WaitReason.PAUSED, None)
        if self.health is AccountHealth.NEEDS_RECONNECT:
            return (WaitReason.NEEDS_RECONNECT, None)
        if self.refreshing:
            return (WaitReason.TOKEN_REFRESH, None)
        if self.paused_until is not None and self.paused_until > now:
            return (WaitReason.RATE_LIMITED, self.paused_until)
        if request.call is CallKind.ANALYTICS:
            paused = self.analytics_paused_until
            return (WaitReason.RATE_LIMITED, paused) if paused and paused > now else None
        if request.cap is None:
            return None
        for cap in self.caps:
            if cap.reason is WaitReason.ACTIVE_USER_CAP or cap.reason is _reason_of(request.cap):
                return (cap.reason, cap.until)
        if request.call is CallKind.INIT:
            limit = self._cap_limit(request.cap)
            counted = self._counted(request.cap, now)
            if limit is not None and len(counted) >= limit:
                window = timedelta(seconds=self.settings.cap_window_seconds)
                oldest = min(c.at for c in counted)
                return (_reason_of(request.cap), oldest + window)
        return None

    def _grant(self, request: SlotRequest, now: datetime) -> None:
        # A reservation counts from the latest time the call may be made: the budget's window
        # (and the daily cap's) then never reopens before TikTok's does. It counts already
        # (entries ahead of `now` stay in `calls`), so every window it falls in is honest.
        at = max(now, request.use_by) if request.use_by else now
        self.calls.setdefault(request.call, []).append(at)
        self.grants[request.call] = self.grants.get(request.call, 0) + 1
        if request.call is CallKind.INIT and request.cap is not None:
            self.posts.setdefault(request.cap, []).append(
                PostCount(request_id=request.request_id, at=at)
            )
        self._remember(request.request_id)

    def _remember(self, request_id: str) -> None:
        self.answered.append(request_id)
        del self.answered[:-REMEMBERED_REQUESTS]

    def _worth_telling(self, item: Waiting, reason: WaitReason, until: datetime | None) -> bool:
        """Tell a post when what it waits for changes, or its end moves by more than 30 s;
        short pacing waits are not worth a message."""
        if reason is WaitReason.PACING and item.told is None:
            return until is not None and (until - item.since).total_seconds() > 30
        if item.told is not reason:
            return True
        if until is None or item.told_until is None:
            return until != item.told_until
        return abs((until - item.told_until).total_seconds()) > 30

    # -- budgets -------------------------------------------------------------------------

    def _window(self) -> timedelta:
        return timedelta(seconds=self.settings.window_seconds + self.settings.safety_margin_seconds)

    def _limit(self, call: CallKind) -> int:
        s = self.settings
        return {
            CallKind.CREATOR_INFO: s.creator_info_per_minute,
            CallKind.INIT: s.init_per_minute,
            CallKind.STATUS: s.status_per_minute,
            CallKind.ANALYTICS: s.analytics_per_minute,
        }[call]

    def _next_free(self, call: CallKind, behind: int) -> datetime:
        """When the `behind`-th request waiting for this budget should get its slot."""
        times = sorted(self.calls.get(call, []))
        limit = self._limit(call)
        rounds, position = divmod(behind, limit)
        anchor = times[len(times) - limit + position] if len(times) >= limit else times[0]
        return anchor + self._window() * (rounds + 1)

    def _cap_limit(self, cap: CapKind) -> int | None:
        if cap is CapKind.INBOX:
            return self.settings.inbox_share_cap
        known = [c for c in (self.settings.daily_post_cap, self.learned_daily_cap) if c]
        return min(known) if known else None

    def _counted(self, cap: CapKind, now: datetime) -> list[PostCount]:
        horizon = now - timedelta(seconds=self.settings.cap_window_seconds)
        return [c for c in self.posts.get(cap, []) if c.at > horizon]

    def _prune(self, now: datetime) -> None:
        horizon = now - self._window()
        for kind, times in self.calls.items():
            self.calls[kind] = [t for t in times if t > horizon]
        cap_horizon = now - timedelta(seconds=self.settings.cap_window_seconds)
        for cap, counted in self.posts.items():
            self.posts[cap] = [c for c in counted if c.at > cap_horizon]
        self.caps = [c for c in self.caps if c.until > now]
        if self.paused_until is not None and self.paused_until <= now:
            self.paused_until = None
        if self.analytics_paused_until is not None and self.analytics_paused_until <= now:
            self.analytics_paused_until = None

    # -- ambiguous inits (workflows/claims.py) --------------------------------------------

    def known_publish_ids(self) -> set[str]:
        return {c.publish_id for counted in self.posts.values() for c in counted if c.publish_id}

    def unresolved_inits(self) -> list[tuple[str, datetime]]:
        """Inits granted whose publish_id the account does not know (in flight, or lost)."""
        return [
            (c.request_id, c.at)
            for counted in self.posts.values()
            for c in counted
            if c.publish_id is None
        ]

    def attribute(self, request_id: str, publish_id: str) -> None:
        """A ghost publish was attributed to this init: the account knows it from now on."""
        for counted in self.posts.values():
            for entry in counted:
                if entry.request_id == request_id:
                    entry.publish_id = publish_id

    # -- views ---------------------------------------------------------------------------

    def next_free_slots(self, now: datetime) -> dict[str, datetime]:
        result: dict[str, datetime] = {}
        for kind in CallKind:
            times = self.calls.get(kind, [])
            if len(times) >= self._limit(kind):
                result[kind.value] = self._next_free(kind, 0)
            else:
                result[kind.value] = now
        return result

    def counted(self, cap: CapKind, now: datetime) -> int:
        return len(self._counted(cap, now))

    def queued_by_reason(self, now: datetime) -> dict[str, int]:
        """What the queued requests wait for right now (pacing: only their budget)."""
        counts: dict[str, int] = {}
        for item in self.waiting:
            blocked = self._blocker(item.request, now)
            key = (blocked[0] if blocked else WaitReason.PACING).value
            counts[key] = counts.get(key, 0) + 1
        return counts


def _order(item: Waiting) -> tuple[bool, datetime, datetime]:
    """Grant order: the posts' calls by due time, then analytics (lowest priority)."""
    return (item.request.call is CallKind.ANALYTICS, item.request.due_at, item.since)


def _reason_of(cap: CapKind) -> WaitReason:
    return WaitReason.DAILY_POST_CAP if cap is CapKind.DIRECT else WaitReason.INBOX_SHARE_CAP


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%SZ")


AccountInput.model_rebuild()
