"""`tiktok-publisher dev`: the whole engine on one machine, with nothing to configure.

Starts (and on Ctrl-C stops) a Temporal dev server with its UI and state in `.temporal/`,
the TikTok simulator, a media host standing in for a customer's CDN, and a worker; then
submits five sample posts and shows each one's progress to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.runtime import Runtime

from account_store.database import open_database
from account_store.store import AccountStore
from simulator import Simulator, SimulatorConfig
from starter.api import PostPublisher, SubmittedTarget
from starter.children import stop_child
from starter.codec_server import DEV_UI_ORIGINS, CodecServer, local_stack_keys
from starter.dev_api import dev_api, seed_demo_account
from starter.dev_stack import DevPorts, taken_ports_message, write_env_file
from starter.local_s3 import create_bucket, moto_server, restore_bucket, save_bucket
from starter.media_host import MediaHost, sample_jpeg, sample_video
from starter.setup import register_search_attributes
from telemetry.http import prometheus_runtime
from worker.codec import PayloadKeys, data_converter_from_env
from worker.config import MediaSettings, WorkerSettings
from worker.main import configure_logging, ops_server, running_worker
from worker.settings import load_settings
from workflows.contracts import TASK_QUEUE, Phase, PublishSettings

STATE_DIR = Path(".temporal")
#: moto keeps objects in memory: the stack saves the bucket here when it stops.
S3_DIR = STATE_DIR / "s3"
#: Files copied here are served by the media host at /files/NAME (your own local posts).
MEDIA_DIR = STATE_DIR / "media"
DEMO_ACCOUNT = "acct_demo"
#: Always served by the media host, so documented examples have a real file to publish.
EXAMPLE_VIDEO = "videos/launch.mp4"
DEFAULT_PORTS = DevPorts()


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
async def temporal_dev_server(
    state_dir: Path, codec_endpoint: str | None = None, ports: DevPorts = DEFAULT_PORTS
) -> AsyncIterator[str]:
    """The real Temporal dev server, its state kept in a file so posts survive a restart."""
    address = f"127.0.0.1:{ports.temporal}"
    if _port_open(ports.temporal):
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
            "--port", str(ports.temporal),
            "--ui-port", str(ports.ui),
            "--db-filename", str(state_dir / "temporal.db"),
            "--log-level", "warn",
            *(["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []),
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        # Its own process group: a Ctrl-C in the terminal reaches this process alone, which
        # stops the worker and the API first and the server they talk to last.
        process_group=0,
    )  # fmt: skip
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise SystemExit(f"Temporal dev server exited; see {state_dir / 'temporal.log'}")
            if _port_open(ports.temporal):
                break
            await asyncio.sleep(0.1)
        yield address
    finally:
        stop_child(process)
        log_file.close()


async def _connect_when_healthy(
    address: str, within: float = 60, *, runtime: Runtime | None = None
) -> Client:
    """The dev server opens its port before its frontend is ready: retry until it is."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await Client.connect(
                address, data_converter=data_converter_from_env(), runtime=runtime
            )
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


def sample_requests(media: MediaHost, stamp: str, now: datetime) -> list[dict[str, Any]]:
    """Four posts that go well: a direct video, an inbox draft, a carousel, a scheduled one."""
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
    ]


def unverified_request(media: MediaHost, stamp: str) -> dict[str, Any]:
    """A photo post sent while TikTok does not trust the bucket's host (see _demo)."""
    photo = media.add("photos/unverified.jpg", sample_jpeg(), "image/jpeg")
    return {
        "postId": f"demo-{stamp}-unverified",
        "content": "TikTok refuses to pull from a host not verified for the app",
        "media": [{"url": photo, "type": "photo", "mimeType": "image/jpeg"}],
        "platforms": [
            {
                "accountId": DEMO_ACCOUNT,
                "platformOptions": {"tiktok": {"privacy": "PUBLIC_TO_EVERYONE"}},
            }
        ],
    }


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


async def run_dev(
    *,
    keep_running: bool = True,
    samples: bool = True,
    env_file: Path | None = None,
    ports: DevPorts = DEFAULT_PORTS,
) -> int:
    """Run the stack; Ctrl-C (SIGINT), SIGTERM or a closed terminal (SIGHUP) stops
    everything it started, the Temporal dev server last."""
    stack = asyncio.ensure_future(
        _run_stack(keep_running=keep_running, samples=samples, env_file=env_file, ports=ports)
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stack.cancel)
    try:
        return await stack
    except asyncio.CancelledError:
        print(
            "Stopped: worker, HTTP API, Temporal dev server, simulator, S3 and media host are down."
        )
        return 0


async def _run_stack(
    *, keep_running: bool, samples: bool, env_file: Path | None, ports: DevPorts
) -> int:
    # The demo prints each post's own timeline; worker logs would repeat it, noisily.
    # LOG_LEVEL, when set, wins (checked by the settings model like everywhere else).
    configure_logging(
        "console", load_settings().log_level if "LOG_LEVEL" in os.environ else "ERROR"
    )
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    taken = taken_ports_message(ports, _port_open)
    if taken:
        raise SystemExit(taken)
    STATE_DIR.mkdir(exist_ok=True)
    database = open_database()  # the account store: .data/accounts.db unless DATABASE_URL
    store = AccountStore(database)
    sim_config = SimulatorConfig(
        port=ports.simulator, time_scale=0.5, verified_url_prefixes=["127.0.0.1"]
    )
    await seed_demo_account(store, DEMO_ACCOUNT, sim_config.creators[0].open_id)
    keys = local_stack_keys(STATE_DIR, os.environ)  # payloads encrypted unless turned off
    with contextlib.ExitStack() as stack:
        codec = stack.enter_context(_codec_server(keys, ports.codec)) if keys else None
        MEDIA_DIR.mkdir(exist_ok=True)
        media = stack.enter_context(MediaHost(port=ports.media, directory=MEDIA_DIR))
        media.add(EXAMPLE_VIDEO, sample_video(), "video/mp4")
        sim = stack.enter_context(Simulator(sim_config))
        s3 = stack.enter_context(moto_server(ports.s3))
        bucket = create_bucket(s3, "tiktok-media")
        restored = restore_bucket(bucket, S3_DIR)
        stack.callback(_save, bucket)  # runs before moto stops (LIFO)
        os.environ["TIKTOK_API_PORT"] = str(ports.api)
        os.environ.update(bucket.env())  # the worker reads MEDIA_* like any deployment
        # The sample media host is on loopback; the guarded fetcher refuses that by default.
        os.environ.setdefault("MEDIA_SOURCE_ALLOW_LOOPBACK", "1")
        codec_url = codec.url if codec else None
        async with temporal_dev_server(STATE_DIR, codec_url, ports) as address:
            if codec_url:
                print(f"Payloads:         encrypted; the UI decodes them through {codec_url}")
            runtime, sdk_metrics_url = prometheus_runtime()
            client = await _connect_when_healthy(address, runtime=runtime)
            await register_search_attributes(client)
            settings = WorkerSettings(
                tiktok_base_url=sim.base_url,
                client_key=sim_config.client_key,
                client_secret=sim_config.client_secret,
                task_queue=TASK_QUEUE,
            )
            publisher = PostPublisher(
                client,
                settings=PublishSettings(poll_initial_seconds=1, poll_max_seconds=5),
                ui_url=f"http://localhost:{ports.ui}",
            )
            async with (
                running_worker(
                    client, settings, MediaSettings.from_env(), token_store=store
                ) as worker,
                _dev_ops_server(client, worker, sdk_metrics_url),
                dev_api(client, publisher, sim, sim_config, database) as api,
            ):
                kept = f"; {restored} object(s) restored from {S3_DIR}" if restored else ""
                print(f"Media bucket:     {bucket.public_base_url} (moto S3{kept})")
                print(
                    f"Media host:       {media.url('')}  (example {media.url(EXAMPLE_VIDEO)}; "
                    f"files in {MEDIA_DIR}/ at {media.url('files/NAME')})"
                )
                print(f"HTTP API:         {api.url}  (docs {api.url}/docs, MCP {api.url}/mcp)")
                print(f"API key (dev):    {api.key}")
                if env_file is not None:
                    write_env_file(
                        env_file,
                        stack_environment(address, sim, bucket.env(), media, api.url, api.key),
                    )
                    print(f"Environment:      {env_file}  (in another shell: source {env_file})")
                ui = f"http://localhost:{ports.ui}"
                print(f"Temporal UI:      {ui}")
                print(f"TikTok simulator: {sim.base_url}  (token act.demo)")
                if not samples:
                    print("No sample posts (--no-samples). Press Ctrl-C to stop.", flush=True)
                    await asyncio.Event().wait()
                    return 0
                return await _demo(client, sim, media, ui, keep_running=keep_running)


@contextlib.asynccontextmanager
async def _dev_ops_server(client: Client, worker: Any, sdk_metrics_url: str) -> AsyncIterator[None]:
    """The worker's /metrics, /healthz and /readyz on loopback (WORKER_HTTP_ADDRESS, default
    127.0.0.1:9464 here); skipped with a note when the port is taken."""
    given = "WORKER_HTTP_ADDRESS" in os.environ
    address = load_settings().http_address if given else "127.0.0.1:9464"
    host, _, port = address.rpartition(":")
    if address and _port_open(int(port), host if host not in ("", "0.0.0.0") else "127.0.0.1"):
        print(f"Worker metrics:   not served ({address} is taken)")
        address = ""
    async with ops_server(load_settings(http_address=address), client, worker, sdk_metrics_url):
        if address:
            print(f"Worker metrics:   http://{address}/metrics  (/healthz, /readyz)")
        yield


def _codec_server(keys: PayloadKeys, port: int) -> CodecServer:
    """On its port, or any free port when that one is taken."""
    try:
        return CodecServer(keys, port=port, allowed_origins=DEV_UI_ORIGINS)
    except OSError:
        return CodecServer(keys, port=0, allowed_origins=DEV_UI_ORIGINS)


def _save(bucket: Any) -> None:
    count = save_bucket(bucket, S3_DIR)
    print(f"Saved the media bucket ({count} object(s)) to {S3_DIR}.")


def stack_environment(
    address: str,
    sim: Simulator,
    bucket_env: dict[str, str],
    media: MediaHost,
    api_url: str,
    api_key: str,
) -> dict[str, str]:
    """What a CLI, worker or script in another shell needs to use this stack."""
    return {
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": "default",
        "TIKTOK_TASK_QUEUE": TASK_QUEUE,
        "TIKTOK_API_BASE_URL": sim.base_url,
        **bucket_env,
        "MEDIA_SOURCE_ALLOW_LOOPBACK": "1",
        "TIKTOK_PAYLOAD_KEYS": os.environ.get("TIKTOK_PAYLOAD_KEYS", ""),
        "TIKTOK_MEDIA_HOST_URL": media.url("").rstrip("/"),
        "TIKTOK_PUBLISHER_API_URL": api_url,
        "TIKTOK_PUBLISHER_API_KEY": api_key,
    }


async def _demo(
    client: Client, sim: Simulator, media: MediaHost, ui: str, *, keep_running: bool
) -> int:
    publisher = PostPublisher(
        client,
        settings=PublishSettings(poll_initial_seconds=1, poll_max_seconds=5),
        ui_url=ui,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    submitted: list[SubmittedTarget] = []
    for request in sample_requests(media, stamp, datetime.now(UTC)):
        submitted += await _submit(publisher, request)
    print("Following each post to its end (the scheduled one waits a minute)...")
    follows = [asyncio.ensure_future(_follow(publisher, item)) for item in submitted]
    await asyncio.gather(*follows[:3])
    # TikTok pulls photos from our bucket, so its host must be verified for the app. Show
    # what happens when it is not (say, the DNS record was removed): TikTok refuses the pull.
    print("Now TikTok stops trusting the bucket's host; a photo post sent meanwhile fails:")
    sim.update_config(verified_url_prefixes=["cdn.example.com"])
    [unverified] = await _submit(publisher, unverified_request(media, stamp))
    submitted.append(unverified)
    follows.append(asyncio.ensure_future(_follow(publisher, unverified)))
    await follows[-1]
    sim.update_config(verified_url_prefixes=["127.0.0.1"])
    phases = await asyncio.gather(*follows)
    print("\nResults:")
    for item, phase in zip(submitted, phases, strict=True):
        state = await publisher.state(item.post_id, item.account_id)
        detail = state.error.code if state.error else ", ".join(state.public_post_ids) or "-"
        print(f"  {phase.value:<19} {item.workflow_id:<52} {detail}")
    print(
        "\nTry (the stack's environment first: its payloads are encrypted): "
        f"source .temporal/stack.env && .venv/bin/tiktok-publisher describe "
        f"{submitted[-1].post_id} {DEMO_ACCOUNT}"
    )
    if keep_running:
        print(f"Everything is still running: browse {ui}. Press Ctrl-C to stop.")
        await asyncio.Event().wait()
    return 0


async def _submit(publisher: PostPublisher, request: dict[str, Any]) -> list[SubmittedTarget]:
    items = await publisher.submit(request)
    for item in items:
        print(f"submitted {item.workflow_id}\n  {item.summary}\n  {item.ui_url}")
    return items
