"""What the HTTP layer itself costs per submit, with Temporal taken out.

    .venv/bin/python -m bench.api_overhead [--posts 2000] [--loop uvloop|asyncio]
                                            [--http-parser auto|httptools|h11]

`PostPublisher.start_run` is replaced by a stub that answers at once (a new run), so what is
left is the engine's own work: `PostPublisher.submit` (parse, validate, build the start) and,
in the same run, `POST /v1/posts` of the same request to the HTTP API served in this process
(`bench/api_server.py`) over one kept-alive connection. Reports the process CPU per call of
each, the best of three passes (the figure least moved by other processes on the machine),
and the difference: the CPU the HTTP route adds to a submit (uvicorn's parsing, FastAPI's
routing and dependencies, the answer's serialisation, the minimal client). No dev server, no
worker: it runs in seconds and its figures move by a few hundredths of a millisecond.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import types
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.workflowservice.v1 import StartWorkflowExecutionResponse

from bench.api_server import served_api
from bench.posts import photo_post
from starter.api import PostPublisher
from workflows.contracts import PublishSettings

URL = "https://media.example.com/bench/photo.jpg"


class _StartedHandle:
    result_run_id = "run-stub"
    _start_workflow_response = StartWorkflowExecutionResponse(started=True)


async def _started(self: PostPublisher, request: Any, **kwargs: Any) -> _StartedHandle:
    await asyncio.sleep(0)  # one hop through the loop, as an answer from Temporal takes
    return _StartedHandle()


async def main(args: argparse.Namespace) -> int:
    PostPublisher.start_run = _started  # type: ignore[assignment,method-assign]
    client: Any = types.SimpleNamespace(namespace="default")
    publisher = PostPublisher(client, task_queue="bench-overhead", settings=PublishSettings())
    at = datetime.now(UTC) + timedelta(days=7)
    stamp = uuid.uuid4().hex[:6]
    async with served_api(publisher, http=args.http_parser) as served:
        http = await served.poster()
        best = {"submit": float("inf"), "http": float("inf")}
        for rep in range(4):  # the first pass warms up (imports, caches) and is not counted
            requests = [
                photo_post(f"o-{stamp}-{rep}-{i}", URL, account="acct_bench", at=at)
                for i in range(args.posts)
            ]
            bodies = [
                json.dumps(
                    photo_post(f"h-{stamp}-{rep}-{i}", URL, account="acct_bench", at=at)
                ).encode()
                for i in range(args.posts)
            ]
            started = time.process_time()
            for request in requests:
                await publisher.submit(request)
            submit = (time.process_time() - started) / args.posts
            started = time.process_time()
            for body in bodies:
                status, answer = await http.post("/v1/posts", body)
                if status != 202:
                    raise SystemExit(f"POST /v1/posts answered {status}: {answer[:300]!r}")
            over_http = (time.process_time() - started) / args.posts
            if rep:
                best["submit"] = min(best["submit"], submit)
                best["http"] = min(best["http"], over_http)
        await http.close()
    print(
        f"CPU per submit ({args.loop}, HTTP parser {args.http_parser}; Temporal stubbed): "
        f"PostPublisher.submit {1000 * best['submit']:.3f} ms, POST /v1/posts "
        f"{1000 * best['http']:.3f} ms; the HTTP route adds "
        f"{1000 * (best['http'] - best['submit']):.3f} ms"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000, help="calls each way per pass")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--http-parser", choices=["auto", "httptools", "h11"], default="auto")
    arguments = parser.parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        sys.exit(uvloop.run(main(arguments)))
    sys.exit(asyncio.run(main(arguments)))
