"""Worker configuration, all from the environment (twelve-factor), documented in README."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile

from workflows.account_contracts import AccountSettings
from workflows.contracts import TASK_QUEUE


@dataclass(frozen=True)
class WorkerSettings:
    tiktok_base_url: str = "https://open.tiktokapis.com"
    client_key: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    token_file: str = "tokens.json"
    task_queue: str = TASK_QUEUE
    log_format: str = "json"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        return cls(
            tiktok_base_url=env.get("TIKTOK_API_BASE_URL", cls.tiktok_base_url),
            client_key=env.get("TIKTOK_CLIENT_KEY", ""),
            client_secret=env.get("TIKTOK_CLIENT_SECRET", ""),
            token_file=env.get("TIKTOK_TOKEN_FILE", cls.token_file),
            task_queue=env.get("TIKTOK_TASK_QUEUE", cls.task_queue),
            log_format=env.get("LOG_FORMAT", cls.log_format),
            log_level=env.get("LOG_LEVEL", cls.log_level),
        )


@dataclass(frozen=True)
class MediaSettings:
    """Where staged media lives and how TikTok receives it."""

    bucket: str = ""
    endpoint_url: str | None = None
    """For R2, MinIO or a local S3; None means AWS S3 (region and credentials from the usual
    AWS_* variables and files)."""
    public_base_url: str | None = None
    """Base URL under which objects are publicly readable (R2 public URL, CloudFront, ...):
    what TikTok pulls photos (and PULL_FROM_URL videos) from. Must be verified with TikTok."""
    photo_urls: str = "public"
    """public (public_base_url) or presigned (time-limited S3 URLs on the endpoint's host)."""
    video_source: str = "file_upload"
    """file_upload (chunks streamed from the bucket) or pull_from_url (TikTok pulls)."""
    chunk_size: int = 10_000_000
    prefix: str = "staged/"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MediaSettings:
        env = os.environ if env is None else env
        settings = cls(
            bucket=env.get("MEDIA_BUCKET", ""),
            endpoint_url=env.get("MEDIA_S3_ENDPOINT_URL") or None,
            public_base_url=env.get("MEDIA_PUBLIC_BASE_URL") or None,
            photo_urls=env.get("MEDIA_PHOTO_URLS", cls.photo_urls),
            video_source=env.get("TIKTOK_VIDEO_SOURCE", cls.video_source),
            chunk_size=int(env.get("TIKTOK_CHUNK_SIZE", cls.chunk_size)),
            prefix=env.get("MEDIA_PREFIX", cls.prefix),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse a worker that would fail every post later, with the setting to fix."""
        problems = []
        if not self.bucket:
            problems.append("MEDIA_BUCKET is not set: the engine stages all media in a bucket")
        if self.photo_urls not in ("public", "presigned"):
            problems.append("MEDIA_PHOTO_URLS must be public or presigned")
        if self.video_source not in ("file_upload", "pull_from_url"):
            problems.append("TIKTOK_VIDEO_SOURCE must be file_upload or pull_from_url")
        needs_public = self.photo_urls == "public" or self.video_source == "pull_from_url"
        if needs_public and not self.public_base_url:
            problems.append(
                "MEDIA_PUBLIC_BASE_URL is not set, but TikTok must pull media from it "
                "(or set MEDIA_PHOTO_URLS=presigned)"
            )
        if problems:
            raise ConfigError("; ".join(problems))

    def s3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            config=Config(
                s3={"addressing_style": "path"} if self.endpoint_url else {},
                # Some S3-compatible stores reject boto3's newer default checksums.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 4, "mode": "standard"},
            ),
        )


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names it."""


ACCOUNT_ENV_PREFIX = "TIKTOK_ACCOUNT_"


def account_settings_from_env(env: Mapping[str, str] | None = None) -> AccountSettings:
    """Pacing settings of every account entity: `TIKTOK_ACCOUNT_<FIELD>` (for example
    TIKTOK_ACCOUNT_INIT_PER_MINUTE=6, TIKTOK_ACCOUNT_DAILY_POST_CAP=15)."""
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    for name in AccountSettings.model_fields:
        raw = env.get(ACCOUNT_ENV_PREFIX + name.upper())
        if raw not in (None, ""):
            values[name] = raw
    try:
        return AccountSettings.model_validate(values)
    except ValueError as err:
        from pydantic import ValidationError

        if not isinstance(err, ValidationError):
            raise
        problems = "; ".join(
            f"{ACCOUNT_ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in err.errors()
        )
        raise ConfigError(problems) from None


def temporal_connect_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Temporal's own envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
    TEMPORAL_TLS*, TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE (a TOML profile file), exactly
    as the `temporal` CLI reads them, so one setup serves the CLI, the worker and the starter.
    """
    profile = ClientConfigProfile.load(override_env_vars=env)
    config: dict[str, Any] = dict(profile.to_client_connect_config())
    config.setdefault("target_host", "localhost:7233")
    return config


async def connect(env: Mapping[str, str] | None = None) -> Client:
    """A client that speaks our pydantic contracts on the wire, encrypted when
    TIKTOK_PAYLOAD_KEYS is set (worker.codec): the worker, the CLI and every starter."""
    from worker.codec import PayloadKeyError, data_converter_from_env

    config = temporal_connect_config(env)
    target = config.pop("target_host")
    try:
        converter = data_converter_from_env(env)
    except PayloadKeyError as err:
        raise ConfigError(str(err)) from None
    return await Client.connect(target, data_converter=converter, **config)
