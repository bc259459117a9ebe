"""No secret in history: every payload decoded (and decrypted), and a scan shown to fail."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from tests.conftest import PAYLOAD_KEYS
from tests.secret_scan import payload_count, scan_history
from tests.workflow_support import HISTORY_DIR, running_worker, start, target_of, video_request
from worker.codec import ENCODING, EncryptionCodec
from workflows.contracts import Phase

SECRETS = ["sim-client-secret"]
CURRENT = sorted(HISTORY_DIR.glob("*.json"))
LEGACY_WITH_UPLOAD_URL = HISTORY_DIR / "legacy" / "direct_video_upload_url_in_history.json"
KEYS = PAYLOAD_KEYS


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def whats(findings: list[Any]) -> set[str]:
    return {f.what for f in findings}


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_saved_histories_hold_no_secret_in_any_payload(path: Path) -> None:
    history = load(path)
    assert payload_count(history) > 0
    assert scan_history(history, client_secrets=SECRETS) == []


def test_the_scan_fails_on_a_history_with_an_upload_token() -> None:
    """Recorded before the upload URL was kept worker-side: the init result carries it, in
    base64, where the old raw-text check could not see it."""
    history = load(LEGACY_WITH_UPLOAD_URL)
    assert "upload_token" not in json.dumps(history), "only visible once decoded"
    findings = scan_history(history)
    assert "upload token" in whats(findings)
    assert any("ChunkUpload" in f.where or "result" in f.where for f in findings) or findings


def _with_payload(history: dict[str, Any], payload: Payload) -> dict[str, Any]:
    """The history with one more payload in its first event's input."""
    changed = copy.deepcopy(history)
    attributes = changed["events"][0]["workflowExecutionStartedEventAttributes"]
    attributes["input"]["payloads"].append(
        {
            "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
            "data": base64.b64encode(payload.data).decode(),
        }
    )
    return changed


def _json_payload(value: Any) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


SIGNED = (
    "https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIA/20261201/us-east-1/s3/aws4_request&X-Amz-Signature=ab12"
)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ({"url": SIGNED}, "S3 signature"),
        ({"url": "https://cdn.example.com/v.mp4?Expires=1&Signature=xyz"}, "signed query string"),
        ({"note": "Bearer act.1234567890"}, "access token"),
        ({"refresh": "rft.abcdef"}, "refresh token"),
        ({"secret": "sim-client-secret"}, "client secret 0"),
    ],
)
def test_the_scan_fails_on_each_kind_of_secret_in_a_plain_payload(value: Any, what: str) -> None:
    history = _with_payload(load(CURRENT[0]), _json_payload(value))
    assert what in whats(scan_history(history, client_secrets=SECRETS))


def test_encrypted_payloads_are_decrypted_for_the_scan() -> None:
    codec = EncryptionCodec(KEYS)
    signed = _with_payload(load(CURRENT[0]), codec.encrypt(_json_payload({"url": SIGNED})))
    assert scan_history(signed, codec=codec) == [], "a signed URL may be stored encrypted"
    token = _with_payload(load(CURRENT[0]), codec.encrypt(_json_payload({"t": "act.secret1"})))
    assert scan_history(token) == [], "without the key the token is unreadable..."
    assert "access token" in whats(scan_history(token, codec=codec)), "...but never allowed"


# -- a live run, encrypted ------------------------------------------------------------------


@pytest.fixture
def encrypted_client(encrypted_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch) -> Client:
    """The encrypted server's client; the worker seals upload sessions with the same key."""
    keys = ",".join(f"{i}:{base64.b64encode(k).decode()}" for i, k in KEYS.keys)
    monkeypatch.setenv("TIKTOK_PAYLOAD_KEYS", keys)
    return encrypted_env.client


async def test_a_live_run_with_a_signed_source_url_leaves_no_secret_readable(
    encrypted_client: Client,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    url = media_host.add("scan/video.mp4", sample_video(), "video/mp4")
    signed_url = (
        url + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=f00d"
    )
    target = target_of(video_request("scan-live-1", signed_url))
    async with running_worker(encrypted_client, simulator, token_file, task_queue):
        handle = await start(encrypted_client, task_queue, target)
        result = await handle.result()
        history = (await handle.fetch_history()).to_json_dict()
    assert result.phase is Phase.PUBLISHED
    assert payload_count(history) > 10
    # Search attributes stay readable (the server indexes them: ids, state, mode, times,
    # error code), and so do the SDK's own patch markers (a patch id); every other payload
    # is ciphertext.
    plain = [
        (where, base64.b64decode(p["data"])[:60])
        for where, p in _paths(history, "")
        if ".searchAttributes." not in where
        and ".details.patch-data." not in where
        and base64.b64decode(p["metadata"].get("encoding", "")) != ENCODING
    ]
    assert plain == []
    codec = EncryptionCodec(KEYS)
    assert scan_history(history, codec=codec, client_secrets=SECRETS) == []
    # The decrypted input does hold the signed URL: the scan saw inside the payloads.
    decrypted = json.dumps(history)
    assert "X-Amz-Signature" not in decrypted
    assert any(
        b"X-Amz-Signature" in codec.decrypt(_payload(p)).data for p in _all_payloads(history)
    )


def _all_payloads(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("data"), str) and isinstance(node.get("metadata"), dict):
            return [node]
        for value in node.values():
            found += _all_payloads(value)
    elif isinstance(node, list):
        for value in node:
            found += _all_payloads(value)
    return found


def _payload(node: dict[str, Any]) -> Payload:
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in node["metadata"].items()},
        data=base64.b64decode(node["data"]),
    )


def _paths(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if isinstance(node.get("data"), str) and isinstance(node.get("metadata"), dict):
            return [(where, node)]
        for key, value in node.items():
            found += _paths(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, f"{where}[{i}]")
    return found
