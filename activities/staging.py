"""Custody of the media: copy it into our bucket at submit time, send it to TikTok from there.

`stage_media` streams each source URL into S3 (constant memory), then measures what arrived
(real type, duration, dimensions) so the workflow checks facts, not declarations. It is
idempotent: an object a previous attempt or an earlier run finished is reused, not
downloaded again. `upload_video` sends a staged video to TikTok's upload URL in TikTok's
chunks, resuming after a crash from the last chunk TikTok acknowledged. Blocking S3 and HTTP
work runs in a thread; the activity's own loop heartbeats and reports progress to the
workflow (a `media_progress` signal), which is what the `state` query and the UI show.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath
from typing import TypeVar
from urllib.parse import urlsplit

import structlog
from temporalio import activity
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from activities.chunks import ChunkPlan, ChunkPlanError, plan_chunks
from activities.failures import engine_error, to_application_error
from activities.media_info import probe
from activities.media_probe import MediaFacts, MediaProbeError
from activities.media_store import MediaStore, StagingError, reject_web_pages
from activities.safe_fetch import guarded_client
from activities.tiktok_client import (
    FileUpload,
    PullFromUrl,
    TikTokApiError,
    TikTokClient,
    VideoSource,
)
from activities.upload_sessions import UPLOAD_URL_LOST, UploadSessions
from workflows.contracts import (
    AttemptMedia,
    ChunkUpload,
    MediaProgress,
    StagedItem,
    StagedMedia,
    StagedTarget,
    StagingRetry,
    VideoDelivery,
)
from workflows.post import MediaItem, MediaType, PublishTarget
from workflows.search_attributes import STAGING_ERROR
from workflows.source_addresses import SourceRule
from workflows.validation import (
    TIKTOK_MAX_PHOTO_BYTES,
    TIKTOK_MAX_VIDEO_BYTES,
    ValidationPolicy,
    measured_findings,
    validate_target,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

PROGRESS_SIGNAL = "media_progress"
RETRY_SIGNAL = "staging_retry"


@dataclass(frozen=True)
class MediaDelivery:
    """How TikTok receives staged media (worker configuration, not workflow state)."""

    store: MediaStore
    photo_urls: str = "public"
    video_source: str = "file_upload"
    chunk_size: int = 10_000_000
    presign_seconds: int = 3 * 3600
    upload_sessions: UploadSessions | None = None
    """Where TikTok's upload URLs are kept (default: the store's bucket, unsealed)."""

    @property
    def sessions(self) -> UploadSessions:
        return self.upload_sessions or UploadSessions(self.store)

    async def keep_upload_url(self, publish_id: str, upload_url: str) -> None:
        """Keep TikTok's upload URL worker-side. Never fails the init TikTok accepted: a lost
        URL ends the upload with UPLOAD_URL_LOST (nothing went live), an init repeated
        after a success could post twice."""
        try:
            await asyncio.to_thread(self.sessions.save, publish_id, upload_url)
        except StagingError as err:
            log.error("upload_url.not_kept", publish_id=publish_id, code=err.code)

    def video_source_for(
        self, item: StagedItem, recorded: str | None = None
    ) -> tuple[VideoSource, ChunkPlan | None]:
        """TikTok's source for a staged video: the delivery `recorded` when it was staged
        (the workflow relies on it after a lost answer), else this worker's setting."""
        if (recorded or self.video_source) == "pull_from_url":
            return PullFromUrl(self.store.public_url(item.key)), None
        plan = plan_chunks(item.size_bytes, self.chunk_size)
        return FileUpload(plan.video_size, plan.chunk_size, plan.total_chunk_count), plan

    def pulled_copies(
        self, items: list[StagedItem], attempt: str, *, made: bool = False
    ) -> list[StagedItem]:
        """Each staged object copied for this init attempt alone (sync: call from a thread);
        `made`: the copies exist already (made while the post got ready), only name them.
        TikTok pulls the copy; after a lost answer the copy is withdrawn, and a pull that
        has not happened yet can no longer succeed."""
        copies = []
        for item in items:
            key = self.store.attempt_key(item.key, attempt)
            if not made:
                self.store.copy(item.key, key, size=item.size_bytes)
            copies.append(item.model_copy(update={"key": key}))
        return copies

    def photo_url(self, item: StagedItem) -> str:
        if self.photo_urls == "presigned":
            return self.store.presigned_url(item.key, self.presign_seconds)
        return self.store.public_url(item.key)


class MediaActivities:
    def __init__(
        self,
        store: MediaStore,
        tiktok: TikTokClient,
        temporal: Client | None = None,
        *,
        transfer_threads: int = 16,
        source_rule: SourceRule | None = None,
        upload_sessions: UploadSessions | None = None,
        video_source: VideoDelivery = "file_upload",
    ) -> None:
        self._store = store
        self._video_source: VideoDelivery = video_source
        self._sessions = upload_sessions or UploadSessions(store)
        self._tiktok = tiktok
        self._temporal = temporal
        # Every download of a caller's URL goes through the guarded fetcher.
        self._http = guarded_client(source_rule or SourceRule())
        # Long copies get their own threads, so they never starve the token store or the
        # upload's reads sharing asyncio's small default pool.
        self._threads = ThreadPoolExecutor(transfer_threads, thread_name_prefix="media")
        self._staging_attribute: bool | None = None

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def _reporter(self, step: str, total: int | None) -> _Reporter:
        return _Reporter(self._temporal, step, total, self._threads)

    @activity.defn(name="stage_media")
    async def stage_media(self, target: PublishTarget) -> StagedMedia:
        """Copy every media file of the post into the bucket and measure it."""
        try:
            return await self._stage_media(target)
        except ApplicationError as err:
            if not err.non_retryable:
                await self._tell_retry(err.type or "ACTIVITY_FAILED", err.message, err)
            raise
        except Exception as err:  # a cancel is a BaseException: never reported as a failure
            await self._tell_retry("ACTIVITY_FAILED", f"{type(err).__name__}: {err}", None)
            raise

    async def _tell_retry(self, code: str, message: str, err: ApplicationError | None) -> None:
        """Tell the workflow this attempt failed and when Temporal tries again (a courtesy:
        never changes the failure itself)."""
        info = activity.info()
        if self._temporal is None or not info.workflow_id:
            return
        retry = StagingRetry(
            index=await self._staging_error_registered(),
            attempt=info.attempt,
            code=code,
            message=message,
            retry_in_seconds=next_attempt_in(
                info.attempt, info.retry_policy, err.next_retry_delay if err else None
            ),
        )
        handle = self._temporal.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
        try:
            await handle.signal(RETRY_SIGNAL, retry)
        except Exception as failure:
            log.info("media.retry_not_told", error=type(failure).__name__)

    async def _staging_error_registered(self) -> bool:
        """Whether the namespace knows TikTokStagingError (asked once per worker): a cluster
        where `setup` was not re-run still shows the retries in `state`, only not in search."""
        if self._staging_attribute is None and self._temporal is not None:
            try:
                listed = await self._temporal.operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace=self._temporal.namespace)
                )
                self._staging_attribute = STAGING_ERROR.name in listed.custom_attributes
            except Exception as err:  # no operator permission (Temporal Cloud): do not set it
                log.info("media.search_attribute_unknown", error=type(err).__name__)
                self._staging_attribute = False
        return bool(self._staging_attribute)

    async def _stage_media(self, target: PublishTarget) -> StagedMedia:
        total = sum(item.size_bytes or 0 for item in target.media) or None
        reporter = self._reporter("staging", total)
        items: list[StagedItem] = []
        for index, item in enumerate(target.media):
            progress = functools.partial(_offset_progress, reporter, reporter.done)
            staged = await reporter.run(
                functools.partial(self._stage_one, target, index, item, progress)
            )
            items.append(staged)
            progress(staged.size_bytes)
        staged_media = StagedMedia(
            items=items, video_source=self._video_source if target.is_video else None
        )
        await self._refuse_what_fails_its_checks(target, staged_media)
        log.info("media.staged", items=len(items), reused=sum(i.reused for i in items))
        return staged_media

    async def _refuse_what_fails_its_checks(
        self, target: PublishTarget, staged: StagedMedia
    ) -> None:
        """TikTok's rules on the measured facts: media that breaks them is deleted now (a
        retry cannot fix it, and nothing that failed a check stays in the bucket)."""
        # The workflow's own definition of "the target as measured" (imported late: the
        # workflow module imports the activities for its typed references).
        from workflows.publish_media import measured_target

        problems = validate_target(measured_target(target, staged), ValidationPolicy())
        if not problems:
            return
        keys = [item.key for item in staged.items]
        await asyncio.get_running_loop().run_in_executor(self._threads, self._store.delete, keys)
        first = problems[0]
        message = f"{first.field}: {first.message}"
        raise ApplicationError(
            message,
            {
                "code": first.code,
                "retryability": "non_retryable",
                "meaning": message,
                "remedy": "Fix the file at its source URL and run `tiktok-publisher retry "
                "POST_ID ACCOUNT_ID` (the staged copy was deleted, so the retry copies it "
                "again), or submit the fixed post under a new postId.",
                "problems": [p.as_dict() for p in problems],
            },
            type=first.code,
            non_retryable=True,
        )

    @activity.defn(name="upload_video")
    async def upload_video(self, upload: ChunkUpload) -> int:
        """Send the staged video to TikTok chunk by chunk; resume from TikTok's progress."""
        plan = ChunkPlan(upload.video_size, upload.chunk_size, upload.total_chunk_count)
        details = activity.info().heartbeat_details
        done = int(details[0]) if details else 0
        reporter = self._reporter("uploading", plan.video_size)
        reporter.set(done)
        try:
            upload_url = await self._upload_url(upload)
            index = plan.chunk_index_for_offset(done)
            while index < plan.total_chunk_count:
                first, last = plan.chunk_range(index)
                data = await reporter.run(
                    functools.partial(self._store.read_range, upload.key, first, last)
                )
                ack = await reporter.during(
                    self._tiktok.upload_chunk(
                        upload_url,
                        data,
                        first_byte=first,
                        total_bytes=plan.video_size,
                        content_type=upload.content_type,
                    )
                )
                reporter.set(ack.uploaded_bytes)
                activity.heartbeat(ack.uploaded_bytes)
                if ack.complete:
                    break
                # Normally the next chunk; after a crash TikTok's 416 tells us where it is.
                index = plan.chunk_index_for_offset(ack.uploaded_bytes)
            await reporter.flush()
            if upload.publish_id:
                await reporter.run(functools.partial(self._forget, upload.publish_id))
        except TikTokApiError as err:
            raise to_application_error(err) from None
        except (StagingError, ChunkPlanError) as err:
            retryable = isinstance(err, StagingError) and err.retryable
            # The message alone: the code travels as the error's type, never twice in the text.
            raise engine_error(err.code, err.message, retryable=retryable) from None
        log.info("media.uploaded", bytes=plan.video_size, chunks=plan.total_chunk_count)
        return plan.video_size

    async def _upload_url(self, upload: ChunkUpload) -> str:
        if upload.upload_url:  # a history written before the URL was kept worker-side
            return upload.upload_url
        if not upload.publish_id:
            raise StagingError(
                UPLOAD_URL_LOST, "The upload names no publish_id to find its URL by.",
                retryable=False,
            )  # fmt: skip
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, self._sessions.load, upload.publish_id
        )

    def _forget(self, publish_id: str) -> None:
        try:
            self._sessions.forget(publish_id)
        except StagingError as err:  # the lifecycle rule removes it later
            log.info("upload_url.not_forgotten", code=err.code)

    @activity.defn(name="delete_staged_media")
    async def delete_staged_media(self, target: StagedTarget) -> int:
        """Remove every staged object of the target, however far staging got (idempotent)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._threads, self._store.delete_target, target.post_id, target.account_id
            )
        except StagingError as err:
            raise engine_error(err.code, err.message, retryable=err.retryable) from None

    @activity.defn(name="withdraw_attempt_media")
    async def withdraw_attempt_media(self, attempt: AttemptMedia) -> int:
        """Delete one init attempt's pulled copies at once (idempotent)."""
        prefix = self._store.attempt_prefix(attempt.post_id, attempt.account_id, attempt.attempt)
        try:
            removed = await asyncio.get_running_loop().run_in_executor(
                self._threads, self._store.delete_under, prefix
            )
        except StagingError as err:
            raise engine_error(err.code, str(err), retryable=err.retryable) from None
        log.info("media.attempt_withdrawn", attempt=attempt.attempt, objects=removed)
        return removed

    # -- one file ----------------------------------------------------------------------

    def _discard(self, key: str) -> None:
        """Delete what failed a check at once; never mask the check's own error."""
        try:
            self._store.delete([key])
        except StagingError as err:
            log.warning("media.discard_failed", key=key, code=err.code)

    def _stage_one(
        self,
        target: PublishTarget,
        index: int,
        item: MediaItem,
        progress: Callable[[int], None],
    ) -> StagedItem:
        """Runs in a thread: blocking boto3 and httpx calls."""
        key = self._store.object_key(
            target.post_id, target.account_id, index, item.url, _extension(item)
        )
        field = f"media[{index}]"
        try:
            existing = self._store.head(key)
            reused = existing is not None and existing.matches_source(item.url)
            if existing is not None and reused:
                size = existing.size
                progress(size)
            else:
                limit = TIKTOK_MAX_VIDEO_BYTES if item.is_video else TIKTOK_MAX_PHOTO_BYTES
                stored = self._store.stream_from_url(
                    self._http,
                    item.url,
                    key,
                    max_bytes=limit,
                    expected_size=item.size_bytes,
                    on_progress=progress,
                    first_bytes_check=reject_web_pages(item.url),
                )
                size = stored.size
            facts = probe(self._store.reader(key))
            _check_kind(item, facts, field)
            _check_facts(item, facts, field)
        except StagingError as err:
            if not err.retryable:
                self._discard(key)
            raise engine_error(
                err.code, f"{field}: {err.message}", retryable=err.retryable
            ) from None
        except MediaProbeError as err:
            self._discard(key)
            raise engine_error(err.code, f"{field}: {err.message}", retryable=False) from None
        except ApplicationError:
            self._discard(key)
            raise
        return StagedItem(
            index=index,
            key=key,
            source_url_host=urlsplit(item.url).hostname or "",
            size_bytes=size,
            mime_type=facts.mime_type,
            duration_seconds=facts.duration_seconds,
            width=facts.width,
            height=facts.height,
            container=facts.container,
            video_codec=facts.video_codec,
            frame_rate=facts.frame_rate,
            rotation=facts.rotation,
            bitrate=facts.bitrate,
            reused=reused,
        )


def _check_kind(item: MediaItem, facts: MediaFacts, field: str) -> None:
    """The bytes must be what the request says they are (a photo is an image, ...)."""
    declared = "video" if item.type is MediaType.VIDEO else "photo"
    actual_ok = facts.kind.is_video if item.is_video else facts.kind.is_image
    if not actual_ok:
        raise engine_error(
            "TT_MEDIA_TYPE_MISMATCH",
            f"{field}: declared a {declared}, but the file is {facts.kind.value} "
            f"({facts.mime_type}). Fix the media item's type or the file.",
            retryable=False,
        )


def _check_facts(item: MediaItem, facts: MediaFacts, field: str) -> None:
    """TikTok's limits on codec, frame rate and picture size, measured by libmediainfo."""
    findings = measured_findings(
        is_video=item.is_video,
        codec=facts.video_codec,
        frame_rate=facts.frame_rate,
        width=facts.width,
        height=facts.height,
    )
    if findings:
        first = findings[0]
        raise engine_error(first.code, f"{field}: {first.message}", retryable=False)


def next_attempt_in(
    attempt: int, policy: RetryPolicy | None, delay: timedelta | None
) -> float | None:
    """Seconds until Temporal starts the attempt after `attempt` fails; None if none comes."""
    if policy is None:
        return None
    if policy.maximum_attempts and attempt >= policy.maximum_attempts:
        return None
    if delay is not None:
        return delay.total_seconds()
    seconds = policy.initial_interval.total_seconds() * policy.backoff_coefficient ** (attempt - 1)
    if policy.maximum_interval is not None:
        seconds = min(seconds, policy.maximum_interval.total_seconds())
    return seconds


def _extension(item: MediaItem) -> str:
    suffix = PurePosixPath(urlsplit(item.url).path).suffix.lower().lstrip(".")
    if suffix.isalnum() and 0 < len(suffix) <= 5:
        return suffix
    return "mp4" if item.is_video else "jpg"


def _offset_progress(reporter: _Reporter, base: int, done: int) -> None:
    reporter.set(base + done)


class TransferStopped(Exception):
    """The activity attempt ended (timeout, cancel): its thread stops copying."""


class _Reporter:
    """Progress of one activity: heartbeats every tick, signals the workflow now and then.

    Signals are rare on purpose (every SIGNAL_SECONDS at most): each one is history, and a
    transfer of hours must not fill a workflow's history with progress.
    """

    TICK_SECONDS = 2.0
    SIGNAL_SECONDS = 15.0

    def __init__(
        self, temporal: Client | None, step: str, total: int | None, threads: ThreadPoolExecutor
    ) -> None:
        self._temporal = temporal
        self._step = step
        self._total = total
        self._threads = threads
        self.done = 0
        self._sent: int | None = None
        self._last_signal = time.monotonic()
        self._stopped = False

    def set(self, done: int) -> None:
        """Called from the copying thread too: stops it once the attempt is over."""
        if self._stopped:
            raise TransferStopped("the activity attempt ended")
        self.done = done  # an int store is atomic

    async def run(self, work: Callable[[], T]) -> T:
        """Run blocking `work` in a transfer thread, heartbeating and reporting meanwhile."""
        loop = asyncio.get_running_loop()
        return await self.during(loop.run_in_executor(self._threads, work))

    async def during(self, work: Awaitable[T]) -> T:
        """Await `work`, heartbeating meanwhile: a slow transfer is alive, not dead."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                finished, _ = await asyncio.wait({task}, timeout=self.TICK_SECONDS)
                activity.heartbeat(self.done)
                if finished:
                    return task.result()
                await self._signal()
        finally:
            if not task.done():
                self._stopped = True  # the thread sees it at its next progress report
                task.cancel()

    async def flush(self) -> None:
        await self._signal(force=True)

    async def _signal(self, *, force: bool = False) -> None:
        if self._temporal is None or self.done == self._sent:
            return
        now = time.monotonic()
        if not force and now - self._last_signal < self.SIGNAL_SECONDS:
            return
        info = activity.info()
        if not info.workflow_id:
            return
        handle = self._temporal.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
        progress = MediaProgress(step=self._step, done_bytes=self.done, total_bytes=self._total)
        try:
            await handle.signal(PROGRESS_SIGNAL, progress)
        except Exception as err:  # progress is a courtesy: never fail the transfer for it
            log.info("media.progress_not_sent", error=type(err).__name__)
            return
        self._sent, self._last_signal = self.done, now
