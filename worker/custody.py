"""Custody settings: which sources may be fetched, and the payload encryption keys.

Read from the environment in this one place, by the worker and by every starter alike:

- `MEDIA_SOURCE_ALLOW_LOOPBACK` (off): `1` lets media sources on loopback through (the local
  stack and the tests); link-local and metadata addresses are never allowed;
- `TIKTOK_PAYLOAD_KEYS` (none): `id2:base64key,id1:base64key`, AES-256-GCM keys for workflow
  payloads; the first encrypts, every one decrypts (rotation);
- `TIKTOK_CODEC_AUTH_TOKEN` (none): the bearer token the codec server requires;
- `TIKTOK_CODEC_CORS_ORIGINS` (`http://localhost:8233`): origins allowed to call the codec
  server (the Temporal UI's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from workflows.source_addresses import SourceRule

DEFAULT_UI_ORIGIN = "http://localhost:8233"
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class CustodySettings:
    allow_loopback_sources: bool = False
    payload_keys: str = field(default="", repr=False)
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
            codec_auth_token=env.get("TIKTOK_CODEC_AUTH_TOKEN", ""),
            codec_cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        )

    @property
    def source_rule(self) -> SourceRule:
        return SourceRule(allow_loopback=self.allow_loopback_sources)
