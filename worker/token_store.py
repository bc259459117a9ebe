"""Which token store a worker uses (README: The account store).

- `TIKTOK_TOKEN_FILE` set: the JSON file (development only; import it into the account
  store with `tiktok-publisher account import tokens.json`).
- otherwise the account store: `DATABASE_URL` (PostgreSQL in production), else the embedded
  SQLite file `.data/accounts.db`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import structlog

from activities.tokens import FileTokenStore, TokenStore

log = structlog.get_logger("worker")


def default_token_store(env: Mapping[str, str] | None = None) -> TokenStore:
    env = os.environ if env is None else env
    token_file = env.get("TIKTOK_TOKEN_FILE", "").strip()
    if token_file:
        log.warning(
            "tokens.file_store",
            path=token_file,
            hint="development only: `tiktok-publisher account import` moves it to the store",
        )
        return FileTokenStore(token_file)
    from account_store.database import open_database
    from account_store.store import AccountStore

    return AccountStore(open_database(env))
