"""`tiktok-publisher` as an operator runs it: a subprocess against the dev server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from account_store.database import open_database
from account_store.store import AccountStore
from activities.tokens import StoredToken
from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from tests.workflow_support import end_account_entities, recorded, video_request
from workflows.contracts import PostState

CLI = str(Path(sys.executable).parent / "tiktok-publisher")


class Ran:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def cli_env(dev_env: WorkflowEnvironment, task_queue: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env.update(
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        TIKTOK_TASK_QUEUE=task_queue,
        WORKER_HTTP_ADDRESS="127.0.0.1:0",  # any free port: never collide with a local stack
    )
    env.update(extra)
    return env


async def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None
) -> Ran:
    process = await asyncio.create_subprocess_exec(
        CLI,
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else None), timeout=60
    )
    return Ran(process.returncode or 0, out.decode(), err.decode())


@pytest.fixture
def env(dev_env: WorkflowEnvironment, task_queue: str) -> dict[str, str]:
    return cli_env(dev_env, task_queue)


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("cli/video.mp4", sample_video(), "video/mp4")


def new_id() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


async def test_invalid_request_lists_every_problem_and_starts_nothing(
    env: dict[str, str], dev_env: WorkflowEnvironment, video_url: str
) -> None:
    request = video_request(new_id(), video_url, privacy=None)
    request["content"] = "x" * 2201
    ran = await run_cli(env, "submit", "-", stdin=json.dumps(request))
    assert ran.code == 2
    assert "nothing was started" in ran.err
    assert "TT_PRIVACY_REQUIRED" in ran.err and "TT_CAPTION_TOO_LONG" in ran.err
    assert "platforms[0].platformOptions.tiktok.privacy" in ran.err
    assert "Traceback" not in ran.err
    workflows = [
        w
        async for w in dev_env.client.list_workflows(
            f"WorkflowId = 'tiktok-post/{request['postId']}/acct_demo'"
        )
    ]
    assert workflows == []


async def test_unreadable_request_file_is_a_clear_error(
    env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    ran = await run_cli(env, "submit", str(bad))
    assert ran.code == 2 and "Cannot read the request" in ran.err
    assert "Traceback" not in ran.err


async def test_submit_status_and_idempotent_resubmit(
    env: dict[str, str], simulator: Simulator, worker: None, video_url: str, tmp_path: Path
) -> None:
    request = video_request(new_id(), video_url)
    path = tmp_path / "post.json"
    path.write_text(json.dumps(request))
    first = await run_cli(env, "submit", str(path))
    assert first.code == 0, first.err
    assert f"started: tiktok-post/{request['postId']}/acct_demo" in first.out
    assert "http://localhost:8233/namespaces/default/workflows/" in first.out
    watched = await run_cli(env, "watch", request["postId"], "acct_demo", "--interval", "0.2")
    assert watched.code == 0, watched.err
    assert "PUBLISHED" in watched.out and "init ok: publish_id" in watched.out
    again = await run_cli(env, "submit", str(path))
    assert "already exists (not started again)" in again.out
    status = await run_cli(env, "status", request["postId"], "acct_demo", "--json")
    state = PostState.model_validate_json(status.out)
    assert state.phase.value == "PUBLISHED" and state.init_attempts == 1
    assert len(recorded(simulator, "video_init")) == 1


async def test_submit_warns_of_an_account_with_no_stored_token(
    env: dict[str, str], dev_env: WorkflowEnvironment, video_url: str, tmp_path: Path
) -> None:
    store = AccountStore(open_database(url=f"sqlite:///{tmp_path / 'accounts.db'}"))
    await store.save("acct_demo", StoredToken("act.demo", "rft.demo", open_id="", scope=""))
    with_store = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'accounts.db'}"}
    for name in ("TIKTOK_TOKEN_FILE", "TIKTOK_DATA_DIR"):
        with_store.pop(name, None)
    later = datetime.now(UTC) + timedelta(days=1)
    typo = video_request(new_id(), video_url, account="acct_nobody", scheduled_for=later)
    known = video_request(new_id(), video_url, scheduled_for=later)
    unknown = video_request(new_id(), video_url, account="acct_nobody", scheduled_for=later)
    missing = video_request(new_id(), video_url, account="acct_nobody", scheduled_for=later)
    lines = [
        video_request(new_id(), video_url, account=account, scheduled_for=later)
        for account in ("acct_nobody", "acct_demo", "acct_nobody")
    ]
    jsonl = tmp_path / "posts.jsonl"
    jsonl.write_text("".join(json.dumps(line) + "\n" for line in lines))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    no_store = {k: v for k, v in with_store.items() if k != "DATABASE_URL"}
    gone = {**with_store, "DATABASE_URL": f"sqlite:///{elsewhere / 'nothing-here.db'}"}
    try:
        warned = await run_cli(with_store, "submit", "-", stdin=json.dumps(typo))
        quiet = await run_cli(with_store, "submit", "-", "--json", stdin=json.dumps(known))
        # No DATABASE_URL and no embedded store here, or a DATABASE_URL naming a file that
        # does not exist: the CLI cannot tell, and creates no store.
        silent = await run_cli(no_store, "submit", "-", stdin=json.dumps(unknown), cwd=elsewhere)
        absent = await run_cli(gone, "submit", "-", stdin=json.dumps(missing), cwd=elsewhere)
        batch = await run_cli(with_store, "submit", "--jsonl", str(jsonl), "--json")
    finally:
        for request in (typo, known, unknown, missing, *lines):
            account = request["platforms"][0]["accountId"]
            wf_id = f"tiktok-post/{request['postId']}/{account}"
            with contextlib.suppress(RPCError):
                await dev_env.client.get_workflow_handle(wf_id).terminate("test finished")
    assert absent.code == 0 and "TOKEN_MISSING" not in absent.err
    assert list(elsewhere.iterdir()) == [], "no store was created"
    assert warned.code == 0 and "started: tiktok-post/" in warned.out
    assert "warning: TOKEN_MISSING: No token is stored for account acct_nobody" in warned.err
    assert "account connect --account-id acct_nobody" in warned.err
    assert quiet.code == 0 and quiet.err == "" and json.loads(quiet.out)[0]["created"]
    assert silent.code == 0 and "TOKEN_MISSING" not in silent.err
    # A JSON Lines submit warns too, once per account, and its stdout stays JSON.
    assert batch.code == 0, batch.err
    assert [json.loads(row)["line"] for row in batch.out.splitlines()] == [1, 2, 3]
    assert batch.err.count("warning: TOKEN_MISSING") == 1 and "acct_nobody" in batch.err


async def test_schedule_reschedule_cancel(
    env: dict[str, str], worker: None, video_url: str
) -> None:
    at = datetime.now(UTC) + timedelta(days=3)
    request = video_request(new_id(), video_url, scheduled_for=at)
    assert (await run_cli(env, "submit", "-", stdin=json.dumps(request))).code == 0
    pid = request["postId"]
    later = (at + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    moved = await run_cli(env, "reschedule", pid, "acct_demo", "--at", later)
    assert moved.code == 0, moved.err
    assert "SCHEDULED" in moved.out and later.replace("Z", "+00:00") in moved.out
    naive = await run_cli(env, "reschedule", pid, "acct_demo", "--at", "2026-12-01T10:00:00")
    assert naive.code == 2 and "no UTC offset" in naive.err
    cancelled = await run_cli(env, "cancel", pid, "acct_demo", "--reason", "campaign moved")
    assert cancelled.code == 0 and "CANCELLED" in cancelled.out
    refused = await run_cli(env, "publish-now", pid, "acct_demo")
    assert refused.code == 4 and "already ended" in refused.err


async def test_draft_then_publish_now(env: dict[str, str], worker: None, video_url: str) -> None:
    request = video_request(new_id(), video_url, system_draft=True)
    assert (await run_cli(env, "submit", "-", stdin=json.dumps(request))).code == 0
    status = await run_cli(env, "status", request["postId"], "acct_demo")
    assert ": DRAFT" in status.out
    ran = await run_cli(env, "publish-now", request["postId"], "acct_demo")
    assert ran.code == 0, ran.err
    watched = await run_cli(env, "watch", request["postId"], "acct_demo", "--interval", "0.2")
    assert "PUBLISHED" in watched.out


async def test_unknown_post_exits_3(env: dict[str, str]) -> None:
    ran = await run_cli(env, "status", "no-such-post", "acct_demo")
    assert ran.code == 3 and "No post with workflow id" in ran.err


async def test_list_shows_posts(env: dict[str, str], worker: None, video_url: str) -> None:
    request = video_request(new_id(), video_url, system_draft=True)
    assert (await run_cli(env, "submit", "-", stdin=json.dumps(request))).code == 0
    wf_id = f"tiktok-post/{request['postId']}/acct_demo"
    for _ in range(150):  # visibility is eventually consistent (30 s)
        listed = await run_cli(env, "list", "--query", f"WorkflowId = '{wf_id}'")
        if request["postId"] in listed.out:
            break
        await asyncio.sleep(0.2)
    header, row = listed.out.splitlines()[:2]
    assert header.split()[:4] == ["POST_ID", "ACCOUNT_ID", "STATE", "RUN"]
    assert row.split()[:4] == [request["postId"], "acct_demo", "DRAFT", "RUNNING"], (
        "the ids the other commands take, the post's own state, then the run's"
    )


async def test_cannot_reach_temporal_is_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["TEMPORAL_ADDRESS"] = "127.0.0.1:1"
    ran = await run_cli(env, "status", "p", "a")
    assert ran.code == 1 and "Cannot reach Temporal" in ran.err
    assert "Traceback" not in ran.err


async def test_worker_logs_json_and_stops_cleanly_on_sigterm(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    video_url: str,
) -> None:
    env = cli_env(
        dev_env,
        task_queue,
        TIKTOK_API_BASE_URL=simulator.base_url,
        TIKTOK_TOKEN_FILE=str(token_file),
        TIKTOK_CLIENT_KEY="sim-client-key",
        TIKTOK_CLIENT_SECRET="sim-client-secret",
    )
    worker = await asyncio.create_subprocess_exec(
        CLI, "worker", env=env, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert worker.stderr is not None
    lines: list[dict[str, Any]] = []

    async def next_event(name: str) -> dict[str, Any]:
        assert worker.stderr is not None
        while True:
            raw = await asyncio.wait_for(worker.stderr.readline(), timeout=30)
            assert raw, f"worker exited before logging {name}"
            if raw.startswith(b"{"):
                lines.append(json.loads(raw))
                if lines[-1].get("event") == name:
                    return lines[-1]

    started = await next_event("worker.started")
    assert started["task_queue"] == task_queue
    request = video_request(new_id(), video_url)
    assert (await run_cli(env, "submit", "-", stdin=json.dumps(request))).code == 0
    handle = dev_env.client.get_workflow_handle(f"tiktok-post/{request['postId']}/acct_demo")
    await asyncio.wait_for(handle.result(), timeout=60)
    worker.send_signal(signal.SIGTERM)
    await next_event("worker.stopped")
    assert await asyncio.wait_for(worker.wait(), timeout=30) == 0
    # The account's entity lived on this worker's task queue: end it with the test, or the
    # next test's posts for acct_demo would wait on a queue nobody polls.
    await end_account_entities(dev_env.client, task_queue, token_file)
    activity_lines = [line for line in lines if line.get("post_id") == request["postId"]]
    assert activity_lines, "activity logs carry the post id"
    assert all(line["workflow_id"].endswith("/acct_demo") for line in activity_lines)
    text = json.dumps(lines)
    assert "act.demo" not in text and "rft.demo" not in text and "sim-client-secret" not in text


def test_a_reader_that_leaves_early_is_not_an_error() -> None:
    """`tiktok-publisher ... | head`: the pipe closes; no traceback, no failure."""
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        ran = subprocess.run(
            [CLI, "schema"], stdout=write_end, stderr=subprocess.PIPE, timeout=60, check=False
        )
    finally:
        os.close(write_end)
    assert ran.returncode == 0
    assert b"Traceback" not in ran.stderr


async def test_dev_stack_stops_everything_on_sigterm(tmp_path: Path) -> None:
    """The README's main command: it starts the stack, and a signal takes it all down."""
    import socket

    def port_open(port: int) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    if port_open(7233):
        pytest.skip("a Temporal server already listens on 7233 (the stack would reuse it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "MEDIA_"))}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        env["TIKTOK_API_PORT"] = str(sock.getsockname()[1])
    process = await asyncio.create_subprocess_exec(
        CLI, "dev", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen: list[str] = []
    try:
        while not any("Following each post" in line for line in seen):
            raw = await asyncio.wait_for(process.stdout.readline(), timeout=120)
            assert raw, "the stack exited early:\n" + "".join(seen)
            seen.append(raw.decode())
        assert port_open(7233)
        api_url = next(ln.split()[2] for ln in seen if ln.startswith("HTTP API:"))
        key = next(ln.split()[3] for ln in seen if ln.startswith("API key (dev):"))
        import httpx

        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
            accounts = (await http.get(f"{api_url}/v1/accounts")).json()
        assert [a["accountId"] for a in accounts["items"]] == ["acct_demo"]
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0
    assert "Stopped:" in rest.decode()
    assert not port_open(7233), "the Temporal dev server it started is down"
    assert (tmp_path / ".temporal" / "temporal.db").exists(), "state is kept in a file"


async def test_worker_with_its_metrics_port_taken_says_so_in_one_line(
    dev_env: WorkflowEnvironment, task_queue: str
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = cli_env(dev_env, task_queue, WORKER_HTTP_ADDRESS=f"127.0.0.1:{port}")
        ran = await run_cli(env, "worker")
    assert ran.code == 2
    assert ran.err.startswith(f"Configuration error: WORKER_HTTP_ADDRESS='127.0.0.1:{port}'")
    assert "Traceback" not in ran.err


async def test_validate_checks_offline_with_submits_output_and_exit_codes(
    tmp_path: Path, video_url: str
) -> None:
    """No Temporal at all (an address nothing listens on): validate still answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["TEMPORAL_ADDRESS"] = "127.0.0.1:1"
    good = video_request(new_id(), video_url)
    ok = await run_cli(env, "validate", "-", stdin=json.dumps(good))
    assert ok.code == 0, ok.err
    assert f"tiktok-post/{good['postId']}/acct_demo" in ok.out and "nothing was started" in ok.out
    bad = {**good, "platforms": []}
    refused = await run_cli(env, "validate", "-", stdin=json.dumps(bad))
    submitted = await run_cli(env, "submit", "-", stdin=json.dumps(bad))
    assert refused.code == submitted.code == 2
    assert refused.err == submitted.err and "nothing was started" in refused.err
    as_json = await run_cli(env, "validate", "-", "--json", stdin=json.dumps(bad))
    assert json.loads(as_json.out)["problems"][0]["code"] == "TT_NO_TARGETS"
    lines = tmp_path / "batch.jsonl"
    lines.write_text(json.dumps(good) + "\n\nnot json\n" + json.dumps(bad) + "\n")
    batch = await run_cli(env, "validate", str(lines), "--json")
    assert batch.code == 2
    statuses = [json.loads(line)["status"] for line in batch.out.splitlines()]
    assert statuses == ["valid", "unreadable", "invalid"]


async def test_submit_jsonl_starts_every_valid_line_in_one_process(
    env: dict[str, str], worker: None, video_url: str, tmp_path: Path
) -> None:
    requests = [video_request(new_id(), video_url, system_draft=True) for _ in range(5)]
    bad = {**requests[0], "postId": new_id(), "platforms": []}
    lines = tmp_path / "posts.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in [*requests, bad]) + "\n")
    ran = await run_cli(env, "submit", str(lines))
    assert ran.code == 2, "one line was invalid"
    for number, request in enumerate(requests, start=1):
        assert f"line {number}: started: tiktok-post/{request['postId']}/acct_demo" in ran.out
    assert "line 6: invalid" in ran.out and "5 of 6 request(s) accepted" in ran.err
    again = await run_cli(env, "submit", "--jsonl", str(lines), "--json")
    answers = [json.loads(line) for line in again.out.splitlines()]
    assert [a["status"] for a in answers] == ["exists"] * 5 + ["invalid"]
