"""Lost init answers under kill -9 with TikTok's webhooks on: how many posts are left to a
person without evidence and with it.

    .venv/bin/python -m bench.ambiguity --posts 40        # make bench-ambiguity

One Temporal dev server, the TikTok simulator (limits raised), a local S3, a media host and
the HTTP API (TikTok's webhooks in) in this process; the workers are `tiktok-publisher worker`
processes. The same run configuration is played twice, each on fresh task queue and post ids,
with the simulator's webhooks delivered to the API in both:

* **evidence off**: `ambiguity_evidence_window_seconds = 0`, the rule before issue 15 part 2:
  a pulled init whose answer was lost ends AMBIGUOUS_INIT at once (FILE_UPLOAD ghosts are
  started again by themselves in both plays);
* **evidence on**: the window (`--window`): the post waits for TikTok's event about its ghost
  and adopts it (live) or starts again (its pull failed); two claimants of one account in one
  window, or no event, still end AMBIGUOUS_INIT.

Each play submits `--posts` posts over `--accounts` accounts, a quarter each of direct
FILE_UPLOAD videos, inbox videos, pull-mode direct videos and direct photos. Every
`--fault-every`-th call to each init endpoint loses its answer, in turn: after TikTok created
the publish (`drop_after_processing`), before (`drop`), and after creating it with TikTok's
pull starting only later (`pull_delay_seconds`: the withdrawn copy makes the pull fail). Every
`--interval` seconds the oldest of 2 workers is replaced, alternately by SIGTERM and kill -9.

Then, from the simulator's own record: completed publishes per target (must be <= 1; a
completed publish that no post owns would be a ghost gone live), posts lost (ended any other
way than PUBLISHED / DELIVERED_TO_INBOX / AMBIGUOUS_INIT / INIT_ANSWERS_LOST), the share
of posts left AMBIGUOUS_INIT, and what decided each ambiguity. Exit 1 on a duplicate or a
lost post.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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

from activities.tokens import StoredToken
from bench.rolling_restarts import (
    UNLIMITED,
    Workers,
    dev_server,
    unlimited_limits,
    worker_environment,
)
from simulator import CreatorConfig, Simulator, SimulatorConfig
from starter.api import PostPublisher
from starter.local_s3 import create_bucket, moto_server
from starter.media_host import MediaHost, sample_jpeg, sample_video
from tests.api_support import LiveApi, live_api
from workflows.account_contracts import account_workflow_id
from workflows.contracts import PublishSettings

SETTINGS = PublishSettings(
    poll_initial_seconds=0.5,
    poll_max_seconds=2.0,
    init_timeout_seconds=20,
    webhook_fallback_poll_seconds=5.0,  # TikTok's webhooks reach the API in both plays
)
KINDS = ("video_direct", "video_inbox", "video_pull", "photo_direct")
INIT_ENDPOINTS = ("video_init", "inbox_video_init", "content_init")
GOOD = {"PUBLISHED", "DELIVERED_TO_INBOX", "FAILED AMBIGUOUS_INIT", "FAILED INIT_ANSWERS_LOST"}
#: Simulated seconds before TikTok pulls, for the faults whose pull comes after withdrawal.
LATE_PULL = 3000  # 30 s at the time scale: the withdrawal comes first even on a busy machine


def accounts(n: int) -> list[str]:
    return [f"acct_{i}" for i in range(n)]


def creators(n: int) -> list[CreatorConfig]:
    return [
        CreatorConfig(
            access_token=f"act.{a}", refresh_token=f"rft.{a}", open_id=f"open.{a}", username=a
        )
        for a in accounts(n)
    ]


def token_file(workdir: Path, n: int) -> Path:
    path = workdir / "tokens.json"
    tokens = {a: {"access_token": f"act.{a}", "refresh_token": f"rft.{a}"} for a in accounts(n)}
    path.write_text(json.dumps({"accounts": tokens}))
    return path


def post(post_id: str, kind: str, urls: dict[str, str], account: str) -> dict[str, Any]:
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
        "platforms": [{"accountId": account, "platformOptions": {"tiktok": tiktok}}],
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
            action = "drop" if i % 3 == 1 else "drop_after_processing"
            fault: dict[str, Any] = {
                "endpoint": endpoint,
                "count": 1,
                "action": action,
                "after": every - 1,
            }
            if i % 3 == 2:
                fault["pull_delay_seconds"] = LATE_PULL  # pulled only after the withdrawal
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
    evidence: Counter[str]


async def evidence_of(client: Client, workflow_id: str) -> str:
    """What decided the post's lost init answer, if it had one (from its `state`)."""
    try:
        state = await asyncio.wait_for(
            client.get_workflow_handle(workflow_id).query("state"), timeout=20
        )
    except Exception:  # a query that finds no worker: the figure is only informative
        return "unknown"
    evidence = state.get("ambiguity_evidence") if isinstance(state, dict) else None
    return str(evidence["outcome"]) if evidence else "-"


async def play(
    name: str,
    env: WorkflowEnvironment,
    sim: Simulator,
    api: LiveApi,
    base_env: dict[str, str],
    urls: dict[str, str],
    workdir: Path,
    args: argparse.Namespace,
    window: float,
) -> Play:
    await asyncio.to_thread(sim_admin, sim, "POST", "reset")
    sim.update_config(webhook_url=f"{api.base_url}/v1/webhooks/tiktok")
    inject_lost_answers(sim, args.fault_every, args.posts)
    task_queue = f"ambiguity-{name}-{uuid.uuid4().hex[:6]}"
    logs = workdir / name
    logs.mkdir()
    workers = Workers({**base_env, "TIKTOK_TASK_QUEUE": task_queue}, logs)
    settings = SETTINGS.model_copy(update={"ambiguity_evidence_window_seconds": window})
    publishers = {
        source: PostPublisher(
            env.client, task_queue=task_queue, settings=settings, video_source=source
        )
        for source in ("file_upload", "pull_from_url")
    }
    stamp = uuid.uuid4().hex[:6]
    names = accounts(args.accounts)
    try:
        for _ in range(2):
            workers.start()
        ids: list[str] = []
        for i in range(args.posts):
            kind = KINDS[i % len(KINDS)]
            publisher = publishers["pull_from_url" if kind == "video_pull" else "file_upload"]
            account = names[(i // len(KINDS)) % len(names)]
            request = post(f"{name}-{stamp}-{i}", kind, urls, account)
            [item] = await publisher.submit(request)
            ids.append(item.workflow_id)
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
        evidence = Counter(await asyncio.gather(*(evidence_of(env.client, wf_id) for wf_id in ids)))
    finally:
        workers.stop_all()
        # The accounts' entities live on this play's task queue: the next play starts its own.
        for account in names:
            entity = env.client.get_workflow_handle(account_workflow_id(account))
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
    del evidence["-"]
    return Play(
        name,
        outcomes,
        outcomes["FAILED AMBIGUOUS_INIT"],
        args.posts,
        duplicates,
        lost,
        ghosts_live,
        ghost_publishes,
        evidence,
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument(
        "--fault-every", type=int, default=3, help="every Nth init loses its answer"
    )
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between replacements")
    parser.add_argument(
        "--window", type=float, default=90.0, help="evidence window (seconds) of the second play"
    )
    args = parser.parse_args()
    os.environ["MEDIA_SOURCE_ALLOW_LOOPBACK"] = "1"  # media host and simulator on loopback
    env = await dev_server()
    workdir = Path(tempfile.mkdtemp(prefix="bench-ambiguity-"))
    tokens = token_file(workdir, args.accounts)
    config = SimulatorConfig(
        time_scale=0.01,
        rate_limits=unlimited_limits(),
        direct_posts_per_day=UNLIMITED,
        pending_inbox_shares_per_day=UNLIMITED,
        creators=creators(args.accounts),
    )
    plays: list[Play] = []
    with Simulator(config) as sim, moto_server() as s3, MediaHost() as media:
        bucket = create_bucket(s3, "tiktok-media")
        os.environ.update(bucket.env())  # the API's staging settings, as the workers'
        urls = {
            "photo": media.add("ambiguity/photo.jpg", sample_jpeg(), "image/jpeg"),
            "video": media.add("ambiguity/video.mp4", sample_video(), "video/mp4"),
        }
        base_env = {
            **worker_environment(env, sim, config, bucket.env(), tokens),
            "TIKTOK_ACCOUNT_INBOX_SHARE_CAP": "100000",
        }
        try:
            async with live_api(env.client, sim, workdir, "ambiguity-api", worker=False) as api:
                for account in accounts(args.accounts):  # webhooks name the creator's open_id
                    token = StoredToken(
                        f"act.{account}", f"rft.{account}", open_id=f"open.{account}"
                    )
                    await api.store.save(account, token)
                api.service.tiktok_webhooks.patience = 10.0
                for name, window in (("evidence-off", 0.0), ("evidence-on", args.window)):
                    plays.append(
                        await play(name, env, sim, api, base_env, urls, workdir, args, window)
                    )
        finally:
            await env.shutdown()
    print(f"{'play':13} {'posts':>5} {'AMBIGUOUS_INIT':>15} {'share':>6} {'dup':>4} {'lost':>4} "
          f"{'ghosts':>6}  outcomes / evidence")  # fmt: skip
    for p in plays:
        print(f"{p.name:13} {p.posts:5} {p.ambiguous:15} {p.ambiguous / p.posts:6.1%} "
              f"{p.duplicates:4} {p.lost:4} {p.ghost_publishes:6}  {dict(p.outcomes)} "
              f"{dict(p.evidence)}")  # fmt: skip
    before, after = plays
    if before.ambiguous:
        print(f"left to a person: evidence on = {after.ambiguous / before.ambiguous:.2f}x off")
    return 1 if any(p.duplicates or p.lost for p in plays) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
