"""Payload encryption: AES-GCM with key ids and rotation, the codec server, and the UI.

The browser test drives Debian's chromium (`/usr/bin/chromium`, installed by `.ci/run`)
with Playwright: the Temporal UI shows the post's decoded input when the dev server is
started with `--ui-codec-endpoint`, and only ciphertext without it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.codec_server import CodecServer, CodecServerError, local_stack_keys
from starter.media_host import MediaHost, sample_video
from tests.conftest import PAYLOAD_KEYS
from tests.s3_support import free_port
from tests.workflow_support import running_worker, target_of, video_request, wait_for
from worker.codec import ENCODING, EncryptionCodec, PayloadKeyError, PayloadKeys, data_converter
from workflows.contracts import WORKFLOW_TYPE, PublishPostInput

CLI = str(Path(sys.executable).parent / "tiktok-publisher")
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
K1 = PAYLOAD_KEYS  # the key of the `encrypted_env` server
K2 = PayloadKeys.parse(PayloadKeys.generate("k2"))
ROTATED = PayloadKeys((*K2.keys, *K1.keys))  # k2 encrypts, k1 still decrypts
CAPTION = "codec-visible-caption-7f3a"


def plain(value: Any) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def env_text(keys: PayloadKeys) -> str:
    return ",".join(f"{i}:{base64.b64encode(k).decode()}" for i, k in keys.keys)


# -- the codec ---------------------------------------------------------------------------------


async def test_payloads_are_ciphertext_with_the_key_id_and_round_trip() -> None:
    codec = EncryptionCodec(K1)
    [sealed] = await codec.encode([plain({"caption": CAPTION})])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == b"k1"
    assert CAPTION.encode() not in sealed.data
    [back] = await codec.decode([sealed])
    assert json.loads(back.data) == {"caption": CAPTION}
    [again] = await codec.encode([plain({"caption": CAPTION})])
    assert again.data != sealed.data, "a fresh nonce every time"


async def test_rotation_new_key_encrypts_old_payloads_still_decrypt() -> None:
    [old] = await EncryptionCodec(K1).encode([plain("written under k1")])
    rotated = EncryptionCodec(ROTATED)
    [new] = await rotated.encode([plain("written under k2")])
    assert new.metadata["encryption-key-id"] == b"k2"
    assert [json.loads(p.data) for p in await rotated.decode([old, new])] == [
        "written under k1",
        "written under k2",
    ]
    with pytest.raises(PayloadKeyError, match="k2"):
        await EncryptionCodec(K1).decode([new])  # k2 dropped too early: a clear error


async def test_plain_payloads_from_before_encryption_still_decode() -> None:
    [back] = await EncryptionCodec(K1).decode([plain({"a": 1})])
    assert json.loads(back.data) == {"a": 1}


async def test_a_tampered_payload_is_refused() -> None:
    [sealed] = await EncryptionCodec(K1).encode([plain("x")])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadKeyError, match="does not decrypt"):
        await EncryptionCodec(K1).decode([sealed])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("k1", "id:base64key"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "AES needs 16, 24 or 32"),
        # Fixed keys: a test's id must be the same in every process (pytest-xdist).
        (
            f"a:{base64.b64encode(bytes(32)).decode()},a:{base64.b64encode(b'1' * 32).decode()}",
            "twice",
        ),
    ],
)
def test_bad_key_settings_are_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(PayloadKeyError, match=words):
        PayloadKeys.parse(text)


async def test_a_workflow_input_is_stored_encrypted_and_read_back(
    encrypted_env: WorkflowEnvironment,
) -> None:
    client = encrypted_env.client
    post = target_of(video_request(f"enc-{uuid.uuid4().hex[:8]}", "https://m.example.com/v.mp4"))
    request = PublishPostInput(target=post)
    handle = await client.start_workflow(
        WORKFLOW_TYPE, request, id=request.target.workflow_id, task_queue="nobody-polls"
    )
    try:
        history = await handle.fetch_history()
        raw = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
        assert raw.metadata["encoding"] == ENCODING and b"m.example.com" not in raw.data
        [decoded] = await client.data_converter.decode([raw], [PublishPostInput])
        assert decoded == request
    finally:
        await handle.terminate()


# -- the codec server --------------------------------------------------------------------------


def _wire(payloads: list[Payload]) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def test_codec_server_decodes_for_allowed_origins_and_tokens_only() -> None:
    sealed = EncryptionCodec(K1).encrypt(plain({"caption": CAPTION}))
    origin = "http://localhost:8233"
    with CodecServer(K1, port=0, allowed_origins=(origin,), auth_token="s3cret") as server:
        decode = f"{server.url}/decode"
        good = {"Origin": origin, "Authorization": "Bearer s3cret", "X-Namespace": "default"}
        ok = httpx.post(decode, json=_wire([sealed]), headers=good)
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == origin
        data = base64.b64decode(ok.json()["payloads"][0]["data"])
        assert json.loads(data) == {"caption": CAPTION}

        ask = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        preflight = httpx.options(decode, headers=ask)
        assert preflight.status_code == 204
        assert "X-Namespace" in preflight.headers["access-control-allow-headers"]

        evil = httpx.post(
            decode, json=_wire([sealed]), headers={**good, "Origin": "https://evil.example"}
        )
        assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
        no_token = httpx.post(decode, json=_wire([sealed]), headers={"Origin": origin})
        assert no_token.status_code == 401
        wrong = httpx.post(
            decode, json=_wire([sealed]), headers={**good, "Authorization": "Bearer x"}
        )
        assert wrong.status_code == 401
        assert CAPTION not in no_token.text + wrong.text + evil.text


def test_codec_server_without_a_token_listens_on_loopback_only() -> None:
    with pytest.raises(CodecServerError, match="TIKTOK_CODEC_AUTH_TOKEN"):
        CodecServer(K1, host="0.0.0.0", port=0)


def test_the_local_stack_keeps_a_generated_key(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    keys = local_stack_keys(tmp_path, env)
    assert keys is not None and keys.current_id == "dev1"
    assert (tmp_path / "payload-keys").stat().st_mode & 0o777 == 0o600
    assert local_stack_keys(tmp_path, {}) == keys, "the same key on the next start"
    assert local_stack_keys(tmp_path, {"TIKTOK_PAYLOAD_KEYS": ""}) is None, "can be turned off"


# -- describe and status decode ----------------------------------------------------------------


async def test_status_and_describe_decode_an_encrypted_post(
    encrypted_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    target = encrypted_env.client.service_client.config.target_host
    client = encrypted_env.client
    url = media_host.add("codec/video.mp4", sample_video(), "video/mp4")
    post = target_of(video_request(f"encd-{uuid.uuid4().hex[:8]}", url))
    post = post.model_copy(update={"system_draft": True, "caption": CAPTION})
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env.update(TEMPORAL_ADDRESS=target, TIKTOK_TASK_QUEUE=task_queue,
               TIKTOK_PAYLOAD_KEYS=env_text(ROTATED))  # fmt: skip
    async with running_worker(client, simulator, token_file, task_queue):
        handle = await client.start_workflow(
            WORKFLOW_TYPE, PublishPostInput(target=post), id=post.workflow_id,
            task_queue=task_queue,
        )  # fmt: skip
        try:
            await wait_for(handle, lambda s: bool(s.staged_media), within=60)
            code, out, err = await _cli(env, "status", post.post_id, post.account_id)
            assert code == 0, err
            assert "DRAFT" in out and CAPTION[:20] in out
            code, out, err = await _cli(env, "describe", post.post_id, post.account_id)
            assert code == 0, err
            assert post.post_id in out and CAPTION[:20] in out
            no_key = {**env, "TIKTOK_PAYLOAD_KEYS": env_text(K2)}  # k1 missing
            code, out, err = await _cli(no_key, "describe", post.post_id, post.account_id)
            assert code != 0 and "k1" in err + out, err
            assert "Traceback" not in err
            # No key at all (a shell without the stack's environment): the CLI says what to
            # set, for a read and for an action the post took, never the converter's KeyError.
            keyless = {k: v for k, v in env.items() if k != "TIKTOK_PAYLOAD_KEYS"}
            code, out, err = await _cli(keyless, "status", post.post_id, post.account_id)
            assert code != 0 and "PAYLOADS_ENCRYPTED" in err and "Traceback" not in err, err
            code, out, err = await _cli(
                keyless, "reschedule", post.post_id, post.account_id, "--at", "2031-01-01T09:00Z"
            )
            assert "PAYLOADS_ENCRYPTED" in err and "may have taken it" in err, err
            assert "Traceback" not in err
        finally:
            await handle.terminate()


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


# -- the Temporal UI, in a real browser --------------------------------------------------------

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: `apt-get install -y chromium` (.ci/run does)")
    return CHROMIUM


@pytest.fixture
async def ui_page_text(chromium: Path, tmp_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        # A fresh profile directory for every run (Playwright passes it as --user-data-dir).
        browser = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
            headless=True,
            timeout=60_000,
        )
        try:

            async def text_of(url: str, wanted: str, within: float = 60) -> str:
                """The page's text once `wanted` (a regular expression) matches it; fails,
                showing the text, when it never does. Reloaded once halfway: on a loaded
                machine the UI's first fetch of the history can come back before the
                server has it, and the page does not ask again by itself."""
                page = await browser.new_page()
                try:
                    await page.goto(url, timeout=30_000)
                    loop = asyncio.get_running_loop()
                    start = loop.time()
                    reloaded = False
                    while True:
                        text = await page.inner_text("body")
                        if re.search(wanted, text):
                            return text
                        waited = loop.time() - start
                        assert waited < within, f"{wanted!r} never shown: {text[:2000]!r}"
                        if not reloaded and waited > within / 2:
                            await page.reload(timeout=30_000)
                            reloaded = True
                        await asyncio.sleep(0.5)
                finally:
                    await page.close()

            yield text_of
        finally:
            await browser.close()


async def _post_in_ui(ui_port: int, codec_url: str | None) -> tuple[WorkflowEnvironment, str]:
    extra = ["--ui-codec-endpoint", codec_url] if codec_url else []
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        ui=True,
        ui_port=ui_port,
        data_converter=data_converter(K1),
        dev_server_extra_args=extra,
    )
    post = target_of(video_request("ui-codec", "https://m.example.com/v.mp4"))
    post = post.model_copy(update={"caption": CAPTION, "system_draft": True})
    handle = await env.client.start_workflow(
        WORKFLOW_TYPE, PublishPostInput(target=post), id=post.workflow_id, task_queue="nobody"
    )
    wid = post.workflow_id.replace("/", "%2F")
    return (
        env,
        f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{wid}/{handle.result_run_id}/history",
    )


@pytest.mark.timeout(240)
async def test_the_temporal_ui_shows_decoded_input_only_through_the_codec(
    ui_page_text: Any,
) -> None:
    ui_port = free_port()
    origins = (f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}")
    with CodecServer(K1, port=0, allowed_origins=origins) as codec:
        env, url = await _post_in_ui(ui_port, codec.url)
        try:
            shown = await ui_page_text(url, CAPTION)
        finally:
            await env.shutdown()
    assert CAPTION in shown, shown[:2000]

    ui_port = free_port()
    env, url = await _post_in_ui(ui_port, None)
    try:
        hidden = await ui_page_text(url, r"\nInput\n[^\n]*[A-Za-z0-9+/=]{100,}")
    finally:
        await env.shutdown()
    assert CAPTION not in hidden
    # The UI shows the input as it is stored: one base64 blob of AES-GCM ciphertext.
    section = re.split(r"\nResult", re.split(r"\nInput\n", hidden, maxsplit=1)[-1])[0]
    found = re.findall(r"[A-Za-z0-9+/=]{100,}", section)
    assert len(found) == 1, repr(section[:600])
    [encoded] = found
    blob = base64.b64decode(encoded, validate=True)
    assert len(blob) > 100 and CAPTION.encode() not in blob and b"post_id" not in blob
