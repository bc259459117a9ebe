"""What an in-process worker keeps per post it has processed, and per post it caches.

    .venv/bin/python -m bench.worker_memory --posts 500 --rounds 3 --cache 0
    .venv/bin/python -m bench.worker_memory --posts 100 --rounds 2 --cache 0 --trace 1
    .venv/bin/python -m bench.worker_memory --posts 300 --rounds 1 --cache 400 [--sdk-sandbox]

One dev server, moto S3 in a child process and a media host; the product's worker
(`worker.main.running_worker`, configured like `tiktok-publisher worker`: the account store
in a temporary directory, MALLOC_ARENA_MAX as the caller's environment sets it) in this
process, so that Python's own allocations can be followed. After `--warm` posts, `--rounds`
rounds of `--posts` photo posts scheduled a week ahead; after each round (every post staged,
the worker settled, `gc.collect()` and `malloc_trim` done) it prints the worker's VmRSS and,
with `--trace N` (tracemalloc started after the warm-up, N frames), the Python heap still
held. The growth per post between the later rounds is the slope: memory a worker keeps for
every post it has processed (a leak, for a worker living months) or, with `--cache` above
zero, per sleeping post cached (`classes alive` shows how many copies of the workflow classes
the sandbox holds). With `--trace` it also prints the allocation sites that grew most over
the last round (tracemalloc slows the worker several times: keep rounds small).
`--sdk-sandbox` runs the SDK's default sandbox instead of the worker's (`worker.sandbox`).

The figures are this process's, so the dev server, moto and the media host's children are
not counted; the media host and the submitting client share the process (both small and
bounded). Nothing passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.posts import photo_post, rss_mib
from bench.rolling_restarts import dev_server
from starter.api import PostPublisher
from starter.local_s3 import create_bucket, moto_server_process
from starter.media_host import MediaHost, sample_jpeg
from telemetry.memory import release_free_memory
from telemetry.metrics import REGISTRY
from workflows.contracts import PublishSettings

WORKFLOW_CLASSES = ("PublishPost", "TikTokAccount", "_Prepared", "AccountLink")


def staged() -> float:
    return REGISTRY.get_sample_value("tiktok_staging_seconds_count", {"result": "ok"}) or 0.0


def classes_alive(names: tuple[str, ...]) -> dict[str, int]:
    """How many class objects of these names are alive: the sandbox re-executes a workflow's
    module per run, so each run has its own; more alive than runs in memory is a leak."""
    counts = dict.fromkeys(names, 0)
    for obj in gc.get_objects():
        if isinstance(obj, type) and obj.__name__ in counts:
            counts[obj.__name__] += 1
    return counts


async def quiet(worker: Any, within: float = 600) -> None:
    """Until the worker holds no workflow run in memory beyond its cache and no activity."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        running = len(worker._workflow_worker._running_workflows)
        activities = len(worker._activity_worker._running_activities)
        if running <= worker.config().get("max_cached_workflows", 0) and not activities:
            return
        await asyncio.sleep(0.5)


async def settle(seconds: float) -> float:
    """Wait, collect, trim; the lowest VmRSS of the last three seconds."""
    await asyncio.sleep(max(0.0, seconds - 3))
    samples = []
    for _ in range(3):
        await asyncio.to_thread(release_free_memory)
        samples.append(rss_mib("self"))
        await asyncio.sleep(1)
    return min(samples)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500, help="posts per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=50, help="posts before the first reading")
    parser.add_argument("--cache", type=int, default=0, help="max_cached_workflows")
    parser.add_argument("--accounts", type=int, default=1, help="accounts the posts go to")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--settle", type=float, default=15)
    parser.add_argument("--trace", type=int, default=0, help="tracemalloc frames (0: off)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--sdk-sandbox",
        action="store_true",
        help="run workflows in the SDK's default sandbox (each run its own copy of our "
        "workflow modules) instead of the worker's (worker.sandbox): the figure before",
    )
    args = parser.parse_args()

    os.environ["MEDIA_SOURCE_ALLOW_LOOPBACK"] = "1"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    data = tempfile.TemporaryDirectory()
    os.environ["TIKTOK_DATA_DIR"] = data.name

    from worker import main as worker_main
    from worker.config import MediaSettings, WorkerSettings
    from worker.token_store import default_token_store

    worker_main.configure_logging("json", "WARNING")
    env = await dev_server()
    queue = f"mem-{uuid.uuid4().hex[:6]}"
    at = datetime.now(UTC) + timedelta(days=7)
    try:
        with moto_server_process() as s3, MediaHost() as media:
            os.environ.update(create_bucket(s3, "tiktok-media").env())
            url = media.add("bench/photo.jpg", sample_jpeg(), "image/jpeg")
            settings = WorkerSettings(
                tiktok_base_url="http://127.0.0.1:9",  # nothing is due within the run
                task_queue=queue,
                log_level="WARNING",
                max_cached_workflows=args.cache,
                strict_sandbox=args.sdk_sandbox,  # the SDK's sandbox: a module copy per run
            )
            publisher = PostPublisher(env.client, task_queue=queue, settings=PublishSettings())
            submitted = 0

            async def round_of(count: int) -> float:
                nonlocal submitted
                first, submitted = submitted, submitted + count
                numbers = iter(range(first, submitted))

                async def submitter() -> None:
                    for n in numbers:
                        account = f"acct_{n % args.accounts}"
                        await publisher.submit(
                            photo_post(
                                f"{queue}-{n}",
                                url,
                                account=account,
                                at=at,
                                content="sleeping a week",
                            )
                        )

                started = time.perf_counter()
                await asyncio.gather(*(submitter() for _ in range(args.concurrency)))
                deadline = time.monotonic() + 3600
                while staged() < submitted:
                    if time.monotonic() > deadline:
                        raise SystemExit("timed out waiting for the posts to be staged")
                    await asyncio.sleep(0.5)
                return time.perf_counter() - started

            async with worker_main.running_worker(
                env.client, settings, MediaSettings.from_env(), token_store=default_token_store()
            ) as worker:
                idle = await settle(args.settle)
                print(f"cache {args.cache}, {args.accounts} account(s); idle {idle:.1f} MiB")
                await round_of(args.warm)
                readings: list[tuple[int, float, float]] = []
                if args.trace:
                    tracemalloc.start(args.trace)
                rss = await settle(args.settle)
                traced = tracemalloc.get_traced_memory()[0] / 2**20 if args.trace else 0.0
                readings.append((submitted, rss, traced))
                print(f"after {submitted:6d} posts: {rss:7.1f} MiB RSS, {traced:6.1f} MiB traced")
                before = tracemalloc.take_snapshot() if args.trace else None
                last = before
                for _ in range(args.rounds):
                    seconds = await round_of(args.posts)
                    await quiet(worker)
                    rss = await settle(args.settle)
                    gc.collect()
                    traced = tracemalloc.get_traced_memory()[0] / 2**20 if args.trace else 0.0
                    previous = readings[-1]
                    readings.append((submitted, rss, traced))
                    per_post = (rss - previous[1]) * 1024 / args.posts
                    per_traced = (traced - previous[2]) * 1024 / args.posts
                    print(
                        f"after {submitted:6d} posts: {rss:7.1f} MiB RSS, {traced:6.1f} MiB "
                        f"traced ({seconds:.0f} s; {per_post:+.2f} KiB RSS, "
                        f"{per_traced:+.2f} KiB traced per post this round)"
                    )
                    print(f"    classes alive: {classes_alive(WORKFLOW_CLASSES)}")
                    if args.trace:
                        before, last = last, tracemalloc.take_snapshot()
                first, final = readings[1] if len(readings) > 2 else readings[0], readings[-1]
                posts = final[0] - first[0]
                print(
                    f"slope from {first[0]} to {final[0]} posts: "
                    f"{(final[1] - first[1]) * 1024 / posts:+.2f} KiB RSS, "
                    f"{(final[2] - first[2]) * 1024 / posts:+.2f} KiB traced per post"
                )
                if args.trace and before is not None and last is not None:
                    stats = last.compare_to(before, "traceback")
                    print(
                        f"\nallocation sites grown most over the last round ({args.posts} posts):"
                    )
                    for stat in stats[: args.top]:
                        print(
                            f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks "
                            f"({stat.size / 1024:.0f} KiB now)"
                        )
                        for line in stat.traceback.format()[-2 * args.trace :]:
                            print("      " + line.strip())
    finally:
        await env.shutdown()
        data.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
