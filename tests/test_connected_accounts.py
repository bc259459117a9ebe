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


class BrokenStore(Store):
    def __init__(self, *accounts: str) -> None:
        super().__init__(*accounts)
        self.down = False

    async def accounts(self) -> list[str]:
        if self.down:
            self.reads += 1
            raise OSError("database unreachable")
        return await super().accounts()


async def test_a_store_that_is_down_gives_no_warning_and_is_not_read_per_request() -> None:
    store, clock = BrokenStore("acct_1"), Clock()
    store.down = True
    connected = ConnectedAccounts(store, clock=clock)  # type: ignore[arg-type]
    assert await connected.missing(["acct_1", "acct_2"]) == []  # nothing known: no advice
    for _ in range(5):
        assert await connected.missing(["acct_2"]) == []
    assert store.reads == 1, "one read a second, not one per submit"
    store.down = False
    clock.now += 1
    assert await connected.missing(["acct_2"]) == ["acct_2"]
    store.down = True  # down again: the last read still answers
    clock.now += 11
    assert await connected.missing(["acct_1", "acct_2"]) == ["acct_2"]


async def test_a_batch_of_concurrent_submits_reads_the_store_once() -> None:
    import asyncio

    store, clock = Store("acct_1"), Clock()
    connected = ConnectedAccounts(store, clock=clock)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(connected.missing([f"acct_{n}"]) for n in range(16)))
    assert answers[1] == [] and answers[2] == ["acct_2"]
    assert store.reads == 1
