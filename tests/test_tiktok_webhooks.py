"""TikTok's webhooks in, end to end over HTTP: the simulator signs and delivers TikTok's
events to the API's POST /v1/webhooks/tiktok; a verified event wakes its post for one
confirming status fetch; forged, stale and repeated deliveries change nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.tokens import StoredToken
from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from starter.tiktok_webhooks import SignatureRejected, event_of, sign, verify
from tests.api_support import LiveApi, live_api
from tests.workflow_support import FAST, recorded, save_history, video_request

SECRET = "sim-client-secret"
#: Polling so slow it never happens inside a test: only the webhooks can finish a post.
WEBHOOKS_ONLY = FAST.model_copy(update={"webhook_fallback_poll_seconds": 600.0})


def envelope(event: str, content: dict[str, Any], open_id: str = "open.demo") -> bytes:
    return json.dumps(
        {
            "client_key": "sim-client-key",
            "event": event,
            "create_time": int(time.time()),
            "user_openid": open_id,
            "content": json.dumps(content),
        }
    ).encode()


# -- the signature ---------------------------------------------------------------------------


def test_a_signature_is_checked_over_the_raw_body_and_its_age() -> None:
    raw = envelope("post.publish.complete", {"publish_id": "p1"})
    now = int(time.time())
    verify(sign(SECRET, now, raw), raw, SECRET)  # TikTok's own: accepted
    cases = {
        "wrong secret": (sign("other", now, raw), raw),
        "body changed": (sign(SECRET, now, raw), raw.replace(b"p1", b"p2")),
        "stale": (sign(SECRET, now - 301, raw), raw),
        "future": (sign(SECRET, now + 301, raw), raw),
        "no header": (None, raw),
        "garbage": ("s=abc", raw),
    }
    for name, (header, body) in cases.items():
        with pytest.raises(SignatureRejected):
            verify(header, body, SECRET)
            pytest.fail(f"{name} was accepted")


def test_the_same_event_has_the_same_key_and_another_event_another() -> None:
    raw = envelope("post.publish.complete", {"publish_id": "p1"})
    assert event_of(raw).event_key == event_of(raw).event_key
    assert event_of(raw).event_key != event_of(raw.replace(b"p1", b"p2")).event_key


# -- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> AsyncIterator[LiveApi]:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue) as live:
        live.service.publisher.settings = WEBHOOKS_ONLY
        simulator.update_config(webhook_url=f"{live.base_url}/v1/webhooks/tiktok")
        yield live


@pytest.fixture
def video(media_host: MediaHost) -> str:
    return media_host.add("webhooks/video.mp4", sample_video(), "video/mp4")


async def until(check: Any, within: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.2)


async def published(http: httpx.AsyncClient, post_id: str) -> dict[str, Any]:
    async def check() -> Any:
        state = (await http.get(f"/v1/posts/{post_id}/targets/acct_demo")).json()
        return state if state.get("phase") in ("PUBLISHED", "FAILED") else None

    result: dict[str, Any] = await until(check)
    return result


async def test_webhooks_publish_a_post_with_two_status_calls(
    api: LiveApi, simulator: Simulator, video: str
) -> None:
    # 10 s at the fixture's time scale: long enough that the fetch the `complete` event
    # prompts still sees the post in moderation on a busy machine.
    simulator.update_config(moderation_seconds=1000)
    async with api.http() as http:
        answer = await http.post("/v1/posts", json=video_request("wh-post-1", video))
        assert answer.status_code == 202, answer.text
        state = await published(http, "wh-post-1")
    assert state["phase"] == "PUBLISHED", state
    assert state["public_post_ids"]
    # complete -> one fetch (live, no public id yet); publicly_available -> one fetch (done).
    assert len(recorded(simulator, "status_fetch")) == 2
    assert any("TikTok event post.publish.publicly_available" in h for h in state["history"])
    delivered = simulator.webhook_deliveries()
    assert {d["event"] for d in delivered} >= {
        "post.publish.complete",
        "post.publish.publicly_available",
    }
    assert all(d["http_status"] == 200 for d in delivered)
    client = api.service.publisher.client
    await save_history(client.get_workflow_handle(state["workflow_id"]), "webhook_woken")


async def test_forged_stale_and_repeated_deliveries_change_nothing(api: LiveApi) -> None:
    raw = envelope("post.publish.failed", {"publish_id": "v_pub_file~v2-1.1", "reason": "x"})
    now = int(time.time())
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        url = "/v1/webhooks/tiktok"
        for header in (sign("forged", now, raw), sign(SECRET, now - 600, raw), None):
            headers = {"TikTok-Signature": header} if header else {}
            refused = await http.post(url, content=raw, headers=headers)
            assert refused.status_code == 401, refused.text
            assert refused.json()["code"] == "WEBHOOK_SIGNATURE_INVALID"
        headers = {"TikTok-Signature": sign(SECRET, now, raw)}
        first = await http.post(url, content=raw, headers=headers)
        assert first.status_code == 200 and first.json()["duplicate"] is False, first.text
        again = await http.post(url, content=raw, headers=headers)
        assert again.status_code == 200 and again.json()["duplicate"] is True
        not_json = b"hello"
        bad = await http.post(
            url, content=not_json, headers={"TikTok-Signature": sign(SECRET, now, not_json)}
        )
        assert bad.status_code == 400 and bad.json()["code"] == "WEBHOOK_BODY_INVALID"


async def test_faulty_delivery_gives_the_same_outcome_as_polling(
    api: LiveApi, simulator: Simulator, video: str
) -> None:
    """Duplicated, reordered, forged and lost events: the post still ends PUBLISHED with
    its public id (lost ones are caught by the fallback poll), and no forged one counts."""
    api.service.publisher.settings = FAST.model_copy(update={"webhook_fallback_poll_seconds": 3.0})
    simulator.update_config(
        moderation_seconds=100,
        webhook_faults={"duplicate": 1.0, "reorder": 0.5, "mis_sign": 1.0, "drop": 0.5},
    )
    async with api.http() as http:
        for n in range(3):
            answer = await http.post("/v1/posts", json=video_request(f"wh-fault-{n}", video))
            assert answer.status_code == 202, answer.text
        states = [await published(http, f"wh-fault-{n}") for n in range(3)]
    assert [s["phase"] for s in states] == ["PUBLISHED"] * 3
    assert all(s["public_post_ids"] for s in states)
    forged = [d for d in simulator.webhook_deliveries() if d["forged"]]
    assert forged and all(d["http_status"] == 401 for d in forged)
    assert not any("post.publish.failed" in h for s in states for h in s["history"])
    client = api.service.publisher.client
    await save_history(client.get_workflow_handle(states[0]["workflow_id"]), "webhook_faults")


async def test_authorization_removed_puts_the_account_in_needs_reconnect(
    api: LiveApi, simulator: Simulator
) -> None:
    from starter.account_entity import account_state

    open_id = simulator.config.creators[0].open_id
    token = StoredToken("act.demo", "rft.demo", open_id=open_id, scope="video.publish")
    await api.store.save("acct_demo", token)
    async with api.http() as http:  # the entity exists once the account is used
        assert (await http.get("/v1/accounts/acct_demo/creator-info")).status_code == 200
    simulator.remove_authorization(open_id, reason=2)

    async def reconnect() -> Any:
        found = await account_state(api.service.publisher.client, "acct_demo")
        return found if found and found.health.value == "NEEDS_RECONNECT" else None

    state = await until(reconnect, within=30)
    assert "authorization removed" in (state.health_reason or "")
    delivered = [d for d in simulator.webhook_deliveries() if d["event"] == "authorization.removed"]
    assert delivered and delivered[0]["http_status"] == 200


async def test_repeats_are_recognised_for_four_days_then_forgotten(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from account_store.tables import TikTokWebhookEvent
    from account_store.webhook_events import ReceivedEvents
    from tests.db_support import open_test_database

    database = open_test_database(f"sqlite:///{tmp_path / 'events.db'}")
    received = ReceivedEvents(database)
    assert await received.first_time("k-old", "post.publish.complete")
    assert await received.first_time("k-new", "post.publish.complete")
    assert not await received.first_time("k-old", "post.publish.complete")
    long_ago = datetime.now(UTC) - timedelta(hours=97)
    await database.run(
        lambda s: s.execute(
            update(TikTokWebhookEvent)
            .where(TikTokWebhookEvent.event_key == "k-old")
            .values(received_at=long_ago)
        )
    )
    assert await received.forget_old() == 1
    assert await received.first_time("k-old", "post.publish.complete")  # new again
    assert not await received.first_time("k-new", "post.publish.complete")
    database.dispose()
