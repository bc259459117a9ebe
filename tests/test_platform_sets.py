"""Platform sets in the account store (SQLite and PostgreSQL), and over the HTTP API."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import delete
from temporalio.testing import WorkflowEnvironment

from account_store.database import Database
from account_store.platform_sets import PlatformSetError, PlatformSets
from account_store.store import AccountStore
from account_store.tables import PlatformSet
from activities.tokens import StoredToken
from simulator import Simulator
from tests.api_support import live_api
from tests.test_account_store import database, db_url  # noqa: F401 (fixtures)


async def connected(db: Database, *accounts: str) -> None:
    store = AccountStore(db)
    for account in accounts:
        await store.save(account, StoredToken(f"act.{account}", f"rft.{account}"))


async def test_a_set_keeps_its_accounts_in_order_and_changes_in_one_go(
    database: Database,  # noqa: F811
) -> None:
    await connected(database, "acct_a", "acct_b", "acct_c")
    sets = PlatformSets(database)
    made = await sets.create("launch", ["acct_b", "acct_a", "acct_b"], set_id="set_uuid")
    assert made.account_ids == ("acct_b", "acct_a")
    assert await sets.members("set_uuid") == ["acct_b", "acct_a"]
    assert await sets.members("launch") is None  # submit resolves ids, never names
    changed = await sets.update("launch", name="launch-eu", add=["acct_c"], remove=["acct_b"])
    assert changed.name == "launch-eu" and changed.account_ids == ("acct_a", "acct_c")
    generated = await sets.create("other", [])
    assert len(generated.set_id) == 36
    assert [s.name for s in await sets.list_sets()] == ["launch-eu", "other"]
    await sets.delete("launch-eu")
    assert await sets.get("set_uuid") is None
    assert await AccountStore(database).get("acct_a") is not None  # accounts stay


async def test_a_set_refuses_unknown_accounts_names_taken_and_bad_ids(
    database: Database,  # noqa: F811
) -> None:
    await connected(database, "acct_a")
    sets = PlatformSets(database)
    await sets.create("launch", ["acct_a"], set_id="s1")
    for call, code in (
        (sets.create("x", ["acct_nobody"]), "ACCOUNT_NOT_FOUND"),
        (sets.create("launch", []), "PLATFORM_SET_EXISTS"),
        (sets.create("y", [], set_id="s1"), "PLATFORM_SET_EXISTS"),
        # A set is found by id or name: neither may be the other set's.
        (sets.create("s1", []), "PLATFORM_SET_EXISTS"),
        (sets.create("y", [], set_id="launch"), "PLATFORM_SET_EXISTS"),
        (sets.create("z", [], set_id="a/b"), "TT_FIELD_INVALID"),
        (sets.update("nope", name="n"), "PLATFORM_SET_NOT_FOUND"),
        (sets.update("s1", remove=["acct_zz"]), "ACCOUNT_NOT_FOUND"),
    ):
        with pytest.raises(PlatformSetError) as caught:
            await call
        assert caught.value.code == code
    assert (await sets.members("s1")) == ["acct_a"]  # nothing half-changed
    other = await sets.create("other", [], set_id="s2")
    with pytest.raises(PlatformSetError) as caught:
        await sets.update(other.set_id, name="s1")
    assert caught.value.code == "PLATFORM_SET_EXISTS" and caught.value.field == "name"
    # A set may be named its own id.
    assert (await sets.update("s2", name="s2")).name == "s2"


@pytest.mark.parametrize("change", ["update", "delete"])
async def test_a_set_deleted_by_a_concurrent_request_is_not_found_not_a_crash(
    database: Database,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    # What schemathesis found with two workers: PATCH {"accountIds": []} read the set, a
    # DELETE committed, and the PATCH's UPDATE matched no row (StaleDataError, a 500).
    await connected(database, "acct_a")
    sets = PlatformSets(database)
    await sets.create("launch", ["acct_a"], set_id="s1")
    found_first = PlatformSets._require

    def found_then_deleted_elsewhere(self: PlatformSets, session: object, key: str) -> object:
        row = found_first(self, session, key)  # type: ignore[arg-type]
        database.run_sync(lambda other: other.execute(delete(PlatformSet)))  # another session
        return row

    monkeypatch.setattr(PlatformSets, "_require", found_then_deleted_elsewhere)
    call = sets.update("s1", account_ids=[]) if change == "update" else sets.delete("s1")
    with pytest.raises(PlatformSetError) as caught:
        await call
    assert caught.value.code == "PLATFORM_SET_NOT_FOUND"


async def test_platform_sets_over_the_api(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> None:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue, worker=False) as api:
        async with api.http() as http:
            made = await http.post(
                "/v1/platform-sets", json={"name": "launch", "accountIds": ["acct_demo"]}
            )
            assert made.status_code == 201, made.text
            set_id = made.json()["setId"]
            twice = await http.post("/v1/platform-sets", json={"name": "launch"})
            assert twice.status_code == 409 and twice.json()["code"] == "PLATFORM_SET_EXISTS"
            unknown = await http.post(
                "/v1/platform-sets", json={"name": "x", "accountIds": ["acct_nobody"]}
            )
            assert unknown.status_code == 422
            assert unknown.json()["problems"][0]["field"] == "accountIds"
            renamed = await http.patch(f"/v1/platform-sets/{set_id}", json={"name": "eu"})
            assert renamed.json()["name"] == "eu"
            assert (await http.get("/v1/platform-sets/eu")).json()["setId"] == set_id
            assert (await http.delete(f"/v1/platform-sets/{set_id}")).status_code == 204
            gone = await http.get(f"/v1/platform-sets/{set_id}")
            assert gone.status_code == 404 and gone.json()["code"] == "PLATFORM_SET_NOT_FOUND"


async def test_platform_sets_from_the_command_line(tmp_path: Path) -> None:
    from tests.test_cli import run_cli

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["TIKTOK_DATA_DIR"] = str(tmp_path / "data")
    tokens = tmp_path / "tokens.json"
    accounts = {a: {"access_token": f"act.{a}", "refresh_token": f"rft.{a}"} for a in "abc"}
    tokens.write_text(json.dumps({"accounts": accounts}))
    assert (await run_cli(env, "account", "import", str(tokens))).code == 0

    made = await run_cli(env, "platform-set", "create", "team", "--account", "a", "--json")
    assert made.code == 0, made.err
    set_id = json.loads(made.out)["setId"]
    changed = await run_cli(
        env, "platform-set", "change", "team", "--add", "c", "--remove", "a", "--rename", "eu"
    )
    assert changed.code == 0 and f"{set_id}  eu: c" in changed.out, changed.err
    replaced = await run_cli(env, "platform-set", "change", set_id, "--accounts", "b,a")
    assert f"{set_id}  eu: b, a" in replaced.out
    listed = await run_cli(env, "platform-set", "list", "--json")
    assert json.loads(listed.out) == [{"setId": set_id, "name": "eu", "accountIds": ["b", "a"]}]
    assert (await run_cli(env, "platform-set", "delete", "eu")).code == 0
    missing = await run_cli(env, "platform-set", "show", set_id)
    assert missing.code == 3 and "No platform set" in missing.err
    taken = await run_cli(env, "platform-set", "change", "nope", "--rename", "x")
    assert taken.code == 3 and "PLATFORM_SET_NOT_FOUND" in taken.err


async def test_the_python_api_finds_sets_in_the_environments_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from account_store.database import open_database
    from starter.api import resolve_platform_sets

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TIKTOK_DATA_DIR", str(tmp_path / "data"))
    db = open_database()
    await connected(db, "acct_a")
    await PlatformSets(db).create("team", ["acct_a"], set_id="set_1")
    ampost = {"platformSetId": "set_1", "content": {"text": "x"}}
    assert await resolve_platform_sets(ampost, None, None) == {"set_1": ["acct_a"]}
    assert await resolve_platform_sets({**ampost, "platformSetId": "nope"}, None, None) == {
        "nope": None
    }
    assert await resolve_platform_sets(ampost, None, {"set_1": ["x"]}) == {"set_1": ["x"]}
    assert await resolve_platform_sets({"content": "native"}, None, None) == {}
