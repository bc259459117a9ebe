"""Benchmark: the TikTok client's CPU per request, its transport against httpx's own.

    python -m bench.http_client              # make bench runs it as "http"

The simulator runs in a child process (rate limits raised); this process sends `--rounds`
bursts of `--concurrency` status fetches through `TikTokClient`, once over httpx's own
transport (httpcore and h11) and once over the engine's (activities/http_transport.py:
aiohttp underneath), interleaved `--repeats` times. The figure is this process's CPU
seconds per request (what a worker spends when many posts fall due at once), as a ratio of
the engine's transport against httpx's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

import httpx

from activities.http_transport import AiohttpTransport
from activities.tiktok_client import TikTokApiError, TikTokClient
from bench.results import record
from bench.rolling_restarts import unlimited_limits
from bench.simulator_process import simulator_process
from simulator import SimulatorConfig
from simulator.config import DEMO_ACCESS_TOKEN


async def cpu_per_request(
    base_url: str, transport: httpx.AsyncBaseTransport, concurrency: int, rounds: int
) -> float:
    """This process's CPU ms per status fetch, after one warm-up burst."""
    async with TikTokClient(base_url, transport=transport) as client:

        async def one() -> None:
            try:
                await client.fetch_status(DEMO_ACCESS_TOKEN, "v_pub_unknown")
            except TikTokApiError:
                pass  # an unknown publish_id: a whole request and answer all the same

        await asyncio.gather(*(one() for _ in range(concurrency)))
        started = time.process_time()
        for _ in range(rounds):
            await asyncio.gather(*(one() for _ in range(concurrency)))
        return (time.process_time() - started) / (rounds * concurrency) * 1000


async def main_async(args: argparse.Namespace) -> int:
    config = SimulatorConfig(rate_limits=unlimited_limits())
    own: list[float] = []
    engine: list[float] = []
    with simulator_process(config) as sim:
        for _ in range(args.repeats):
            own.append(
                await cpu_per_request(
                    sim.base_url, httpx.AsyncHTTPTransport(), args.concurrency, args.rounds
                )
            )
            engine.append(
                await cpu_per_request(
                    sim.base_url, AiohttpTransport(), args.concurrency, args.rounds
                )
            )
    httpx_ms, engine_ms = statistics.median(own), statistics.median(engine)
    print(f"{args.concurrency} concurrent status fetches x {args.rounds} rounds, median of "
          f"{args.repeats}")  # fmt: skip
    print(f"CPU ms per request, httpx's own transport  {httpx_ms:6.2f}  ({own})")
    print(f"CPU ms per request, the engine's transport {engine_ms:6.2f}  ({engine})")
    print(f"ratio (engine / httpx's own)               {engine_ms / httpx_ms:6.2f}x")
    record(
        "http",
        "CPU per TikTok request vs httpx's own transport",
        engine_ms / httpx_ms,
        f"{engine_ms:.2f} vs {httpx_ms:.2f} ms, {args.concurrency} concurrent",
        goal="lower",
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
