"""One process of the two-process refresh tests: waits for a start signal, then refreshes.

    python -m tests.refresh_child DB_URL KEYS TIKTOK_URL ACCOUNT FINGERPRINT GO_FILE [crash]

Prints the resulting token facts as JSON. With `crash`, the process dies (os._exit) after
TikTok answered and before the new tokens are written: what a kill -9 or a power cut does.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from account_store.database import open_database
from account_store.store import AccountStore
from activities.tiktok_client import TikTokClient
from activities.tokens import AccountTokens, StoredToken


async def refresh(store: AccountStore, tiktok_url: str, account_id: str, seen: str) -> str:
    async with TikTokClient(tiktok_url) as client:
        tokens = AccountTokens(
            store, client, client_key="sim-client-key", client_secret="sim-client-secret"
        )
        facts = await tokens.refresh(account_id, unless_changed_from=seen)
    return facts.fingerprint


def main(argv: list[str]) -> None:
    url, keys, tiktok_url, account_id, fingerprint, go_file, *flags = argv
    store = AccountStore(open_database({"TIKTOK_TOKEN_KEYS": keys}, url=url))
    if "crash" in flags:

        async def die(account_id: str, token: StoredToken) -> None:
            os._exit(17)

        store.save = die  # type: ignore[method-assign]
    print("ready", flush=True)
    while not Path(go_file).exists():
        time.sleep(0.005)
    result = asyncio.run(refresh(store, tiktok_url, account_id, fingerprint))
    print(json.dumps({"fingerprint": result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
