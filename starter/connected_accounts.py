"""Which accounts the account store can post for, as the HTTP API sees it at submit.

A post for an account with no stored token is accepted: the creator may connect it before
the post's time, and the post waits for that (up to `max_reconnect_wait_seconds`, 7 days by
default, then ACCOUNT_NEEDS_RECONNECT). But a typo in an accountId, or an account nobody
connected, must not wait a week in silence, so the answer carries a TOKEN_MISSING warning
for each such target. Only where the workers read tokens from the same store (no
TIKTOK_TOKEN_FILE): with a token file the API cannot know.

The set of accounts is read at most every `ttl` seconds; an account not in it is looked up
again at most once a second, so one connected a moment ago is seen at once, and a submit
costs a set lookup, not a database read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

import structlog

from account_store.store import AccountStore

log = structlog.get_logger("api")


def not_connected(account_id: str, how_to_connect: str) -> str:
    """The warning's text, the same from every front door but for how to connect."""
    return (
        f"No token is stored for account {account_id}: its post cannot reach TikTok until "
        f"the account is connected ({how_to_connect}). Once due, it waits for that up to "
        "max_reconnect_wait_seconds (7 days by default), then fails ACCOUNT_NEEDS_RECONNECT. "
        "If the accountId is wrong, cancel the target."
    )


class ConnectedAccounts:
    def __init__(
        self,
        store: AccountStore,
        *,
        ttl: float = 10.0,
        read_timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._read_timeout = read_timeout
        self._clock = clock
        self._known: frozenset[str] | None = None
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def missing(self, account_ids: Iterable[str]) -> list[str]:
        """The ones among `account_ids` with no stored token, in their order, each once.
        A store that cannot be read (down, or slower than `read_timeout`) leaves the last
        read's answer, or none: a warning is advice, and the submit has already started
        the posts, so it costs neither the answer nor a read per request (the next read is
        tried after a second)."""
        wanted = list(dict.fromkeys(account_ids))
        known = self._known or frozenset()
        unknown = any(account not in known for account in wanted)
        if self._older_than(self._ttl) or (unknown and self._older_than(1.0)):
            async with self._lock:
                if self._older_than(1.0):
                    await self._read()
        if self._known is None:
            return []
        return [account for account in wanted if account not in self._known]

    async def _read(self) -> None:
        try:
            accounts = await asyncio.wait_for(self._store.accounts(), self._read_timeout)
            self._known = frozenset(accounts)
        except Exception as err:  # the store is down or slow: no warnings, not a failure
            # Keep what the last read knew; with none yet, no warnings at all.
            log.warning("account_store.unreadable", check="connected accounts", error=str(err))
        self._read_at = self._clock()

    def _older_than(self, seconds: float) -> bool:
        return self._read_at is None or self._clock() - self._read_at >= seconds
