"""Activities that talk to TikTok on behalf of PublishPost.

Each activity resolves the account's token itself (so no token ever enters workflow
history), makes one kind of call through `TikTokClient`, and turns a `TikTokApiError` into an
`ApplicationError` whose type is the stable code and whose details say whether retrying helps.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.chunks import ChunkPlan, ChunkPlanError
from activities.failures import engine_error, to_application_error, token_error
from activities.media_store import StagingError
from activities.staging import MediaDelivery
from activities.tiktok_client import (
    InitResult,
    PullFromUrl,
    TikTokApiError,
    TikTokClient,
    VideoSource,
)
from activities.tokens import AccountTokens, StoredToken, TokenError
from workflows.account_contracts import CALL_OUTCOME, SuccessReport
from workflows.contracts import (
    ChunkUpload,
    CreatorInfoQuery,
    InitPublishInput,
    InitPublishResult,
    StatusQuery,
    pull_attempt,
)
from workflows.request import PublishMode, PublishTarget
from workflows.tiktok import CreatorInfo, PublishStatus

log = structlog.get_logger(__name__)


async def report_success(report: SuccessReport, publish_id: str) -> bool:
    """Tell the account entity of a successful paced call (signal `call_outcome`), as the
    workflow would. False if it could not be told: the workflow then tells it itself."""
    outcome = report.outcome.model_copy(
        update={"code": None, "publish_id": publish_id, "at": datetime.now(UTC)}
    )
    try:
        handle = activity.client().get_workflow_handle(report.account_workflow_id)
        await handle.signal(CALL_OUTCOME, outcome)
    except Exception as err:  # the entity not running, the server busy: the workflow retells
        log.warning("account.outcome_not_reported", publish_id=publish_id, error=type(err).__name__)
        return False
    return True


async def wait_to_send(request: InitPublishInput) -> None:
    """An init armed before its due time waits for it: by this worker's clock, and never
    longer than the workflow asked (a clock far off, a time-skipping test server). Stopped
    while waiting (the worker shutting down): nothing was sent, so the workflow may start the
    init again at once, on another worker."""
    if request.send_at is None:
        return
    delay = min(request.wait_seconds, (request.send_at - datetime.now(UTC)).total_seconds())
    if delay <= 0:
        return
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        raise engine_error(
            "INIT_NOT_SENT",
            "The worker stopped before the due time; the upload start was not sent.",
            retryable=True,
        ) from None


T = TypeVar("T")
RENEW_AHEAD = timedelta(minutes=5)


def video_post_info(target: PublishTarget) -> dict[str, Any]:
    """post_info of a direct video init, exactly as TikTok documents it."""
    options = target.options
    if options.privacy is None:  # validation guarantees this for direct posts
        raise ApplicationError(
            "privacy is required", type="TT_PRIVACY_REQUIRED", non_retryable=True
        )
    info: dict[str, Any] = {
        "privacy_level": options.privacy.value,
        "title": target.caption,
        "disable_comment": not options.allow_comments,
        "disable_duet": not options.allow_duet,
        "disable_stitch": not options.allow_stitch,
        # TikTok asks integrators to always send both disclosure toggles.
        "brand_content_toggle": options.brand_content_toggle,
        "brand_organic_toggle": options.brand_organic_toggle,
        "is_aigc": options.is_aigc,
    }
    if options.cover_timestamp_ms is not None:
        info["video_cover_timestamp_ms"] = options.cover_timestamp_ms
    return info


def photo_post_info(target: PublishTarget) -> dict[str, Any]:
    """post_info of a photo init; interaction and disclosure fields only for DIRECT_POST."""
    options = target.options
    info: dict[str, Any] = {"description": target.caption}
    if options.photo_title:
        info["title"] = options.photo_title
    if target.kind is PublishMode.PHOTO_DIRECT:
        if options.privacy is not None:
            info["privacy_level"] = options.privacy.value
        info["disable_comment"] = not options.allow_comments
        info["auto_add_music"] = options.auto_add_music
        info["brand_content_toggle"] = options.brand_content_toggle
        info["brand_organic_toggle"] = options.brand_organic_toggle
    return info


class TikTokActivities:
    """Bound to one client, one token store and one media delivery per worker."""

    def __init__(
        self, client: TikTokClient, tokens: AccountTokens, delivery: MediaDelivery
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._delivery = delivery

    @activity.defn(name="query_creator_info")
    async def query_creator_info(self, account_id: str) -> CreatorInfo:
        """What the creator allows right now (privacy options, interactions, max duration)."""
        return await self._call(account_id, lambda token: self._client.query_creator_info(token))

    @activity.defn(name="creator_info")
    async def creator_info(self, query: CreatorInfoQuery) -> CreatorInfo:
        """creator_info as a paced call: what the creator allows right now."""
        return await self._call(
            query.account_id, lambda token: self._client.query_creator_info(token), paced=True
        )

    @activity.defn(name="copy_attempt_media")
    async def copy_attempt_media(self, request: InitPublishInput) -> None:
        """Make the pulled copies of the init `request` will send, ahead of it (while the post
        gets ready), so that the due time waits for no storage call."""
        try:
            await asyncio.to_thread(
                self._delivery.pulled_copies, request.staged.items, pull_attempt(request)
            )
        except StagingError as err:
            raise engine_error(err.code, str(err), retryable=err.retryable) from None

    @activity.defn(name="init_publish")
    async def init_publish(self, request: InitPublishInput) -> InitPublishResult:
        """Create the post on TikTok from the staged media. Only provably-failed attempts may
        be retried (see `TikTokApiError` classification)."""
        target = request.target
        kind = target.kind
        items = request.staged.items
        delivery = self._delivery
        source: VideoSource = PullFromUrl("")
        plan: ChunkPlan | None = None
        photo_urls: list[str] = []
        pulled = not target.is_video or (
            (request.staged.video_source or delivery.video_source) == "pull_from_url"
        )
        try:
            if pulled:
                # TikTok fetches by itself: give it this attempt's own copies, which the
                # workflow withdraws if the answer is lost. Copies made ahead are only named
                # (no storage call): no hop through the thread pool, which at a due time is
                # queued with every other post's storage work.
                attempt = pull_attempt(request)
                if request.copies_made:
                    items = delivery.pulled_copies(items, attempt, made=True)
                else:
                    items = await asyncio.to_thread(delivery.pulled_copies, items, attempt)
            if target.is_video:
                source, plan = delivery.video_source_for(items[0], request.staged.video_source)
            else:
                photo_urls = [delivery.photo_url(item) for item in items]
        except (StagingError, ChunkPlanError) as err:
            retryable = isinstance(err, StagingError) and err.retryable
            raise engine_error(err.code, str(err), retryable=retryable) from None

        async def init(token: str) -> InitResult:
            if kind is PublishMode.VIDEO_DIRECT:
                return await self._client.init_direct_video(token, video_post_info(target), source)
            if kind is PublishMode.VIDEO_INBOX:
                return await self._client.init_inbox_video(token, source)
            return await self._client.init_photo(
                token,
                post_mode="DIRECT_POST" if kind is PublishMode.PHOTO_DIRECT else "MEDIA_UPLOAD",
                post_info=photo_post_info(target),
                photo_urls=photo_urls,
                cover_index=target.options.photo_cover_index,
            )

        await wait_to_send(request)
        result = await self._call(target.account_id, init, paced=request.paced)
        log.info("tiktok.init_ok", publish_id=result.publish_id, attempt=request.attempt)
        upload = None
        if result.upload_url and target.is_video and plan is not None:
            # The upload URL carries TikTok's upload token: kept worker-side, not in history.
            await delivery.keep_upload_url(result.publish_id, result.upload_url)
            upload = ChunkUpload(
                key=items[0].key,
                publish_id=result.publish_id,
                video_size=plan.video_size,
                chunk_size=plan.chunk_size,
                total_chunk_count=plan.total_chunk_count,
                content_type=items[0].mime_type,
            )
        reported = False
        if request.report_success_to is not None:
            reported = await report_success(request.report_success_to, result.publish_id)
        return InitPublishResult(
            publish_id=result.publish_id, upload=upload, outcome_reported=reported
        )

    @activity.defn(name="fetch_publish_status")
    async def fetch_publish_status(self, query: StatusQuery) -> PublishStatus:
        """One status/fetch call; the workflow owns the polling rhythm. With
        `release_staged`, a final success also deletes the post's staged media: nothing can
        need it again, and the post ends without one more activity. With `wait_seconds`, the
        poll interval before it is waited out here."""
        if query.wait_seconds:
            await asyncio.sleep(query.wait_seconds)
        status = await self._call(
            query.account_id,
            lambda token: self._client.fetch_status(token, query.publish_id),
            paced=query.paced,
        )
        target = query.release_staged
        if target is None or not status.is_success:
            return status
        try:
            released = await asyncio.to_thread(
                self._delivery.store.delete_target, target.post_id, target.account_id
            )
        except StagingError as err:
            # The answer is what matters; the workflow deletes the media itself instead.
            log.warning("media.not_released", code=err.code, publish_id=query.publish_id)
            return status
        return dataclasses.replace(status, staged_media_released=released)

    async def _call(
        self, account_id: str, call: Callable[[str], Awaitable[T]], *, paced: bool = False
    ) -> T:
        """Run `call` with the account's stored token.

        Paced calls (the account entity grants every one) never renew a token here: a
        rejection goes back to the workflow with the rejected token's fingerprint, the post
        reports it, and the entity renews the token once for every worker. Unpaced calls
        (only runs started before the entity existed) still renew once by themselves.
        """
        try:
            stored = await self._tokens.store.load(account_id)
            if paced:
                try:
                    return await call(stored.access_token)
                except TikTokApiError as err:
                    failure = to_application_error(err)
                    if err.rule.refresh_token and failure.details:
                        failure.details[0]["rejected_fingerprint"] = stored.fingerprint
                    raise failure from None
            return await self._call_renewing(account_id, stored, call)
        except TikTokApiError as err:
            raise to_application_error(err) from None
        except TokenError as err:
            raise token_error(err) from None

    async def _call_renewing(
        self, account_id: str, stored: StoredToken, call: Callable[[str], Awaitable[T]]
    ) -> T:
        if stored.expires_at is not None and stored.expires_at - RENEW_AHEAD <= datetime.now(UTC):
            await self._tokens.refresh(account_id, unless_changed_from=stored.fingerprint)
            stored = await self._tokens.store.load(account_id)
        try:
            return await call(stored.access_token)
        except TikTokApiError as err:
            if not err.rule.refresh_token:
                raise
            log.info("tiktok.token_rejected", account_id=account_id, code=err.code)
            await self._tokens.refresh(account_id, unless_changed_from=stored.fingerprint)
            token = await self._tokens.access_token(account_id)
            try:
                return await call(token)
            except TikTokApiError as again:
                if again.rule.refresh_token:
                    raise engine_error(
                        "TOKEN_REFRESH_FAILED",
                        f"account {account_id}: TikTok rejected the freshly refreshed token",
                        retryable=False,
                    ) from None
                raise
