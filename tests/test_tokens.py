"""The file token store against the simulator's OAuth endpoint."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.tiktok_client import TikTokClient
from activities.tokens import FileTokenStore, TokenError
from simulator import Simulator
from tests.workflow_support import recorded, sim_admin


def store_file(tmp_path: Path, **account: Any) -> Path:
    path = tmp_path / "tokens.json"
    entry = {"access_token": "act.demo", "refresh_token": "rft.demo", "expires_at": None, **account}
    path.write_text(json.dumps({"accounts": {"acct_demo": entry}}))
    return path


def make_store(path: Path, client: TikTokClient, **kwargs: Any) -> FileTokenStore:
    return FileTokenStore(
        path, client, client_key="sim-client-key", client_secret="sim-client-secret", **kwargs
    )


async def test_a_valid_token_is_used_as_is(simulator: Simulator, tmp_path: Path) -> None:
    async with TikTokClient(simulator.base_url) as client:
        store = make_store(store_file(tmp_path), client)
        assert await store.access_token("acct_demo") == "act.demo"
    assert recorded(simulator, "oauth_token") == []


async def test_a_token_near_expiry_is_refreshed_and_saved(
    simulator: Simulator, tmp_path: Path
) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    path = store_file(tmp_path, expires_at=soon)
    async with TikTokClient(simulator.base_url) as client:
        token = await make_store(path, client).access_token("acct_demo")
        creator = await client.query_creator_info(token)
    assert token != "act.demo" and creator.username == "demo_creator"
    saved = json.loads(path.read_text())["accounts"]["acct_demo"]
    assert saved["access_token"] == token
    assert saved["refresh_token"] != "rft.demo", "the rotated refresh token is kept"
    assert datetime.fromisoformat(saved["expires_at"]) > datetime.now(UTC) + timedelta(hours=1)
    assert (path.stat().st_mode & 0o777) == 0o600


async def test_concurrent_callers_refresh_once(simulator: Simulator, tmp_path: Path) -> None:
    """TikTok rotates refresh tokens: a second refresh with the old one would lose the account."""
    path = store_file(tmp_path, expires_at=datetime.now(UTC).isoformat())
    async with TikTokClient(simulator.base_url) as client:
        stores = [make_store(path, client) for _ in range(2)]  # as two worker processes would
        tokens = await asyncio.gather(*(s.access_token("acct_demo") for s in stores * 5))
    assert len(set(tokens)) == 1
    assert len(recorded(simulator, "oauth_token")) == 1


async def test_rejected_token_is_refreshed_once_even_when_many_calls_fail(
    simulator: Simulator, tmp_path: Path
) -> None:
    path = store_file(tmp_path)
    sim_admin(simulator, "POST", "tokens/expire", json={"access_token": "act.demo"})
    async with TikTokClient(simulator.base_url) as client:
        store = make_store(path, client)
        tokens = await asyncio.gather(
            *(store.refresh_after_rejection("acct_demo", "act.demo") for _ in range(4))
        )
    assert len(set(tokens)) == 1 and tokens[0] != "act.demo"
    assert len(recorded(simulator, "oauth_token")) == 1


async def test_missing_account_is_a_typed_error(simulator: Simulator, tmp_path: Path) -> None:
    async with TikTokClient(simulator.base_url) as client:
        with pytest.raises(TokenError) as err:
            await make_store(store_file(tmp_path), client).access_token("acct_nobody")
    assert err.value.code == "TOKEN_MISSING" and not err.value.retryable


async def test_failed_refresh_names_the_cause_without_the_secret(
    simulator: Simulator, tmp_path: Path
) -> None:
    path = store_file(
        tmp_path, refresh_token="rft.revoked", expires_at=datetime.now(UTC).isoformat()
    )
    async with TikTokClient(simulator.base_url) as client:
        with pytest.raises(TokenError) as err:
            await make_store(path, client).access_token("acct_demo")
    assert err.value.code == "TOKEN_REFRESH_FAILED" and not err.value.retryable
    assert "invalid_grant" in str(err.value)
    assert "rft.revoked" not in str(err.value) and "act.demo" not in str(err.value)


async def test_corrupt_file_is_reported_plainly(simulator: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    async with TikTokClient(simulator.base_url) as client:
        with pytest.raises(TokenError) as err:
            await make_store(path, client).access_token("acct_demo")
    assert err.value.code == "TOKEN_STORE_INVALID"
