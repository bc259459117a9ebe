"""The MCP tools through the SDK's own client: over stdio (`tiktok-publisher mcp`) and over
streamable HTTP at the API's /mcp, behind the API keys."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.mcp_tools import TOOLS
from starter.media_host import MediaHost, sample_video
from tests.api_support import LiveApi, live_api
from tests.db_support import TEST_KEYS
from tests.workflow_support import video_request


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> AsyncIterator[LiveApi]:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue) as live:
        yield live


@asynccontextmanager
async def http_session(api: LiveApi, key: str | None = None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key or api.key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as client,
        streamable_http_client(f"{api.base_url}/mcp", http_client=client) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        yield session


async def tool(session: ClientSession, name: str, **arguments: Any) -> tuple[bool, Any]:
    result = await session.call_tool(name, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    return bool(result.is_error), json.loads(text)


async def test_the_tools_over_http(api: LiveApi, media_host: MediaHost) -> None:
    video = media_host.add("mcp/video.mp4", sample_video(), "video/mp4")
    later = datetime.now(UTC) + timedelta(days=1)
    async with http_session(api) as session:
        listed = await session.list_tools()
        assert sorted(t.name for t in listed.tools) == sorted(t.name for t in TOOLS)
        create = next(t for t in listed.tools if t.name == "create_post")
        # One object with both shapes' fields: Anthropic's and OpenAI's hosts refuse a
        # top-level oneOf/anyOf/allOf, and with it every tool of the session.
        assert not {"oneOf", "anyOf", "allOf"} & set(create.input_schema)
        assert create.input_schema["type"] == "object"
        assert {"platforms", "targets", "postId"} <= set(create.input_schema["properties"])
        assert create.input_schema["additionalProperties"] is False
        described = create.input_schema["properties"]
        assert "Only with `platforms`" in described["content"]["description"]
        assert "Only with `targets`" in described["caption"]["description"]
        by_name = {t.name: t for t in listed.tools}
        for t in listed.tools:  # every argument says what it is
            for name, prop in t.input_schema.get("properties", {}).items():
                assert prop.get("description") or "$ref" in prop, (t.name, name)
        assert "post it twice" in str(by_name["retry_post"].input_schema)
        annotations = by_name["cancel_post"].annotations
        assert annotations is not None and annotations.destructive_hint is True
        assert by_name["get_post"].annotations.read_only_hint is True  # type: ignore[union-attr]

        error, answer = await tool(
            session, "create_post", **video_request("mcp-1", video, scheduled_for=later)
        )
        assert not error and answer["targets"][0]["created"]
        error, post = await tool(session, "get_post", postId="mcp-1")
        assert not error or post["code"] == "POST_NOT_FOUND"  # visibility may lag a moment
        error, moved = await tool(
            session,
            "reschedule_post",
            postId="mcp-1",
            accountId="acct_demo",
            at=(later + timedelta(hours=1)).isoformat(),
        )
        assert not error and moved["phase"] == "SCHEDULED"
        error, cancelled = await tool(
            session, "cancel_post", postId="mcp-1", accountId="acct_demo", reason="test"
        )
        assert not error and cancelled["phase"] == "CANCELLED"
        error, refused = await tool(session, "retry_post", postId="mcp-1", accountId="acct_demo")
        assert error and refused["status"] == 409
        # the workflow's own refusals and an unknown post: a code and a reason, as over HTTP
        error, refused = await tool(
            session, "reschedule_post", postId="mcp-1", accountId="acct_demo", at=later.isoformat()
        )
        assert error and refused["status"] == 409 and refused["code"], refused
        error, missing = await tool(
            session, "cancel_post", postId="mcp-nobody", accountId="acct_demo"
        )
        assert error and missing["code"] == "POST_NOT_FOUND", missing
        error, page = await tool(session, "list_posts", accountId="acct_demo", limit=10)
        assert not error and "items" in page
        error, accounts = await tool(session, "list_accounts")
        assert not error and [a["accountId"] for a in accounts["items"]] == ["acct_demo"]
        error, info = await tool(session, "get_creator_info", accountId="acct_demo")
        assert not error and info["username"] == "demo_creator"
        error, metrics = await tool(
            session, "get_post_metrics", postId="mcp-1", accountId="acct_demo"
        )
        assert not error and metrics["history"] == []  # cancelled: never live, never followed


async def test_an_agent_reads_a_target_and_releases_a_draft(
    api: LiveApi, media_host: MediaHost
) -> None:
    video = media_host.add("mcp/draft.mp4", sample_video(), "video/mp4")
    later = datetime.now(UTC) + timedelta(days=1)
    async with http_session(api) as session:
        error, _ = await tool(
            session, "create_post", **video_request("mcp-draft", video, system_draft=True)
        )
        assert not error
        error, target = await tool(
            session, "get_post_target", postId="mcp-draft", accountId="acct_demo"
        )
        assert not error and target["phase"] == "DRAFT" and "history" in target, target
        error, scheduled = await tool(
            session,
            "schedule_post",
            postId="mcp-draft",
            accountId="acct_demo",
            at=later.isoformat(),
        )
        assert not error and scheduled["phase"] == "SCHEDULED", scheduled
        error, refused = await tool(
            session, "schedule_post", postId="mcp-draft", accountId="acct_demo"
        )
        assert error and refused["code"] == "INVALID_PHASE" and refused["retryable"] is False
        error, cancelled = await tool(
            session, "cancel_post", postId="mcp-draft", accountId="acct_demo"
        )
        assert not error and cancelled["phase"] == "CANCELLED"


async def test_a_bug_in_a_tool_answers_internal_with_a_log_id_not_a_traceback(
    api: LiveApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> None:
        raise RuntimeError("SELECT secret FROM accounts -- a bug's text")

    monkeypatch.setattr(api.service, "accounts", broken)
    async with http_session(api) as session:
        error, doc = await tool(session, "list_accounts")
    assert error and doc["code"] == "INTERNAL" and doc["retryable"] is False
    assert "logged with id" in doc["detail"] and "SELECT" not in json.dumps(doc)


async def test_invalid_input_is_a_tool_error_with_tt_problems(api: LiveApi) -> None:
    async with http_session(api) as session:
        error, doc = await tool(session, "create_post", postId="mcp-bad", media=[])
        assert error and doc["code"] == "REQUEST_INVALID"
        assert {"code", "field", "message"} <= set(doc["problems"][0])
        assert all(p["code"].startswith("TT_") for p in doc["problems"])
        error, doc = await tool(session, "reschedule_post", postId="x", accountId="y", at="soon")
        assert error and doc["problems"][0]["field"] == "at"
        error, doc = await tool(session, "get_post", postId="x", extra=1)
        assert error and doc["problems"][0]["code"] == "TT_UNKNOWN_FIELD"


async def test_http_tools_need_an_api_key(api: LiveApi) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(
            f"{api.base_url}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_tools_over_stdio(
    api: LiveApi, dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TIKTOK_TASK_QUEUE": task_queue,
        "DATABASE_URL": api.database.engine.url.render_as_string(hide_password=False),
        "TIKTOK_TOKEN_KEYS": TEST_KEYS,
    }
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "tiktok-publisher"), args=["mcp"], env=env
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        error, accounts = await tool(session, "list_accounts")
        assert not error and accounts["items"][0]["accountId"] == "acct_demo"
        error, missing = await tool(session, "get_post", postId="never-submitted")
        assert error and missing["status"] == 404
        error, doc = await tool(session, "create_post", postId="stdio-bad")
        assert error and doc["problems"]
