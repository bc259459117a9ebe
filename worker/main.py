"""The worker: wires PublishPost and its activities to a task queue, logs as JSON."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import structlog
from temporalio.client import Client
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    FixedSizeSlotSupplier,
    Interceptor,
    Worker,
    WorkerTuner,
)

from activities.accounts import AccountActivities
from activities.analytics import AnalyticsActivities
from activities.media_info import library_loads
from activities.media_store import MediaStore
from activities.publishing import TikTokActivities
from activities.revocation import RevocationActivities
from activities.staging import MediaActivities, MediaDelivery
from activities.tokens import AccountTokens, FileTokenStore, TokenStore
from activities.webhooks_out import WebhookActivities
from telemetry import tracing
from telemetry.http import OpsProbes, prometheus_runtime, serve, temporal_reachable
from telemetry.instrument import MeteredTikTokClient, MetricsInterceptor
from telemetry.memory import release_periodically
from telemetry.metrics import record_build
from worker.admission import AdmissionGate
from worker.config import (
    MediaSettings,
    WorkerSettings,
    account_settings_from_env,
    connect,
    task_pollers,
)
from worker.custody import CustodySettings
from worker.sandbox import workflow_runner
from worker.settings import ConfigError, Settings, load_settings, package_version
from worker.sleeper_eviction import SleeperEviction
from worker.token_store import default_token_store
from worker.versioning import account_workflow, deployment_config
from workflows.account_contracts import AccountSettings
from workflows.analytics import PostAnalytics
from workflows.creator_info_lookup import CreatorInfoLookup, RevokeAccess
from workflows.followers import RefreshFollowers
from workflows.publish_post import PublishPost
from workflows.webhooks_out import DeliverEvent

log = structlog.get_logger("worker")

MEMORY_RELEASE_SECONDS = 30.0
"""How often an idle heap's free pages go back to the OS (telemetry.memory)."""


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """structlog to stderr; JSON for machines, console for people at a terminal."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class _LogContext(Interceptor):
    """Binds workflow id, post id and account id to every log line an activity writes."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindActivityContext(next)


class _BindActivityContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        from temporalio import activity

        info = activity.info()
        context: dict[str, Any] = {
            "workflow_id": info.workflow_id,
            "activity": info.activity_type,
            "attempt": info.attempt,
        }
        parts = (info.workflow_id or "").split("/")
        if len(parts) == 3 and parts[0] == "tiktok-post":
            context["post_id"], context["account_id"] = parts[1], parts[2]
        with structlog.contextvars.bound_contextvars(**context):
            return await super().execute_activity(input)


NEXUS_SLOTS = 100
"""The SDK's default; the engine runs no Nexus operations."""


def _slots(settings: WorkerSettings, sleepers: SleeperEviction) -> dict[str, Any]:
    """The Worker's task slots: fixed; with WORKER_ADMISSION_WAITING_RUNS, the workflow slots
    come from an AdmissionGate fed by the sleeper eviction's view of each run."""
    most_waiting = settings.admission_waiting_runs
    if not most_waiting or not sleepers.enabled:
        return {
            "max_concurrent_workflow_tasks": settings.max_concurrent_workflow_tasks,
            "max_concurrent_activities": settings.max_concurrent_activities,
        }
    gate = AdmissionGate(settings.max_concurrent_workflow_tasks, most_waiting)
    sleepers.on_waiting = gate.waiting
    activities = FixedSizeSlotSupplier(settings.max_concurrent_activities)
    return {
        "tuner": WorkerTuner.create_composite(
            workflow_supplier=gate,
            activity_supplier=activities,
            local_activity_supplier=activities,
            nexus_supplier=FixedSizeSlotSupplier(NEXUS_SLOTS),
        ),
    }


@contextlib.asynccontextmanager
async def running_worker(
    client: Client,
    settings: WorkerSettings,
    media: MediaSettings,
    *,
    tiktok_timeout: httpx.Timeout | None = None,
    account_settings: AccountSettings | None = None,
    token_store: TokenStore | None = None,
) -> AsyncIterator[Worker]:
    """A polling worker with everything it owns (HTTP clients, token store, bucket), all
    closed on exit. The CLI's worker, the local stack and the tests all run this.
    `token_store` defaults to the JSON file `settings.token_file` (development)."""
    async with MeteredTikTokClient(settings.tiktok_base_url, timeout=tiktok_timeout) as tiktok:
        token_store = token_store or FileTokenStore(settings.token_file)
        tokens = AccountTokens(
            token_store,
            tiktok,
            client_key=settings.client_key,
            client_secret=settings.client_secret,
        )
        store = MediaStore(
            media.s3_client(),
            media.bucket,
            public_base_url=media.public_base_url,
            prefix=media.prefix,
        )
        custody = CustodySettings.from_env()
        sessions = custody.upload_sessions(store)
        delivery = MediaDelivery(
            store,
            photo_urls=media.photo_urls,
            video_source=media.video_source,
            chunk_size=media.chunk_size,
            upload_sessions=sessions,
        )
        publishing = TikTokActivities(tiktok, tokens, delivery)
        accounts = AccountActivities(tokens, account_settings or account_settings_from_env())
        staging = MediaActivities(
            store,
            tiktok,
            client,
            source_rule=custody.source_rule,
            upload_sessions=sessions,
            video_source=(
                "pull_from_url" if media.video_source == "pull_from_url" else "file_upload"
            ),
        )
        revocation = RevocationActivities(
            tiktok,
            token_store,
            client_key=settings.client_key,
            client_secret=settings.client_secret,
        )
        webhooks = WebhookActivities(webhook_endpoints(token_store), custody.source_rule)
        analytics = AnalyticsActivities(tiktok, token_store, analytics_store(token_store))
        sleepers = SleeperEviction(
            settings.evict_sleepers_after_seconds if settings.max_cached_workflows else 0
        )
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[
                PublishPost,
                account_workflow(settings),
                CreatorInfoLookup,
                RevokeAccess,
                DeliverEvent,
                PostAnalytics,
                RefreshFollowers,
            ],
            activities=[
                publishing.creator_info,
                publishing.query_creator_info,
                publishing.init_publish,
                publishing.copy_attempt_media,
                publishing.fetch_publish_status,
                staging.stage_media,
                staging.upload_video,
                staging.delete_staged_media,
                staging.withdraw_attempt_media,
                accounts.load_account_settings,
                accounts.inspect_account_token,
                accounts.refresh_account_token,
                accounts.request_account_slot,
                accounts.wake_account_entity,
                revocation.revoke_access,
                webhooks.webhook_endpoints_for,
                webhooks.deliver_webhook,
                analytics.refresh_post_metrics,
                analytics.refresh_account_followers,
            ],
            interceptors=[_LogContext(), MetricsInterceptor()],
            # On SIGTERM, let an upload init in flight finish rather than cancel it: an
            # abandoned init can only end AMBIGUOUS_INIT. Long transfers resume elsewhere.
            graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
            # Thousands of posts sleep for days: keep only a bounded number in memory (an
            # evicted sleeper replays its short history when its timer fires).
            max_cached_workflows=settings.max_cached_workflows,
            # One shared copy of our (stateless) workflow modules, not one per cached run
            # (unless WORKER_STRICT_SANDBOX, as in the tests); a post that goes to sleep far
            # ahead leaves the cache at once (worker/sleeper_eviction.py).
            workflow_runner=sleepers.runner(workflow_runner(strict=settings.strict_sandbox)),
            **_slots(settings, sleepers),
            **task_pollers(settings),
            **deployment_config(settings),
        )
        sleepers.attach(worker)
        try:
            async with worker:
                yield worker
        finally:
            staging.close()


def webhook_endpoints(token_store: TokenStore) -> Any:
    """Where webhooks out find their endpoints: the account store the worker uses, or (with
    the JSON token file) the one `DATABASE_URL` names, opened on first delivery."""
    from account_store.store import AccountStore
    from account_store.webhook_endpoints import WebhookEndpoints

    if isinstance(token_store, AccountStore):
        database = token_store.database
        return lambda: WebhookEndpoints(database)

    def open_store() -> WebhookEndpoints:
        from account_store.database import open_database

        return WebhookEndpoints(open_database())

    return open_store


def analytics_store(token_store: TokenStore) -> Any:
    """Where analytics are stored: the same account store as the webhooks' endpoints."""
    from account_store.analytics import Analytics

    endpoints = webhook_endpoints(token_store)
    return lambda: Analytics(endpoints().database)


async def run_worker(settings: WorkerSettings | None = None) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight activity attempts and exit."""
    engine = load_settings()  # a missing or wrong setting fails here, before any work
    settings = settings or WorkerSettings.from_settings(engine)
    media = MediaSettings.from_settings(engine)
    if not library_loads():
        raise ConfigError(
            "libmediainfo cannot be loaded: the worker measures every media file with it "
            "(install the pymediainfo wheel, or libmediainfo0v5 on Debian)"
        )
    configure_logging(settings.log_format, settings.log_level)
    tracing.configure(engine.otlp_endpoint, f"{engine.service_name}-worker")
    runtime, sdk_metrics_url = prometheus_runtime()
    client = await connect(runtime=runtime)
    async with (
        running_worker(client, settings, media, token_store=default_token_store()) as worker,
        ops_server(engine, client, worker, sdk_metrics_url),
    ):
        trimmer = asyncio.ensure_future(release_periodically(MEMORY_RELEASE_SECONDS))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "worker.started",
            task_queue=settings.task_queue,
            namespace=client.namespace,
            tiktok_base_url=settings.tiktok_base_url,
        )
        await stop.wait()
        trimmer.cancel()
        log.info("worker.stopping")
    log.info("worker.stopped")


@contextlib.asynccontextmanager
async def ops_server(
    engine: Settings, client: Client, worker: Worker, sdk_metrics_url: str | None
) -> AsyncIterator[OpsProbes]:
    """/metrics, /healthz and /readyz on WORKER_HTTP_ADDRESS (none when it is empty)."""

    async def polling() -> bool:
        return worker.is_running

    probes = OpsProbes(
        {"temporal": temporal_reachable(client), "polling": polling},
        sdk_metrics_url=sdk_metrics_url,
    )
    record_build("worker", package_version(), engine.effective_build_id)
    if not engine.http_address:
        yield probes
        return
    try:
        server = await serve(probes, engine.http_address)
    except OSError as err:
        raise ConfigError(
            f"WORKER_HTTP_ADDRESS={engine.http_address!r}: cannot listen there ({err.strerror}); "
            "choose another port, or set it empty to serve no metrics"
        ) from None
    host, port = server.sockets[0].getsockname()[:2]
    log.info("worker.http", address=f"{host}:{port}", paths="/metrics /healthz /readyz")
    try:
        yield probes
    finally:
        server.close()
        await server.wait_closed()
