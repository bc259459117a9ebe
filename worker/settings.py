"""Every setting of the engine, in one typed model read from the environment.

The worker, the starter (CLI, Python API, HTTP API) and the local stack all read `Settings`,
so a value the worker would refuse is refused by the starter too, with the same sentence.
Temporal's own connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE) are not here: Temporal's envconfig
reads them exactly as the `temporal` CLI does (see `worker.config.temporal_connect_config`).

`docs/settings.md` is generated from this model (`tiktok-publisher generate`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from importlib import metadata
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from workflows.account_contracts import AccountSettings
from workflows.contracts import TASK_QUEUE

MB = 1_000_000


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names it."""


def package_version() -> str:
    try:
        return metadata.version("tiktok-publisher")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "0.0.0"


def _setting(
    env: str, default: Any, doc: str, *, group: str, used_by: str = "worker", **kw: Any
) -> Any:
    """A field read from variable `env`; `group` and `used_by` feed the generated docs."""
    return Field(
        default,
        validation_alias=env,
        description=doc,
        json_schema_extra={"group": group, "used_by": used_by},
        **kw,
    )


URL_FIELDS = (
    "tiktok_base_url",
    "media_endpoint_url",
    "media_public_base_url",
    "temporal_ui_url",
    "authorize_url",
    "redirect_uri",
)
"""Fields that must be http(s) URLs."""

CommaList = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """The engine's settings. Construct with `load_settings()` to get a `ConfigError` (one
    sentence per bad variable) rather than pydantic's ValidationError."""

    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, case_sensitive=True
    )

    # -- TikTok ------------------------------------------------------------------------------
    tiktok_base_url: str = _setting(
        "TIKTOK_API_BASE_URL",
        "https://open.tiktokapis.com",
        "TikTok's API; point it at the simulator locally",
        group="TikTok",
        used_by="worker, API",
    )
    client_key: str = _setting(
        "TIKTOK_CLIENT_KEY",
        "",
        "your TikTok app's client key (token refresh; connecting accounts)",
        group="TikTok",
        used_by="worker, API",
    )
    client_secret: SecretStr = _setting(
        "TIKTOK_CLIENT_SECRET",
        SecretStr(""),
        "your TikTok app's client secret (token refresh; connecting accounts); never logged",
        group="TikTok",
        used_by="worker, API",
    )
    webhook_fallback_poll_seconds: float = _setting(
        "TIKTOK_WEBHOOK_FALLBACK_POLL_SECONDS",
        0,
        "set (e.g. `900`) once TikTok's webhooks reach `POST /v1/webhooks/tiktok`: each "
        "event wakes its post for one confirming status fetch and polling runs only this "
        "often, as a fallback; 0 polls with backoff as before (README, Webhooks)",
        group="TikTok",
        used_by="starter",
        ge=0,
    )
    ambiguity_evidence_window_seconds: float = _setting(
        "TIKTOK_AMBIGUITY_EVIDENCE_WINDOW_SECONDS",
        900,
        "with TikTok's webhooks (`TIKTOK_WEBHOOK_FALLBACK_POLL_SECONDS`): how long a pulled "
        "post whose init answer was lost waits for TikTok's event about that publish (adopt "
        "it if live, start again if its pull failed) before AMBIGUOUS_INIT; 0 ends it "
        "AMBIGUOUS_INIT at once (runbook, section 5)",
        group="TikTok",
        used_by="starter",
        ge=0,
    )
    webhooks_out: bool = _setting(
        "WEBHOOKS_OUT",
        False,
        "`true`: posts announce every phase change as a signed event to the endpoints "
        "registered with `POST /v1/webhooks` / `tiktok-publisher webhook add` (README, "
        "Webhooks out)",
        group="TikTok",
        used_by="starter",
    )
    analytics: bool = _setting(
        "ANALYTICS",
        False,
        "`true`: refresh every live public post's views, likes, comments and shares at +1 h, "
        "+6 h, then every `ANALYTICS_EVERY_HOURS` for `ANALYTICS_DAYS`, and its account's "
        "follower count daily (README, Analytics)",
        group="TikTok",
        used_by="starter",
    )
    analytics_every_hours: float = _setting(
        "ANALYTICS_EVERY_HOURS", 12, "hours between later refreshes", group="TikTok",
        used_by="starter", gt=0,
    )  # fmt: skip
    analytics_days: float = _setting(
        "ANALYTICS_DAYS", 7, "days a post's numbers are followed", group="TikTok",
        used_by="starter", gt=0,
    )  # fmt: skip
    token_file: str = _setting(
        "TIKTOK_TOKEN_FILE",
        "",
        "a JSON token file instead of the account store (development only; "
        "`tiktok-publisher account import` moves it into the store); unset means the store. "
        "Set it for the API and CLI too: unset there, they warn TOKEN_MISSING of accounts "
        "the store lacks",
        group="TikTok",
        used_by="worker, API, CLI",
    )
    task_queue: str = _setting(
        "TIKTOK_TASK_QUEUE",
        TASK_QUEUE,
        "task queue the worker polls and the starter starts posts on",
        group="TikTok",
        used_by="worker, starter",
        min_length=1,
    )
    video_source: Literal["file_upload", "pull_from_url"] = _setting(
        "TIKTOK_VIDEO_SOURCE",
        "file_upload",
        "`file_upload` (chunks from the bucket) or `pull_from_url` (TikTok pulls from "
        "`MEDIA_PUBLIC_BASE_URL`)",
        group="TikTok",
        used_by="worker, starter",
    )
    chunk_size: int = _setting(
        "TIKTOK_CHUNK_SIZE",
        10 * MB,
        "preferred upload chunk size in bytes (5-64 MB; adjusted to TikTok's rules per file)",
        group="TikTok",
        ge=5 * MB,
        le=64 * MB,
    )
    verified_url_prefixes: CommaList = _setting(
        "TIKTOK_VERIFIED_URL_PREFIXES",
        (),
        "comma-separated domains or URL prefixes verified for your app; when set, `submit` "
        "refuses (`TT_DOMAIN_UNVERIFIED`) a post TikTok would pull from an uncovered bucket URL",
        group="TikTok",
        used_by="starter",
    )

    # -- media bucket ------------------------------------------------------------------------
    media_bucket: str = _setting(
        "MEDIA_BUCKET", "", "the bucket media is staged in (required by the worker)", group="Media"
    )
    media_endpoint_url: str | None = _setting(
        "MEDIA_S3_ENDPOINT_URL",
        None,
        "an S3-compatible endpoint (R2, MinIO, ...); unset means AWS S3",
        group="Media",
        used_by="worker, starter",
    )
    media_public_base_url: str | None = _setting(
        "MEDIA_PUBLIC_BASE_URL",
        None,
        "public URL prefix of the bucket's objects: what TikTok pulls photos from (its domain "
        "must be verified for your app)",
        group="Media",
        used_by="worker, starter",
    )
    media_photo_urls: Literal["public", "presigned"] = _setting(
        "MEDIA_PHOTO_URLS",
        "public",
        "`public` (`MEDIA_PUBLIC_BASE_URL`) or `presigned` (time-limited S3 URLs)",
        group="Media",
    )
    media_prefix: str = _setting(
        "MEDIA_PREFIX", "staged/", "key prefix of staged objects", group="Media"
    )

    media_private_prefix: str = _setting(
        "MEDIA_PRIVATE_PREFIX",
        "private/",
        "key prefix of worker-only objects (TikTok's upload URLs, under `upload-sessions/`); "
        "must not be publicly readable",
        group="Media",
        min_length=1,
    )

    # -- custody -----------------------------------------------------------------------------
    allow_loopback_sources: bool = _setting(
        "MEDIA_SOURCE_ALLOW_LOOPBACK",
        False,
        "let media sources on loopback through (the local stack and the tests); link-local "
        "and metadata addresses are never allowed",
        group="Custody",
        used_by="worker, starter",
    )
    payload_keys: SecretStr = _setting(
        "TIKTOK_PAYLOAD_KEYS",
        SecretStr(""),
        "`id2:base64key,id1:base64key`: AES-256-GCM keys for workflow payloads; the first "
        "encrypts, every one decrypts (rotation). Unset: payloads are not encrypted",
        group="Custody",
        used_by="worker, starter, codec server",
    )
    codec_auth_token: SecretStr = _setting(
        "TIKTOK_CODEC_AUTH_TOKEN",
        SecretStr(""),
        "the bearer token the codec server requires (unset: none)",
        group="Custody",
        used_by="codec server",
    )
    codec_cors_origins: CommaList = _setting(
        "TIKTOK_CODEC_CORS_ORIGINS",
        ("http://localhost:8233",),
        "comma-separated origins allowed to call the codec server (the Temporal UI's)",
        group="Custody",
        used_by="codec server",
    )

    # -- account store -----------------------------------------------------------------------
    database_url: SecretStr = _setting(
        "DATABASE_URL",
        SecretStr(""),
        "the account store (`postgresql://...` in production); unset means the SQLite file "
        "`<TIKTOK_DATA_DIR>/accounts.db`. Never logged (it may hold a password)",
        group="Account store",
        used_by="worker, API, CLI",
    )
    data_dir: str = _setting(
        "TIKTOK_DATA_DIR",
        ".data",
        "directory of the default SQLite account store (and its key file)",
        group="Account store",
        used_by="worker, API, CLI",
        min_length=1,
    )
    token_keys: SecretStr = _setting(
        "TIKTOK_TOKEN_KEYS",
        SecretStr(""),
        "`id:base64key,...`: keys encrypting tokens at rest (`tiktok-publisher db "
        "generate-key`); required with `DATABASE_URL`, made beside the default SQLite file",
        group="Account store",
        used_by="worker, API, CLI",
    )
    db_auto_migrate: bool = _setting(
        "TIKTOK_DB_AUTO_MIGRATE",
        True,
        "migrate the account store to the newest schema at start; `false`: run "
        "`tiktok-publisher db upgrade` yourself",
        group="Account store",
        used_by="worker, API, CLI",
    )

    # -- connecting accounts (OAuth) ---------------------------------------------------------
    authorize_url: str = _setting(
        "TIKTOK_AUTHORIZE_URL",
        "https://www.tiktok.com/v2/auth/authorize/",
        "TikTok's authorization page creators are sent to",
        group="Connecting accounts",
        used_by="API",
    )
    redirect_uri: str = _setting(
        "TIKTOK_REDIRECT_URI",
        "http://127.0.0.1:8000/v1/oauth/tiktok/callback",
        "the API's OAuth callback as registered with your TikTok app",
        group="Connecting accounts",
        used_by="API",
    )
    scopes: str = _setting(
        "TIKTOK_SCOPES",
        "user.info.basic,video.publish,video.upload",
        "scopes asked for when connecting an account",
        group="Connecting accounts",
        used_by="API",
        min_length=1,
    )
    api_port: int = _setting(
        "TIKTOK_API_PORT",
        8000,
        "port of the local stack's HTTP API (`tiktok-publisher dev`; `tiktok-publisher api` "
        "takes `--port`)",
        group="Connecting accounts",
        used_by="dev",
        ge=1,
        le=65535,
    )

    # -- operations --------------------------------------------------------------------------
    log_format: Literal["json", "console"] = _setting(
        "LOG_FORMAT", "json", "`json` for machines, `console` for people", group="Operations"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _setting(
        "LOG_LEVEL", "INFO", "structlog level", group="Operations", used_by="worker, starter"
    )
    temporal_ui_url: str = _setting(
        "TEMPORAL_UI_URL",
        "http://localhost:8233",
        "base URL of the Temporal UI, for the links `submit` prints",
        group="Operations",
        used_by="starter",
    )
    http_address: str = _setting(
        "WORKER_HTTP_ADDRESS",
        "0.0.0.0:9464",
        "`host:port` of the worker's `/metrics`, `/healthz` and `/readyz`; empty turns it off",
        group="Operations",
    )
    otlp_endpoint: str | None = _setting(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        None,
        "OTLP/HTTP collector (e.g. `http://otel-collector:4318`); set, it turns tracing on. "
        "The exporter's other `OTEL_EXPORTER_OTLP_*` variables apply as usual",
        group="Operations",
        used_by="worker, starter",
    )
    api_max_body_bytes: int = _setting(
        "API_MAX_BODY_BYTES",
        16 * 1024 * 1024,
        "the largest request body the HTTP API reads (a larger one is 413 BODY_TOO_LARGE "
        "before it is buffered); 16 MiB holds an NDJSON batch of thousands of posts",
        group="Operations",
        used_by="API",
        ge=1024,
    )
    service_name: str = _setting(
        "OTEL_SERVICE_NAME",
        "tiktok-publisher",
        "service name on traces (the process role is added: `-worker`, `-api`, ...)",
        group="Operations",
        used_by="worker, starter",
    )

    # -- worker tuning -----------------------------------------------------------------------
    max_cached_workflows: int = _setting(
        "WORKER_MAX_CACHED_WORKFLOWS",
        500,
        "workflows kept in memory between their tasks (least recently active evicted first). "
        "A cached post costs about 0.2 MiB however long it sleeps (500: about 100 MiB), but "
        "one that sleeps further ahead than WORKER_EVICT_SLEEPERS_AFTER_SECONDS leaves at "
        "once; an uncached one costs nothing until it wakes, but then every one of its "
        "workflow tasks replays its history. Keep it at least twice the posts due in the "
        "same minute (their account entities are cached too): at 50, 100 posts due together "
        "were 80 s late instead of 2 s (bench/README.md, due_time and sleepers)",
        group="Worker tuning",
        ge=0,
    )
    strict_sandbox: bool = _setting(
        "WORKER_STRICT_SANDBOX",
        False,
        "run workflows in the SDK's default sandbox, which re-executes our workflow modules "
        "for every run (about 0.1 MiB more per cached post) and so also refuses a clock, "
        "random or I/O call in a workflow module's own code at once. Off: one shared copy of "
        "those modules (worker/sandbox.py). The test suite runs with it on",
        group="Worker tuning",
    )
    max_concurrent_workflow_tasks: int = _setting(
        "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS",
        100,
        "workflow tasks run at once (the SDK's default; a burst of posts falling due in the "
        "same second waits for no slot up to this many)",
        group="Worker tuning",
        ge=2,
    )
    max_concurrent_activities: int = _setting(
        "WORKER_MAX_CONCURRENT_ACTIVITIES",
        100,
        "activity attempts (TikTok calls, staging, uploads) run at once",
        group="Worker tuning",
        ge=1,
    )
    max_task_polls: int = _setting(
        "WORKER_MAX_TASK_POLLS",
        100,
        "most polls for workflow tasks, and for activity tasks, open at once: the worker "
        "scales its pollers between 1 and this with the server's feedback (5 fixed pollers "
        "left posts falling due together waiting in the server's queue)",
        group="Worker tuning",
        ge=2,
    )
    graceful_shutdown_seconds: float = _setting(
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS",
        100.0,
        "on SIGTERM, how long in-flight activity attempts may finish (Kubernetes' "
        "terminationGracePeriodSeconds must be larger)",
        group="Worker tuning",
        ge=0,
    )
    evict_sleepers_after_seconds: float = _setting(
        "WORKER_EVICT_SLEEPERS_AFTER_SECONDS",
        3600.0,
        "a post (or its analytics) that goes to sleep at least this far ahead, with nothing "
        "else in flight, leaves the workflow cache at once instead of holding about 0.2 MiB "
        "until the cache turns over; it replays its history once when it wakes. Posts due "
        "sooner stay cached for their due time; account entities are never evicted this way. "
        "0 turns it off (worker/sleeper_eviction.py)",
        group="Worker tuning",
        ge=0,
    )
    admission_waiting_runs: int = _setting(
        "WORKER_ADMISSION_WAITING_RUNS",
        50,
        "a new post's first workflow task is taken only while fewer than this many posts "
        "(and analytics) in the cache wait for an activity, so that a burst of submissions "
        "is admitted as fast as its media copies run, not all at once into the cache (the "
        "memory of that high-water stays with the worker). Tasks of posts the worker "
        "already knows, such as posts falling due together, never wait for it. 0 turns it "
        "off; it needs WORKER_EVICT_SLEEPERS_AFTER_SECONDS and a cache (worker/admission.py)",
        group="Worker tuning",
        ge=0,
    )

    # -- worker versioning -------------------------------------------------------------------
    versioning: bool = _setting(
        "WORKER_VERSIONING",
        False,
        "opt in to Worker Deployments: each post stays on the build it started on "
        "(deploy/README.md, Upgrades)",
        group="Worker versioning",
    )
    deployment_name: str = _setting(
        "WORKER_DEPLOYMENT_NAME",
        "tiktok-publisher",
        "the Worker Deployment's name",
        group="Worker versioning",
        min_length=1,
    )
    build_id: str = _setting(
        "WORKER_BUILD_ID",
        "",
        "this worker's build id; empty means the package version",
        group="Worker versioning",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _only_given.get():  # load_settings(env): that mapping, not the process environment
            return (init_settings,)
        return (init_settings, env_settings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("allow_loopback_sources", "db_auto_migrate", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any, info: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name].default
        return value

    @field_validator("verified_url_prefixes", "codec_cors_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("media_endpoint_url", "media_public_base_url", "otlp_endpoint", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator(*URL_FIELDS)
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("http_address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value:
            _host, sep, port = value.rpartition(":")
            if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
                raise ValueError("must be host:port (e.g. 0.0.0.0:9464), or empty to turn off")
        return value

    @property
    def effective_build_id(self) -> str:
        return self.build_id or package_version()


ACCOUNT_ENV_PREFIX = "TIKTOK_ACCOUNT_"
"""Pacing of every account entity: `TIKTOK_ACCOUNT_<FIELD>` for each field of
`workflows.account_contracts.AccountSettings` (e.g. TIKTOK_ACCOUNT_INIT_PER_MINUTE=6)."""


def account_env_name(field: str) -> str:
    return ACCOUNT_ENV_PREFIX + field.upper()


def account_settings_from_env(env: Mapping[str, str] | None = None) -> AccountSettings:
    """The account entities' pacing settings; ConfigError names each bad variable."""
    env = os.environ if env is None else env
    values = {
        name: env[account_env_name(name)]
        for name in AccountSettings.model_fields
        if env.get(account_env_name(name)) not in (None, "")
    }
    if "webhooks_out" not in values and env.get("WEBHOOKS_OUT", "").strip().lower() in (
        "1",
        "true",
        "yes",
    ):
        values["webhooks_out"] = "true"  # WEBHOOKS_OUT covers account events too
    try:
        return AccountSettings.model_validate(values)
    except ValidationError as err:
        raise ConfigError(
            "; ".join(
                f"{account_env_name(str(e['loc'][0]))}={e.get('input')!r}: {e['msg']}"
                for e in err.errors()
            )
        ) from None


_only_given: ContextVar[bool] = ContextVar("_only_given", default=False)


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else field.upper()


def _describe(error: Mapping[str, Any]) -> str:
    loc = error.get("loc") or ("?",)
    name = str(loc[0])
    if name in Settings.model_fields:
        name = env_name(name)
    field = next(
        (f for f, info in Settings.model_fields.items() if env_name(f) == name),
        None,
    )
    secret = field is not None and Settings.model_fields[field].annotation is SecretStr
    message = str(error.get("msg", "is invalid"))
    if "input" in error and not secret and isinstance(error["input"], str | int | float):
        return f"{name}={error['input']!r}: {message}"
    return f"{name}: {message}"


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `env` (default: the process environment), `overrides` winning. The
    account entities' TIKTOK_ACCOUNT_* settings are checked too.

    Raises ConfigError naming every bad variable and why, in one line."""
    problems: list[str] = []
    settings: Settings | None = None
    token = _only_given.set(env is not None)
    try:
        if env is None:
            settings = Settings(**overrides)
        else:
            known = {env_name(f) for f in Settings.model_fields}
            values: dict[str, Any] = {k: v for k, v in env.items() if k in known}
            settings = Settings(**{**values, **{env_name(f): v for f, v in overrides.items()}})
    except ValidationError as err:
        problems += [_describe(e) for e in err.errors()]
    finally:
        _only_given.reset(token)
    try:
        account_settings_from_env(env)
    except ConfigError as err:
        problems.append(str(err))
    if problems or settings is None:
        raise ConfigError("; ".join(problems))
    return settings


def settings_fields() -> list[tuple[str, FieldInfo]]:
    return list(Settings.model_fields.items())
