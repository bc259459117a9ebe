"""Benchmark: TikTok API calls per published post, webhooks on against polling only, and a
fault run (webhooks duplicated, reordered, lost and forged) whose outcomes must equal polling.

    python -m bench.webhooks --posts 25 --time-scale 0.1     # make bench-webhooks

The whole engine runs on loopback: a Temporal dev server, the simulator (moderation 10
simulated minutes, every simulated duration scaled by --time-scale), moto S3, the worker and
the HTTP API. Poll settings are the production defaults scaled by the same factor (5 s first
wait, x1.5, at most 300 s; with webhooks the 900 s fallback), so the call counts are what a
production post would cost. The three arms (polling only, webhooks, webhooks with faults) run
one after another in the same invocation, each with `--posts` posts at once on the demo
account (per-minute budgets raised: pacing only delays calls, it never adds any). Counted
from the simulator's request log: creator_info, init, chunk uploads, status fetches (per
post by publish_id), and every webhook delivery (lost, duplicated, forged and accepted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.results import record
from simulator import Simulator, SimulatorConfig
from starter.local_s3 import create_bucket, moto_server
from starter.media_host import MediaHost, sample_video
from tests.api_support import LiveApi, live_api
from tests.workflow_support import video_request
from worker import main as worker_main
from workflows import search_attributes
from workflows.contracts import PublishSettings

MODERATION_SECONDS = 600.0
PRODUCTION_FALLBACK_SECONDS = 900.0
COUNTED = ("creator_info", "video_init", "upload", "status_fetch")
FAULTS = {"duplicate": 0.3, "reorder": 0.3, "drop": 0.3, "mis_sign": 0.3}
ARMS = ("polling only", "webhooks", "webhooks+faults")
#: Every post of an arm runs at once on one account, so its per-minute budgets and TikTok's
#: are raised: the pacing would only delay calls, never add any (this counts calls).
RAISED = 100_000
ACCOUNT_ENV = {
    "TIKTOK_ACCOUNT_CREATOR_INFO_PER_MINUTE": str(RAISED),
    "TIKTOK_ACCOUNT_INIT_PER_MINUTE": str(RAISED),
    "TIKTOK_ACCOUNT_STATUS_PER_MINUTE": str(RAISED),
}


@dataclass
class PostRun:
    post_id: str
    phase: str = ""
    public: bool = False
    publish_id: str | None = None
    status_calls: int = 0
    events_lost: int = 0
    forged_sent: int = 0

    @property
    def outcome(self) -> str:
        return f"{self.phase}{'+public id' if self.public else ''}"


@dataclass
class RunReport:
    name: str
    runs: list[PostRun] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    forged_sent: int = 0
    forged_accepted: int = 0
    dropped: int = 0
    duplicated: int = 0

    @property
    def posts(self) -> int:
        return len(self.runs)

    @property
    def outcomes(self) -> list[str]:
        return [r.outcome for r in self.runs]

    @property
    def max_status(self) -> int:
        return max((r.status_calls for r in self.runs), default=0)

    def line(self) -> str:
        per_post = ", ".join(f"{e} {self.calls[e] / self.posts:.1f}" for e in COUNTED)
        total = sum(self.calls[e] for e in COUNTED) / self.posts
        extra = (
            f"; forged sent {self.forged_sent}, accepted {self.forged_accepted}; "
            f"events lost {self.dropped}, duplicated {self.duplicated}"
            if self.name == "webhooks+faults"
            else ""
        )
        return (
            f"{self.name:16} per post: {per_post} (total {total:.1f}; status at most "
            f"{self.max_status}); outcomes {dict(Counter(self.outcomes))}; "
            f"{self.seconds:.1f} s{extra}"
        )


def scaled_settings(scale: float, *, webhooks: bool) -> PublishSettings:
    base = PublishSettings()
    return base.model_copy(
        update={
            "poll_initial_seconds": base.poll_initial_seconds * scale,
            "poll_max_seconds": base.poll_max_seconds * scale,
            "public_id_wait_seconds": base.public_id_wait_seconds * scale,
            "webhook_fallback_poll_seconds": (
                PRODUCTION_FALLBACK_SECONDS * scale if webhooks else None
            ),
        }
    )


async def publish_one(api: LiveApi, http: httpx.AsyncClient, post_id: str, video: str) -> PostRun:
    """Submit over HTTP, wait for the run's end (a long poll: no state queries loading the
    machine while the arm is counted), then read the post's final state over HTTP."""
    answer = await http.post("/v1/posts", json=video_request(post_id, video))
    answer.raise_for_status()
    [target] = answer.json()["targets"]
    with contextlib.suppress(WorkflowFailureError):
        await api.service.publisher.client.get_workflow_handle(target["workflowId"]).result()
    state: dict[str, Any] = (await http.get(f"/v1/posts/{post_id}/targets/acct_demo")).json()
    return PostRun(
        post_id, state["phase"], bool(state.get("public_post_ids")), state.get("publish_id")
    )


async def run(
    name: str, api: LiveApi, sim: Simulator, video: str, posts: int, scale: float, tag: str
) -> RunReport:
    webhooks = name != "polling only"
    api.service.publisher.settings = scaled_settings(scale, webhooks=webhooks)
    sim.update_config(
        webhook_url=f"{api.base_url}/v1/webhooks/tiktok" if webhooks else "",
        webhook_faults=FAULTS if name == "webhooks+faults" else {},
    )
    sim.clear_requests()
    sim.webhooks.reset()
    report = RunReport(name)
    started = time.monotonic()
    arm = name.replace(" ", "-").replace("+", "-")
    async with api.http() as http:
        report.runs = list(
            await asyncio.gather(
                *(publish_one(api, http, f"bench-{tag}-{arm}-{n}", video) for n in range(posts))
            )
        )
    report.seconds = time.monotonic() - started
    by_publish = {r.publish_id: r for r in report.runs if r.publish_id}
    for entry in sim.requests():
        report.calls[entry["endpoint"]] += 1
        if entry["endpoint"] == "status_fetch":
            found = by_publish.get(str((entry.get("body") or {}).get("publish_id")))
            if found is not None:
                found.status_calls += 1
    delivered: Counter[tuple[str, str]] = Counter()
    for d in sim.webhook_deliveries():
        # A forged event accepted is a failure whichever post it names.
        report.forged_accepted += d["forged"] and d["outcome"] == "delivered"
        post = by_publish.get(d["publish_id"])
        if post is None:
            continue  # the simulator also re-sends events of earlier arms' publishes
        if d["forged"]:
            report.forged_sent += 1
            post.forged_sent += 1
        elif d["outcome"] == "dropped":
            report.dropped += 1
            post.events_lost += 1
        elif d["outcome"] == "delivered":
            delivered[(d["event"], d["publish_id"])] += 1
    report.duplicated = sum(n - 1 for n in delivered.values())
    return report


def per_post_table(reports: list[RunReport]) -> list[str]:
    """One line per post: each arm's outcome and status calls (faults: lost, forged)."""
    head = "  ".join(f"{r.name:<34}" for r in reports)
    lines = [f"{'post':>4}  {head}".rstrip()]
    for n in range(reports[0].posts):
        cells = []
        for report in reports:
            run = report.runs[n]
            cell = f"{run.outcome} status {run.status_calls}"
            if report.name == "webhooks+faults":
                cell += f" lost {run.events_lost} forged {run.forged_sent}"
            cells.append(f"{cell:<34}")
        lines.append(f"{n:>4}  {'  '.join(cells)}".rstrip())
    return lines


async def main_async(args: argparse.Namespace) -> int:
    worker_main.configure_logging("console", "ERROR")
    bin_dir = Path(sys.executable).parent
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(bin_dir / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search_attributes.ALL),
    )
    config = SimulatorConfig(
        time_scale=args.time_scale,
        moderation_seconds=MODERATION_SECONDS,
        webhook_seed=7,
        rate_limits=dict.fromkeys(("creator_info", "video_init", "status_fetch"), 0),
        direct_posts_per_day=0,  # 0: no cap (every arm posts on the one demo account)
    )
    os.environ.update(ACCOUNT_ENV)
    tag = f"{int(time.time()) % 100000}"
    try:
        with (
            moto_server() as endpoint,
            Simulator(config) as sim,
            MediaHost() as media,
            tempfile.TemporaryDirectory() as folder,
        ):
            bucket = create_bucket(endpoint, "webhook-bench")
            os.environ.update(bucket.env())
            os.environ["MEDIA_SOURCE_ALLOW_LOOPBACK"] = "1"
            video = media.add("bench/video.mp4", sample_video(), "video/mp4")
            async with live_api(env.client, sim, Path(folder), "webhook-bench") as api:
                reports = [
                    await run(name, api, sim, video, args.posts, args.time_scale, tag)
                    for name in ARMS
                ]
    finally:
        await env.shutdown()
    print(
        f"{args.posts} public direct video post(s) per run; moderation "
        f"{MODERATION_SECONDS / 60:.0f} simulated minutes; time scale {args.time_scale}"
    )
    for line in per_post_table(reports):
        print(line)
    for report in reports:
        print(report.line())
    polling, webhooks, faults = reports
    same = polling.outcomes == webhooks.outcomes == faults.outcomes
    published = all(o == "PUBLISHED+public id" for o in polling.outcomes)
    within = webhooks.max_status <= 2
    print(
        f"outcomes identical to polling only, post by post: {'yes' if same else 'NO'}; "
        f"every post published with its public id: {'yes' if published else 'NO'}; "
        f"forged events accepted: {faults.forged_accepted}; "
        f"webhooks: at most {webhooks.max_status} status call(s) per post "
        f"({'within' if within else 'OVER'} the goal of 2)"
    )
    ratio = webhooks.calls["status_fetch"] / max(polling.calls["status_fetch"], 1)
    record(
        "webhooks",
        "status calls per post, webhooks vs polling",
        ratio,
        f"{webhooks.calls['status_fetch'] / webhooks.posts:.1f} vs "
        f"{polling.calls['status_fetch'] / polling.posts:.1f} ({args.posts} posts an arm)",
        goal="< 1.0",
    )
    record("webhooks", "forged events accepted", faults.forged_accepted, "", count=True)
    ok = same and published and within and not faults.forged_accepted
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=25, help="posts per arm, all at once")
    parser.add_argument("--time-scale", type=float, default=0.01)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
