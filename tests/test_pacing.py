"""The account's book alone: budgets, order, pauses and caps, with no server and no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workflows.account_contracts import (
    AccountHealth,
    AccountSettings,
    CallKind,
    CallOutcome,
    CapKind,
    SlotRequest,
    WaitReason,
)
from workflows.pacing import AccountBook

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def request(
    n: int, call: CallKind = CallKind.INIT, *, due: datetime = T0, cap: CapKind | None = None
) -> SlotRequest:
    return SlotRequest(
        request_id=f"r{n}",
        workflow_id=f"tiktok-post/p{n}/acct",
        call=call,
        due_at=due,
        cap=cap if cap is not None or call is CallKind.STATUS else CapKind.DIRECT,
    )


def granted(book: AccountBook, now: datetime) -> list[str]:
    return [a.request_id for _, a in book.decide(now).answers if a.granted]


def outcome(
    n: int, code: str | None, *, at: datetime = T0, cap: CapKind = CapKind.DIRECT
) -> CallOutcome:
    publish_id = f"v_pub_file~{n}" if code is None else None
    return CallOutcome(
        request_id=f"r{n}", call=CallKind.INIT, cap=cap, code=code, at=at, publish_id=publish_id
    )


def test_a_budget_grants_its_limit_then_paces_the_rest() -> None:
    book = AccountBook(settings=AccountSettings(init_per_minute=6, safety_margin_seconds=2))
    for n in range(10):
        book.add(request(n), T0)
    assert granted(book, T0) == [f"r{n}" for n in range(6)]
    decision = book.decide(T0 + timedelta(seconds=30))
    assert not any(a.granted for _, a in decision.answers)
    assert decision.wake_at == T0 + timedelta(seconds=62), "window plus the safety margin"
    assert granted(book, T0 + timedelta(seconds=61)) == []
    assert granted(book, T0 + timedelta(seconds=62)) == ["r6", "r7", "r8", "r9"]


def test_posts_due_earlier_are_served_first_whatever_their_arrival() -> None:
    book = AccountBook(settings=AccountSettings(init_per_minute=2))
    for n, minutes in enumerate([30, 10, 20, 0]):
        book.add(request(n, due=T0 + timedelta(minutes=minutes)), T0)
    assert granted(book, T0) == ["r3", "r1"]
    assert granted(book, T0 + timedelta(minutes=2)) == ["r2", "r0"]


def test_budgets_are_separate_per_call_kind() -> None:
    book = AccountBook(settings=AccountSettings(init_per_minute=1, status_per_minute=3))
    book.add(request(1), T0)
    book.add(request(2), T0)
    for n in range(3, 7):
        book.add(request(n, CallKind.STATUS), T0)
    assert granted(book, T0) == ["r1", "r3", "r4", "r5"]


def test_a_duplicate_request_is_never_granted_twice() -> None:
    book = AccountBook()
    assert book.add(request(1), T0)
    assert granted(book, T0) == ["r1"]
    assert not book.add(request(1), T0), "a retried signal delivering the same request"
    assert granted(book, T0) == []


def test_a_429_pauses_every_call_of_the_account() -> None:
    book = AccountBook(settings=AccountSettings(rate_limit_pause_seconds=60))
    book.record(
        CallOutcome(request_id="x", call=CallKind.STATUS, code="rate_limit_exceeded", at=T0), T0
    )
    book.add(request(1), T0)
    book.add(request(2, CallKind.STATUS), T0)
    decision = book.decide(T0)
    assert {a.waiting_for for _, a in decision.answers} == {WaitReason.RATE_LIMITED}
    assert decision.wake_at == T0 + timedelta(seconds=60)
    assert granted(book, T0 + timedelta(seconds=60)) == ["r1", "r2"]
    assert book.rate_limited_answers == 1


def test_the_daily_cap_is_learned_and_waits_for_the_oldest_post_to_leave_the_window() -> None:
    book = AccountBook(settings=AccountSettings(init_per_minute=100))
    for n in range(4):
        book.add(request(n), T0 + timedelta(hours=n))
        assert granted(book, T0 + timedelta(hours=n)) == [f"r{n}"]
        book.record(outcome(n, None), T0)
    # The fifth init is refused: TikTok's cap is 4 today.
    later = T0 + timedelta(hours=5)
    book.add(request(4), later)
    assert granted(book, later) == ["r4"]
    book.record(outcome(4, "spam_risk_too_many_posts", at=later), later)
    assert book.learned_daily_cap == 4
    book.add(request(5), later)
    decision = book.decide(later)
    [(_, answer)] = [(w, a) for w, a in decision.answers]
    assert answer.waiting_for is WaitReason.DAILY_POST_CAP
    assert answer.until == T0 + timedelta(hours=24)
    # A day after the first post one slot opens again, and the learned cap holds the rest.
    book.add(request(6), later)
    assert granted(book, T0 + timedelta(hours=24, seconds=1)) == ["r5"]
    assert granted(book, T0 + timedelta(hours=24, seconds=2)) == []


def test_a_refused_init_does_not_count_but_an_ambiguous_one_does() -> None:
    book = AccountBook(settings=AccountSettings(daily_post_cap=1))
    book.add(request(1), T0)
    assert granted(book, T0) == ["r1"]
    book.record(outcome(1, "rate_limit_exceeded"), T0)
    book.paused_until = None
    book.add(request(2), T0)
    assert granted(book, T0 + timedelta(minutes=2)) == ["r2"]
    ambiguous = outcome(2, "NO_RESPONSE")
    ambiguous.may_have_taken_effect = True
    book.record(ambiguous, T0)
    book.add(request(3), T0)
    assert granted(book, T0 + timedelta(minutes=4)) == [], "the ambiguous init may be live"


def test_five_pending_inbox_shares_hold_the_sixth() -> None:
    book = AccountBook(settings=AccountSettings(init_per_minute=100))
    for n in range(6):
        book.add(request(n, cap=CapKind.INBOX), T0)
    answers = [a for _, a in book.decide(T0).answers]
    assert sum(a.granted for a in answers) == 5
    assert [a.waiting_for for a in answers if not a.granted] == [WaitReason.INBOX_SHARE_CAP]
    book.add(request(9, cap=CapKind.DIRECT), T0)
    assert granted(book, T0) == ["r9"], "direct posts are not held by the inbox cap"


def test_the_active_user_cap_holds_direct_and_inbox_until_the_probe() -> None:
    book = AccountBook(settings=AccountSettings(cap_probe_seconds=3600))
    book.record(
        CallOutcome(
            request_id="x", call=CallKind.CREATOR_INFO, cap=CapKind.DIRECT,
            code="reached_active_user_cap", at=T0,
        ),
        T0,
    )  # fmt: skip
    book.add(request(1, CallKind.CREATOR_INFO, cap=CapKind.INBOX), T0)
    book.add(request(2, CallKind.STATUS), T0)
    assert granted(book, T0) == ["r2"], "a publish in progress may still be polled"
    assert granted(book, T0 + timedelta(hours=1)) == ["r1"]


def test_a_banned_account_refuses_instead_of_waiting() -> None:
    book = AccountBook()
    book.record(outcome(0, "spam_risk_user_banned_from_posting"), T0)
    assert book.health is AccountHealth.BANNED
    book.add(request(1), T0)
    [(_, answer)] = book.decide(T0).answers
    assert answer.refused_code == "spam_risk_user_banned_from_posting" and not answer.granted
    assert book.waiting == []


def test_needs_reconnect_holds_everything_without_a_time() -> None:
    book = AccountBook()
    book.record(outcome(0, "scope_not_authorized"), T0)
    assert book.health is AccountHealth.NEEDS_RECONNECT
    book.add(request(1), T0)
    decision = book.decide(T0)
    assert [a.waiting_for for _, a in decision.answers] == [WaitReason.NEEDS_RECONNECT]
    assert decision.wake_at is None
    assert book.decide(T0 + timedelta(days=3)).answers == [], "told once, not every wake"


def test_a_reservation_counts_from_its_use_by_and_blocks_the_window_around_it() -> None:
    book = AccountBook(settings=AccountSettings(init_per_minute=2, safety_margin_seconds=2))
    use_by = T0 + timedelta(seconds=30)
    reserved = request(0).model_copy(update={"use_by": use_by})
    book.add(reserved, T0)
    assert granted(book, T0) == ["r0"], "granted ahead of its time"
    assert book.calls[CallKind.INIT] == [use_by], "counted when the call may last be made"
    assert book.posts[CapKind.DIRECT][0].at == use_by
    book.add(request(1), T0)
    assert granted(book, T0) == ["r1"]
    book.add(request(2), T0)
    book.add(request(3), T0)
    assert granted(book, T0 + timedelta(seconds=1)) == [], "two in the window, one ahead"
    # r1's minute is over, the reservation's is not: one more fits, the next waits until
    # the reserved call has left TikTok's window too, never before.
    assert granted(book, T0 + timedelta(seconds=62)) == ["r2"]
    assert granted(book, use_by + timedelta(seconds=61)) == []
    assert granted(book, use_by + timedelta(seconds=62)) == ["r3"]


def test_a_given_back_reservation_no_longer_counts_against_the_daily_cap() -> None:
    book = AccountBook(settings=AccountSettings(daily_post_cap=1))
    book.add(request(0).model_copy(update={"use_by": T0 + timedelta(seconds=20)}), T0)
    assert granted(book, T0) == ["r0"]
    book.add(request(1), T0)
    assert granted(book, T0) == [], "the cap of 1 is taken by the reservation"
    book.release("r0")
    assert book.counted(CapKind.DIRECT, T0) == 0
    assert granted(book, T0 + timedelta(seconds=1)) == ["r1"]


def analytics(n: int) -> SlotRequest:
    return SlotRequest(
        request_id=f"a{n}", workflow_id=f"post-analytics/p{n}/acct", call=CallKind.ANALYTICS,
        due_at=T0 - timedelta(days=1),
    )  # fmt: skip


def test_analytics_has_its_own_budget_and_never_takes_a_posts_slot() -> None:
    book = AccountBook(settings=AccountSettings(status_per_minute=2, analytics_per_minute=3))
    for n in range(5):  # due a day earlier than any post: still no post slot for them
        book.add(analytics(n), T0)
    for n in range(1, 3):
        book.add(request(n, CallKind.STATUS), T0)
    assert granted(book, T0) == ["r1", "r2", "a0", "a1", "a2"]
    book.add(request(3, CallKind.STATUS), T0)
    assert granted(book, T0 + timedelta(seconds=62)) == ["r3", "a3", "a4"]


def test_a_429_on_analytics_pauses_analytics_only() -> None:
    book = AccountBook()
    book.add(analytics(1), T0)
    assert granted(book, T0) == ["a1"]
    line = book.record(
        CallOutcome(request_id="a1", call=CallKind.ANALYTICS, code="rate_limit_exceeded", at=T0),
        T0,
    )
    assert line and "analytics paused" in line and book.paused_until is None
    book.add(analytics(2), T0)
    book.add(request(3, CallKind.CREATOR_INFO), T0)
    assert granted(book, T0 + timedelta(seconds=1)) == ["r3"]
    assert granted(book, T0 + timedelta(seconds=61)) == ["a2"]


def test_a_scope_analytics_lacks_leaves_the_account_active() -> None:
    book = AccountBook()
    for code in ("scope_not_authorized", "scope_permission_missed"):
        missing = CallOutcome(request_id="a1", call=CallKind.ANALYTICS, code=code, at=T0)
        assert book.record(missing, T0) is None
    assert book.health is AccountHealth.ACTIVE
    removed = CallOutcome(request_id="a2", call=CallKind.ANALYTICS, code="auth_removed", at=T0)
    book.record(removed, T0)
    assert book.health is AccountHealth.NEEDS_RECONNECT, "dead credentials, whoever found out"


def test_a_book_written_before_analytics_loads_and_serves_analytics() -> None:
    old = AccountBook(settings=AccountSettings()).model_dump(mode="json")
    del old["analytics_paused_until"]
    del old["settings"]["analytics_per_minute"]
    book = AccountBook.model_validate(old)
    book.add(analytics(1), T0)
    assert granted(book, T0) == ["a1"]
