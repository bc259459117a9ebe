"""Whether a post takes an action now: the checks its update validators make (reschedule,
schedule, publish_now, cancel), and the reason a refusal gives. Pure functions of the
post's state and the workflow's clock; they emit no command (validators never replay)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from temporalio.exceptions import ApplicationError

from workflows.ambiguity import WAITING_FOR as EVIDENCE_WAIT
from workflows.contracts import Phase, PostState
from workflows.publish_calls import fmt_time

#: The phases in which a post takes each action (its update validators; a bulk dry run
#: predicts refusals from them).
TAKEN_IN: Mapping[str, frozenset[Phase]] = {
    "schedule": frozenset({Phase.DRAFT}),
    "publish_now": frozenset({Phase.DRAFT, Phase.SCHEDULED}),
    "reschedule": frozenset({Phase.SCHEDULED, Phase.DRAFT}),
    "cancel": frozenset({Phase.DRAFT, Phase.SCHEDULED}),
}


#: Actions a PUBLISHING post still takes while its account holds it before any init of
#: it reached TikTok (`waits_before_any_init`): the wait ends, nothing is sent.
TAKEN_WHILE_HELD = frozenset({"cancel"})


def require_phase(state: PostState, action: str, now: datetime) -> None:
    """Refuse `action` (INVALID_PHASE) unless the post is in a phase that takes it, saying
    why."""
    phase = state.phase
    if phase in TAKEN_IN[action]:
        return
    held = phase is Phase.PUBLISHING and waits_before_any_init(state)
    if held and action in TAKEN_WHILE_HELD:
        return
    armed = state.armed_init_at(now)
    if armed is not None:
        reason = (
            "publishing has already begun: the worker sends the init at "
            f"{fmt_time(armed)} and it can no longer be stopped"
        )
    elif held:
        reason = (
            f"publishing has already begun: the post waits for its account ({state.waiting_for}) "
            "and sends its init the moment the account allows. TikTok has nothing of it that "
            "could go live yet: to stop it, cancel it (and to post it at another time, submit "
            "it again under a new postId)"
        )
    elif phase is Phase.PUBLISHING:
        reason = "publishing has already begun, so TikTok may already have the post"
    else:
        reason = f"the post is already {phase.value}"
    raise ApplicationError(f"Cannot {action}: {reason}.", type="INVALID_PHASE", non_retryable=True)


def waits_before_any_init(state: PostState) -> bool:
    """Publishing, but held by the account before TikTok has anything of this post (a cap,
    a reconnect, a pause; any init before was refused outright, which creates nothing, or
    ended FAILED on TikTok's own word). Not a post weighing the evidence of an init whose
    answer was lost (`ambiguity_evidence`), nor one with a lost FILE_UPLOAD answer
    (`ghost_inits`), nor a poll's wait (`publish_id`): TikTok may have those."""
    return (
        state.waiting_for is not None
        and state.publish_id is None
        and not state.ghost_inits
        and state.ambiguity_evidence is None
        and state.waiting_for != EVIDENCE_WAIT
    )


def may_be_held_before_any_init(phase: str | None, waiting_for: str | None) -> bool:
    """What visibility alone (TikTokPostState, TikTokWaitingFor) says: the post may be held
    before any init (a bulk dry run's guess; the post's own state decides)."""
    return (
        phase == Phase.PUBLISHING.value and waiting_for is not None and waiting_for != EVIDENCE_WAIT
    )


def require_future(at: datetime | None, now: datetime) -> None:
    """A new time must be explicit and ahead: a typo in a bulk --at must not publish now."""
    if at is None:
        return
    if at.tzinfo is None:
        raise ApplicationError(
            "The time needs a UTC offset (for example 2026-12-01T09:00:00Z).",
            type="TT_TIMEZONE_REQUIRED",
            non_retryable=True,
        )
    if at < now:
        raise ApplicationError(
            f"{fmt_time(at)} is in the past; give a future time, or publish it now "
            "(`publish-now`; publish_now in the API).",
            type="TIME_IN_PAST",
            non_retryable=True,
        )
