"""Commands of the service edge: the HTTP API, API keys, connecting accounts, the account
store's database, and the MCP tools. Registered by `starter.cli.build_parser`."""

from __future__ import annotations

import argparse
import logging
import sys
import webbrowser
from typing import Any

from starter.connect import ConnectFlow


def _database() -> Any:
    from account_store.database import open_database

    return open_database()


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from starter.http_api.app import create_app
    from worker.main import configure_logging

    configure_logging(args.log_format, "INFO")
    # uvicorn makes its own event loop (uvloop when installed, as it is with the package) and
    # parses HTTP with httptools when installed (docs/api.md, "Serving").
    config = uvicorn.Config(
        create_app(),
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=not args.no_access_log,
        loop=args.loop,
        http=args.http,
    )
    from starter.http_api.oauth_privacy import hide_oauth_queries

    hide_oauth_queries(logging.getLogger("uvicorn.access"))
    uvicorn.Server(config).run()
    return 0


def _api_key_create(args: argparse.Namespace) -> int:
    from account_store.api_keys import ApiKeyError, ApiKeys

    try:
        info, secret = ApiKeys(_database()).create(args.name)
    except ApiKeyError as err:
        print(f"Cannot create the key: {err}", file=sys.stderr)
        return 2
    print(secret)
    print(
        f"API key {info.name} ({info.key_id}) created. It is shown only now: store it as a "
        "secret. Send it as `Authorization: Bearer <key>`.",
        file=sys.stderr,
    )
    return 0


def _api_key_list(args: argparse.Namespace) -> int:
    from account_store.api_keys import ApiKeys

    keys = ApiKeys(_database()).list()
    for key in keys:
        state = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d %H:%M}Z"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}Z" if key.last_used_at else "never"
        print(f"{key.key_id}  {key.name:<32} {state:<26} last used {used}")
    if not keys:
        print("No API keys (create one with `tiktok-publisher api-key create NAME`).")
    return 0


def _api_key_revoke(args: argparse.Namespace) -> int:
    from account_store.api_keys import ApiKeys

    revoked = ApiKeys(_database()).revoke(args.key)
    if revoked is None:
        print(f"No active API key named or with id {args.key}.", file=sys.stderr)
        return 3
    print(f"Revoked API key {args.key} ({revoked.key_id}).")
    return 0


def connect_flow() -> ConnectFlow:
    from account_store.oauth_states import OAuthStates
    from account_store.store import AccountStore
    from starter.tiktok_oauth import OAuthSettings

    database = _database()
    return ConnectFlow(AccountStore(database), OAuthStates(database), OAuthSettings.from_env())


async def _account_connect(args: argparse.Namespace) -> int:
    from starter.connect import ConnectFailed

    flow = connect_flow()
    try:
        start = await flow.begin(args.account_id or "")
    except ConnectFailed as err:
        print(f"Cannot connect ({err.code}): {err}", file=sys.stderr)
        return 2
    print("Open this URL in the creator's browser and approve the app:\n")
    print(f"  {start.authorize_url}\n", flush=True)
    print(
        f"TikTok redirects to {flow.settings.redirect_uri}: the HTTP API must be running "
        "there (`tiktok-publisher api`, or `make run`). Waiting for it...",
        file=sys.stderr,
        flush=True,
    )
    if args.open:
        webbrowser.open(start.authorize_url)
    outcome = await flow.wait(start.state, within=args.wait)
    if outcome.outcome == "connected":
        print(f"Connected: account {outcome.account_id}.")
        return 0
    if not outcome.outcome:
        print("No callback arrived in time; run the command again.", file=sys.stderr)
        return 1
    print(f"Not connected ({outcome.outcome}): {outcome.detail}", file=sys.stderr)
    return 1


async def _account_import(args: argparse.Namespace) -> int:
    from account_store.store import AccountStore

    imported = await AccountStore(_database()).import_file(
        args.file, keep_existing=args.keep_existing
    )
    print(
        f"Imported {len(imported)} account(s) into the account store"
        + (f": {', '.join(imported)}" if imported else "")
    )
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from account_store.database import open_database

    database = open_database(migrate=False)
    database.upgrade()
    print(f"The account store ({database.engine.url.render_as_string()}) is up to date.")
    return 0


async def _db_rotate_keys(args: argparse.Namespace) -> int:
    from account_store.store import AccountStore

    database = _database()
    changed = await AccountStore(database).rotate_keys()
    print(f"Re-encrypted {changed} account token(s) with key {database.keys.primary}.")
    return 0


def _db_generate_key(args: argparse.Namespace) -> int:
    from account_store.keyring import KeyRing

    print(KeyRing.generate_spec(args.key_id))
    return 0


async def _mcp(args: argparse.Namespace) -> int:
    from starter.mcp_tools import run_stdio

    return await run_stdio()


def add_commands(sub: Any, account: Any | None = None) -> None:
    """Add the edge's commands to the CLI's subparsers. `account`: the subparsers of an
    existing `account` command to extend (the accounts commands share it)."""
    p = sub.add_parser("api", help="serve the HTTP API (and MCP at /mcp)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-format", choices=["json", "console"], default="json")
    p.add_argument(
        "--loop",
        choices=["auto", "uvloop", "asyncio"],
        default="auto",
        help="event loop (auto: uvloop when installed)",
    )
    p.add_argument(
        "--http",
        choices=["auto", "httptools", "h11"],
        default="auto",
        help="HTTP parser (auto: httptools when installed)",
    )
    p.add_argument(
        "--no-access-log", action="store_true", help="no log line per request (errors still are)"
    )
    p.set_defaults(run=_api, sync=True)

    p = sub.add_parser("api-key", help="create, list or revoke API keys")
    keys = p.add_subparsers(dest="api_key_command", required=True, metavar="ACTION")
    k = keys.add_parser("create", help="create a key and print it (once)")
    k.add_argument("name", help="who uses it, e.g. backend-prod")
    k.set_defaults(run=_api_key_create, sync=True)
    k = keys.add_parser("list", help="list keys (never their secrets)")
    k.set_defaults(run=_api_key_list, sync=True)
    k = keys.add_parser("revoke", help="revoke a key by name or id")
    k.add_argument("key", help="the key's name or id")
    k.set_defaults(run=_api_key_revoke, sync=True)

    if account is None:
        p = sub.add_parser("account", help="connect or import TikTok accounts")
        account = p.add_subparsers(dest="account_command", required=True, metavar="ACTION")
    a = account.add_parser("connect", help="connect an account with TikTok's OAuth (PKCE)")
    a.add_argument("--account-id", default="", help="default: the creator's TikTok username")
    a.add_argument("--wait", type=float, default=600, help="seconds to wait for the callback")
    a.add_argument("--open", action="store_true", help="open the URL in a browser")
    a.set_defaults(run=_account_connect)
    a = account.add_parser("import", help="import a development tokens.json into the store")
    a.add_argument("file")
    a.add_argument(
        "--keep-existing",
        action="store_true",
        help="skip accounts the store already has (a seed run at every start)",
    )
    a.set_defaults(run=_account_import)

    p = sub.add_parser("db", help="the account store's database")
    db = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    d = db.add_parser("upgrade", help="apply the Alembic migrations")
    d.set_defaults(run=_db_upgrade, sync=True)
    d = db.add_parser("rotate-keys", help="re-encrypt every token with the first key")
    d.set_defaults(run=_db_rotate_keys)
    d = db.add_parser("generate-key", help="print a new TIKTOK_TOKEN_KEYS entry")
    d.add_argument("--key-id", default="k1")
    d.set_defaults(run=_db_generate_key, sync=True)

    p = sub.add_parser("mcp", help="serve the MCP tools on stdin/stdout")
    p.set_defaults(run=_mcp)

    from starter import events_cli

    events_cli.add_commands(sub)
