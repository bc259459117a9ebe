"""What a workflow start costs the Temporal server, with and without the metadata the engine
starts every post with (`python -m bench.start_cost`; bench/README.md, "Submit rate").

Sequential starts of a photo post's real input on a queue nobody polls, in rounds of
`--starts` per way, the ways in rotating order, three rounds: the dev server's CPU (from
/proc, bench/cpu.py) and this process's per start, and the wall time per start. The ways:

- `plain`: no summary, no search attributes (what `bench.sleepers` calls a raw start);
- `summary`: the static summary only;
- `one attribute`: `TikTokAccountId` only;
- `engine`: `PostPublisher.start_run` itself (its summary and five search attributes).

CPU is the load-independent figure: on two cores the dev server is the bottleneck of a
submit, so what it spends per start bounds the submit rate whatever the front door.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from bench.api_rates import plain_start
from bench.cpu import snapshot, spent
from bench.dev_server import dev_server
from bench.posts import photo_post
from starter.api import PostPublisher
from workflows import search_attributes as sa
from workflows.contracts import PublishPostInput, PublishSettings
from workflows.request import parse_post

WAYS = ("plain", "summary", "one attribute", "engine")


async def main(args: argparse.Namespace) -> int:
    env = await dev_server()
    stamp, count = uuid.uuid4().hex[:6], 0
    publisher = PostPublisher(env.client, task_queue=f"nobody-{stamp}", settings=PublishSettings())
    at = datetime.now(UTC) + timedelta(days=7)

    async def start(way: str) -> None:
        """One start of a photo post's real input, the way `way` says."""
        nonlocal count
        count += 1
        request = photo_post(
            f"cost-{stamp}-{count}", "https://cdn.example/p.jpg", account="acct_bench", at=at
        )
        item = PublishPostInput(target=parse_post(request).targets[0], settings=publisher.settings)
        if way == "engine":  # the engine's own start: its summary and search attributes
            await publisher.start_run(
                item,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        elif way == "summary":
            await plain_start(publisher, item, static_summary=item.target.summary())
        elif way == "one attribute":
            account = [SearchAttributePair(sa.ACCOUNT_ID, item.target.account_id)]
            await plain_start(publisher, item, search_attributes=TypedSearchAttributes(account))
        else:
            await plain_start(publisher, item)

    totals = {way: {"server": 0.0, "client": 0.0, "wall": 0.0} for way in WAYS}
    try:
        for way in WAYS:  # connections, caches: not measured
            for _ in range(20):
                await start(way)
        for number in range(args.rounds):
            turn = number % len(WAYS)
            for way in WAYS[turn:] + WAYS[:turn]:
                await asyncio.sleep(args.settle)  # the previous way's visibility work done
                before, began = snapshot(), time.perf_counter()
                for _ in range(args.starts):
                    await start(way)
                wall = time.perf_counter() - began
                await asyncio.sleep(args.settle)  # and this way's, counted
                used = spent(before, snapshot())
                totals[way]["server"] += used.get("temporal", 0.0)
                totals[way]["client"] += used.get("this process", 0.0)
                totals[way]["wall"] += wall
    finally:
        await env.shutdown()
    starts = args.starts * args.rounds
    plain = totals["plain"]["server"] / starts
    print(f"{starts} sequential starts per way, {args.rounds} rounds, dev server (SQLite)")
    print(f"{'way':15s} {'server CPU':>11s} {'vs plain':>9s} {'client CPU':>11s} {'wall':>8s}")
    for way in WAYS:
        server = totals[way]["server"] / starts
        client_ms = 1000 * totals[way]["client"] / starts
        wall_ms = 1000 * totals[way]["wall"] / starts
        print(
            f"{way:15s} {1000 * server:8.2f} ms {server / plain:8.2f}x {client_ms:8.2f} ms "
            f"{wall_ms:5.2f} ms"
        )
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=300, help="starts per way per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between ways")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
