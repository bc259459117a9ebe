"""TikTok's upload URL, kept worker-side: it never enters workflow history.

A FILE_UPLOAD init answers with an `upload_url` whose query carries an `upload_token`: whoever
holds it can write the creator's video for an hour. Workflow history is readable by every
operator of the namespace (and kept for its retention period), so the URL is not returned to
the workflow. `init_publish` stores it here, keyed by the publish_id, and `upload_video`
looks it up, so a worker that crashes mid-upload still lets another worker resume it.

The object lives in the media bucket under a private prefix (`private/upload-sessions/`
by default; never under the public `staged/` one), named by a hash of the publish_id, and is
sealed with the payload key (AES-GCM, the publish_id as associated data) when
`TIKTOK_PAYLOAD_KEYS` is set. It is deleted once the upload completes; a bucket lifecycle
rule on the prefix (expire after a day: the URL is worth nothing after an hour) is the
backstop for uploads that never finish.
"""

from __future__ import annotations

import hashlib
import json
from typing import Protocol

from activities.media_store import MediaStore, StagingError

DEFAULT_PREFIX = "private/upload-sessions/"
UPLOAD_URL_LOST = "UPLOAD_URL_LOST"
_META_KEY_ID = "sealed-with"


class Sealer(Protocol):
    """Authenticated encryption with named keys (`worker.codec.PayloadKeys`)."""

    def seal(self, plaintext: bytes, associated: bytes = b"") -> tuple[str, bytes]: ...

    def open(self, key_id: str, blob: bytes, associated: bytes = b"") -> bytes: ...


class UploadSessions:
    """publish_id -> TikTok's upload URL, in the bucket. Sync: call it from a thread."""

    def __init__(
        self, store: MediaStore, *, prefix: str = DEFAULT_PREFIX, sealer: Sealer | None = None
    ) -> None:
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ValueError("the upload session prefix must end with '/' and not start with one")
        if store.prefix and prefix.startswith(store.prefix):
            raise ValueError(
                f"upload sessions must not live under the public prefix {store.prefix}"
            )
        self._store = store
        self.prefix = prefix
        self._sealer = sealer

    def key_for(self, publish_id: str) -> str:
        return f"{self.prefix}{hashlib.sha256(publish_id.encode()).hexdigest()}"

    def save(self, publish_id: str, upload_url: str) -> None:
        body = json.dumps({"upload_url": upload_url}).encode()
        metadata: dict[str, str] = {}
        if self._sealer is not None:
            key_id, body = self._sealer.seal(body, publish_id.encode())
            metadata[_META_KEY_ID] = key_id
        self._store.put_bytes(self.key_for(publish_id), body, metadata)

    def load(self, publish_id: str) -> str:
        key = self.key_for(publish_id)
        found = self._store.get_bytes(key)
        if found is None:
            raise StagingError(
                UPLOAD_URL_LOST,
                f"TikTok's upload URL for {publish_id} is no longer kept (key {key}): retry "
                "the post so a new upload starts; the unfinished one never goes live.",
                retryable=False,
            )
        body, metadata = found
        key_id = metadata.get(_META_KEY_ID)
        if key_id:
            if self._sealer is None:
                raise StagingError(
                    UPLOAD_URL_LOST,
                    f"TikTok's upload URL for {publish_id} was sealed with payload key "
                    f"{key_id}, but this worker has no TIKTOK_PAYLOAD_KEYS: configure them.",
                    retryable=False,
                )
            try:
                body = self._sealer.open(key_id, body, publish_id.encode())
            except ValueError as err:
                raise StagingError(UPLOAD_URL_LOST, str(err), retryable=False) from None
        url = json.loads(body)["upload_url"]
        if not isinstance(url, str):
            raise StagingError(UPLOAD_URL_LOST, f"{key} holds no upload URL", retryable=False)
        return url

    def forget(self, publish_id: str) -> None:
        self._store.delete([self.key_for(publish_id)])
