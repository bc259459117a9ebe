"""What the HTTP API knows of connected accounts at submit (starter/connected_accounts.py):
read rarely, looked up again soon enough that a just-connected account is no warning."""

from __future__ import annotations

from starter.connected_accounts import ConnectedAccounts


class Store:
    def __init__(self, *accounts: str) -> None:
        self.stored = set(accounts)
        self.reads = 0

    async def accounts(self) -> list[str]:
        self.reads += 1
        return sorted(self.stored)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_known_accounts_cost_no_read_and_a_new_one_is_seen_within_a_second() -> None:
    store, clock = Store("acct_1"), Clock()
    connected = ConnectedAccounts(store, ttl=10, clock=clock)  # type: ignore[arg-type]
    assert await connected.missing(["acct_1", "acct_2", "acct_2"]) == ["acct_2"]
    assert store.reads == 1
    clock.now += 5
    assert await connected.missing(["acct_1"]) == [] and store.reads == 1  # cached
    store.stored.add("acct_2")  # connected meanwhile
    assert await connected.missing(["acct_2"]) == [] and store.reads == 2  # a miss: read again
    store.stored.discard("acct_1")  # disconnected: seen when the set is read again
    assert await connected.missing(["acct_1"]) == []
    clock.now += 10
    assert await connected.missing(["acct_1"]) == ["acct_1"] and store.reads == 3
    # An unknown account is looked up at most once a second, however often it is asked.
    for _ in range(5):
        assert await connected.missing(["acct_typo"]) == ["acct_typo"]
    assert store.reads == 3
    clock.now += 1
    assert await connected.missing(["acct_typo"]) == ["acct_typo"] and store.reads == 4
