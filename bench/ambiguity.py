"""Lost init answers under kill -9: how many posts are left to a person, before and after.

    .venv/bin/python -m bench.ambiguity --posts 60        # make bench-ambiguity

One Temporal dev server, the TikTok simulator (limits raised), a local S3 and a media host in
this process; the workers are `tiktok-publisher worker` processes. The same run configuration
is played twice, each on fresh task queue and post ids:

* **before**: `max_ghost_inits = 0`, today's rule before issue 15 (every lost init answer
  waits for a person as AMBIGUOUS_INIT);
* **after**: the default (`max_ghost_inits = 3`): a FILE_UPLOAD video whose init answer was
  lost starts a new init by itself; pulled photos still wait for a person.

Each play submits `--posts` posts, a third each of direct videos, inbox videos and direct
photos. Every `--fault-every`-th call to each init endpoint loses its answer, alternately
after TikTok created the publish (`drop_after_processing`) and before (`drop`), and every
`--interval` seconds the oldest of 2 workers is replaced, alternately by SIGTERM and kill -9.

Then, from the simulator's own record: completed publishes per target (must be ≤ 1; a
completed publish that no post owns would be a ghost gone live), posts lost (ended any other
way than PUBLISHED / DELIVERED_TO_INBOX / AMBIGUOUS_INIT / INIT_ANSWERS_LOST), and the share
of posts left AMBIGUOUS_INIT. Exit 1 on a duplicate or a lost post.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from bench.rolling_restarts import (
    UNLIMITED,
    Workers,
    demo_token_file,
    dev_server,
    unlimited_limits,
    worker_environment,
)
from simulator import Simulator, SimulatorConfig
from starter.api import PostPublisher
from starter.local_s3 import create_bucket, moto_server
from starter.media_host import MediaHost, sample_jpeg, sample_video
from workflows.account_contracts import account_workflow_id
from workflows.contracts import PublishSettings

SETTINGS = PublishSettings(poll_initial_seconds=0.5, poll_max_seconds=2.0, init_timeout_seconds=20)
KINDS = ("video_direct", "video_inbox", "photo_direct")
INIT_ENDPOINTS = ("video_init", "inbox_video_init", "content_init")
GOOD = {"PUBLISHED", "DELIVERED_TO_INBOX", "FAILED AMBIGUOUS_INIT", "FAILED INIT_ANSWERS_LOST"}


def post(post_id: str, kind: str, urls: dict[str, str]) -> dict[str, Any]:
    tiktok: dict[str, Any] = {"privacy": "PUBLIC_TO_EVERYONE"}
    if kind == "video_inbox":
        tiktok = {"isDraft": True}
    media = (
        {"url": urls["photo"], "type": "photo", "mimeType": "image/jpeg"}
        if kind.startswith("photo")
        else {"url": urls["video"], "type": "video", "mimeType": "video/mp4"}
    )
    return {
        "postId": post_id,
        "content": f"ambiguity {post_id}",
        "media": [media],
        "platforms": [{"accountId": "acct_demo", "platformOptions": {"tiktok": tiktok}}],
    }


async def outcome(client: Client, workflow_id: str) -> tuple[str, str | None]:
    """(outcome, publish_id of the post's own publish)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        result = await handle.result()
        return str(result["phase"]), result.get("publish_id")
    except WorkflowFailureError as err:
        cause = err.cause
        code = cause.type if isinstance(cause, ApplicationError) else ""
        return f"FAILED {code}".strip(), None


def sim_admin(sim: Simulator, method: str, path: str) -> Any:
    response = httpx.request(method, f"{sim.base_url}/_sim/{path}", timeout=30)
    response.raise_for_status()
    return response.json()


def inject_lost_answers(sim: Simulator, every: int, count: int) -> None:
    """Queue, per init endpoint, a lost answer every `every`-th call (head-of-queue faults)."""
    for endpoint in INIT_ENDPOINTS:
        for i in range(count):
            action = "drop_after_processing" if i % 2 == 0 else "drop"
            fault = {"endpoint": endpoint, "count": 1, "action": action, "after": every - 1}
            httpx.post(f"{sim.base_url}/_sim/faults", json=fault, timeout=10).raise_for_status()


@dataclass
class Play:
    name: str
    outcomes: Counter[str]
    ambiguous: int
    posts: int
    duplicates: int
    lost: int
    ghosts_live: int
    ghost_publishes: int


async def play(
    name: str,
    env: WorkflowEnvironment,
    sim: Simulator,
    base_env: dict[str, str],
    urls: dict[str, str],
    workdir: Path,
    args: argparse.Namespace,
    max_ghost_inits: int,
) -> Play:
    await asyncio.to_thread(sim_admin, sim, "POST", "reset")
    inject_lost_answers(sim, args.fault_every, args.posts)
    task_queue = f"ambiguity-{name}-{uuid.uuid4().hex[:6]}"
    logs = workdir / name
    logs.mkdir()
    workers = Workers({**base_env, "TIKTOK_TASK_QUEUE": task_queue}, logs)
    settings = SETTINGS.model_copy(update={"max_ghost_inits": max_ghost_inits})
    publisher = PostPublisher(env.client, task_queue=task_queue, settings=settings)
    stamp = uuid.uuid4().hex[:6]
    try:
        for _ in range(2):
            workers.start()
        kinds: dict[str, str] = {}
        ids: list[str] = []
        for i in range(args.posts):
            kind = KINDS[i % len(KINDS)]
            [item] = await publisher.submit(post(f"{name}-{stamp}-{i}", kind, urls))
            ids.append(item.workflow_id)
            kinds[item.post_id] = kind
        flowing = asyncio.ensure_future(
            asyncio.gather(*(outcome(env.client, wf_id) for wf_id in ids))
        )
        turns = 0
        while not flowing.done():
            await asyncio.wait({flowing}, timeout=args.interval)
            if flowing.done():
                break
            workers.replace_oldest(kill=turns % 2 == 1)
            turns += 1
        results = await flowing
    finally:
        workers.stop_all()
        # The account's entity lives on this play's task queue: the next play starts its own.
        entity = env.client.get_workflow_handle(account_workflow_id("acct_demo"))
        with contextlib.suppress(RPCError):
            await entity.terminate("play finished")
    publishes = (await asyncio.to_thread(sim_admin, sim, "GET", "publishes"))["publishes"]
    owned = {pid for _, pid in results if pid}
    completed_by_post: Counter[str] = Counter()
    ghosts_live = ghost_publishes = 0
    for publish in publishes:
        done = publish["status"] in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX")
        text = f"{publish.get('title') or ''} {publish.get('description') or ''}"
        if "ambiguity " in text:  # direct posts carry their caption: attribute by it
            if done:
                completed_by_post[text.split("ambiguity ", 1)[1].split()[0]] += 1
        elif done and publish["publish_id"] not in owned:
            ghosts_live += 1  # an inbox video no post owns went live: would be a duplicate
        if publish["publish_id"] not in owned and publish["status"] == "PROCESSING_UPLOAD":
            ghost_publishes += 1
    outcomes = Counter(result for result, _ in results)
    lost = sum(1 for result, _ in results if result not in GOOD)
    for wf_id, (result, _) in zip(ids, results, strict=True):
        post_id = wf_id.split("/")[1]
        if result == "PUBLISHED" and completed_by_post[post_id] != 1:
            lost += 1
    duplicates = sum(1 for n in completed_by_post.values() if n > 1) + ghosts_live
    return Play(
        name,
        outcomes,
        outcomes["FAILED AMBIGUOUS_INIT"],
        args.posts,
        duplicates,
        lost,
        ghosts_live,
        ghost_publishes,
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument(
        "--fault-every", type=int, default=3, help="every Nth init loses its answer"
    )
    parser.add_argument("--interval", type=float, default=4.0, help="seconds between replacements")
    args = parser.parse_args()
    os.environ["MEDIA_SOURCE_ALLOW_LOOPBACK"] = "1"  # media host and simulator on loopback
    env = await dev_server()
    workdir = Path(tempfile.mkdtemp(prefix="bench-ambiguity-"))
    token_file = demo_token_file(workdir)
    config = SimulatorConfig(
        time_scale=0.01,
        rate_limits=unlimited_limits(),
        direct_posts_per_day=UNLIMITED,
        pending_inbox_shares_per_day=UNLIMITED,
    )
    plays: list[Play] = []
    with Simulator(config) as sim, moto_server() as s3, MediaHost() as media:
        bucket = create_bucket(s3, "tiktok-media")
        urls = {
            "photo": media.add("ambiguity/photo.jpg", sample_jpeg(), "image/jpeg"),
            "video": media.add("ambiguity/video.mp4", sample_video(), "video/mp4"),
        }
        base_env = {
            **worker_environment(env, sim, config, bucket.env(), token_file),
            "TIKTOK_ACCOUNT_INBOX_SHARE_CAP": "100000",
        }
        try:
            for name, ghosts in (("before", 0), ("after", 3)):
                plays.append(await play(name, env, sim, base_env, urls, workdir, args, ghosts))
        finally:
            await env.shutdown()
    print(f"{'play':8} {'posts':>5} {'AMBIGUOUS_INIT':>15} {'share':>6} {'dup':>4} {'lost':>4} "
          f"{'ghosts':>6}  outcomes")  # fmt: skip
    for p in plays:
        print(f"{p.name:8} {p.posts:5} {p.ambiguous:15} {p.ambiguous / p.posts:6.1%} "
              f"{p.duplicates:4} {p.lost:4} {p.ghost_publishes:6}  {dict(p.outcomes)}")  # fmt: skip
    before, after = plays
    if before.ambiguous:
        print(f"left to a person: after = {after.ambiguous / before.ambiguous:.2f}x before")
    return 1 if any(p.duplicates or p.lost for p in plays) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
