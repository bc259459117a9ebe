"""Which token store a worker uses (README: The account store).

- `TIKTOK_TOKEN_FILE` set: the JSON file (development only; import it into the account
  store with `tiktok-publisher account import tokens.json`).
- otherwise the account store: `DATABASE_URL` (PostgreSQL in production), else the embedded
  SQLite file `.data/accounts.db`.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from activities.tokens import FileTokenStore, TokenStore
from worker.settings import load_settings

log = structlog.get_logger("worker")


def default_token_store(env: Mapping[str, str] | None = None) -> TokenStore:
    settings = load_settings(env)
    token_file = settings.token_file.strip()
    if token_file:
        log.warning(
            "tokens.file_store",
            path=token_file,
            hint="development only: `tiktok-publisher account import` moves it to the store",
        )
        return FileTokenStore(token_file)
    from account_store.database import open_database
    from account_store.store import AccountStore

    return AccountStore(open_database(env, settings=settings))
