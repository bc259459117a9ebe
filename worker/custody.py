"""Custody settings: which sources may be fetched, and the payload encryption keys.

The worker and every starter read them the same way, from the one settings model
(`worker.settings.Settings`, group Custody; docs/settings.md): `MEDIA_SOURCE_ALLOW_LOOPBACK`,
`TIKTOK_PAYLOAD_KEYS`, `MEDIA_PRIVATE_PREFIX`, `TIKTOK_CODEC_AUTH_TOKEN` and
`TIKTOK_CODEC_CORS_ORIGINS`. This is the view of them the custody code works with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from worker.settings import Settings, load_settings
from workflows.source_addresses import SourceRule

if TYPE_CHECKING:
    from activities.media_store import MediaStore
    from activities.upload_sessions import UploadSessions
    from worker.codec import PayloadKeys

DEFAULT_UI_ORIGIN = "http://localhost:8233"


@dataclass(frozen=True)
class CustodySettings:
    allow_loopback_sources: bool = False
    payload_keys: str = field(default="", repr=False)
    private_prefix: str = "private/"
    codec_auth_token: str = field(default="", repr=False)
    codec_cors_origins: tuple[str, ...] = (DEFAULT_UI_ORIGIN,)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CustodySettings:
        """From `env` (default: the process environment) through the settings model: a bad
        value is a ConfigError naming the variable."""
        return cls.from_settings(load_settings(env))

    @classmethod
    def from_settings(cls, s: Settings) -> CustodySettings:
        return cls(
            allow_loopback_sources=s.allow_loopback_sources,
            payload_keys=s.payload_keys.get_secret_value(),
            private_prefix=s.media_private_prefix,
            codec_auth_token=s.codec_auth_token.get_secret_value(),
            codec_cors_origins=s.codec_cors_origins,
        )

    @property
    def source_rule(self) -> SourceRule:
        return SourceRule(allow_loopback=self.allow_loopback_sources)

    def keys(self) -> PayloadKeys | None:
        """The payload keys, None when encryption is off (raises PayloadKeyError if wrong)."""
        from worker.codec import PayloadKeys

        return PayloadKeys.from_text(self.payload_keys)

    @property
    def upload_sessions_prefix(self) -> str:
        """The key prefix of TikTok's upload URLs in the bucket (deploy/media-lifecycle.json
        expires it)."""
        return self.private_prefix.rstrip("/") + "/upload-sessions/"

    def upload_sessions(self, store: MediaStore) -> UploadSessions:
        """Where the worker keeps TikTok's upload URLs, sealed with the payload key if set."""
        from activities.upload_sessions import UploadSessions

        return UploadSessions(store, prefix=self.upload_sessions_prefix, sealer=self.keys())
