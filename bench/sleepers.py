"""Many posts sleeping a week ahead: the worker's memory, and how fast the starter submits.

    .venv/bin/python -m bench.sleepers --posts 10000      # make bench-sleepers

1. starts a Temporal dev server, a local S3 (moto) and a media host;
2. submission rate, before any worker runs (its posts go to a queue nobody polls):
   `PostPublisher.submit` (parse, validate, start with summary and search attributes)
   against `client.start_workflow` of the already-parsed input, once with the same summary
   and search attributes and once plain, in rotating rounds of sequential calls (one call
   of each way per round; the median of the per-round ratios is the headline figure); with
   `--http` also the HTTP API, sequentially and with `--in-flight` callers at once against
   as many raw starts at once (bench/api_rates.py);
3. starts the product's worker as a child process (`tiktok-publisher worker`, configured from
   the environment like any deployment, MALLOC_ARENA_MAX=2 as the image sets it) and records
   its resident memory once idle: the baseline;
4. submits `--posts` posts scheduled a week ahead, waits until the worker has staged every
   one (its own `/metrics`: `tiktok_staging_seconds_count`), lets it settle, and records its
   memory again;
5. with `--caches 0,100,...`: for each size, on the same server (the sleepers stay), replaces
   the worker by a fresh one with `WORKER_MAX_CACHED_WORKFLOWS` set to it, records its idle
   memory, submits a burst of max(1.5 x size, `--burst`) more sleepers (so the SDK's LRU cache
   fills with the most recently active ones, as after any burst of submissions) and records
   its memory again: the memory over the cache-0 worker's (after its own burst), per post
   cached, is what one cached sleeper costs (these workers run with
   WORKER_EVICT_SLEEPERS_AFTER_SECONDS=0, so that their sleepers stay cached).

Prints both ratios. Nothing here passes or fails on timing: it reports figures measured in
one run against baselines of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.api_rates import concurrent_rates, report, submit_rates
from bench.api_server import api_process, served_api
from bench.dev_server import BIN, dev_server
from bench.posts import allocator_env, photo_post, rss_mib, rss_parts
from bench.results import record
from starter.api import PostPublisher
from starter.children import stop_child
from starter.local_s3 import create_bucket, moto_server
from starter.media_host import MediaHost, sample_jpeg
from telemetry.http import free_loopback_port
from workflows.contracts import PublishSettings


def scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return ""


def series(text: str, name: str) -> float:
    """Sum of the samples whose name (with labels, if given) starts a line."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def wait_until(predicate: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(1)


class BurstPeaks:
    """The worker's highest resident size, sticky cache and thread count while a burst is
    submitted and staged, sampled every second (what the allocators keep afterwards is
    the high-water of these)."""

    def __init__(self, pid: int, http_port: int) -> None:
        self.pid, self.http_port = pid, http_port
        self.rss = self.cache = self.threads = 0.0
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        self.rss = max(self.rss, rss_mib(self.pid))
        with contextlib.suppress(OSError, ValueError):
            found = re.search(r"Threads:\s+(\d+)", Path(f"/proc/{self.pid}/status").read_text())
            self.threads = max(self.threads, float(found.group(1)) if found else 0.0)
        text = scrape(self.http_port)
        self.cache = max(self.cache, series(text, "temporal_sticky_cache_size"))

    async def _run(self) -> None:
        while True:
            await asyncio.to_thread(self._sample)
            await asyncio.sleep(1)

    def __enter__(self) -> BurstPeaks:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def __str__(self) -> str:
        return f"{self.rss:.1f} MiB RSS, sticky cache {self.cache:.0f}, {self.threads:.0f} threads"


async def settled_rss(pid: int, seconds: float = 10) -> float:
    """The resident size once it stops moving (the lowest of the last few samples)."""
    samples = []
    for _ in range(int(seconds)):
        await asyncio.sleep(1)
        samples.append(rss_mib(pid))
    return min(samples[-3:])


async def cache_sizes(
    sizes: list[int],
    sleeping: int,
    burst: int,
    start_worker: Any,
    stop_worker: Any,
    submit_and_stage: Any,
    http_port: int,
    settle: float,
) -> None:
    """Per cache size, a fresh worker on the same server (its sleepers stay): idle, then after
    a burst of max(1.5 x size, `burst`) more sleepers, so its LRU cache holds the most recently
    active posts. Prints one row each and the memory per cached post: the memory after the
    burst over the cache-0 worker's after its own, per post cached."""
    rows: list[tuple[int, int, float, float, float, int]] = []
    for size in sizes:
        # What a cached sleeper costs: these workers keep their sleepers (no eviction).
        worker = start_worker(size, 0)
        try:
            await wait_until(lambda: "tiktok_" in scrape(http_port), 60, "the worker")
            idle = await settled_rss(worker.pid, settle)
            count = max(size * 3 // 2, burst)
            await submit_and_stage(f"cache{size}", count, 0)
            sleeping += count
            loaded = await settled_rss(worker.pid, settle)
            cached = int(series(scrape(http_port), "temporal_sticky_cache_size"))
        finally:
            stop_worker(worker)
        rows.append((size, sleeping, idle, loaded, loaded - idle, cached))
        print(
            f"cache {size:5d}: {sleeping} sleeping, idle {idle:6.1f} MiB, after a burst of "
            f"{count}: {loaded:6.1f} MiB ({loaded / idle:.2f}x idle), {cached} cached"
        )
    # Against the cache-0 worker's memory after its burst, not against growth from idle: a
    # fresh worker may first finish tasks its predecessor left (timed out under load), which
    # raises its "idle" reading; every worker here has staged a burst before its reading.
    base = next((row[3] for row in rows if row[0] == 0), None)
    print(
        "\n| cache | sleeping on the server | idle | after the burst | ratio | cached "
        "| MiB per cached post |"
    )
    print("|---|---|---|---|---|---|---|")
    for size, total, idle, loaded, _growth, cached in rows:
        per_post = f"{(loaded - base) / cached:.3f}" if base is not None and cached else "-"
        print(
            f"| {size} | {total} | {idle:.1f} MiB | {loaded:.1f} MiB | {loaded / idle:.2f}x "
            f"| {cached} | {per_post} |"
        )
        record(
            "idle",
            f"worker memory, cache {size}, {total} sleepers vs idle",
            loaded / idle,
            f"{loaded:.0f} MiB vs {idle:.0f} MiB idle, {cached} cached",
            goal="<= 1.2",
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="sleeping posts in total")
    parser.add_argument(
        "--rate-posts", type=int, default=500, help="posts per side of the rate test"
    )
    parser.add_argument("--warm-posts", type=int, default=50, help="posts before warm idle")
    parser.add_argument("--concurrency", type=int, default=20, help="submissions in flight")
    parser.add_argument("--cache", type=int, default=None, help="WORKER_MAX_CACHED_WORKFLOWS")
    parser.add_argument(
        "--evict-after",
        type=float,
        default=None,
        help="WORKER_EVICT_SLEEPERS_AFTER_SECONDS (default: the worker's; 0: the code before "
        "worker/sleeper_eviction.py, sleepers stay cached)",
    )
    parser.add_argument("--rate-only", action="store_true", help="measure the submit rate only")
    parser.add_argument(
        "--http",
        action="store_true",
        help="the rate test also submits through the HTTP API (POST /v1/posts, in-process), "
        "sequentially and with --in-flight callers at once (bench/api_rates.py)",
    )
    parser.add_argument(
        "--http-process",
        action="store_true",
        help="with --http: the API as its own process (`tiktok-publisher api`), not in this one",
    )
    parser.add_argument(
        "--http-parser",
        choices=["auto", "httptools", "h11"],
        default="auto",
        help="uvicorn's HTTP parser for the API (auto: httptools, as the package installs it)",
    )
    parser.add_argument(
        "--in-flight", type=int, default=8, help="with --http: callers at once (0: none)"
    )
    parser.add_argument(
        "--in-flight-rounds", type=int, default=100, help="rounds of --in-flight posts each way"
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="this process's event loop (the API's and the raw starts' alike; uvloop is what "
        "`tiktok-publisher api` runs on)",
    )
    parser.add_argument(
        "--caches",
        default="",
        help="then, per cache size (comma-separated, e.g. 0,100,250,500,1000): a fresh worker "
        "with that WORKER_MAX_CACHED_WORKFLOWS and a burst of more sleepers",
    )
    parser.add_argument(
        "--settle", type=float, default=40, help="seconds memory settles before a reading"
    )
    parser.add_argument(
        "--burst", type=int, default=500, help="least posts per --caches burst (1.5 x size above)"
    )
    return parser.parse_args()


async def main(args: argparse.Namespace) -> int:
    # The media host is on loopback: the guarded fetcher (and submit's check) refuse that
    # unless told, here as in the local stack.
    os.environ["MEDIA_SOURCE_ALLOW_LOOPBACK"] = "1"

    env = await dev_server()
    task_queue = f"bench-{uuid.uuid4().hex[:6]}"
    http_port = free_loopback_port()
    with moto_server() as s3, MediaHost() as media:
        bucket = create_bucket(s3, "tiktok-media")
        url = media.add("bench/photo.jpg", sample_jpeg(), "image/jpeg")
        worker_env = {
            **os.environ,
            **bucket.env(),
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "TIKTOK_TASK_QUEUE": task_queue,
            "TIKTOK_API_BASE_URL": "http://127.0.0.1:9",  # nothing is due within the run
            "WORKER_HTTP_ADDRESS": f"127.0.0.1:{http_port}",
            "LOG_LEVEL": "WARNING",
            "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),
        }
        if args.evict_after is not None:
            worker_env["WORKER_EVICT_SLEEPERS_AFTER_SECONDS"] = str(args.evict_after)
        # The rate test starts its posts on a queue no worker polls, before the worker runs,
        # so nothing else competes for the two cores while it measures.
        at = datetime.now(UTC) + timedelta(days=7)
        unpolled = PostPublisher(
            env.client, task_queue=f"{task_queue}-rate", settings=PublishSettings()
        )
        async with contextlib.AsyncExitStack() as stack:
            http = None
            if args.http:
                serving = served_api(unpolled, http=args.http_parser)
                if args.http_process:  # the API as deployed: its own process
                    serving = api_process(
                        {
                            "TEMPORAL_ADDRESS": worker_env["TEMPORAL_ADDRESS"],
                            "TIKTOK_TASK_QUEUE": unpolled.task_queue,
                        },
                        http=args.http_parser,
                        loop=args.loop,
                    )
                served = await stack.enter_async_context(serving)
                http = await served.poster()
                stack.push_async_callback(http.close)
            posts = functools.partial(
                photo_post, url=url, account="acct_bench", at=at, content="sleeping a week"
            )
            measured = await submit_rates(unpolled, posts, args.rate_posts, http=http)
            if http is not None and args.in_flight > 0:
                posters = [await served.poster() for _ in range(args.in_flight)]
                for poster in posters:
                    stack.push_async_callback(poster.close)
                concurrent = await concurrent_rates(unpolled, posts, posters, args.in_flight_rounds)
        rates, cpu_ms = measured["rate"], measured["cpu_ms"]
        median, quartiles = measured["median"], measured["quartiles"]
        publisher = PostPublisher(env.client, task_queue=task_queue, settings=PublishSettings())
        print(
            f"submit rate:             API {rates['api']:6.1f}/s, start_workflow with the same "
            f"metadata {rates['raw_same']:6.1f}/s, plain start_workflow {rates['raw']:6.1f}/s"
        )
        print(
            f"submit ratio (totals):   {rates['api'] / rates['raw']:.2f}x plain start_workflow, "
            f"{rates['api'] / rates['raw_same']:.2f}x the same start"
        )
        q = quartiles["raw"]
        print(
            f"submit ratio (median of {measured['rounds']} rounds): {median['raw']:.2f}x plain "
            f"start_workflow (quartiles {q[0]:.2f}-{q[2]:.2f}; goal >= 0.9x), "
            f"{median['raw_same']:.2f}x the same start"
        )
        print(
            f"client CPU per submit:   API {cpu_ms['api']:.2f} ms, same start "
            f"{cpu_ms['raw_same']:.2f} ms, plain start {cpu_ms['raw']:.2f} ms"
        )
        if "http" in rates:
            where = "its own process" if args.http_process else "server and client in this process"
            q = quartiles["http"]
            print(
                f"HTTP API (POST /v1/posts, {where}): "
                f"{rates['http']:.1f}/s, totals {rates['http'] / rates['raw']:.2f}x plain "
                f"start_workflow, median of rounds {median['http']:.2f}x (quartiles "
                f"{q[0]:.2f}-{q[2]:.2f}); CPU per submit {cpu_ms['http']:.2f} ms"
            )
            record(
                "idle",
                "HTTP API submit rate vs plain start_workflow",
                median["http"],
                f"{rates['http']:.0f}/s vs {rates['raw']:.0f}/s (median of rounds)",
                goal=">= 0.9",
            )
        if http is not None and args.in_flight > 0:
            print("\n".join(report(concurrent)))
            n = args.in_flight
            names = {
                "http": f"HTTP API, {n} in flight vs plain start_workflow",
                "batch": f"HTTP API batch of {n} vs {n} plain starts at once",
            }
            for kind, name in names.items():
                record(
                    "idle",
                    name,
                    concurrent["median"][kind],
                    f"{concurrent['rate'][kind]:.0f}/s vs {concurrent['rate']['raw']:.0f}/s "
                    "(median of rounds)",
                    goal=">= 0.9",
                )
        record(
            "idle",
            "submit rate vs plain start_workflow",
            rates["api"] / rates["raw"],
            f"{rates['api']:.0f}/s vs {rates['raw']:.0f}/s",
            goal=">= 0.9",
        )
        if args.rate_only:
            await env.shutdown()
            return 0
        workers: list[subprocess.Popen[bytes]] = []

        def start_worker(
            cache: int | None, evict_after: float | None = None
        ) -> subprocess.Popen[bytes]:
            environment = dict(worker_env)
            if cache is not None:
                environment["WORKER_MAX_CACHED_WORKFLOWS"] = str(cache)
            if evict_after is not None:
                environment["WORKER_EVICT_SLEEPERS_AFTER_SECONDS"] = str(evict_after)
            log = open(f"/tmp/bench-sleepers-worker-{task_queue}-{len(workers)}.log", "wb")
            process = subprocess.Popen(
                [str(BIN / "tiktok-publisher"), "worker"],
                env=environment,
                stderr=log,
                stdout=log,
            )
            log.close()
            workers.append(process)
            return process

        def stop_worker(process: subprocess.Popen[bytes]) -> None:
            stop_child(process, grace=30)

        stamp = uuid.uuid4().hex[:6]

        async def submit_and_stage(prefix: str, count: int, staged_before: int) -> float:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(count):
                queue.put_nowait(i)

            async def submitter() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    await publisher.submit(
                        photo_post(
                            f"{prefix}-{stamp}-{i}",
                            url,
                            account="acct_bench",
                            at=at,
                            content="sleeping a week",
                        )
                    )

            started = time.perf_counter()
            await asyncio.gather(*(submitter() for _ in range(args.concurrency)))
            await wait_until(
                lambda: (
                    series(scrape(http_port), 'tiktok_staging_seconds_count{result="ok"}')
                    >= staged_before + count
                ),
                3600,
                "every post to be staged",
            )
            return time.perf_counter() - started

        try:
            worker = start_worker(args.cache)
            await wait_until(lambda: "tiktok_" in scrape(http_port), 60, "the worker")
            idle = await settled_rss(worker.pid, args.settle)  # past a memory release (30 s)
            print(f"worker idle:             {idle:7.1f} MiB RSS ({rss_parts(worker.pid)})")
            print(f"worker allocator:        {allocator_env(worker.pid)}")
            # A worker that has done some work once (S3 client and service model loaded,
            # transfer threads started, code paths imported) is the fair baseline for what
            # sleepers cost: that warm-up is paid once, whatever the number of posts.
            await submit_and_stage("warm", args.warm_posts, 0)
            warm = await settled_rss(worker.pid, args.settle)
            print(
                f"worker warm idle:        {warm:7.1f} MiB RSS (after {args.warm_posts} posts; "
                f"{rss_parts(worker.pid)})"
            )
            with BurstPeaks(worker.pid, http_port) as peaks:
                seconds = await submit_and_stage("sleep", args.posts, args.warm_posts)
            total = args.posts + args.warm_posts
            print(f"staged, now sleeping:    {total} posts a week ahead ({seconds:.0f} s)")
            print(f"burst's peak:            {peaks}")
            loaded = await settled_rss(worker.pid, args.settle)
            text = scrape(http_port)
            cache = series(text, "temporal_sticky_cache_size")
            evicted = series(text, "tiktok_worker_sleepers_evicted_total")
            print(
                f"worker with sleepers:    {loaded:7.1f} MiB RSS (sticky cache {cache:.0f}, "
                f"{evicted:.0f} sleepers evicted; {rss_parts(worker.pid)})"
            )
            print(
                f"memory ratio:            {loaded / idle:.2f}x idle, {loaded / warm:.2f}x warm "
                "idle (goal <= 1.2x)"
            )
            record(
                "idle",
                f"worker memory, {total} sleepers vs idle",
                loaded / idle,
                f"{loaded:.0f} MiB vs {idle:.0f} MiB idle ({warm:.0f} MiB warm)",
                goal="<= 1.2",
            )
            if args.caches:
                stop_worker(worker)
                await cache_sizes(
                    [int(size) for size in args.caches.split(",")],
                    total,
                    args.burst,
                    start_worker,
                    stop_worker,
                    submit_and_stage,
                    http_port,
                    args.settle,
                )
        finally:
            for process in workers:
                if process.poll() is None:
                    stop_worker(process)
            await env.shutdown()
    return 0


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        sys.exit(uvloop.run(main(arguments)))
    sys.exit(asyncio.run(main(arguments)))
