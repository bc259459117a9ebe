"""Many posts in one call, and requests checked without Temporal.

`tiktok-publisher submit --jsonl FILE` reads one request per line and starts them over one
Temporal connection, several at a time (a process start per post cost more than the post);
`tiktok-publisher validate FILE` runs every check `submit` runs before it starts anything,
offline, with `submit`'s output and exit codes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starter import platform_sets_cli
from starter.api import PostPublisher, SubmittedTarget, delivery_problems
from worker.custody import CustodySettings
from worker.settings import Settings, load_settings
from workflows.post import Post
from workflows.request import RequestInvalid, parse_request
from workflows.validation import ValidationPolicy

#: Starts in flight at once: enough to hide the round trip, few enough for a small server.
CONCURRENCY = 16


@dataclass
class LineResult:
    """One request of a batch: started, already there, or invalid (nothing started)."""

    line: int
    submitted: list[SubmittedTarget] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    unreadable: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.unreadable is None

    def as_dict(self) -> dict[str, Any]:
        if self.unreadable is not None:
            return {"line": self.line, "status": "unreadable", "error": self.unreadable}
        if self.problems:
            return {"line": self.line, "status": "invalid", "problems": self.problems}
        if not self.submitted:  # checked by `validate`, nothing started
            return {"line": self.line, "status": "valid"}
        created = any(s.created for s in self.submitted)
        return {
            "line": self.line,
            "status": "started" if created else "exists",
            "targets": [s.__dict__ for s in self.submitted],
        }


def read_lines(text: str) -> list[tuple[int, Any]]:
    """(line number, parsed JSON or the JSONDecodeError) per non-blank line."""
    rows: list[tuple[int, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            rows.append((number, json.loads(raw)))
        except json.JSONDecodeError as err:
            rows.append((number, err))
    return rows


async def check_offline(
    request: Any, settings: Settings | None = None, *, dialect: str | None = None
) -> Post:
    """Every check `submit` makes before it starts a workflow, with no Temporal needed (a
    platform set is read from the account store, as submit reads it). Raises RequestInvalid."""
    s = settings or load_settings()
    policy = ValidationPolicy(source_rule=CustodySettings.from_env().source_rule)
    sets = await platform_sets_cli.resolve(request, dialect)
    post = parse_request(request, dialect=dialect, platform_sets=sets, policy=policy)
    problems = delivery_problems(
        list(post.targets),
        pull_base_url=s.media_public_base_url or s.media_endpoint_url,
        verified=ValidationPolicy(verified_url_prefixes=s.verified_url_prefixes),
        video_source=s.video_source,
    )
    if problems:
        raise RequestInvalid(problems)
    return post


async def submit_lines(
    publisher: PostPublisher,
    rows: Sequence[tuple[int, Any]],
    *,
    dialect: str | None = None,
    concurrency: int = CONCURRENCY,
) -> list[LineResult]:
    """Submit every readable, valid line; one line's problem never stops the others."""
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int, request: Any) -> LineResult:
        if isinstance(request, json.JSONDecodeError):
            return LineResult(number, unreadable=f"not JSON: {request}")
        async with gate:
            try:
                sets = await platform_sets_cli.resolve(request, dialect)
                submitted = await publisher.submit(request, dialect=dialect, platform_sets=sets)
                return LineResult(number, submitted=submitted)
            except RequestInvalid as err:
                return LineResult(number, problems=err.as_dicts())

    return list(await asyncio.gather(*(one(n, r) for n, r in rows)))


async def check_lines(
    rows: Sequence[tuple[int, Any]], *, dialect: str | None = None
) -> list[LineResult]:
    """`validate` for a JSON Lines file: each line checked on its own."""
    results: list[LineResult] = []
    settings = load_settings()
    for number, request in rows:
        if isinstance(request, json.JSONDecodeError):
            results.append(LineResult(number, unreadable=f"not JSON: {request}"))
            continue
        try:
            await check_offline(request, settings, dialect=dialect)
            results.append(LineResult(number))
        except RequestInvalid as err:
            results.append(LineResult(number, problems=err.as_dicts()))
    return results
