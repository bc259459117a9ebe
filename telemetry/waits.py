"""Pacing and quota waits, as a post lives them, turned into `telemetry.metrics` series.

The account entity answers a post's slot request with the `account_answer` signal: granted,
or "wait for <reason> until ...". `WaitClock` follows those answers for one run: a wait
starts with the first answer naming a reason, changes segment when the reason changes, and
ends when a slot is granted (or refused, or the run ends while waiting). Each segment is
observed under its reason.

It is fed from `telemetry.instrument`'s workflow interceptor with the workflow's own clock
(`workflow.now()`), and replay rebuilds the same state from the same signals; only segments
that end in new (not replayed) history are recorded, so nothing counts twice however often a
worker without a workflow cache replays a sleeping post.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from telemetry import metrics
from workflows.account_contracts import SlotAnswer


@dataclass
class _Segment:
    reason: str
    since: datetime


class WaitClock:
    def __init__(
        self,
        *,
        record: Callable[[str, float], None] = metrics.record_wait,
        started: Callable[[str], None] = metrics.record_wait_started,
    ) -> None:
        self._record = record
        self._started = started
        self._segment: _Segment | None = None

    @property
    def waiting_for(self) -> str | None:
        return self._segment.reason if self._segment else None

    def answer(self, answer: SlotAnswer, now: datetime, *, live: bool) -> None:
        """One answer from the entity at `now`; `live` False while replaying (no series)."""
        reason = None
        if not answer.granted and not answer.refused_code and answer.waiting_for is not None:
            reason = answer.waiting_for.value
        if self._segment is not None and self._segment.reason != reason:
            self.end(now, live=live)
        if reason is not None and self._segment is None:
            self._segment = _Segment(reason, now)
            if live:
                self._started(reason)

    def end(self, now: datetime, *, live: bool) -> None:
        """The wait in progress (if any) ends at `now`: the run ended, or a slot came."""
        segment, self._segment = self._segment, None
        if segment is not None and live:
            self._record(segment.reason, (now - segment.since).total_seconds())
