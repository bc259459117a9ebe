"""What a workflow start costs the Temporal server, with and without the metadata the engine
starts every post with (`python -m bench.start_cost`; bench/README.md, "Submit rate").

Sequential `start_workflow` calls of the same input on a queue nobody polls, in rounds of
`--starts` per way, the ways in rotating order, three rounds: the dev server's CPU (from
/proc, bench/cpu.py) and this process's per start, and the wall time per start. The ways:

- `plain`: no summary, no search attributes (what `bench.sleepers` calls a raw start);
- `summary`: the static summary only;
- `one attribute`: `TikTokAccountId` only;
- `engine`: the summary and the five attributes `PostPublisher.start_run` sets.

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
from pathlib import Path
from typing import Any

from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.cpu import snapshot, spent
from workflows import search_attributes as sa
from workflows.contracts import WORKFLOW_TYPE

BIN = Path(sys.executable).parent
WAYS = ("plain", "summary", "one attribute", "engine")


def start_options(way: str, n: int, at: datetime) -> dict[str, Any]:
    summary = f"photo post p-{n} for acct_bench at {at:%Y-%m-%d %H:%M} UTC"
    if way == "summary":
        return {"static_summary": summary}
    if way == "one attribute":
        pairs = [SearchAttributePair(sa.ACCOUNT_ID, "acct_bench")]
        return {"search_attributes": TypedSearchAttributes(pairs)}
    if way == "engine":
        attributes = sa.initial(
            post_id=f"p-{n}",
            account_id="acct_bench",
            mode="photo",
            state="SCHEDULED",
            scheduled_for=at,
        )
        return {"static_summary": summary, "search_attributes": attributes}
    return {}


async def main(args: argparse.Namespace) -> int:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(sa.ALL),
        ui=False,
        dev_server_log_level="error",
    )
    client, at = env.client, datetime.now(UTC) + timedelta(days=7)
    payload = {"target": {"caption": "x" * 1000}}  # about the size of a post's input
    stamp, count = uuid.uuid4().hex[:6], 0

    async def start(way: str) -> None:
        nonlocal count
        count += 1
        await client.start_workflow(
            WORKFLOW_TYPE,
            payload,
            id=f"cost-{stamp}-{count}",
            task_queue=f"nobody-{stamp}",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            **start_options(way, count, at),
        )

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
