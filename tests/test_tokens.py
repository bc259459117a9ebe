"""Token custody: the file store and AccountTokens against the simulator's OAuth endpoint."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities.tiktok_client import TikTokClient
from activities.tokens import AccountTokens, FileTokenStore, StoredToken, TokenError
from simulator import Simulator
from tests.workflow_support import recorded


def store_file(tmp_path: Path, **account: Any) -> Path:
    path = tmp_path / "tokens.json"
    entry = {"access_token": "act.demo", "refresh_token": "rft.demo", "expires_at": None, **account}
    path.write_text(json.dumps({"accounts": {"acct_demo": entry}}))
    return path


def custody(path: Path, client: TikTokClient) -> AccountTokens:
    return AccountTokens(
        FileTokenStore(path),
        client,
        client_key="sim-client-key",
        client_secret="sim-client-secret",
    )


async def test_a_stored_token_is_used_as_is(simulator: Simulator, tmp_path: Path) -> None:
    async with TikTokClient(simulator.base_url) as client:
        assert await custody(store_file(tmp_path), client).access_token("acct_demo") == "act.demo"
    assert recorded(simulator, "oauth_token") == []


async def test_refresh_stores_the_rotated_pair_before_returning(
    simulator: Simulator, tmp_path: Path
) -> None:
    path = store_file(tmp_path)
    async with TikTokClient(simulator.base_url) as client:
        tokens = custody(path, client)
        before = (await tokens.facts("acct_demo")).fingerprint
        facts = await tokens.refresh("acct_demo")
        token = await tokens.access_token("acct_demo")
        creator = await client.query_creator_info(token)
    assert creator.username == "demo_creator"
    saved = json.loads(path.read_text())["accounts"]["acct_demo"]
    assert saved["access_token"] == token != "act.demo"
    assert saved["refresh_token"] != "rft.demo", "the rotated refresh token is kept"
    assert facts.fingerprint != before and facts.expires_at is not None
    assert facts.expires_at > datetime.now(UTC)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert "act." not in facts.model_dump_json() and "rft." not in facts.model_dump_json()


async def test_a_refresh_that_someone_else_did_is_not_repeated(
    simulator: Simulator, tmp_path: Path
) -> None:
    """TikTok rotates refresh tokens: renewing with the old one again would lose the account."""
    path = store_file(tmp_path)
    async with TikTokClient(simulator.base_url) as client:
        tokens = [custody(path, client) for _ in range(2)]  # as two workers would
        seen = (await tokens[0].facts("acct_demo")).fingerprint
        results = await asyncio.gather(
            *(t.refresh("acct_demo", unless_changed_from=seen) for t in tokens * 3)
        )
    assert len({r.fingerprint for r in results}) == 1
    assert len(recorded(simulator, "oauth_token")) == 1


def _refresh_in_a_process(path: str, base_url: str, seen: str) -> str:
    async def go() -> str:
        async with TikTokClient(base_url) as client:
            facts = await custody(Path(path), client).refresh("acct_demo", unless_changed_from=seen)
            return facts.fingerprint

    return asyncio.run(go())


async def test_two_processes_refresh_one_account_once(simulator: Simulator, tmp_path: Path) -> None:
    path = store_file(tmp_path)
    seen = StoredToken(access_token="act.demo", refresh_token="rft.demo").fingerprint
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = await asyncio.to_thread(
            pool.starmap,
            _refresh_in_a_process,
            [(str(path), simulator.base_url, seen)] * 2,
        )
    assert len(set(results)) == 1
    assert len(recorded(simulator, "oauth_token")) == 1


async def test_missing_account_asks_for_a_connect(simulator: Simulator, tmp_path: Path) -> None:
    async with TikTokClient(simulator.base_url) as client:
        with pytest.raises(TokenError) as err:
            await custody(store_file(tmp_path), client).access_token("acct_nobody")
    assert err.value.code == "TOKEN_MISSING" and err.value.needs_reconnect
    assert not err.value.retryable


async def test_a_revoked_refresh_token_needs_a_reconnect_and_keeps_secrets_out(
    simulator: Simulator, tmp_path: Path
) -> None:
    path = store_file(tmp_path, refresh_token="rft.revoked")
    async with TikTokClient(simulator.base_url) as client:
        with pytest.raises(TokenError) as err:
            await custody(path, client).refresh("acct_demo")
    assert err.value.code == "TOKEN_REFRESH_FAILED" and err.value.needs_reconnect
    assert not err.value.retryable and "invalid_grant" in str(err.value)
    assert "rft.revoked" not in str(err.value) and "act.demo" not in str(err.value)


async def test_corrupt_file_is_reported_plainly(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    async with TikTokClient(simulator.base_url) as client:
        with pytest.raises(TokenError) as err:
            await custody(path, client).access_token("acct_demo")
    assert err.value.code == "TOKEN_STORE_INVALID"


async def test_forget_and_list(tmp_path: Path) -> None:
    store = FileTokenStore(store_file(tmp_path))
    await store.save("acct_two", StoredToken(access_token="act.2", refresh_token="rft.2"))
    assert await store.accounts() == ["acct_demo", "acct_two"]
    await store.forget("acct_demo")
    await store.forget("acct_demo")  # twice is fine
    assert await store.accounts() == ["acct_two"]
