"""Webhooks out, end to end over HTTP: endpoints registered through the API receive the
post's events signed with their secret (two during a rotation), delivered durably through a
receiver that fails, hangs and recovers; the delivery log is in the target's state."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities import webhooks_out
from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from starter.webhook_receiver import InvalidSignature, verify
from tests.api_support import LiveApi, live_api
from tests.workflow_support import FAST, save_history, video_request


class Receiver:
    """A caller's endpoint: answers by `script` (fail = 500, hang = no answer for a while),
    then 200; keeps every request it answered 200."""

    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.attempts = 0
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.attempts += 1
                    action = outer.script.pop(0) if outer.script else "ok"
                if action == "hang":
                    time.sleep(2.5)
                    return  # no answer at all: the sender's timeout ends the attempt
                if action == "ok":
                    with outer.lock:
                        outer.received.append((dict(self.headers.items()), body))
                self.send_response(500 if action == "fail" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    tmp_path: Path,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[LiveApi]:
    monkeypatch.setattr(webhooks_out, "DEFAULT_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setenv("WEBHOOKS_OUT", "true")  # the account entities announce too
    async with live_api(dev_env.client, simulator, tmp_path, task_queue) as live:
        live.service.publisher.settings = FAST.model_copy(
            update={"webhooks_out": True, "webhook_retry_initial_seconds": 0.3}
        )
        yield live


@pytest.fixture
def video(media_host: MediaHost) -> str:
    return media_host.add("webhooks-out/video.mp4", sample_video(), "video/mp4")


async def until(check: Any, within: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.2)


async def test_events_reach_a_receiver_that_fails_hangs_and_recovers(
    api: LiveApi, video: str, receivers: list[Receiver]
) -> None:
    flaky = Receiver(["fail", "hang", "fail"])
    elsewhere = Receiver()
    receivers += [flaky, elsewhere]
    async with api.http() as http:
        added = await http.post("/v1/webhooks", json={"url": flaky.url})
        assert added.status_code == 201, added.text
        secret = added.json()["secret"]
        other = await http.post(
            "/v1/webhooks", json={"url": elsewhere.url, "accountId": "acct_other"}
        )
        assert other.status_code == 201
        listed = (await http.get("/v1/webhooks")).json()["endpoints"]
        assert {e["url"] for e in listed} == {flaky.url, elsewhere.url}
        assert all("secret" not in e or e["secret"] is None for e in listed)

        assert (await http.post("/v1/posts", json=video_request("out-1", video))).status_code == 202

        async def all_arrived() -> Any:
            kinds = {e["type"] for e in flaky.events()}
            return kinds >= {"post.scheduled", "post.publishing", "post.published"}

        await until(all_arrived)
        state = (await http.get("/v1/posts/out-1/targets/acct_demo")).json()

    events = flaky.events()
    by_id = {e["id"]: e for e in events}
    assert sorted(e["type"] for e in by_id.values()) == [
        "post.published",
        "post.publishing",
        "post.scheduled",
    ]
    published = next(e for e in events if e["type"] == "post.published")
    assert published["post_id"] == "out-1" and published["data"]["public_post_ids"]
    for headers, body in flaky.received:
        event = verify(body, headers["X-TikTok-Publisher-Signature"], secret)
        assert headers["X-TikTok-Publisher-Event-Id"] == event["id"]
        with pytest.raises(InvalidSignature):
            verify(body, headers["X-TikTok-Publisher-Signature"], "whsec_wrong")
    assert elsewhere.attempts == 0  # registered for another account
    outcomes = [d["outcome"] for d in state["webhook_deliveries"]]
    assert outcomes.count("failed") == 3 and outcomes.count("delivered") >= 3
    hung = [d for d in state["webhook_deliveries"] if "no answer" in d["detail"]]
    assert len(hung) == 1
    client = api.service.publisher.client
    await save_history(client.get_workflow_handle(state["workflow_id"]), "webhooks_out_announced")
    delivery = f"webhook-event/{published['id']}"
    await save_history(client.get_workflow_handle(delivery), "webhook_event_delivered")


async def test_during_a_rotation_both_secrets_sign(
    api: LiveApi, video: str, receivers: list[Receiver]
) -> None:
    receiver = Receiver()
    receivers.append(receiver)
    async with api.http() as http:
        added = (await http.post("/v1/webhooks", json={"url": receiver.url})).json()
        rotated = await http.post(f"/v1/webhooks/{added['id']}/rotate-secret")
        assert rotated.status_code == 200 and rotated.json()["rotatingUntil"]
        new_secret = rotated.json()["secret"]
        assert new_secret != added["secret"]
        request = video_request("out-rot", video, privacy="SELF_ONLY")
        assert (await http.post("/v1/posts", json=request)).status_code == 202

        async def arrived() -> Any:
            return any(e["type"] == "post.published" for e in receiver.events())

        await until(arrived)
    headers, body = receiver.received[-1]
    signature = headers["X-TikTok-Publisher-Signature"]
    assert signature.count("v1=") == 2
    verify(body, signature, added["secret"])  # receivers not yet switched still accept
    verify(body, signature, new_secret)


async def test_an_account_that_needs_reconnecting_is_announced(
    api: LiveApi, receivers: list[Receiver]
) -> None:
    receiver = Receiver()
    receivers.append(receiver)
    async with api.http() as http:
        added = await http.post(
            "/v1/webhooks", json={"url": receiver.url, "accountId": "acct_demo"}
        )
        assert added.status_code == 201
        assert (await http.get("/v1/accounts/acct_demo/creator-info")).status_code == 200
        assert (await http.delete("/v1/accounts/acct_demo")).status_code == 200

        async def announced() -> Any:
            return [e for e in receiver.events() if e["type"] == "account.needs_reconnect"]

        [event] = await until(announced)
    assert event["account_id"] == "acct_demo" and event["data"]["health"] == "NEEDS_RECONNECT"
    verify(receiver.received[0][1], receiver.received[0][0]["X-TikTok-Publisher-Signature"],
           added.json()["secret"])  # fmt: skip
    entity = api.service.publisher.client.get_workflow_handle("tiktok-account/acct_demo")
    await save_history(entity, "account_needs_reconnect_announced")


async def test_a_posts_own_callback_url_gets_its_events(
    api: LiveApi, video: str, receivers: list[Receiver]
) -> None:
    """Without WEBHOOKS_OUT, a post's callbackUrl still gets its events, signed with the
    secret of the account's endpoint (which itself wants only post.failed)."""
    api.service.publisher.settings = FAST.model_copy(update={"webhook_retry_initial_seconds": 0.3})
    account_hook, callback = Receiver(), Receiver(["fail"])
    receivers += [account_hook, callback]
    async with api.http() as http:
        body = {"url": account_hook.url, "accountId": "acct_demo", "events": ["post.failed"]}
        secret = (await http.post("/v1/webhooks", json=body)).json()["secret"]
        refused = video_request("out-cb-bad", video) | {"callbackUrl": "http://169.254.169.254/"}
        answer = await http.post("/v1/posts", json=refused)
        assert answer.status_code == 422
        assert answer.json()["problems"][0]["field"] == "callbackUrl"
        request = video_request("out-cb", video, privacy="SELF_ONLY") | {
            "callbackUrl": callback.url
        }
        assert (await http.post("/v1/posts", json=request)).status_code == 202

        expected = {"post.scheduled", "post.publishing", "post.published"}

        async def arrived() -> Any:
            # Each event is its own delivery: the one the receiver failed first arrives on
            # its retry, which may be after the post is already published.
            return expected <= {e["type"] for e in callback.events()}

        await until(arrived)
        state = (await http.get("/v1/posts/out-cb/targets/acct_demo")).json()
    assert {e["type"] for e in callback.events()} == expected
    for headers, raw in callback.received:
        verify(raw, headers["X-TikTok-Publisher-Signature"], secret)
    assert account_hook.attempts == 0
    logged = {(d["endpoint_id"], d["outcome"]) for d in state["webhook_deliveries"]}
    assert logged == {("callback", "failed"), ("callback", "delivered")}


async def test_endpoints_that_can_never_be_delivered_to_are_refused(api: LiveApi) -> None:
    async with api.http() as http:
        for body, field in (
            ({"url": "http://169.254.169.254/latest"}, "url"),
            ({"url": "ftp://example.com/x"}, "url"),
            ({"url": "https://user:pw@example.com/x"}, "url"),
            ({"url": "https://example.com:99999/x"}, "url"),
            ({"url": "https://example.com:0/x"}, "url"),
            ({"url": "https://example.com/a b"}, "url"),
            ({"url": "https://example.com/x\r\nHost: evil"}, "url"),
            ({"url": "http://[fec0::1]/x"}, "url"),
            ({"url": "https://example.com/x", "events": ["post.exploded"]}, "events"),
        ):
            refused = await http.post("/v1/webhooks", json=body)
            assert refused.status_code == 422, refused.text
            assert refused.json()["problems"][0]["field"] == field
        missing = await http.delete("/v1/webhooks/wh_0123456789abcdef")
        assert missing.status_code == 404 and missing.json()["code"] == "WEBHOOK_NOT_FOUND"
        ok = await http.post("/v1/webhooks", json={"url": "https://example.com/hook"})
        assert (await http.delete(f"/v1/webhooks/{ok.json()['id']}")).status_code == 200
        assert (await http.get("/v1/webhooks")).json()["endpoints"] == []


async def test_the_cli_manages_endpoints_and_shows_secrets_once(tmp_path: Path) -> None:
    from tests.test_cli import run_cli

    env = {**os.environ, "TIKTOK_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    added = await run_cli(env, "webhook", "add", "https://hooks.example.com/tt", "--event",
                          "post.published", "--account-id", "acct_demo")  # fmt: skip
    assert added.code == 0, added.err
    secret = added.out.strip()
    assert secret.startswith("whsec_") and "shown only now" in added.err
    listed = await run_cli(env, "webhook", "list")
    [row] = listed.out.splitlines()
    assert "acct_demo" in row and "post.published" in row and secret not in listed.out
    endpoint_id = row.split()[0]
    rotated = await run_cli(env, "webhook", "rotate", endpoint_id)
    assert rotated.code == 0 and rotated.out.strip() != secret
    assert "rotating until" in (await run_cli(env, "webhook", "list")).out
    refused = await run_cli(env, "webhook", "add", "http://10.0.0.8/hook")
    assert refused.code == 2 and "never posts to" in refused.err
    assert (await run_cli(env, "webhook", "remove", endpoint_id)).code == 0
    assert (await run_cli(env, "webhook", "remove", endpoint_id)).code == 3


async def test_a_name_that_resolves_to_a_forbidden_address_is_never_called(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    """Registered as a name (allowed), it resolves to loopback at delivery time: refused
    before a connection, logged, and not retried."""
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from account_store.webhook_endpoints import WebhookEndpoints
    from activities.webhooks_out import WebhookActivities
    from tests.db_support import open_test_database
    from workflows.source_addresses import SourceRule
    from workflows.webhooks_out import DeliveryInput, EventType, OutgoingEvent

    receiver = Receiver()
    receivers.append(receiver)
    port = receiver.url.split(":")[2].split("/")[0]
    database = open_test_database(f"sqlite:///{tmp_path / 'store.db'}")
    endpoints = WebhookEndpoints(database)
    info, _ = await endpoints.create(f"http://localhost:{port}/events")
    activities = WebhookActivities(lambda: endpoints, SourceRule(allow_loopback=False))
    event = OutgoingEvent(
        id="evt_1", type=EventType.PUBLISHED, created_at=datetime.now(UTC), account_id="a",
        workflow_id="tiktok-post/p/a",
    )  # fmt: skip
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(
            activities.deliver_webhook, DeliveryInput(endpoint_id=info.endpoint_id, event=event)
        )
    assert refused.value.type == "WEBHOOK_URL_FORBIDDEN" and refused.value.non_retryable
    assert receiver.attempts == 0
    [logged] = await endpoints.deliveries("tiktok-post/p/a")
    assert logged.outcome == "refused"
    database.dispose()


async def test_every_intake_shape_carries_its_callback_url(
    api: LiveApi, video: str, receivers: list[Receiver]
) -> None:
    """Native nested, Ampost's and Post for Me's bodies take a per-post callback too (at
    each dialect's own spelling: callbackUrl, callback_url); each reaches its receiver."""
    api.service.publisher.settings = FAST.model_copy(update={"webhook_retry_initial_seconds": 0.3})
    nested, ampost, pfm, account_hook = Receiver(), Receiver(), Receiver(), Receiver()
    receivers += [nested, ampost, pfm, account_hook]
    bodies: dict[str, dict[str, Any]] = {
        "out-nested": {
            "postId": "out-nested", "caption": "nested", "callbackUrl": nested.url,
            "media": [{"url": video, "type": "video"}],
            "targets": [{"socialAccountId": "acct_demo",
                         "platformOptions": {"tiktok": {"privacy": "SELF_ONLY"}}}],
        },
        "out-ampost": {
            "postId": "out-ampost", "platforms": ["tiktok"], "platformSetId": "set_cb",
            "callbackUrl": ampost.url,
            "content": {"text": "ampost", "media": [{"url": video, "type": "video"}],
                        "platformOverrides": {"tiktok": {"settings": {
                            "privacyLevel": "SELF_ONLY"}}}},
        },
        "out-pfm": {
            "external_id": "out-pfm", "caption": "post for me", "callback_url": pfm.url,
            "social_accounts": ["acct_demo"], "media": [{"url": video}],
            "platform_configurations": {"tiktok": {"privacy_status": "private"}},
        },
    }  # fmt: skip
    async with api.http() as http:
        body = {"url": account_hook.url, "accountId": "acct_demo", "events": ["post.failed"]}
        secret = (await http.post("/v1/webhooks", json=body)).json()["secret"]
        made = await http.post(
            "/v1/platform-sets", json={"name": "cb", "accountIds": ["acct_demo"], "setId": "set_cb"}
        )
        assert made.status_code == 201, made.text
        for post_id, field in (("out-ampost", "callbackUrl"), ("out-pfm", "callback_url")):
            bad = bodies[post_id] | {field: "http://169.254.169.254/latest"}
            refused = await http.post("/v1/posts", json=bad)
            assert refused.status_code == 422, refused.text
            [problem] = refused.json()["problems"]
            assert (problem["code"], problem["field"]) == ("TT_FIELD_INVALID", field)
        for post_id, request in bodies.items():
            answer = await http.post("/v1/posts", json=request)
            assert answer.status_code == 202, (post_id, answer.text)

        async def all_published() -> bool:
            return all(
                any(e["type"] == "post.published" for e in r.events())
                for r in (nested, ampost, pfm)
            )

        await until(all_published)
    for post_id, receiver in (("out-nested", nested), ("out-ampost", ampost), ("out-pfm", pfm)):
        events = receiver.events()
        assert {e["post_id"] for e in events} == {post_id}
        assert {"post.scheduled", "post.publishing", "post.published"} <= {
            e["type"] for e in events
        }
        for headers, raw in receiver.received:
            verify(raw, headers["X-TikTok-Publisher-Signature"], secret)
    assert account_hook.attempts == 0
