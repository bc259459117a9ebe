"""The simulator's TikTok webhooks against a real HTTP receiver: signed like TikTok, one per
status change, retried while the receiver fails, and the configured faults."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from simulator import Simulator, SimulatorConfig
from starter.tiktok_webhooks import SignatureRejected, verify
from tests.conftest_simulator import TikTok, file_source, video_post_info, wait_for

SECRET = "sim-client-secret"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000


class Receiver:
    """A webhook endpoint on loopback that answers `fail_first` deliveries with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    failing = outer.fail_first > 0
                    outer.fail_first -= 1
                    if not failing:
                        outer.received.append((self.headers.get("TikTok-Signature", ""), body))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def publish(sim: Simulator, privacy: str = "PUBLIC_TO_EVERYONE") -> str:
    with TikTok(sim.base_url, "act.demo") as tt:
        body = {"post_info": video_post_info(privacy), "source_info": file_source(len(VIDEO))}
        answer = tt.post("video_init", body).json()["data"]
        put = tt.put_chunk(answer["upload_url"], VIDEO, 0, len(VIDEO))
        assert put.status_code in (200, 201), put.text
        publish_id: str = answer["publish_id"]
        return publish_id


def test_each_status_change_is_sent_once_and_signed_like_tiktok(receiver: Receiver) -> None:
    config = SimulatorConfig(time_scale=0.01, webhook_url=receiver.url)
    with Simulator(config) as sim:
        publish_id = publish(sim)
        events = wait_for(receiver.events, lambda found: len(found) >= 2, 10)
    assert [e["event"] for e in events] == [
        "post.publish.complete",
        "post.publish.publicly_available",
    ]
    for signature, body in receiver.received:
        verify(signature, body, SECRET)  # raises if TikTok's scheme is not followed
        with pytest.raises(SignatureRejected):
            verify(signature, body, "another-secret")
    contents = [json.loads(e["content"]) for e in events]
    assert all(c["publish_id"] == publish_id for c in contents)
    assert contents[0]["publish_type"] == "DIRECT_PUBLISH"
    assert contents[1]["post_id"].isdigit()
    assert events[0]["user_openid"] == "open.demo" and events[0]["client_key"] == "sim-client-key"


def test_failed_deliveries_are_retried_until_the_receiver_recovers() -> None:
    receiver = Receiver(fail_first=2)
    config = SimulatorConfig(time_scale=0.01, webhook_url=receiver.url, webhook_retry_seconds=0.05)
    try:
        with Simulator(config) as sim:
            publish(sim, privacy="SELF_ONLY")
            wait_for(receiver.events, lambda found: len(found) == 1, 10)
            attempts = sim.webhook_deliveries()
    finally:
        receiver.close()
    assert [a["outcome"] for a in attempts] == ["failed", "failed", "delivered"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]


def test_faults_duplicate_forge_and_drop(receiver: Receiver) -> None:
    config = SimulatorConfig(
        time_scale=0.01,
        webhook_url=receiver.url,
        webhook_faults={"duplicate": 1.0, "mis_sign": 1.0},
    )
    with Simulator(config) as sim:
        publish(sim, privacy="SELF_ONLY")
        wait_for(receiver.events, lambda found: len(found) == 3, 10)
        sim.update_config(webhook_faults={"drop": 1.0})
        publish(sim, privacy="SELF_ONLY")
        wait_for(sim.webhook_deliveries, lambda d: any(a["outcome"] == "dropped" for a in d), 10)
    names = [e["event"] for e in receiver.events()]
    # The forged copy arrives (the receiver here accepts anything) but fails verification.
    assert sorted(names) == ["post.publish.complete"] * 2 + ["post.publish.failed"]
    forged = [(s, b) for s, b in receiver.received if b"post.publish.failed" in b]
    with pytest.raises(SignatureRejected):
        verify(*forged[0], SECRET)


def test_bad_fault_settings_are_refused() -> None:
    for faults in ({"dupe": 1.0}, {"drop": 2.0}, {"delay_seconds": -1}):
        with pytest.raises(ValueError):
            SimulatorConfig(webhook_faults=faults)
