"""What a post starts beside itself: its phase events delivered to the caller's webhook
endpoints, and metrics refreshes once it is live (child workflows, abandoned when the
post ends).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from workflows.analytics import ANALYTICS_PATCH, AnalyticsInput, PostAnalytics, analytics_id
    from workflows.contracts import PublishSettings
    from workflows.publish_base import PostBase
    from workflows.webhooks_out import (
        WEBHOOKS_OUT_PATCH,
        DeliverEvent,
        DeliverEventInput,
        OutgoingEvent,
        child_id,
        event_for,
    )


class Announcements(PostBase):
    """Child workflows a post starts: event deliveries and analytics."""

    _webhooks_out: bool
    _webhook_retry: float
    _announcing: list[asyncio.Future[None]]

    def _announce(self) -> None:
        """Deliver the phase's event to the caller's webhook endpoints (a child workflow
        per event, abandoned when the post ends, retrying for up to 72 h)."""
        callback = self._target.callback_url
        if not (self._webhooks_out or callback) or not self._patched(WEBHOOKS_OUT_PATCH):
            return
        kind = event_for(self._current)
        if kind is None:
            return
        state = self._current
        event = OutgoingEvent(
            id=f"evt_{workflow.uuid4().hex}",
            type=kind,
            created_at=workflow.now(),
            account_id=state.account_id,
            post_id=state.post_id,
            workflow_id=state.workflow_id,
            data=state.model_dump(mode="json", exclude={"history"}),
        )
        self._log(f"event {kind.value} ({event.id}) sent to the webhook endpoints")
        self._announcing.append(asyncio.ensure_future(self._start_delivery(event)))

    def _follow_metrics(self, settings: PublishSettings) -> None:
        """Live with a public id: refresh its numbers on the analytics schedule."""
        state = self._current
        if settings.analytics is None or not state.public_post_ids:
            return
        if not self._patched(ANALYTICS_PATCH):
            return
        request = AnalyticsInput(
            post_id=state.post_id,
            account_id=state.account_id,
            video_ids=list(state.public_post_ids),
            live_at=workflow.now(),
            schedule=settings.analytics,
        )
        self._log("metrics refreshes scheduled (analytics)")
        self._announcing.append(asyncio.ensure_future(self._start_analytics(request)))

    async def _start_analytics(self, request: AnalyticsInput) -> None:
        await workflow.start_child_workflow(
            PostAnalytics.run,
            request,
            id=analytics_id(request.post_id, request.account_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"metrics of {request.post_id}",
        )

    async def _start_delivery(self, event: OutgoingEvent) -> None:
        await workflow.start_child_workflow(
            DeliverEvent.run,
            DeliverEventInput(
                event=event,
                retry_initial_seconds=self._webhook_retry,
                callback_url=self._target.callback_url,
            ),
            id=child_id(event.id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"{event.type.value} for {event.post_id}",
        )
