"""The state every part of PublishPost shares: the post's target, its `PostState`, its
history log and whether its calls are paced by the account entity.

The steps of a post (workflows/publish_*.py) are mixins on this base; PublishPost
(workflows/publish_post.py) combines them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import Phase, PostError, PostState, PublishResult
    from workflows.publish_calls import BASELINES, PostFailed, fmt_time
    from workflows.request import PublishTarget


class PostBase:
    """Attributes set by `PublishPost.__init__`, read by every step."""

    _target: PublishTarget
    _state: PostState
    _paced: bool
    """Every TikTok call of this run asks the account entity for a slot first."""
    _wake: bool
    """An update moved the post: its durable wait ends at once."""
    _staged_released: bool
    """The staged media was deleted by the status check that saw the post live."""
    _armed_for: datetime | None
    """The due time an init was armed for (PublishSettings.arm_seconds), until it is sent."""
    _baseline: frozenset[str]
    """The patches the run's baseline marker (publish_calls.BASELINES) gives it."""

    @property
    def _current(self) -> PostState:
        return self._state

    @staticmethod
    def _baseline_patches() -> frozenset[str]:
        """At the start of a run: a new run records the newest baseline's marker; a replay
        finds the one its run was started with (none before the first baseline)."""
        for marker, patches in BASELINES:
            if workflow.patched(marker):
                return patches
        return frozenset()

    def _patched(self, patch_id: str) -> bool:
        """`workflow.patched`, without a marker of its own on runs started with the
        baseline (they have every patch it covers)."""
        if patch_id in self._baseline:
            return True
        return workflow.patched(patch_id)

    def _resummarize(self) -> None:
        """The summary in `state` follows the current schedule (and drops "system draft"
        once the draft is scheduled). Query data only: no command, nothing to replay."""
        state = self._current
        now = self._target.model_copy(
            update={
                "scheduled_for": state.scheduled_for,
                "system_draft": state.phase is Phase.DRAFT,
            }
        )
        state.summary = now.summary()

    def _result(self) -> PublishResult:
        """What the run returns: the post's phase and TikTok's ids."""
        state = self._current
        return PublishResult(
            post_id=state.post_id,
            account_id=state.account_id,
            phase=state.phase,
            publish_id=state.publish_id,
            public_post_ids=state.public_post_ids,
        )

    def _log(self, event: str) -> None:
        self._current.history.append(f"{fmt_time(workflow.now())} {event}")

    def _fail_on_problems(self, problems: list[Any]) -> None:
        if not problems:
            return
        first = problems[0]
        raise PostFailed(
            PostError(
                code=first.code,
                message=first.message,
                remedy="Fix the post: `tiktok-publisher retry POST_ID ACCOUNT_ID` can change "
                "--privacy, --caption and --at; any other fix needs the fixed post submitted "
                "under a new postId (the same postId is not started again).",
                field=first.field,
                details=[
                    {"code": p.code, "field": p.field, "message": p.message} for p in problems
                ],
            )
        )
