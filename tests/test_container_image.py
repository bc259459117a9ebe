"""The image as an operator runs it: the `worker` container publishes a post against the
tests' dev server, simulator and bucket. Runs only where a container engine answers and the
image is built (`docker build -t tiktok-publisher:local .`, or TIKTOK_PUBLISHER_IMAGE names
one); skipped otherwise, as in CI, which has no engine (deploy/README.md, The image)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.local_s3 import LocalBucket
from starter.media_host import MediaHost, sample_video
from telemetry.http import free_loopback_port
from tests.workflow_support import end_account_entities, start, target_of, video_request
from workflows.contracts import Phase

IMAGE = os.environ.get("TIKTOK_PUBLISHER_IMAGE", "tiktok-publisher:local")


def _why_not() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info did not answer"
    if info.returncode != 0:
        return "no container engine answers (docker info failed)"
    image = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, timeout=20)
    if image.returncode != 0:
        return f"image {IMAGE} is not built (docker build -t {IMAGE} .)"
    return None


async def _docker(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, ["docker", *args], capture_output=True, text=True, check=check, timeout=60
    )


WHY_NOT = _why_not()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


def test_the_image_runs_as_an_unprivileged_user() -> None:
    user = subprocess.run(
        ["docker", "image", "inspect", IMAGE, "--format", "{{.Config.User}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert user and not user.startswith(("0", "root")), user


async def test_the_worker_container_publishes_a_video(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
    local_bucket: LocalBucket,
) -> None:
    # The container's user (10001) reads the token store and writes rotated tokens back.
    token_file.parent.chmod(0o777)
    token_file.chmod(0o666)
    metrics_port = free_loopback_port()
    environment = {
        **local_bucket.env(),
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TIKTOK_TASK_QUEUE": task_queue,
        "TIKTOK_API_BASE_URL": simulator.base_url,
        "TIKTOK_CLIENT_KEY": "sim-client-key",
        "TIKTOK_CLIENT_SECRET": "sim-client-secret",
        "TIKTOK_TOKEN_FILE": f"/tokens/{token_file.name}",
        "MEDIA_SOURCE_ALLOW_LOOPBACK": "1",
        "WORKER_HTTP_ADDRESS": f"127.0.0.1:{metrics_port}",
    }
    name = f"ttp-test-{uuid.uuid4().hex[:8]}"
    command = ["run", "-d", "--rm", "--name", name, "--network", "host"]
    command += ["-v", f"{token_file.parent}:/tokens"]
    for key, value in environment.items():
        command += ["-e", f"{key}={value}"]
    await _docker(*command, IMAGE, "worker", check=True)
    try:
        url = media_host.add("container/video.mp4", sample_video(), "video/mp4")
        post = f"container-{uuid.uuid4().hex[:8]}"
        handle = await start(dev_env.client, task_queue, target_of(video_request(post, url)))
        result = await asyncio.wait_for(handle.result(), 180)
        assert result.phase is Phase.PUBLISHED, result
        # It was the container's worker that called TikTok (no other polls this queue).
        async with httpx.AsyncClient(trust_env=False) as http:
            metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert 'tiktok_api_requests_total{endpoint="video_init",status="200"} 1.0' in metrics
    finally:
        logs = await _docker("logs", name)
        await _docker("rm", "-f", name)
        await end_account_entities(dev_env.client, task_queue, token_file)
        print(logs.stdout[-2000:], logs.stderr[-2000:])
