"""Submit rates, each way against a raw `start_workflow` measured in the same run, in
rotating rounds (`python -m bench.sleepers --rate-only --http`; bench/README.md).

Sequential (`submit_rates`): one call of each way per round, each answered before the next:
`api` (`PostPublisher.submit`), `raw_same` (start_workflow with the same summary and search
attributes), `raw` (a plain start_workflow), and with the HTTP API `http` (`POST /v1/posts`
over one kept-alive connection).

Concurrent (`concurrent_rates`), since backends submit concurrently: each round submits
`in_flight` posts each way, all at once, and times the way:

- `raw`: `client.start_workflow` of the already-parsed input, plain (no summary, no search
  attributes), `in_flight` calls gathered;
- `raw_same`: the same with the summary and search attributes the engine sets at start;
- `api`: `PostPublisher.submit` (parse, validate, start with summary and search attributes),
  `in_flight` calls gathered;
- `http`: `POST /v1/posts`, one request on each of `in_flight` kept-alive connections;
- `batch`: one `POST /v1/posts` with `application/x-ndjson`, `in_flight` lines (the server
  starts up to `BATCH_CONCURRENCY` of them at once).

Each round gives each way's ratio to the raw way of that round (raw time over its time: its
rate over raw); the median of those and the totals are reported.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from bench.api_server import KeepAlivePoster
from starter.api import PostPublisher
from workflows.contracts import WORKFLOW_TYPE, PublishPostInput
from workflows.request import parse_post

Way = Callable[[list[dict[str, Any]]], Awaitable[None]]


async def submit_rates(
    publisher: PostPublisher,
    posts: Callable[[str], dict[str, Any]],
    total: int,
    batch: int = 1,
    http: KeepAlivePoster | None = None,
) -> dict[str, Any]:
    """Submissions per second, sequential calls (`posts(post_id)`: one request), the three
    ways in rotating rounds of `batch` calls each (default one call of each way per round,
    in rotating order):
    `api` (PostPublisher.submit: parse, validate, start), `raw_same` (start_workflow of the
    already-parsed input with the same summary and search attributes) and `raw` (a plain
    start_workflow of that input); with `http` (a client of the HTTP API served around
    `publisher`) a fourth, `http`: `POST /v1/posts` of the same request, answered.

    The machine is shared, so load comes and goes within a run: besides the totals, each
    round (the same calls of each way, back to back, milliseconds apart) gives its own
    ratio, and the median of those is the figure least moved by a burst of someone else's
    work. Client CPU per call
    (process time) is reported too: it is what the starter itself spends."""
    kinds = ["api", "raw_same", "raw"] + (["http"] if http is not None else [])
    spent = dict.fromkeys(kinds, 0.0)
    cpu = dict.fromkeys(kinds, 0.0)
    # ratios[way]: the plain start's time over that way's, per round (its rate over plain);
    # "raw_same" is the API's rate over the same start's.
    ratios: dict[str, list[float]] = {"raw": [], "raw_same": []}
    if http is not None:
        ratios["http"] = []
    done = 0
    stamp = uuid.uuid4().hex[:6]

    def inputs(kind: str, n: int) -> list[PublishPostInput]:
        return [
            PublishPostInput(
                target=parse_post(posts(f"rate-{stamp}-{kind}-{done + i}")).targets[0],
                settings=publisher.settings,
            )
            for i in range(n)
        ]

    async def api(n: int) -> None:
        for i in range(n):
            await publisher.submit(posts(f"rate-{stamp}-api-{done + i}"))

    async def raw_same(n: int) -> None:
        for item in inputs("same", n):
            await publisher.start_run(
                item,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    async def raw(n: int) -> None:
        for item in inputs("raw", n):
            await plain_start(publisher, item)

    async def over_http(n: int) -> None:
        assert http is not None
        for i in range(n):
            body = json.dumps(posts(f"rate-{stamp}-http-{done + i}")).encode()
            status, answer = await http.post("/v1/posts", body)
            if status != 202:
                raise SystemExit(f"POST /v1/posts answered {status}: {answer[:300]!r}")

    ways: list[tuple[str, Any]] = [("api", api), ("raw_same", raw_same), ("raw", raw)]
    if http is not None:
        ways.append(("http", over_http))
    for _kind, way in ways:  # first calls (imports, connections, caches): not measured
        await way(3)
    done = 3
    total += done
    rounds = 0
    while done < total:
        n = min(batch, total - done)
        took: dict[str, float] = {}
        # Rotate the order each round so no way always runs first (or after another).
        turn = rounds % len(ways)
        for kind, way in ways[turn:] + ways[:turn]:
            started, started_cpu = time.perf_counter(), time.process_time()
            await way(n)
            # The raw ways build their inputs inside the timing too: one parse_post each,
            # as cheap as the API's (it is the API's), so the comparison stays like for like.
            took[kind] = time.perf_counter() - started
            spent[kind] += took[kind]
            cpu[kind] += time.process_time() - started_cpu
        ratios["raw"].append(took["raw"] / took["api"])
        ratios["raw_same"].append(took["raw_same"] / took["api"])
        if http is not None:
            ratios["http"].append(took["raw"] / took["http"])
        done += n
        rounds += 1
    return {
        "rate": {kind: (total - 3) / seconds for kind, seconds in spent.items()},
        "cpu_ms": {kind: 1000 * seconds / (total - 3) for kind, seconds in cpu.items()},
        "median": {kind: statistics.median(values) for kind, values in ratios.items()},
        "quartiles": {
            kind: statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
            for kind, values in ratios.items()
        },
        "rounds": rounds,
    }


async def plain_start(publisher: PostPublisher, item: PublishPostInput, **options: Any) -> None:
    """The baseline: a plain `start_workflow` of the parsed input (no summary, no search
    attributes unless `options` give some), with the same id policies as the engine's
    start."""
    await publisher.client.start_workflow(
        WORKFLOW_TYPE,
        item,
        id=item.target.workflow_id,
        task_queue=publisher.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        **options,
    )


async def concurrent_rates(
    publisher: PostPublisher,
    posts: Callable[[str], dict[str, Any]],
    posters: list[KeepAlivePoster],
    rounds: int,
) -> dict[str, Any]:
    """`posts(post_id)`: one request; `posters`: one kept-alive connection per caller in
    flight (their number is the concurrency); `rounds`: rounds of `len(posters)` posts each
    way."""
    in_flight = len(posters)
    stamp = uuid.uuid4().hex[:6]
    counter = 0

    def requests(kind: str) -> list[dict[str, Any]]:
        nonlocal counter
        batch = [posts(f"c-{stamp}-{kind}-{counter + i}") for i in range(in_flight)]
        counter += in_flight
        return batch

    async def raw(batch: list[dict[str, Any]]) -> None:
        async def one(request: dict[str, Any]) -> None:
            # The same parse the API does, inside the timing: like for like.
            item = PublishPostInput(
                target=parse_post(request).targets[0], settings=publisher.settings
            )
            await plain_start(publisher, item)

        await asyncio.gather(*(one(request) for request in batch))

    async def raw_same(batch: list[dict[str, Any]]) -> None:
        async def one(request: dict[str, Any]) -> None:
            item = PublishPostInput(
                target=parse_post(request).targets[0], settings=publisher.settings
            )
            await publisher.start_run(
                item,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

        await asyncio.gather(*(one(request) for request in batch))

    async def api(batch: list[dict[str, Any]]) -> None:
        await asyncio.gather(*(publisher.submit(request) for request in batch))

    async def http(batch: list[dict[str, Any]]) -> None:
        async def one(poster: KeepAlivePoster, request: dict[str, Any]) -> None:
            status, answer = await poster.post("/v1/posts", json.dumps(request).encode())
            if status != 202:
                raise SystemExit(f"POST /v1/posts answered {status}: {answer[:300]!r}")

        await asyncio.gather(*(one(p, r) for p, r in zip(posters, batch, strict=True)))

    async def batch_lines(batch: list[dict[str, Any]]) -> None:
        body = "\n".join(json.dumps(request) for request in batch).encode()
        status, answer = await posters[0].post(
            "/v1/posts", body, content_type="application/x-ndjson"
        )
        lines = [json.loads(line) for line in answer.splitlines()]
        if status != 200 or [line["status"] for line in lines] != [202] * len(batch):
            raise SystemExit(f"the NDJSON batch answered {status}: {answer[:300]!r}")

    ways: list[tuple[str, Way]] = [
        ("raw", raw),
        ("raw_same", raw_same),
        ("api", api),
        ("http", http),
        ("batch", batch_lines),
    ]
    for kind, way in ways:  # first calls (connections, caches): not measured
        await way(requests(kind))
    spent = {kind: 0.0 for kind, _ in ways}
    cpu = {kind: 0.0 for kind, _ in ways}
    ratios: dict[str, list[float]] = {kind: [] for kind, _ in ways if kind != "raw"}
    for number in range(rounds):
        took: dict[str, float] = {}
        turn = number % len(ways)  # rotate: no way always runs first or after another
        for kind, way in ways[turn:] + ways[:turn]:
            batch = requests(kind)
            started, started_cpu = time.perf_counter(), time.process_time()
            await way(batch)
            took[kind] = time.perf_counter() - started
            spent[kind] += took[kind]
            cpu[kind] += time.process_time() - started_cpu
        for kind in ratios:
            ratios[kind].append(took["raw"] / took[kind])
    submitted = rounds * in_flight
    return {
        "in_flight": in_flight,
        "rounds": rounds,
        "rate": {kind: submitted / seconds for kind, seconds in spent.items()},
        "cpu_ms": {kind: 1000 * seconds / submitted for kind, seconds in cpu.items()},
        "median": {kind: statistics.median(values) for kind, values in ratios.items()},
        "quartiles": {
            kind: statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
            for kind, values in ratios.items()
        },
    }


def report(measured: dict[str, Any]) -> list[str]:
    """The lines `bench.sleepers` prints for a `concurrent_rates` result."""
    rate, cpu, median, quartiles = (
        measured["rate"],
        measured["cpu_ms"],
        measured["median"],
        measured["quartiles"],
    )
    names = {
        "raw_same": "start with summary + attrs",
        "api": "PostPublisher.submit",
        "http": "HTTP API, POST /v1/posts",
        "batch": "HTTP API, one NDJSON batch",
    }
    lines = [
        f"concurrent ({measured['in_flight']} in flight, {measured['rounds']} rounds): plain "
        f"start_workflow {rate['raw']:.1f}/s, CPU {cpu['raw']:.2f} ms per post"
    ]
    for kind, name in names.items():
        q = quartiles[kind]
        lines.append(
            f"  {name + ':':28s} {rate[kind]:6.1f}/s, totals {rate[kind] / rate['raw']:.2f}x, "
            f"median of rounds {median[kind]:.2f}x (quartiles {q[0]:.2f}-{q[2]:.2f}), totals "
            f"{rate[kind] / rate['raw_same']:.2f}x the same start; CPU {cpu[kind]:.2f} ms per post"
        )
    return lines
