"""Custody settings: which sources may be fetched, and the payload encryption keys.

Read from the environment in this one place, by the worker and by every starter alike:

- `MEDIA_SOURCE_ALLOW_LOOPBACK` (off): `1` lets media sources on loopback through (the local
  stack and the tests); link-local and metadata addresses are never allowed;
- `TIKTOK_PAYLOAD_KEYS` (none): `id2:base64key,id1:base64key`, AES-256-GCM keys for workflow
  payloads; the first encrypts, every one decrypts (rotation);
- `MEDIA_PRIVATE_PREFIX` (`private/`): key prefix of worker-only objects in the media bucket
  (TikTok's upload URLs, under `upload-sessions/`); must not be publicly readable;
- `TIKTOK_CODEC_AUTH_TOKEN` (none): the bearer token the codec server requires;
- `TIKTOK_CODEC_CORS_ORIGINS` (`http://localhost:8233`): origins allowed to call the codec
  server (the Temporal UI's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workflows.source_addresses import SourceRule

if TYPE_CHECKING:
    from activities.media_store import MediaStore
    from activities.upload_sessions import UploadSessions
    from worker.codec import PayloadKeys

DEFAULT_UI_ORIGIN = "http://localhost:8233"
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class CustodySettings:
    allow_loopback_sources: bool = False
    payload_keys: str = field(default="", repr=False)
    private_prefix: str = "private/"
    codec_auth_token: str = field(default="", repr=False)
    codec_cors_origins: tuple[str, ...] = (DEFAULT_UI_ORIGIN,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CustodySettings:
        env = os.environ if env is None else env
        origins = env.get("TIKTOK_CODEC_CORS_ORIGINS", DEFAULT_UI_ORIGIN)
        return cls(
            allow_loopback_sources=env.get("MEDIA_SOURCE_ALLOW_LOOPBACK", "").strip().lower()
            in _TRUE,
            payload_keys=env.get("TIKTOK_PAYLOAD_KEYS", ""),
            private_prefix=env.get("MEDIA_PRIVATE_PREFIX", cls.private_prefix),
            codec_auth_token=env.get("TIKTOK_CODEC_AUTH_TOKEN", ""),
            codec_cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        )

    @property
    def source_rule(self) -> SourceRule:
        return SourceRule(allow_loopback=self.allow_loopback_sources)

    def keys(self) -> PayloadKeys | None:
        """The payload keys, None when encryption is off (raises PayloadKeyError if wrong)."""
        from worker.codec import PayloadKeys

        return PayloadKeys.from_text(self.payload_keys)

    def upload_sessions(self, store: MediaStore) -> UploadSessions:
        """Where the worker keeps TikTok's upload URLs, sealed with the payload key if set."""
        from activities.upload_sessions import UploadSessions

        prefix = self.private_prefix.rstrip("/") + "/upload-sessions/"
        return UploadSessions(store, prefix=prefix, sealer=self.keys())
