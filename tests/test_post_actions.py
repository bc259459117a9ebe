"""What a post's refusal of an action says (workflows/post_actions.py, its update validators)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError

from workflows.contracts import GhostInit, Phase, PostState
from workflows.post_actions import require_future, require_phase

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def state(**fields: object) -> PostState:
    base: dict[str, object] = {
        "workflow_id": "tiktok-post/p1/acct_1",
        "post_id": "p1",
        "account_id": "acct_1",
        "mode": "video_direct",
        "phase": Phase.PUBLISHING,
        "summary": "video → @acct_1",
        "accepted_at": NOW - timedelta(days=1),
        "publishing_started_at": NOW - timedelta(minutes=5),
    }
    return PostState.model_validate({**base, **fields})


def refusal(post: PostState, action: str = "cancel") -> str:
    with pytest.raises(ApplicationError) as refused:
        require_phase(post, action, NOW)
    assert refused.value.type == "INVALID_PHASE" and refused.value.non_retryable
    return str(refused.value)


def test_a_post_held_by_its_account_before_any_init_takes_a_cancel_and_says_so() -> None:
    for reason in ("needs_reconnect", "daily_post_cap", "paused"):
        held = state(waiting_for=reason)
        require_phase(held, "cancel", NOW)  # taken: TikTok has nothing of it yet
        for action in ("reschedule", "publish_now", "schedule"):
            said = refusal(held, action)
            assert f"waits for its account ({reason})" in said
            assert "could go live yet: to stop it, cancel it" in said
    # An init refused outright (a 401 before the reconnect wait) created nothing either.
    require_phase(state(waiting_for="needs_reconnect", init_attempts=1), "cancel", NOW)
    # Once an init went out (answered, or its answer lost), TikTok may have it: never say so.
    for sent in (
        state(waiting_for="rate_limited", publish_id="v_pub_1"),
        state(
            waiting_for="rate_limited",
            ghost_inits=[
                GhostInit(at=NOW, publish_attempt=1, code="NO_RESPONSE", reason="answer lost")
            ],
        ),
        state(waiting_for=None),
        # a pulled init's answer was lost: the post weighs TikTok's evidence of it
        state(waiting_for="ambiguity_evidence", init_attempts=1),
    ):
        said = refusal(sent)
        assert "may already have the post" in said and "cancel it" not in said


def test_a_new_time_needs_an_offset_and_the_future() -> None:
    require_future(None, NOW)
    require_future(NOW + timedelta(seconds=1), NOW)
    with pytest.raises(ApplicationError, match="past"):
        require_future(NOW - timedelta(seconds=1), NOW)
    with pytest.raises(ApplicationError, match="UTC offset"):
        require_future(datetime(2030, 1, 1), NOW)
