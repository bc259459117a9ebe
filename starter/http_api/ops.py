"""The HTTP API's operations side: `/metrics`, `/healthz` and `/readyz`.

- `/readyz` is 200 when Temporal answers for the namespace and the account store answers a
  `SELECT 1`; the JSON body names each check (`temporal`, `accounts`).
- `/metrics` serves the engine's series this process records (`tiktok_posts_submitted_total`,
  TikTok's incoming webhook series, `tiktok_publisher_build_info{role="api"}`).
- Traces: FastAPI's own OpenTelemetry support makes each request a SERVER span named
  `<METHOD> <route template>` (`POST /v1/posts`, never a post id) on the tracer provider
  `telemetry.tracing` configures, the parent of the submit span: one trace runs from the API
  call through the workflow to each TikTok request (tests/test_api_ops.py).
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlalchemy import text

from starter.service import Service
from telemetry.http import OpsProbes, temporal_reachable
from telemetry.metrics import record_build
from worker.settings import load_settings, package_version


def install(app: FastAPI) -> None:
    """Mount the probes on `app`, outside the OpenAPI document."""

    def service() -> Service | None:
        found: Service | None = getattr(app.state, "service", None)
        return found

    async def temporal() -> bool:
        current = service()
        return current is not None and await temporal_reachable(current.publisher.client)()

    async def accounts() -> bool:
        current = service()
        if current is None:
            return False

        def ping() -> bool:
            with current.database.engine.connect() as connection:
                return connection.execute(text("SELECT 1")).scalar() == 1

        return await asyncio.to_thread(ping)

    app.include_router(OpsProbes({"temporal": temporal, "accounts": accounts}).router())
    record_build("api", package_version(), load_settings().effective_build_id)
