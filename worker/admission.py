"""Admit new posts into the worker only while few of its runs wait for an activity.

A burst of submissions (a backend moving its queue over: thousands of posts in a minute)
reaches the worker as first workflow tasks on the task queue's shared (non-sticky) queue.
Each admitted post stays in the workflow cache while it waits for its media copy and its
account's wake, both activities queued behind the other posts' ones; so a burst fills the
cache with hundreds of runs that have nothing to do yet, and the allocators keep that
high-water after they have gone to sleep (bench/README.md, sleepers). The posts falling due
together, the burst the cache and the 100 slots are for, arrive the other way: as tasks of
runs already known to this worker, on its sticky queue.

So the worker's workflow slots come from `AdmissionGate`, which gives a slot for a poll of
the shared queue only while fewer than `most_waiting` watched runs (posts and their
analytics, `worker.sleeper_eviction`) have an activity in flight. Sticky polls, and so the
due-time burst, wait for nothing but a free slot. A post held back is not lost or hidden: it
is accepted and findable (its search attributes are set at start); its first task waits in
Temporal's queue until the runs before it have their copies.

Core reserves a slot before each poll, so polls reserved before runs started waiting (up to
the pollers open then, WORKER_MAX_TASK_POLLS at most) still take a task each: the gate
slows a burst's admission to the pace of its activities; it is not an exact bound.

A run counts as waiting from the completion that schedules its activity until the
activation that resolves it, or its eviction. Should a run leave the cache without the gate
hearing of it, its entry lapses after `STALE_AFTER_SECONDS`, so the gate can be wrong about
memory for a while but never stop new posts for good.
"""

from __future__ import annotations

import asyncio
import threading
import time

from temporalio.worker import (
    CustomSlotSupplier,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
)

STALE_AFTER_SECONDS = 300.0
"""How long a run counts as waiting without word of it (longer than a media copy takes)."""


class AdmissionGate(CustomSlotSupplier):
    """`slots` workflow task slots; a poll of the shared queue also waits while
    `most_waiting` or more runs wait for an activity (`waiting(run_id, bool)` reports them,
    from any thread)."""

    def __init__(self, slots: int, most_waiting: int) -> None:
        self.slots = slots
        self.most_waiting = most_waiting
        self._used = 0
        self._waiting: dict[str, float] = {}  # run id: since when (monotonic)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None

    @property
    def runs_waiting(self) -> int:
        return len(self._waiting)

    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        if self._changed is None:
            self._loop, self._changed = asyncio.get_running_loop(), asyncio.Event()
        gated = ctx.slot_type == "workflow" and not ctx.is_sticky
        while True:
            self._changed.clear()  # before the check: a change after it sets it again
            with self._lock:
                if gated:
                    self._lapse(time.monotonic())
                if self._used < self.slots and not (
                    gated and len(self._waiting) >= self.most_waiting
                ):
                    self._used += 1
                    return SlotPermit()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=1.0)
            except TimeoutError:
                pass  # look again: entries lapse with time alone

    def _lapse(self, now: float) -> None:
        stale = [run for run, since in self._waiting.items() if now - since > STALE_AFTER_SECONDS]
        for run in stale:
            del self._waiting[run]

    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        with self._lock:
            if self._used < self.slots:
                self._used += 1
                return SlotPermit()
        return None

    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        return None

    def release_slot(self, ctx: SlotReleaseContext) -> None:
        with self._lock:
            self._used -= 1
        self._notify()

    def waiting(self, run_id: str, waits: bool) -> None:
        """A watched run now waits (or no longer waits) for an activity."""
        with self._lock:
            if waits:
                self._waiting.setdefault(run_id, time.monotonic())
            else:
                self._waiting.pop(run_id, None)
        self._notify()

    def _notify(self) -> None:
        loop, changed = self._loop, self._changed
        if loop is None or changed is None:
            return
        try:
            loop.call_soon_threadsafe(changed.set)
        except RuntimeError:  # the loop has closed: the worker is gone
            pass
