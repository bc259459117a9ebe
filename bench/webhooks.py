"""Benchmark: TikTok API calls per published post, webhooks on against polling only, and a
fault run (webhooks duplicated, reordered, lost and forged) whose outcomes must equal polling.

    python -m bench.webhooks --posts 3          # make bench-webhooks

The whole engine runs on loopback: a Temporal dev server, the simulator (moderation 10
simulated minutes, every simulated duration scaled by --time-scale), moto S3, the worker and
the HTTP API. Poll settings are the production defaults scaled by the same factor (5 s first
wait, x1.5, at most 300 s; with webhooks the 900 s fallback), so the call counts are what a
production post would cost. Posts run one after another so TikTok's 30 status calls per
minute never pace the polling-only run. Counted from the simulator's request log, per post:
creator_info, init, chunk uploads, status fetches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

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


@dataclass
class RunReport:
    name: str
    posts: int
    calls: Counter[str] = field(default_factory=Counter)
    outcomes: list[tuple[str, bool]] = field(default_factory=list)
    seconds: float = 0.0
    forged_sent: int = 0
    forged_accepted: int = 0
    dropped: int = 0

    def line(self) -> str:
        per_post = ", ".join(f"{e} {self.calls[e] / self.posts:.1f}" for e in COUNTED)
        total = sum(self.calls[e] for e in COUNTED) / self.posts
        ends = Counter(
            f"{phase}{'+public id' if public else ''}" for phase, public in self.outcomes
        )
        extra = (
            f"; forged sent {self.forged_sent}, accepted {self.forged_accepted}; "
            f"events lost {self.dropped}"
            if self.name == "webhooks+faults"
            else ""
        )
        return (
            f"{self.name:16} per post: {per_post} (total {total:.1f}); "
            f"outcomes {dict(ends)}; {self.seconds:.1f} s{extra}"
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


async def publish_one(http: httpx.AsyncClient, post_id: str, video: str) -> tuple[str, bool]:
    answer = await http.post("/v1/posts", json=video_request(post_id, video))
    answer.raise_for_status()
    while True:
        state: dict[str, Any] = (await http.get(f"/v1/posts/{post_id}/targets/acct_demo")).json()
        if state.get("phase") in ("PUBLISHED", "FAILED", "DELIVERED_TO_INBOX"):
            return state["phase"], bool(state.get("public_post_ids"))
        await asyncio.sleep(0.1)


async def run(
    name: str, api: LiveApi, sim: Simulator, video: str, posts: int, scale: float
) -> RunReport:
    webhooks = name != "polling only"
    api.service.publisher.settings = scaled_settings(scale, webhooks=webhooks)
    sim.update_config(
        webhook_url=f"{api.base_url}/v1/webhooks/tiktok" if webhooks else "",
        webhook_faults=FAULTS if name == "webhooks+faults" else {},
    )
    sim.clear_requests()
    sim.webhooks.reset()
    report = RunReport(name, posts)
    started = time.monotonic()
    async with api.http() as http:
        for n in range(posts):
            tag = name.replace(" ", "-").replace("+", "-")
            report.outcomes.append(await publish_one(http, f"bench-{tag}-{n}", video))
    report.seconds = time.monotonic() - started
    for entry in sim.requests():
        report.calls[entry["endpoint"]] += 1
    deliveries = sim.webhook_deliveries()
    report.forged_sent = sum(1 for d in deliveries if d["forged"])
    report.forged_accepted = sum(
        1 for d in deliveries if d["forged"] and d["outcome"] == "delivered"
    )
    report.dropped = sum(1 for d in deliveries if d["outcome"] == "dropped")
    return report


async def main_async(args: argparse.Namespace) -> int:
    worker_main.configure_logging("console", "ERROR")
    bin_dir = Path(sys.executable).parent
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(bin_dir / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search_attributes.ALL),
    )
    config = SimulatorConfig(
        time_scale=args.time_scale, moderation_seconds=MODERATION_SECONDS, webhook_seed=7
    )
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
                    await run(name, api, sim, video, args.posts, args.time_scale)
                    for name in ("polling only", "webhooks", "webhooks+faults")
                ]
    finally:
        await env.shutdown()
    print(
        f"{args.posts} public direct video post(s) per run; moderation "
        f"{MODERATION_SECONDS / 60:.0f} simulated minutes; time scale {args.time_scale}"
    )
    for report in reports:
        print(report.line())
    same = reports[0].outcomes == reports[1].outcomes == reports[2].outcomes
    print(f"outcomes identical to polling only: {'yes' if same else 'NO'}")
    return 0 if same and not reports[2].forged_accepted else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.01)
    sys.exit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
