"""The baseline of `bench.due_time`: the least any scheduled post must do.

A durable timer to the due time, then three no-op activities. In a module of its own that
imports nothing but the SDK, so that run in the workflow sandbox (as the posts are) it pays
the sandbox's cost for itself and not for a benchmark's imports.
"""

from __future__ import annotations

import time
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bare_step")
async def bare_step(due_epoch: float) -> float:
    """Returns how late it started against the due time (seconds)."""
    return time.time() - due_epoch


@workflow.defn(name="BareDue")
class BareDue:
    """A durable timer to the due time, then three activities: the floor for a post."""

    @workflow.run
    async def run(self, due_epoch: float) -> float:
        wait = due_epoch - workflow.now().timestamp()
        if wait > 0:
            await workflow.sleep(wait)
        late = 0.0
        for step in range(3):
            result = await workflow.execute_activity(
                bare_step, due_epoch, start_to_close_timeout=timedelta(seconds=30)
            )
            if step == 0:
                late = result
        return late
