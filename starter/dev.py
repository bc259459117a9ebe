"""`tiktok-publisher dev`: the whole engine on one machine, with nothing to configure.

Starts (and on Ctrl-C stops) a Temporal dev server with its UI and state in `.temporal/`,
the TikTok simulator, a media host standing in for a customer's CDN, and a worker; then
submits five sample posts and shows each one's progress to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.tiktok_client import TikTokClient
from activities.tokens import FileTokenStore
from simulator import Simulator, SimulatorConfig
from starter.api import PostPublisher, SubmittedTarget
from starter.media_host import MediaHost, sample_jpeg, sample_video
from starter.setup import register_search_attributes
from worker.main import build_worker, configure_logging
from workflows.contracts import TASK_QUEUE, Phase, PublishSettings

STATE_DIR = Path(".temporal")
TEMPORAL_PORT = 7233
UI_PORT = 8233
DEMO_ACCOUNT = "acct_demo"


def find_binary(name: str) -> str:
    """A binary installed by a pip package sits next to this interpreter."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"'{name}' not found: run `make run` (it installs it) or pip install it.")
    return found


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


@contextlib.asynccontextmanager
async def temporal_dev_server(state_dir: Path) -> AsyncIterator[str]:
    """The real Temporal dev server, its state kept in a file so posts survive a restart."""
    address = f"127.0.0.1:{TEMPORAL_PORT}"
    if _port_open(TEMPORAL_PORT):
        print(f"Using the Temporal server already listening on {address}.")
        yield address
        return
    state_dir.mkdir(exist_ok=True)
    log_file = (state_dir / "temporal.log").open("ab")
    process = subprocess.Popen(
        [
            find_binary("temporal"),
            "server",
            "start-dev",
            "--ip", "127.0.0.1",
            "--port", str(TEMPORAL_PORT),
            "--ui-port", str(UI_PORT),
            "--db-filename", str(state_dir / "temporal.db"),
            "--log-level", "warn",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit(f"Temporal dev server exited; see {state_dir / 'temporal.log'}")
            if _port_open(TEMPORAL_PORT):
                break
            await asyncio.sleep(0.1)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()


def sample_requests(media: MediaHost, stamp: str, now: datetime) -> list[dict[str, Any]]:
    """Five posts that between them walk every path a newcomer should see."""
    video = media.add("videos/launch.mp4", sample_video(), "video/mp4")
    photos = [media.add(f"photos/{i}.jpg", sample_jpeg(), "image/jpeg") for i in range(3)]
    video_media = {"url": video, "type": "video", "mimeType": "video/mp4", "durationSeconds": 12}
    tiktok = {"privacy": "PUBLIC_TO_EVERYONE", "allowComments": True}

    def post(name: str, **fields: Any) -> dict[str, Any]:
        return {"postId": f"demo-{stamp}-{name}", **fields}

    return [
        post(
            "video",
            content="Direct video post from the local stack #demo",
            media=[video_media],
            platforms=[{"accountId": DEMO_ACCOUNT, "platformOptions": {"tiktok": tiktok}}],
        ),
        post(
            "inbox",
            content="This one lands in the creator's TikTok inbox as a draft",
            media=[video_media],
            platforms=[
                {"accountId": DEMO_ACCOUNT, "platformOptions": {"tiktok": {"isDraft": True}}}
            ],
        ),
        post(
            "carousel",
            caption="A three-photo carousel",
            targets=[
                {
                    "socialAccountId": DEMO_ACCOUNT,
                    "media": [
                        {"url": u, "type": "photo", "mimeType": "image/jpeg"} for u in photos
                    ],
                    "platformOptions": {
                        "tiktok": {**tiktok, "photoTitle": "Carousel", "autoAddMusic": True}
                    },
                }
            ],
        ),
        post(
            "scheduled",
            content="Scheduled one minute ahead",
            scheduledFor=(now + timedelta(minutes=1)).isoformat(),
            media=[video_media],
            platforms=[{"accountId": DEMO_ACCOUNT, "platformOptions": {"tiktok": tiktok}}],
        ),
        post(
            "unverified",
            content="Media on a host TikTok has not verified: fails with a clear code",
            media=[{**video_media, "url": media.url("videos/launch.mp4", host="localhost")}],
            platforms=[{"accountId": DEMO_ACCOUNT, "platformOptions": {"tiktok": tiktok}}],
        ),
    ]


def write_token_file(path: Path) -> None:
    data = {
        "accounts": {
            DEMO_ACCOUNT: {
                "access_token": "act.demo",
                "refresh_token": "rft.demo",
                "expires_at": None,
                "open_id": "demo-open-id",
                "scope": "user.info.basic,video.publish,video.upload",
            }
        }
    }
    path.write_text(json.dumps(data, indent=2))
    os.chmod(path, 0o600)


async def _follow(publisher: PostPublisher, item: SubmittedTarget) -> Phase:
    seen = 0
    label = item.post_id.rsplit("-", 1)[-1]
    async for state in publisher.watch(item.post_id, item.account_id, interval=0.5):
        for line in state.history[seen:]:
            print(f"  [{label:<10}] {line}", flush=True)
        seen = len(state.history)
        if state.phase.terminal:
            return state.phase
    return Phase.FAILED


async def run_dev(*, keep_running: bool = True) -> int:
    # The demo prints each post's own timeline; worker logs would repeat it, noisily.
    configure_logging("console", os.environ.get("LOG_LEVEL", "ERROR"))
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    STATE_DIR.mkdir(exist_ok=True)
    token_file = STATE_DIR / "tokens.json"
    write_token_file(token_file)
    sim_config = SimulatorConfig(time_scale=0.5, verified_url_prefixes=["127.0.0.1"])
    with MediaHost() as media, Simulator(sim_config) as sim:
        async with temporal_dev_server(STATE_DIR) as address:
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            await register_search_attributes(client)
            async with TikTokClient(sim.base_url) as tiktok:
                tokens = FileTokenStore(
                    token_file,
                    tiktok,
                    client_key=sim_config.client_key,
                    client_secret=sim_config.client_secret,
                )
                worker = build_worker(client, tiktok=tiktok, tokens=tokens, task_queue=TASK_QUEUE)
                async with worker:
                    return await _demo(client, sim.base_url, media, keep_running=keep_running)


async def _demo(client: Client, sim_url: str, media: MediaHost, *, keep_running: bool) -> int:
    ui = f"http://localhost:{UI_PORT}"
    print(f"Temporal UI:      {ui}")
    print(f"TikTok simulator: {sim_url}  (token act.demo)")
    publisher = PostPublisher(
        client,
        settings=PublishSettings(poll_initial_seconds=1, poll_max_seconds=5),
        ui_url=ui,
    )
    # The media host stands in for a CDN; TikTok (the simulator) verifies only 127.0.0.1.
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    submitted: list[SubmittedTarget] = []
    for request in sample_requests(media, stamp, datetime.now(UTC)):
        for item in await publisher.submit(request):
            submitted.append(item)
            print(f"submitted {item.workflow_id}\n  {item.summary}\n  {item.ui_url}")
    print("Following each post to its end (the scheduled one waits a minute)...")
    phases = await asyncio.gather(*(_follow(publisher, item) for item in submitted))
    print("\nResults:")
    for item, phase in zip(submitted, phases, strict=True):
        state = await publisher.state(item.post_id, item.account_id)
        detail = state.error.code if state.error else ", ".join(state.public_post_ids) or "-"
        print(f"  {phase.value:<19} {item.workflow_id:<45} {detail}")
    if keep_running:
        print(f"\nEverything is still running: browse {ui}. Press Ctrl-C to stop.")
        await asyncio.Event().wait()
    return 0
