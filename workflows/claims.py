"""Ambiguous inits of one account, and the TikTok events that may settle them.

A pulled init (photos, pull-mode videos) whose answer was lost may have created a *ghost*
publish on TikTok. Its per-attempt copies are withdrawn at once; then the post registers as a
*claimant* with its account entity and waits for evidence. TikTok's webhooks name a publish_id
and the creator only, so an event for a publish_id no post of the account knows can be
attributed to a claimant only when nothing else could own it:

* exactly one claimant's window covers the event (its init was sent before the event arrived,
  and the event arrived before the window's end);
* no other init of the account whose outcome is unknown is counted in that window (an init
  still in flight holds the event back until its answer names its publish_id);
  FILE_UPLOAD ghosts do not count (they can neither complete nor fail a pull);
* no other claimant's window overlaps (two claimants: both are left to a person).

The book only attributes; the claimant confirms with a status fetch (the webhook is a trigger,
the status is the truth) and decides. Pure and deterministic: the TikTokAccount entity carries
it in its book across continue-as-new, and tests drive it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from workflows.tiktok_events import TikTokEvent

#: TikTokAccount signals: a post registers an ambiguous init; the API forwards a TikTok
#: publish event that no running post took.
AMBIGUOUS_INIT_SIGNAL = "ambiguous_init"
UNKNOWN_PUBLISH_EVENT_SIGNAL = "unknown_publish_event"
#: PublishPost signal: the account's verdict for one claim.
CLAIM_VERDICT_SIGNAL = "claim_verdict"
#: Posts started before claims existed end AMBIGUOUS_INIT at once on replay.
AMBIGUITY_EVIDENCE_PATCH = "ambiguity-evidence"

#: Events that say a publish went live (or reached the inbox): the ghost may be adopted.
LIVE_EVENTS = frozenset(
    {
        "post.publish.complete",
        "post.publish.publicly_available",
        "post.publish.publicaly_available",
        "post.publish.inbox_delivered",
    }
)
FAILED_EVENT = "post.publish.failed"
EVIDENCE_EVENTS = LIVE_EVENTS | {FAILED_EVENT}
#: TikTok's fail reasons that prove a pull never got the media (the ghost never went live).
PULL_FAILURES = frozenset({"photo_pull_failed", "video_pull_failed"})

#: An event nobody claims is kept this long: the init it belongs to may still be waiting for
#: its answer (up to the init timeout) before its post registers.
HOLD_UNCLAIMED = timedelta(minutes=15)
MAX_HELD = 200
#: Claims and ghosts are remembered this long after their window (TikTok's 24 h caps).
REMEMBER = timedelta(hours=24)


class AmbiguousInit(BaseModel):
    """A post tells its account that one of its inits lost its answer (signal
    `ambiguous_init`). `pulled`: it waits for evidence; `file_upload`: a ghost that can never
    go live, so it never competes for evidence."""

    request_id: str = Field(description="The init's slot request id (the account's count).")
    workflow_id: str
    kind: Literal["pulled", "file_upload"]
    sent_at: datetime = Field(description="When the init was sent.")
    until: datetime = Field(description="End of the evidence window (pulled only).")
    window_seconds: float = 0


class ClaimVerdict(BaseModel):
    """The account's answer to a claimant (signal `claim_verdict`)."""

    request_id: str
    decision: Literal["evidence", "contested", "no_evidence"]
    event: TikTokEvent | None = None
    reason: str = ""


class Claim(BaseModel):
    init: AmbiguousInit
    state: Literal["waiting", "attributed", "contested", "expired"] = "waiting"
    publish_id: str | None = None

    def covers(self, at: datetime) -> bool:
        return self.init.sent_at <= at <= self.init.until

    def overlaps(self, other: AmbiguousInit) -> bool:
        return self.init.sent_at <= other.until and other.sent_at <= self.init.until


class HeldEvent(BaseModel):
    event: TikTokEvent
    received_at: datetime


@dataclass
class ClaimDecision:
    answers: list[tuple[str, ClaimVerdict]] = field(default_factory=list)
    """(claimant workflow id, verdict)."""
    attributed: list[tuple[str, str]] = field(default_factory=list)
    """(init request id, publish_id): the account now knows that publish."""
    lines: list[str] = field(default_factory=list)
    wake_at: datetime | None = None


class ClaimBook(BaseModel):
    claims: list[Claim] = Field(default_factory=list)
    file_upload_ghosts: list[str] = Field(default_factory=list)
    held: list[HeldEvent] = Field(default_factory=list)

    # -- what posts and the API tell -----------------------------------------------------

    def register(self, init: AmbiguousInit, now: datetime) -> ClaimDecision:
        """A post's ambiguous init. Two pulled claims with overlapping windows can never be
        told apart: both are contested at once."""
        decision = ClaimDecision()
        if init.kind == "file_upload":
            if init.request_id not in self.file_upload_ghosts:
                self.file_upload_ghosts.append(init.request_id)
                del self.file_upload_ghosts[:-500]
            return decision
        if any(c.init.request_id == init.request_id for c in self.claims):
            return decision  # a repeated signal
        claim = Claim(init=init)
        rivals = [c for c in self.claims if c.state != "attributed" and c.overlaps(init)]
        self.claims.append(claim)
        decision.lines.append(f"ambiguous init of {init.workflow_id} waits for evidence")
        if rivals:
            for c in [*rivals, claim]:
                if c.state == "waiting":
                    c.state = "contested"
                    decision.answers.append(
                        (
                            c.init.workflow_id,
                            ClaimVerdict(
                                request_id=c.init.request_id,
                                decision="contested",
                                reason="another post of this account lost an init answer in "
                                "the same window, so TikTok's events cannot tell the two apart",
                            ),
                        )
                    )
            decision.lines.append(f"contested: {len(rivals) + 1} ambiguous inits overlap")
        return decision

    def hold(self, event: TikTokEvent, now: datetime) -> bool:
        """A publish event no running post took: kept until a claim can be decided by it.
        False if it can never decide one (another event, or a repeat)."""
        if event.event not in EVIDENCE_EVENTS or not event.publish_id:
            return False
        if any(h.event.event_key == event.event_key for h in self.held):
            return False
        self.held.append(HeldEvent(event=event, received_at=now))
        del self.held[:-MAX_HELD]
        return True

    # -- deciding ------------------------------------------------------------------------

    def decide(
        self, now: datetime, known: set[str], unresolved: list[tuple[str, datetime]]
    ) -> ClaimDecision:
        """Attribute held events where exactly one claimant can own them; end claims whose
        window is over. `known`: every publish_id a post of the account holds; `unresolved`:
        (request id, grant time) of every init whose publish_id the account does not know."""
        decision = ClaimDecision()
        known = known | {c.publish_id for c in self.claims if c.publish_id}
        still: list[HeldEvent] = []
        for held in sorted(self.held, key=lambda h: h.received_at):
            event, at = held.event, held.received_at
            if event.publish_id in known:
                continue  # a post has it: not a ghost
            covering = [c for c in self.claims if c.state == "waiting" and c.covers(at)]
            if not covering:
                if now - at < HOLD_UNCLAIMED:
                    still.append(held)  # its claimant may not have registered yet
                continue
            if len(covering) > 1:
                for c in covering:
                    self._end(c, "contested", decision, event, "two waiting claims cover it")
                continue
            claim = covering[0]
            if self._decided_rival(claim, at):
                self._end(
                    claim,
                    "contested",
                    decision,
                    event,
                    "another ambiguous init of this account could own it",
                )
                continue
            if self._in_flight_rival(claim, at, unresolved):
                still.append(held)  # an init still waiting for its answer may own it
                continue
            claim.state = "attributed"
            claim.publish_id = event.publish_id
            known.add(event.publish_id)
            decision.attributed.append((claim.init.request_id, event.publish_id))
            decision.answers.append(
                (
                    claim.init.workflow_id,
                    ClaimVerdict(
                        request_id=claim.init.request_id, decision="evidence", event=event
                    ),
                )
            )
            decision.lines.append(
                f"{event.event} for unknown publish {event.publish_id} attributed to "
                f"{claim.init.workflow_id}"
            )
        self.held = still
        for claim in self.claims:
            if claim.state != "waiting" or claim.init.until > now:
                continue
            blocked = [h for h in self.held if claim.covers(h.received_at)]
            if blocked:
                self._end(
                    claim,
                    "contested",
                    decision,
                    blocked[0].event,
                    "an init of this account still unanswered could own it",
                )
            else:
                claim.state = "expired"
                decision.answers.append(
                    (
                        claim.init.workflow_id,
                        ClaimVerdict(request_id=claim.init.request_id, decision="no_evidence"),
                    )
                )
        self.claims = [c for c in self.claims if c.init.until > now - REMEMBER]
        wakes = [c.init.until for c in self.claims if c.state == "waiting"]
        wakes += [h.received_at + HOLD_UNCLAIMED for h in self.held]
        decision.wake_at = min(wakes) if wakes else None
        return decision

    def _decided_rival(self, claim: Claim, at: datetime) -> bool:
        """An earlier claim left to a person whose window covers the event: its ghost may be
        the one TikTok reports."""
        return any(
            c is not claim and c.state in ("contested", "expired") and c.covers(at)
            for c in self.claims
        )

    def _in_flight_rival(
        self, claim: Claim, at: datetime, unresolved: list[tuple[str, datetime]]
    ) -> bool:
        # Counted after the horizon, even after the event: a reserved init is counted at the
        # latest time it may be sent (`SlotRequest.use_by`), which can follow its real send.
        horizon = at - timedelta(seconds=claim.init.window_seconds)
        claimed = {c.init.request_id for c in self.claims}
        return any(
            horizon <= counted
            for request_id, counted in unresolved
            if request_id not in claimed and request_id not in self.file_upload_ghosts
        )

    def _end(
        self,
        claim: Claim,
        state: Literal["contested"],
        decision: ClaimDecision,
        event: TikTokEvent,
        why: str,
    ) -> None:
        claim.state = state
        decision.answers.append(
            (
                claim.init.workflow_id,
                ClaimVerdict(
                    request_id=claim.init.request_id,
                    decision="contested",
                    event=event,
                    reason=f"TikTok's {event.event} for publish {event.publish_id} cannot be "
                    f"attributed: {why}",
                ),
            )
        )
        decision.lines.append(f"{event.event} for {event.publish_id}: contested ({why})")
