"""`tiktok-publisher dev` as a new user runs it: fixed ports (moved by flags), no samples,
an environment file for another shell, and a post that survives a restart of the stack."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from starter.dev_stack import DevPorts
from starter.media_host import sample_video
from tests.workflow_support import video_request

CLI = str(Path(sys.executable).parent / "tiktok-publisher")


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = shlex.split(value)[0] if value else ""
    return values


class Stack:
    def __init__(self, cwd: Path, ports: DevPorts) -> None:
        self.cwd, self.ports = cwd, ports
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []

    async def start(self, until: str, *, own_session: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "MEDIA_"))}
        env.pop("TIKTOK_PAYLOAD_KEYS", None)
        env.pop("TIKTOK_API_PORT", None)
        env["WORKER_HTTP_ADDRESS"] = ""
        flags = [f"--{name}-port={getattr(self.ports, name)}" for name in DevPorts.__annotations__]
        self.process = await asyncio.create_subprocess_exec(
            CLI, "dev", "--no-samples", "--env-file", "stack.env", *flags,
            cwd=self.cwd, env=env, start_new_session=own_session,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.lines = []
        while not any(until in line for line in self.lines):
            raw = await asyncio.wait_for(self.process.stdout.readline(), timeout=120)
            assert raw, "the stack exited early:\n" + "".join(self.lines)
            self.lines.append(raw.decode())

    async def stop(self) -> str:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(self.process.communicate(), timeout=60)
        assert self.process.returncode == 0, rest.decode()
        return rest.decode()

    async def kill(self) -> None:
        """After a failure: SIGTERM first, so the stack stops the Temporal server it started
        (a SIGKILL would leave that child running, orphaned)."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.communicate(), timeout=60)
        except TimeoutError:
            self.process.kill()


async def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 90)
    return process.returncode or 0, out.decode()


async def test_a_local_post_survives_a_restart_of_the_stack(tmp_path: Path) -> None:
    ports = DevPorts(*free_ports(len(DevPorts.__annotations__)))
    stack = Stack(tmp_path, ports)
    try:
        await stack.start(until="No sample posts")
        printed = "".join(stack.lines)
        assert f"http://127.0.0.1:{ports.media}/" in printed and f":{ports.api}" in printed
        values = read_env_file(tmp_path / "stack.env")
        assert values["TEMPORAL_ADDRESS"] == f"127.0.0.1:{ports.temporal}"
        assert values["TIKTOK_MEDIA_HOST_URL"] == f"http://127.0.0.1:{ports.media}"
        assert values["TIKTOK_PUBLISHER_API_URL"] == f"http://127.0.0.1:{ports.api}"
        assert values["TIKTOK_PUBLISHER_API_KEY"].startswith("ttp_")
        assert values["TIKTOK_PAYLOAD_KEYS"], "another shell can read the encrypted payloads"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "MEDIA_"))}
        env.update(values)

        # The README's recipe: a file of your own in .temporal/media/, served at /files/NAME.
        (tmp_path / ".temporal" / "media" / "mine.mp4").write_bytes(sample_video())
        url = f"{values['TIKTOK_MEDIA_HOST_URL']}/files/mine.mp4"
        later = datetime.now(UTC) + timedelta(hours=1)
        request = video_request(f"local-{uuid.uuid4().hex[:8]}", url, scheduled_for=later)
        pid = request["postId"]
        code, out = await cli(env, "submit", "-", stdin=json.dumps(request))
        assert code == 0, out
        for _ in range(100):
            code, out = await cli(env, "status", pid, "acct_demo", "--json")
            if code == 0 and json.loads(out)["staged_media"]:
                break
            await asyncio.sleep(0.3)
        assert json.loads(out)["staged_media"], out
        said = await stack.stop()
        assert "Saved the media bucket" in said
        assert list((tmp_path / ".temporal" / "s3").rglob("*.mp4")), "the staged copy is on disk"
        (tmp_path / ".temporal" / "media" / "mine.mp4").unlink()  # only the bucket has it now

        await stack.start(until="No sample posts")
        assert "object(s) restored" in "".join(stack.lines)
        code, out = await cli(env, "publish-now", pid, "acct_demo")
        assert code == 0, out
        code, out = await cli(env, "watch", pid, "acct_demo", "--interval", "0.5")
        assert code == 0 and "PUBLISHED" in out, out
        await stack.stop()
    finally:
        await stack.kill()


async def test_ctrl_c_in_the_terminal_stops_the_worker_before_the_temporal_server(
    tmp_path: Path,
) -> None:
    """A terminal's Ctrl-C sends SIGINT to its whole foreground process group. The dev
    server used to get it too and die first, and the worker then logged the SDK's retries
    against a server that was gone."""
    ports = DevPorts(*free_ports(len(DevPorts.__annotations__)))
    stack = Stack(tmp_path, ports)
    try:
        await stack.start(until="No sample posts", own_session=True)  # as a terminal would
        assert stack.process is not None
        os.killpg(stack.process.pid, signal.SIGINT)
        out, _ = await asyncio.wait_for(stack.process.communicate(), timeout=60)
        said = out.decode()
        assert stack.process.returncode == 0, said
        assert "Stopped: worker" in said
        assert "WARN" not in said and "rpc errored" not in said, said
        with socket.socket() as probe:  # and the server it started is down too
            assert probe.connect_ex(("127.0.0.1", ports.temporal)) != 0
    finally:
        await stack.kill()


async def test_every_taken_port_is_named_at_once_with_the_flag_that_moves_it(
    tmp_path: Path,
) -> None:
    ports = DevPorts(*free_ports(len(DevPorts.__annotations__)))
    squatters = [socket.socket(), socket.socket()]
    try:
        for squatter, port in zip(squatters, (ports.simulator, ports.api), strict=True):
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "MEDIA_"))}
        flags = [f"--{name}-port={getattr(ports, name)}" for name in DevPorts.__annotations__]
        process = await asyncio.create_subprocess_exec(
            CLI, "dev", "--no-samples", *flags, cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        for squatter in squatters:
            squatter.close()
    said = out.decode()
    assert process.returncode == 1, said
    assert f"{ports.simulator}: the TikTok simulator (move it with --simulator-port PORT)" in said
    assert f"{ports.api}: the HTTP API (move it with --api-port PORT)" in said
    assert "Traceback" not in said and not (tmp_path / ".temporal").exists(), "nothing started"
