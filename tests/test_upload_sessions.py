"""TikTok's upload URL is kept worker-side, sealed when a payload key is set."""

from __future__ import annotations

import pytest

from activities.media_store import MediaStore, StagingError
from activities.staging import MediaActivities
from activities.tiktok_client import TikTokClient
from activities.upload_sessions import UploadSessions
from tests.s3_support import S3Bucket, moto_endpoint, s3_bucket
from worker.codec import PayloadKeys
from workflows.contracts import ChunkUpload

__all__ = ["moto_endpoint", "s3_bucket"]

URL = "https://open-upload.tiktokapis.com/upload/?upload_id=1&upload_token=secret-token"
KEYS = PayloadKeys.parse(PayloadKeys.generate("u1"))


@pytest.fixture
def store(s3_bucket: S3Bucket) -> MediaStore:
    return MediaStore(s3_bucket.client, s3_bucket.name, prefix="staged/")


def stored(bucket: S3Bucket) -> dict[str, bytes]:
    listing = bucket.client.list_objects_v2(Bucket=bucket.name)
    return {
        o["Key"]: bucket.client.get_object(Bucket=bucket.name, Key=o["Key"])["Body"].read()
        for o in listing.get("Contents", [])
    }


def test_a_sealed_session_holds_no_readable_token(store: MediaStore, s3_bucket: S3Bucket) -> None:
    sessions = UploadSessions(store, sealer=KEYS)
    sessions.save("v_pub_file~v2-1.7", URL)
    [(key, body)] = stored(s3_bucket).items()
    assert key.startswith("private/upload-sessions/") and "v_pub" not in key
    assert b"upload_token" not in body and b"secret-token" not in body
    assert sessions.load("v_pub_file~v2-1.7") == URL
    sessions.forget("v_pub_file~v2-1.7")
    assert stored(s3_bucket) == {}


def test_without_a_key_it_is_stored_privately_and_found_by_another_worker(
    store: MediaStore,
) -> None:
    UploadSessions(store).save("p1", URL)
    assert UploadSessions(store).load("p1") == URL  # a fresh worker, after a crash


def test_a_lost_or_unreadable_session_is_a_coded_failure(store: MediaStore) -> None:
    with pytest.raises(StagingError) as lost:
        UploadSessions(store).load("never-saved")
    assert lost.value.code == "UPLOAD_URL_LOST" and not lost.value.retryable
    UploadSessions(store, sealer=KEYS).save("p2", URL)
    other = PayloadKeys.parse(PayloadKeys.generate("u1"))  # same id, different key
    with pytest.raises(StagingError) as wrong:
        UploadSessions(store, sealer=other).load("p2")
    assert wrong.value.code == "UPLOAD_URL_LOST"
    # Rotation: a key listed after the current one still opens what it sealed.
    rotated = PayloadKeys(
        ((("u2", PayloadKeys.parse(PayloadKeys.generate("u2")).keys[0][1])), *KEYS.keys)
    )
    assert UploadSessions(store, sealer=rotated).load("p2") == URL


def test_sessions_never_live_under_the_public_prefix(store: MediaStore) -> None:
    with pytest.raises(ValueError, match="public prefix"):
        UploadSessions(store, prefix="staged/upload-sessions/")


async def test_an_old_chunk_upload_with_its_url_still_works(store: MediaStore) -> None:
    async with TikTokClient("http://127.0.0.1:9") as tiktok:
        activities = MediaActivities(store, tiktok)
        try:
            old = ChunkUpload.model_validate(
                {"key": "k", "upload_url": URL, "video_size": 1, "chunk_size": 1,
                 "total_chunk_count": 1, "content_type": "video/mp4"}
            )  # fmt: skip
            assert await activities._upload_url(old) == URL
            UploadSessions(store).save("p3", "https://u.example/p3")
            new = old.model_copy(update={"upload_url": None, "publish_id": "p3"})
            assert await activities._upload_url(new) == "https://u.example/p3"
            assert "upload_url" not in new.model_dump(exclude_none=True)
        finally:
            activities.close()
