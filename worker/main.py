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
    Interceptor,
    Worker,
)

from activities.accounts import AccountActivities
from activities.media_store import MediaStore
from activities.publishing import TikTokActivities
from activities.revocation import RevocationActivities
from activities.staging import MediaActivities, MediaDelivery
from activities.tiktok_client import TikTokClient
from activities.tokens import AccountTokens, FileTokenStore, TokenStore
from worker.config import MediaSettings, WorkerSettings, account_settings_from_env, connect
from worker.token_store import default_token_store
from workflows.account import TikTokAccount
from workflows.account_contracts import AccountSettings
from workflows.creator_info_lookup import CreatorInfoLookup, RevokeAccess
from workflows.publish_post import PublishPost

log = structlog.get_logger("worker")


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
    async with TikTokClient(settings.tiktok_base_url, timeout=tiktok_timeout) as tiktok:
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
        delivery = MediaDelivery(
            store,
            photo_urls=media.photo_urls,
            video_source=media.video_source,
            chunk_size=media.chunk_size,
        )
        publishing = TikTokActivities(tiktok, tokens, delivery)
        accounts = AccountActivities(tokens, account_settings or account_settings_from_env())
        staging = MediaActivities(store, tiktok, client)
        revocation = RevocationActivities(
            tiktok,
            token_store,
            client_key=settings.client_key,
            client_secret=settings.client_secret,
        )
        worker = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[PublishPost, TikTokAccount, CreatorInfoLookup, RevokeAccess],
            activities=[
                publishing.creator_info,
                publishing.query_creator_info,
                publishing.init_publish,
                publishing.fetch_publish_status,
                staging.stage_media,
                staging.upload_video,
                staging.delete_staged_media,
                accounts.load_account_settings,
                accounts.inspect_account_token,
                accounts.refresh_account_token,
                accounts.request_account_slot,
                revocation.revoke_access,
            ],
            interceptors=[_LogContext()],
            # On SIGTERM, let an upload init in flight finish rather than cancel it: an
            # abandoned init can only end AMBIGUOUS_INIT. Long transfers resume elsewhere.
            graceful_shutdown_timeout=timedelta(seconds=100),
        )
        try:
            async with worker:
                yield worker
        finally:
            staging.close()


async def run_worker(settings: WorkerSettings | None = None) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight activity attempts and exit."""
    settings = settings or WorkerSettings.from_env()
    media = MediaSettings.from_env()  # a missing setting fails here, before any work
    configure_logging(settings.log_format, settings.log_level)
    client = await connect()
    async with running_worker(client, settings, media, token_store=default_token_store()):
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
        log.info("worker.stopping")
    log.info("worker.stopped")
