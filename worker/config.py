"""Worker configuration, all from the environment (twelve-factor), documented in README."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import Runtime

from telemetry import tracing
from worker.settings import (
    ACCOUNT_ENV_PREFIX,
    ConfigError,
    Settings,
    account_settings_from_env,
    load_settings,
)
from workflows.contracts import TASK_QUEUE

__all__ = [
    "ACCOUNT_ENV_PREFIX",
    "ConfigError",
    "MediaSettings",
    "WorkerSettings",
    "account_settings_from_env",
    "connect",
]


S3_CONNECTIONS = 64
"""Kept connections of the worker's S3 client (botocore's default is 10)."""


def task_pollers(settings: WorkerSettings) -> dict[str, Any]:
    """The Worker's poller behaviour: autoscaled by the server's feedback, up to
    WORKER_MAX_TASK_POLLS per kind of task (the SDK's default is 5 fixed pollers)."""
    from temporalio.worker import PollerBehaviorAutoscaling  # here: the CLI need not load it

    most = settings.max_task_polls
    return {
        "workflow_task_poller_behavior": PollerBehaviorAutoscaling(maximum=most),
        "activity_task_poller_behavior": PollerBehaviorAutoscaling(maximum=most),
    }


def _default(name: str) -> Any:
    """The default declared once, in worker.settings.Settings."""
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class WorkerSettings:
    tiktok_base_url: str = "https://open.tiktokapis.com"
    client_key: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    token_file: str = "tokens.json"
    task_queue: str = TASK_QUEUE
    log_format: str = "json"
    log_level: str = "INFO"
    # Tuning for many long sleepers (see Settings for what each means).
    max_cached_workflows: int = _default("max_cached_workflows")
    strict_sandbox: bool = _default("strict_sandbox")
    max_concurrent_workflow_tasks: int = _default("max_concurrent_workflow_tasks")
    max_concurrent_activities: int = _default("max_concurrent_activities")
    max_task_polls: int = _default("max_task_polls")
    graceful_shutdown_seconds: float = _default("graceful_shutdown_seconds")
    evict_sleepers_after_seconds: float = _default("evict_sleepers_after_seconds")
    admission_waiting_runs: int = _default("admission_waiting_runs")
    # Worker Deployments (opt-in); build_id "" means the package version.
    versioning: bool = False
    deployment_name: str = _default("deployment_name")
    build_id: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        return cls.from_settings(load_settings(env))

    @classmethod
    def from_settings(cls, s: Settings) -> WorkerSettings:
        return cls(
            tiktok_base_url=s.tiktok_base_url,
            client_key=s.client_key,
            client_secret=s.client_secret.get_secret_value(),
            token_file=s.token_file,
            task_queue=s.task_queue,
            log_format=s.log_format,
            log_level=s.log_level,
            max_cached_workflows=s.max_cached_workflows,
            strict_sandbox=s.strict_sandbox,
            max_concurrent_workflow_tasks=s.max_concurrent_workflow_tasks,
            max_concurrent_activities=s.max_concurrent_activities,
            max_task_polls=s.max_task_polls,
            graceful_shutdown_seconds=s.graceful_shutdown_seconds,
            evict_sleepers_after_seconds=s.evict_sleepers_after_seconds,
            admission_waiting_runs=s.admission_waiting_runs,
            versioning=s.versioning,
            deployment_name=s.deployment_name,
            build_id=s.effective_build_id,
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
        return cls.from_settings(load_settings(env))

    @classmethod
    def from_settings(cls, s: Settings) -> MediaSettings:
        settings = cls(
            bucket=s.media_bucket,
            endpoint_url=s.media_endpoint_url,
            public_base_url=s.media_public_base_url,
            photo_urls=s.media_photo_urls,
            video_source=s.video_source,
            chunk_size=s.chunk_size,
            prefix=s.media_prefix,
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
        """The boto3 S3 client of the worker's bucket."""
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
                # Activities share this client (up to WORKER_MAX_CONCURRENT_ACTIVITIES at
                # once, each staging with several parts): botocore's default of 10 kept
                # connections would open and drop one per call beyond that.
                max_pool_connections=S3_CONNECTIONS,
            ),
        )


def temporal_connect_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Temporal's own envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
    TEMPORAL_TLS*, TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE (a TOML profile file), exactly
    as the `temporal` CLI reads them, so one setup serves the CLI, the worker and the starter.
    """
    profile = ClientConfigProfile.load(override_env_vars=env)
    config: dict[str, Any] = dict(profile.to_client_connect_config())
    config.setdefault("target_host", "localhost:7233")
    return config


async def connect(
    env: Mapping[str, str] | None = None, *, runtime: Runtime | None = None
) -> Client:
    """A client that speaks our pydantic contracts on the wire, encrypted when
    TIKTOK_PAYLOAD_KEYS is set (worker.codec), traced when tracing is on (telemetry.tracing),
    its SDK metrics on `runtime` when given: the worker, the CLI and every starter."""
    from worker.codec import PayloadKeyError, data_converter_from_env

    config = temporal_connect_config(env)
    target = config.pop("target_host")
    try:
        converter = data_converter_from_env(env)
    except PayloadKeyError as err:
        raise ConfigError(str(err)) from None
    return await Client.connect(
        target,
        data_converter=converter,
        interceptors=tracing.client_interceptors(),
        runtime=runtime,
        **config,
    )
