"""Connecting an account end to end over HTTP: our API, the simulator's authorize page,
TikTok's redirect back to our callback, the code exchange with PKCE, the stored tokens."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from tests.api_support import LiveApi, live_api
from tests.conftest_simulator import fresh_creator
from tests.db_support import TEST_KEYS
from tests.workflow_support import recorded


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> AsyncIterator[LiveApi]:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue, worker=False) as live:
        yield live


async def begin(http: httpx.AsyncClient, **body: str) -> str:
    started = await http.post("/v1/accounts/connect", json=body)
    assert started.status_code == 201, started.text
    url: str = started.json()["authorizeUrl"]
    return url


async def browser(url: str) -> httpx.Response:
    """What the creator's browser does: open TikTok's page, follow its redirect to us."""
    async with httpx.AsyncClient(timeout=30) as browser:
        consent = await browser.get(url)
        assert consent.status_code == 302, consent.text
        return await browser.get(consent.headers["location"])


async def test_connect_stores_the_creator_and_its_tokens(
    api: LiveApi, simulator: Simulator
) -> None:
    creator = fresh_creator(simulator, username="new_creator")
    simulator.update_config(authorize_open_id=creator.open_id)
    async with api.http() as http:
        url = await begin(http)
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"] and query["state"][0]
        assert "video.publish" in query["scope"][0]
        landed = await browser(url)
        assert landed.status_code == 200, landed.text
        assert landed.json()["accountId"] == "new_creator"
        account = (await http.get("/v1/accounts/new_creator")).json()
    assert account["openId"] == creator.open_id and account["hasTokens"]
    stored = await api.store.load("new_creator")
    assert stored.access_token.startswith("act.") and stored.access_token != creator.access_token
    [exchange] = recorded(simulator, "oauth_token")
    assert exchange["body"]["grant_type"] == "authorization_code"
    assert exchange["body"]["code_verifier"] == "<redacted>"


async def test_a_named_account_id_is_used(api: LiveApi) -> None:
    async with api.http() as http:
        landed = await browser(await begin(http, accountId="brand_main"))
    assert landed.json()["accountId"] == "brand_main"
    assert "brand_main" in await api.store.accounts()
    async with api.http() as http:
        for bad in ("a" * 129, "two words", "a..b"):
            refused = await http.post("/v1/accounts/connect", json={"accountId": bad})
            assert refused.status_code == 422, (bad, refused.text)
            assert refused.json()["problems"][0]["field"] == "accountId", refused.text


async def test_a_denied_consent_stores_nothing(api: LiveApi, simulator: Simulator) -> None:
    simulator.update_config(authorize_outcome="deny")
    async with api.http() as http:
        landed = await browser(await begin(http, accountId="denied"))
    assert landed.status_code == 400
    assert landed.json()["code"] == "OAUTH_DENIED"
    assert "denied" not in await api.store.accounts()


async def test_a_forged_state_is_refused(api: LiveApi, simulator: Simulator) -> None:
    async with api.http() as http:
        url = await begin(http)
    async with httpx.AsyncClient() as browser_client:
        consent = await browser_client.get(url)
        location = consent.headers["location"].replace("state=", "state=forged")
        landed = await browser_client.get(location)
    assert landed.status_code == 400 and landed.json()["code"] == "OAUTH_STATE_INVALID"
    assert recorded(simulator, "oauth_token") == [], "no code exchange for a bad state"


async def test_a_replayed_callback_is_refused(api: LiveApi) -> None:
    async with api.http() as http:
        url = await begin(http, accountId="once")
    async with httpx.AsyncClient() as browser_client:
        consent = await browser_client.get(url)
        first = await browser_client.get(consent.headers["location"])
        replay = await browser_client.get(consent.headers["location"])
    assert first.status_code == 200
    assert replay.status_code == 400 and replay.json()["code"] == "OAUTH_STATE_USED"


async def test_a_reused_code_is_refused_by_tiktok(api: LiveApi, simulator: Simulator) -> None:
    """The code of a finished connect, sent with a new state: TikTok says invalid_grant."""
    async with api.http() as http:
        first_url = await begin(http, accountId="reuse")
        second_url = await begin(http, accountId="reuse2")
    async with httpx.AsyncClient() as browser_client:
        consent = await browser_client.get(first_url)
        await browser_client.get(consent.headers["location"])
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        state2 = parse_qs(urlsplit(second_url).query)["state"][0]
        callback = urlsplit(consent.headers["location"])
        reused = await browser_client.get(
            f"{callback.scheme}://{callback.netloc}{callback.path}",
            params={"code": code, "state": state2},
        )
    doc = reused.json()
    assert reused.status_code == 400 and doc["code"] == "OAUTH_EXCHANGE_FAILED"
    assert "invalid_grant" in doc["detail"]
    assert "reuse2" not in await api.store.accounts()


async def test_the_cli_prints_the_url_and_waits_for_the_callback(
    api: LiveApi, simulator: Simulator, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": str(api.database.engine.url.render_as_string(hide_password=False)),
        "TIKTOK_TOKEN_KEYS": TEST_KEYS,
        "TIKTOK_CLIENT_KEY": "sim-client-key",
        "TIKTOK_CLIENT_SECRET": "sim-client-secret",
        "TIKTOK_AUTHORIZE_URL": f"{simulator.base_url}/v2/auth/authorize/",
        "TIKTOK_REDIRECT_URI": f"{api.base_url}/v1/oauth/tiktok/callback",
    }
    cli = Path(sys.executable).parent / "tiktok-publisher"
    proc = await asyncio.create_subprocess_exec(
        str(cli), "account", "connect", "--account-id", "from_cli", "--wait", "60",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    url = ""
    while not url:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line, "the CLI ended without printing the URL"
        url = line.strip() if line.strip().startswith("http") else ""
    landed = await browser(url)
    assert landed.status_code == 200, landed.text
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "Connected: account from_cli" in out.decode()


def test_the_access_log_shows_the_callback_without_its_code_and_state() -> None:
    import logging

    from uvicorn.protocols.utils import get_path_with_query_string

    from starter.http_api.oauth_privacy import hide_oauth_queries

    access_log = logging.getLogger("test.access")
    hide_oauth_queries(access_log)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    access_log.addHandler(Keep())
    access_log.setLevel(logging.INFO)
    for path, query in (
        ("/v1/oauth/tiktok/callback", b"code=SECRETCODE&state=SECRETSTATE"),
        ("/v1/posts", b"dialect=ayrshare"),
    ):
        scope: dict[str, Any] = {
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
        }
        # The call uvicorn's protocols make for each request.
        access_log.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            get_path_with_query_string(scope),  # type: ignore[arg-type]
            "1.1",
            200,
        )
    assert lines == [
        '127.0.0.1:5000 - "GET /v1/oauth/tiktok/callback?code=…&state=… HTTP/1.1" 200',
        '127.0.0.1:5000 - "GET /v1/posts?dialect=ayrshare HTTP/1.1" 200',
    ]
