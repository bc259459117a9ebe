"""Media custody for PublishPost: staging the media into the bucket at acceptance, uploading
a FILE_UPLOAD video's chunks to TikTok, deleting the staged copies when nothing can need
them again, and the target as its bytes really are (`measured_target`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.staging import MediaActivities
    from workflows import search_attributes as sa
    from workflows.contracts import (
        ChunkUpload,
        Phase,
        PostError,
        PublishSettings,
        StagedMedia,
        StagedTarget,
    )
    from workflows.publish_base import PostBase
    from workflows.publish_calls import (
        CALL_TIMEOUT,
        READ_RETRY,
        TRANSFER_RETRY,
        TRANSFER_TIMEOUT,
        PostFailed,
        activity_error,
        fmt_size,
    )
    from workflows.request import MediaItem, PublishTarget


class MediaCustody(PostBase):
    """The post's media, from its source to TikTok and out of the bucket."""

    _staging: asyncio.Task[StagedMedia] | None
    _staging_code: str | None
    """What TikTokStagingError holds now."""

    async def _stage(self, target: PublishTarget, settings: PublishSettings) -> StagedMedia:
        count = len(target.media)
        workflow.set_current_details(f"Staging {count} media file(s) into the bucket.")
        # A task, so that `cancel` can stop a copy in progress instead of waiting for it.
        self._staging = asyncio.ensure_future(
            workflow.execute_activity_method(
                MediaActivities.stage_media,
                target,
                start_to_close_timeout=TRANSFER_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=settings.transfer_heartbeat_seconds),
                retry_policy=TRANSFER_RETRY,
                summary=f"stage {count} media file(s)",
                # On cancel, wait until the copy has really stopped (its multipart upload
                # aborted) before cleaning up, so nothing is written after the cleanup.
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        )
        try:
            staged: StagedMedia = await self._staging
        except ActivityError as err:
            raise PostFailed(activity_error(err)) from None
        except asyncio.CancelledError:
            if self._current.phase is not Phase.CANCELLED:
                raise
            raise PostFailed(
                PostError(code="CANCELLED", message="Cancelled while the media was being staged.")
            ) from None
        finally:
            self._current.progress = None
            self._staging = None
            self._staging_over()
        self._current.staged_media = list(staged.items)
        size = sum(item.size_bytes for item in staged.items)
        reused = " (already staged)" if all(item.reused for item in staged.items) else ""
        self._log(f"media staged: {count} file(s), {fmt_size(size)}{reused}")
        return staged

    async def _upload(self, upload: ChunkUpload, settings: PublishSettings) -> None:
        """Chunks are safe to resend, so the upload retries freely (resuming each time)."""
        workflow.set_current_details("Uploading the video to TikTok.")
        try:
            await workflow.execute_activity_method(
                MediaActivities.upload_video,
                upload,
                start_to_close_timeout=TRANSFER_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=settings.transfer_heartbeat_seconds),
                retry_policy=TRANSFER_RETRY,
                summary=f"upload {upload.total_chunk_count} chunk(s)",
            )
        except ActivityError as err:
            raise PostFailed(activity_error(err)) from None
        finally:
            self._current.progress = None
        chunks = upload.total_chunk_count
        self._log(f"uploaded {fmt_size(upload.video_size)} in {chunks} chunk(s)")

    async def _delete_staged(self, settings: PublishSettings, *, after_success: bool) -> None:
        """Nothing can need the media again; a FAILED post keeps it for `retry`."""
        if after_success and self._staged_released:
            return  # the status check that saw the post live deleted it
        keep = settings.staged_media_retention_seconds if after_success else 0
        if keep > 0:
            await workflow.sleep(timedelta(seconds=keep), summary="keep staged media")
        target = StagedTarget(post_id=self._target.post_id, account_id=self._target.account_id)
        try:
            await workflow.execute_activity_method(
                MediaActivities.delete_staged_media,
                target,
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=READ_RETRY,
                summary="delete staged media",
            )
        except ActivityError as err:
            # The post itself is done; a bucket lifecycle rule removes leftovers.
            self._log(f"staged media not deleted ({activity_error(err).code})")
            return
        self._log("staged media deleted")

    def _staging_over(self) -> None:
        """Staging ended (copied, failed or cancelled): no retry is pending any more."""
        state = self._current
        state.staging_error = None
        state.next_staging_attempt_at = None
        if self._staging_code is not None:
            workflow.upsert_search_attributes([sa.STAGING_ERROR.value_unset()])
            self._staging_code = None


def measured_target(target: PublishTarget, staged: StagedMedia) -> PublishTarget:
    """The target as its bytes really are: measured type, size, duration and dimensions
    replace what the request declared (declared values stay where nothing was measured)."""
    media: list[MediaItem] = []
    for item, facts in zip(target.media, staged.items, strict=True):
        media.append(
            item.model_copy(
                update={
                    "mime_type": facts.mime_type,
                    "size_bytes": facts.size_bytes,
                    "duration_seconds": facts.duration_seconds or item.duration_seconds,
                    "width": facts.width or item.width,
                    "height": facts.height or item.height,
                }
            )
        )
    return target.model_copy(update={"media": media})
