"""The account store on SQLite and on a real PostgreSQL server: tokens encrypted at rest,
one refresh across processes, the newest refresh token kept, and what a crash leaves."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from account_store.api_keys import ApiKeys
from account_store.database import Database
from account_store.keyring import KeyRing, KeyRingError
from account_store.oauth_states import OAuthStates, StateRejected
from account_store.store import AccountStore
from account_store.tables import AccountToken
from activities.tiktok_client import TikTokClient
from activities.tokens import AccountTokens, StoredToken, TokenError
from simulator import Simulator
from tests.db_support import TEST_KEYS, fresh_postgres_database, open_test_database
from tests.workflow_support import recorded

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'accounts.db'}"
    admin: str = request.getfixturevalue("postgres_admin_url")
    return fresh_postgres_database(admin)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = open_test_database(db_url)
    try:
        yield db
    finally:
        db.dispose()


def demo_token(**overrides: object) -> StoredToken:
    values: dict[str, object] = {
        "access_token": "act.demo",
        "refresh_token": "rft.demo",
        "open_id": "demo-open-id",
        "scope": "video.publish",
    }
    values.update(overrides)
    return StoredToken(**values)  # type: ignore[arg-type]


async def test_tokens_round_trip_and_are_encrypted_at_rest(database: Database) -> None:
    store = AccountStore(database)
    await store.save("acct_demo", demo_token())
    loaded = await store.load("acct_demo")
    assert (loaded.access_token, loaded.refresh_token) == ("act.demo", "rft.demo")
    assert await store.accounts() == ["acct_demo"]
    with database.engine.connect() as conn:
        row = conn.execute(select(AccountToken)).one()
    assert b"act.demo" not in row.access_token and b"rft.demo" not in row.refresh_token
    assert row.key_id == "test2", "the first key encrypts"


async def test_a_missing_account_needs_a_connect(database: Database) -> None:
    with pytest.raises(TokenError) as err:
        await AccountStore(database).load("acct_nobody")
    assert err.value.code == "TOKEN_MISSING" and err.value.needs_reconnect


async def test_forget_removes_the_account_and_its_tokens(database: Database) -> None:
    store = AccountStore(database)
    await store.save("acct_demo", demo_token())
    await store.forget("acct_demo")
    await store.forget("acct_demo")  # missing accounts are not an error
    assert await store.accounts() == [] and await store.get("acct_demo") is None


async def test_a_ciphertext_moved_to_another_row_does_not_decrypt(database: Database) -> None:
    store = AccountStore(database)
    await store.save("acct_a", demo_token())
    await store.save("acct_b", demo_token(access_token="act.b", refresh_token="rft.b"))
    with database.engine.begin() as conn:
        stolen = conn.execute(
            text("SELECT access_token FROM account_tokens WHERE account_id = 'acct_a'")
        ).scalar_one()
        conn.execute(
            text("UPDATE account_tokens SET access_token = :v WHERE account_id = 'acct_b'"),
            {"v": stolen},
        )
    with pytest.raises(TokenError) as err:
        await store.load("acct_b")
    assert err.value.code == "TOKEN_STORE_INVALID" and "act." not in str(err.value)


async def test_key_rotation_keeps_old_tokens_readable_then_reencrypts(db_url: str) -> None:
    old = KeyRing.generate_spec("k1")
    first = open_test_database(db_url, keys=old)
    await AccountStore(first).save("acct_demo", demo_token())
    first.dispose()
    new = KeyRing.generate_spec("k2")
    rotated = open_test_database(db_url, keys=f"{new},{old}")
    store = AccountStore(rotated)
    assert (await store.load("acct_demo")).access_token == "act.demo"
    assert await store.rotate_keys() == 1
    assert await store.rotate_keys() == 0
    rotated.dispose()
    new_only = open_test_database(db_url, keys=new)
    assert (await AccountStore(new_only).load("acct_demo")).refresh_token == "rft.demo"
    new_only.dispose()


def test_malformed_keys_are_refused_without_showing_them() -> None:
    for spec in ("nokeyid", "k1:not-base64!!", "k1:" + "QUJD", "k1:AAAA,k1:AAAA"):
        with pytest.raises(KeyRingError) as err:
            KeyRing.parse(spec)
        assert "QUJD" not in str(err.value)


async def test_rotation_keeps_the_newest_refresh_token(
    database: Database, simulator: Simulator
) -> None:
    store = AccountStore(database)
    await store.save("acct_demo", demo_token())
    async with TikTokClient(simulator.base_url) as client:
        tokens = AccountTokens(
            store, client, client_key="sim-client-key", client_secret="sim-client-secret"
        )
        for _ in range(3):  # each refresh rotates; only the newest refresh token works
            await tokens.refresh("acct_demo")
    stored = await store.load("acct_demo")
    assert stored.refresh_token != "rft.demo"
    assert len(recorded(simulator, "oauth_token")) == 3
    # The stored refresh token is the live one: TikTok accepts it once more.
    async with TikTokClient(simulator.base_url) as client:
        grant = await client.refresh_access_token(
            client_key="sim-client-key",
            client_secret="sim-client-secret",
            refresh_token=stored.refresh_token,
        )
    assert grant.access_token


def _children(
    db_url: str, sim: Simulator, fingerprint: str, go: Path, count: int, *flags: str
) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.refresh_child",
                db_url,
                TEST_KEYS,
                sim.base_url,
                "acct_demo",
                fingerprint,
                str(go),
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(count)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr and proc.stderr.read()
    return procs


async def test_two_processes_refresh_one_account_once(
    database: Database, db_url: str, simulator: Simulator, tmp_path: Path
) -> None:
    store = AccountStore(database)
    await store.save("acct_demo", demo_token())
    seen = (await store.load("acct_demo")).fingerprint
    go = tmp_path / "go"
    procs = _children(db_url, simulator, seen, go, 2)
    go.touch()  # both start at once, both saw the same (now stale) fingerprint
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1])["fingerprint"])
    assert len(recorded(simulator, "oauth_token")) == 1, "one refresh across both processes"
    stored = await store.load("acct_demo")
    assert results == [stored.fingerprint, stored.fingerprint]
    assert stored.refresh_token != "rft.demo"


async def test_a_crash_between_tiktoks_answer_and_the_write(
    database: Database, db_url: str, simulator: Simulator, tmp_path: Path
) -> None:
    """What the store guarantees: the old pair intact (never half a pair), the lock free at
    once. What it cannot: the rotated pair died with the process, so TikTok now refuses the
    stored refresh token and the account needs a reconnect (a clear code, not a loop)."""
    store = AccountStore(database)
    await store.save("acct_demo", demo_token())
    before = await store.load("acct_demo")
    go = tmp_path / "go"
    [proc] = _children(db_url, simulator, before.fingerprint, go, 1, "crash")
    go.touch()
    proc.communicate(timeout=60)
    assert proc.returncode == 17
    assert len(recorded(simulator, "oauth_token")) == 1, "TikTok answered and rotated"
    after = await store.load("acct_demo")
    assert after.fingerprint == before.fingerprint, "the previous pair, whole"
    started = time.monotonic()
    async with store.refreshing("acct_demo"):
        pass
    assert time.monotonic() - started < 5, "the dead process's lock was released"
    async with TikTokClient(simulator.base_url) as client:
        tokens = AccountTokens(
            store, client, client_key="sim-client-key", client_secret="sim-client-secret"
        )
        with pytest.raises(TokenError) as err:
            await tokens.refresh("acct_demo")
    assert err.value.code == "TOKEN_REFRESH_FAILED" and err.value.needs_reconnect


async def test_the_refresh_lock_excludes_a_second_holder(database: Database) -> None:
    store, other = AccountStore(database), AccountStore(database)  # two store objects
    order: list[str] = []

    async def hold(name: str, which: AccountStore) -> None:
        async with which.refreshing("acct_demo"):
            order.append(f"{name} in")
            await asyncio.sleep(0.3)
            order.append(f"{name} out")

    await asyncio.gather(hold("a", store), hold("b", other))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


async def test_import_copies_a_development_token_file(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"accounts": {"acct_demo": demo_token().to_json()}}))
    store = AccountStore(database)
    assert await store.import_file(path) == ["acct_demo"]
    assert (await store.load("acct_demo")).open_id == "demo-open-id"
    # A seed run again at the next start keeps the tokens the worker refreshed since.
    refreshed = demo_token(access_token="refreshed-access")
    await store.save("acct_demo", refreshed)
    assert await store.import_file(path, keep_existing=True) == []
    assert (await store.load("acct_demo")).access_token == "refreshed-access"
    assert await store.import_file(path) == ["acct_demo"]  # without it, the file wins
    assert (await store.load("acct_demo")).access_token == demo_token().access_token


async def test_api_keys_are_stored_hashed_and_can_be_revoked(database: Database) -> None:
    keys = ApiKeys(database)
    info, secret = keys.create("backend")
    verified = await keys.verify(secret)
    assert verified is not None and verified.key_id == info.key_id
    with database.engine.connect() as conn:
        stored = conn.execute(text("SELECT secret_hash FROM api_keys")).scalar_one()
    assert secret.split("_", 2)[2] not in stored
    assert await keys.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert keys.revoke("backend") is not None
    assert await keys.verify(secret) is None
    keys.create("backend")  # the name is free again


async def test_a_key_revoked_elsewhere_stops_working_within_ten_seconds(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from account_store import api_keys

    keys = ApiKeys(database)  # the API process: it remembers a verified key briefly
    _, secret = keys.create("backend")
    assert await keys.verify(secret) is not None
    assert ApiKeys(database).revoke("backend") is not None  # the CLI, another process
    assert await keys.verify(secret) is not None
    later = api_keys._clock() + api_keys.VERIFIED_FOR_SECONDS + 0.1
    monkeypatch.setattr(api_keys, "_clock", lambda: later)
    assert await keys.verify(secret) is None


async def test_an_oauth_state_is_single_use(database: Database) -> None:
    states = OAuthStates(database)
    pending = await states.begin(account_id="acct_x", redirect_uri="http://cb")
    consumed = await states.consume(pending.state)
    assert consumed.account_id == "acct_x" and len(consumed.code_verifier) >= 43
    with pytest.raises(StateRejected) as used:
        await states.consume(pending.state)
    assert used.value.code == "OAUTH_STATE_USED"
    with pytest.raises(StateRejected) as forged:
        await states.consume("forged")
    assert forged.value.code == "OAUTH_STATE_INVALID"


def test_the_migrations_build_exactly_the_tables_the_code_uses(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from account_store.tables import Base

    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_the_worker_uses_the_account_store_unless_a_token_file_is_named(tmp_path: Path) -> None:
    from activities.tokens import FileTokenStore
    from worker.token_store import default_token_store

    env = {"TIKTOK_DATA_DIR": str(tmp_path / "data")}
    store = default_token_store(env)
    assert isinstance(store, AccountStore)
    assert (tmp_path / "data" / "accounts.db").exists()
    assert (tmp_path / "data" / "accounts.db.keys").stat().st_mode & 0o777 == 0o600
    named = default_token_store({**env, "TIKTOK_TOKEN_FILE": str(tmp_path / "t.json")})
    assert isinstance(named, FileTokenStore)


def test_a_shared_database_without_keys_is_refused(postgres_admin_url: str) -> None:
    from account_store.database import StoreConfigError, open_database

    with pytest.raises(StoreConfigError) as err:
        open_database({}, url=fresh_postgres_database(postgres_admin_url))
    assert "TIKTOK_TOKEN_KEYS" in str(err.value)
