"""Activities that talk to TikTok on behalf of PublishPost.

Each activity resolves the account's token itself (so no token ever enters workflow
history), makes one kind of call through `TikTokClient`, and turns a `TikTokApiError` into an
`ApplicationError` whose type is the stable code and whose details say whether retrying helps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.tiktok_client import PullFromUrl, TikTokApiError, TikTokClient
from activities.tokens import TokenError, TokenStore
from workflows.contracts import InitPublishInput, InitPublishResult, StatusQuery
from workflows.errors import Retryability, classify_error
from workflows.request import PublishMode, PublishTarget
from workflows.tiktok import CreatorInfo, PublishStatus

log = structlog.get_logger(__name__)
T = TypeVar("T")


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
    """Bound to one client and one token store per worker."""

    def __init__(self, client: TikTokClient, tokens: TokenStore) -> None:
        self._client = client
        self._tokens = tokens

    @activity.defn(name="query_creator_info")
    async def query_creator_info(self, account_id: str) -> CreatorInfo:
        """What the creator allows right now (privacy options, interactions, max duration)."""
        return await self._call(account_id, lambda token: self._client.query_creator_info(token))

    @activity.defn(name="init_publish")
    async def init_publish(self, request: InitPublishInput) -> InitPublishResult:
        """Create the post on TikTok. Only provably-failed attempts may be retried."""
        target = request.target
        kind = target.kind
        urls = [media.url for media in target.media]

        async def init(token: str) -> InitPublishResult:
            if kind is PublishMode.VIDEO_DIRECT:
                result = await self._client.init_direct_video(
                    token, video_post_info(target), PullFromUrl(urls[0])
                )
            elif kind is PublishMode.VIDEO_INBOX:
                result = await self._client.init_inbox_video(token, PullFromUrl(urls[0]))
            else:
                result = await self._client.init_photo(
                    token,
                    post_mode="DIRECT_POST" if kind is PublishMode.PHOTO_DIRECT else "MEDIA_UPLOAD",
                    post_info=photo_post_info(target),
                    photo_urls=urls,
                    cover_index=target.options.photo_cover_index,
                )
            return InitPublishResult(publish_id=result.publish_id, upload_url=result.upload_url)

        result = await self._call(target.account_id, init)
        log.info("tiktok.init_ok", publish_id=result.publish_id, attempt=request.attempt)
        return result

    @activity.defn(name="fetch_publish_status")
    async def fetch_publish_status(self, query: StatusQuery) -> PublishStatus:
        """One status/fetch call; the workflow owns the polling rhythm."""
        return await self._call(
            query.account_id, lambda token: self._client.fetch_status(token, query.publish_id)
        )

    async def _call(self, account_id: str, call: Callable[[str], Awaitable[T]]) -> T:
        """Run `call` with the account's token; refresh once if TikTok rejects the token."""
        try:
            token = await self._tokens.access_token(account_id)
            try:
                return await call(token)
            except TikTokApiError as err:
                if not err.rule.refresh_token:
                    raise
                log.info("tiktok.token_rejected", account_id=account_id, code=err.code)
                token = await self._tokens.refresh_after_rejection(account_id, token)
                try:
                    return await call(token)
                except TikTokApiError as again:
                    if again.rule.refresh_token:
                        raise _token_error(
                            TokenError(
                                "TOKEN_REFRESH_FAILED",
                                account_id,
                                "TikTok rejected the freshly refreshed token",
                                retryable=False,
                            )
                        ) from None
                    raise
        except TikTokApiError as err:
            raise _application_error(err) from None
        except TokenError as err:
            raise _token_error(err) from None


def _application_error(err: TikTokApiError) -> ApplicationError:
    rule = err.rule
    delay = err.retry_after_seconds
    log.warning(
        "tiktok.call_failed",
        endpoint=err.endpoint.value,
        code=err.code,
        http_status=err.http_status,
        log_id=err.log_id,
        retryability=rule.retryability.value,
    )
    details = err.as_details() | {"meaning": rule.meaning, "remedy": rule.remedy}
    return ApplicationError(
        str(err),
        details,
        type=err.code,
        non_retryable=rule.retryability is not Retryability.RETRYABLE,
        next_retry_delay=timedelta(seconds=delay) if delay else None,
    )


def _token_error(err: TokenError) -> ApplicationError:
    rule = classify_error(err.code)
    retryability = Retryability.RETRYABLE if err.retryable else Retryability.NON_RETRYABLE
    return ApplicationError(
        str(err),
        {
            "code": err.code,
            "retryability": retryability.value,
            "meaning": str(err),
            "remedy": rule.remedy,
        },
        type=err.code,
        non_retryable=not err.retryable,
    )
