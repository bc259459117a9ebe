"""A post's side of an ambiguous pulled init: wait for evidence, confirm it, decide.

Used by PublishPost from workflow code (deterministic). After a pulled init lost its answer
and its per-attempt copies were withdrawn, the post registers as a claimant with its account
entity (workflows/claims.py) and waits, durably and visibly (`state.ambiguity_evidence`,
`waiting_for = ambiguity_evidence`, the UI's details, TikTokWaitingFor), for the account's
verdict or the window's end. Evidence is only a trigger: one status fetch of the ghost's
publish_id is the truth.

* TikTok says the ghost is live (complete / publicly available / in the inbox) → the post
  adopts that publish_id and goes on as if its init had answered;
* TikTok says the ghost's pull failed → it never went live: the post takes that publish as its
  failed attempt, and a new init is safe (bounded by max_publish_attempts);
* two claimants, no evidence, or a status that does not bear the event out → AMBIGUOUS_INIT
  for a person, as before, with the reason in its message.

Only with TikTok's webhooks configured (nothing else can bring evidence), a paced run, a
window above 0, and runs that know it (`workflow.patched("ambiguity-evidence")`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa
    from workflows.account_contracts import account_workflow_id
    from workflows.claims import (
        AMBIGUITY_EVIDENCE_PATCH,
        AMBIGUOUS_INIT_SIGNAL,
        LIVE_EVENTS,
        PULL_FAILURES,
        AmbiguousInit,
        ClaimVerdict,
    )
    from workflows.contracts import (
        AmbiguityEvidence,
        EvidenceOutcome,
        PostState,
        PublishSettings,
    )
    from workflows.tiktok import PublishStatus, TikTokStatus

WAITING_FOR = "ambiguity_evidence"
#: The account decides at the window's end; the post's own timer is the backstop after it.
GRACE = timedelta(seconds=30)


def evidence_window(
    settings: PublishSettings, paced: bool, patched: Callable[[str], bool] = workflow.patched
) -> timedelta | None:
    """The evidence window of this run, or None: end AMBIGUOUS_INIT at once. `patched`:
    the run's patch check (PublishPost's skips it for runs started with its baseline)."""
    seconds = settings.ambiguity_evidence_window_seconds
    if not (settings.webhook_fallback_poll_seconds and seconds > 0 and paced):
        return None
    if not patched(AMBIGUITY_EVIDENCE_PATCH):
        return None
    return timedelta(seconds=seconds)


class EvidenceWait:
    """Holds the account's verdict for the post's current claim."""

    def __init__(self, account_id: str) -> None:
        self._account_id = account_id
        self._request_id: str | None = None
        self._verdict: ClaimVerdict | None = None

    def receive(self, verdict: ClaimVerdict) -> None:
        """PublishPost's `claim_verdict` signal; a verdict for another claim is dropped."""
        if verdict.request_id == self._request_id:
            self._verdict = verdict

    async def note_file_upload_ghost(self, request_id: str, sent_at: datetime) -> None:
        """A FILE_UPLOAD ghost can never go live: tell the account so that it never stands
        in the way of another post's evidence."""
        await self._tell(
            AmbiguousInit(
                request_id=request_id,
                workflow_id=workflow.info().workflow_id,
                kind="file_upload",
                sent_at=sent_at,
                until=sent_at,
            )
        )

    async def settle(
        self,
        *,
        state: PostState,
        request_id: str,
        sent_at: datetime,
        window: timedelta,
        inbox: bool,
        fetch_status: Callable[[str], Awaitable[PublishStatus]],
        log: Callable[[str], None],
    ) -> str | None:
        """Wait for evidence. Returns the ghost's publish_id to take as this attempt's (live,
        or failed in its pull), or None with `state.ambiguity_evidence` saying why not."""
        now = workflow.now()
        until = now + window
        evidence = AmbiguityEvidence(since=sent_at, window_until=until, outcome="waiting")
        state.ambiguity_evidence = evidence
        self._request_id, self._verdict = request_id, None
        told = await self._tell(
            AmbiguousInit(
                request_id=request_id,
                workflow_id=workflow.info().workflow_id,
                kind="pulled",
                sent_at=sent_at,
                until=until,
                window_seconds=window.total_seconds(),
            )
        )
        if not told:
            return self._decide(evidence, "no_evidence", "the account entity could not be told")
        log(f"init answer lost: waiting until {_fmt(until)} for TikTok's event about that publish")
        state.waiting_for, state.waiting_until = WAITING_FOR, until
        workflow.upsert_search_attributes([sa.WAITING_FOR.value_set(WAITING_FOR)])
        workflow.set_current_details(
            f"Init answer lost, its media withdrawn: waiting until {_fmt(until)} for TikTok's "
            f"event about that publish (account {self._account_id}); then AMBIGUOUS_INIT."
        )
        try:
            await workflow.wait_condition(
                lambda: self._verdict is not None,
                timeout=until + GRACE - now,
                timeout_summary="evidence for the unanswered init",
            )
        except TimeoutError:
            pass
        finally:
            state.waiting_for, state.waiting_until = None, None
            workflow.upsert_search_attributes([sa.WAITING_FOR.value_unset()])
        verdict, self._request_id = self._verdict, None
        if verdict is None or verdict.decision == "no_evidence":
            return self._decide(
                evidence,
                "no_evidence",
                f"no TikTok event for an unknown publish of this account came by {_fmt(until)}",
            )
        event = verdict.event
        if verdict.decision == "contested" or event is None:
            if event is not None:
                evidence.event, evidence.publish_id = event.event, event.publish_id
            return self._decide(evidence, "contested", verdict.reason or "contested")
        evidence.event, evidence.publish_id = event.event, event.publish_id
        log(f"TikTok event {event.event} for publish {event.publish_id}; confirming")
        try:
            status = await fetch_status(event.publish_id)
        except Exception as err:  # the status is the truth: without it, nothing is decided
            return self._decide(evidence, "refuted", f"its status could not be fetched ({err})")
        evidence.confirmed_status = status.status.value
        evidence.fail_reason = status.fail_reason or None
        live = TikTokStatus.SEND_TO_USER_INBOX if inbox else TikTokStatus.PUBLISH_COMPLETE
        if event.event in LIVE_EVENTS and status.status is live:
            self._decide(
                evidence,
                "adopted",
                f"TikTok's {event.event} for publish {event.publish_id}, confirmed by its "
                f"status {status.status.value}: that publish is this post's",
            )
            return event.publish_id
        if status.status is TikTokStatus.FAILED and status.fail_reason in PULL_FAILURES:
            self._decide(
                evidence,
                "ghost_failed",
                f"TikTok's {event.event} for publish {event.publish_id}, confirmed by its "
                f"status FAILED ({status.fail_reason}): the withdrawn media was never pulled, "
                "so that publish never went live and a new init is safe",
            )
            return event.publish_id
        return self._decide(
            evidence,
            "refuted",
            f"TikTok's {event.event} for publish {event.publish_id} is not borne out by its "
            f"status {status.status.value} {status.fail_reason or ''}".rstrip(),
        )

    def _decide(
        self, evidence: AmbiguityEvidence, outcome: EvidenceOutcome, why: str
    ) -> str | None:
        """Record what decided; nothing to take as this attempt's publish (None)."""
        evidence.outcome = outcome
        evidence.decided_at = workflow.now()
        evidence.explanation = why
        return None

    async def _tell(self, init: AmbiguousInit) -> bool:
        try:
            handle = workflow.get_external_workflow_handle(account_workflow_id(self._account_id))
            await handle.signal(AMBIGUOUS_INIT_SIGNAL, init)
        except Exception:
            workflow.logger.warning("account %s did not take the ambiguous init", self._account_id)
            return False
        return True


def _fmt(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
