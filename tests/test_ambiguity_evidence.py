"""Lost answers of pulled inits settled by TikTok's evidence, end to end over HTTP: the
simulator drops the init's answer after creating the publish and sends TikTok's webhooks for
that ghost to the API, which hands events no post knows to the account entity; the entity
attributes them to the one post waiting for evidence, and the post confirms with a status
fetch. Two posts in one window, or no webhooks, still end AMBIGUOUS_INIT for a person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.tokens import StoredToken
from simulator import Simulator
from starter.media_host import MediaHost, sample_jpeg
from tests.api_support import LiveApi, live_api
from tests.workflow_support import FAST, inject, photo_request, recorded, save_history
from workflows.account_contracts import account_workflow_id
from workflows.claims import AmbiguousInit, ClaimBook
from workflows.tiktok_events import TikTokEvent

EVIDENCE = FAST.model_copy(
    update={
        "webhook_fallback_poll_seconds": 3.0,
        "ambiguity_evidence_window_seconds": 120.0,
        "webhooks_out": True,
    }
)


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, simulator: Simulator, tmp_path: Path, task_queue: str
) -> AsyncIterator[LiveApi]:
    async with live_api(dev_env.client, simulator, tmp_path, task_queue) as live:
        open_id = simulator.config.creators[0].open_id
        token = StoredToken("act.demo", "rft.demo", open_id=open_id, scope="video.publish")
        await live.store.save("acct_demo", token)  # webhooks name the creator by open_id
        live.service.publisher.settings = EVIDENCE
        live.service.tiktok_webhooks.patience = 2.0  # no post knows a ghost's publish_id
        simulator.update_config(webhook_url=f"{live.base_url}/v1/webhooks/tiktok")
        yield live


@pytest.fixture
def photos(media_host: MediaHost) -> list[str]:
    return [media_host.add("evidence/one.jpg", sample_jpeg(), "image/jpeg")]


async def final(http: httpx.AsyncClient, post_id: str, within: float = 150) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        state: dict[str, Any] = (await http.get(f"/v1/posts/{post_id}/targets/acct_demo")).json()
        if state.get("phase") in ("PUBLISHED", "DELIVERED_TO_INBOX", "FAILED"):
            return state
        assert asyncio.get_running_loop().time() < deadline, f"{post_id} never ended: {state}"
        await asyncio.sleep(0.3)


def completed(simulator: Simulator) -> list[dict[str, Any]]:
    return [p for p in simulator.publishes() if p["status"] == "PUBLISH_COMPLETE"]


async def submit(http: httpx.AsyncClient, post_id: str, photos: list[str]) -> None:
    answer = await http.post("/v1/posts", json=photo_request(post_id, photos))
    assert answer.status_code == 202, answer.text


async def test_a_ghost_that_went_live_is_adopted(
    api: LiveApi, simulator: Simulator, photos: list[str]
) -> None:
    """TikTok pulled the photo and then the answer was lost: its complete event names a
    publish no post knows, the only claimant adopts it, and nothing is posted twice."""
    inject(simulator, "content_init", action="drop_after_processing", pull_before_answer=True)
    async with api.http() as http:
        await submit(http, "ev-adopt", photos)
        state = await final(http, "ev-adopt")
    assert state["phase"] == "PUBLISHED", state
    [live] = completed(simulator)
    assert len(simulator.publishes()) == 1 and len(recorded(simulator, "content_init")) == 1
    assert state["publish_id"] == live["publish_id"]
    evidence = state["ambiguity_evidence"]
    assert evidence["outcome"] == "adopted", evidence
    assert evidence["confirmed_status"] == "PUBLISH_COMPLETE"
    assert evidence["publish_id"] == live["publish_id"]
    assert any("ambiguity adopted" in line for line in state["history"])
    assert not any("post.needs_attention" in line for line in state["history"])
    told = await api.service.operations.describe(state["workflow_id"])
    assert any("evidence from the account: TikTok's post.publish" in line for line in told)
    client = api.service.publisher.client
    await save_history(client.get_workflow_handle(state["workflow_id"]), "ambiguity_adopted")
    entity = client.get_workflow_handle(account_workflow_id("acct_demo"))
    await save_history(entity, "account_claims")


async def test_a_ghost_whose_pull_failed_is_retried_and_published_once(
    api: LiveApi, simulator: Simulator, photos: list[str]
) -> None:
    """TikTok starts pulling only after the copies were withdrawn: the ghost fails its pull,
    so it never went live, and a new init is safe."""
    inject(
        simulator, "content_init", action="drop_after_processing", pull_delay_seconds=300
    )  # 3 s at the fixture's time scale
    async with api.http() as http:
        await submit(http, "ev-failed", photos)
        state = await final(http, "ev-failed", within=200)
    assert state["phase"] == "PUBLISHED", state
    publishes = simulator.publishes()
    assert sorted(p["status"] for p in publishes) == ["FAILED", "PUBLISH_COMPLETE"]
    [ghost] = [p for p in publishes if p["status"] == "FAILED"]
    assert ghost["fail_reason"] == "photo_pull_failed"
    assert state["publish_id"] == completed(simulator)[0]["publish_id"] != ghost["publish_id"]
    assert state["init_attempts"] == 2 and len(recorded(simulator, "content_init")) == 2
    evidence = state["ambiguity_evidence"]
    assert evidence["outcome"] == "ghost_failed", evidence
    assert evidence["publish_id"] == ghost["publish_id"]
    client = api.service.publisher.client
    await save_history(client.get_workflow_handle(state["workflow_id"]), "ambiguity_ghost_failed")


async def test_two_claimants_in_one_window_are_left_to_a_person(
    api: LiveApi, simulator: Simulator, photos: list[str]
) -> None:
    inject(
        simulator, "content_init", count=2, action="drop_after_processing", pull_delay_seconds=2000
    )
    async with api.http() as http:
        await submit(http, "ev-two-a", photos)
        await submit(http, "ev-two-b", photos)
        states = [await final(http, p) for p in ("ev-two-a", "ev-two-b")]
    for state in states:
        assert state["phase"] == "FAILED", state
        assert state["error"]["code"] == "AMBIGUOUS_INIT" and state["error"]["may_be_live"]
        assert state["ambiguity_evidence"]["outcome"] == "contested", state
        assert "cannot tell the two apart" in state["error"]["message"]
        assert any("post.needs_attention" in line for line in state["history"])
    assert len(recorded(simulator, "content_init")) == 2, "never a blind retry"
    client = api.service.publisher.client
    await save_history(client.get_workflow_handle(states[0]["workflow_id"]), "ambiguity_contested")


async def test_without_webhooks_a_lost_pulled_answer_ends_ambiguous_at_once(
    api: LiveApi, simulator: Simulator, photos: list[str]
) -> None:
    api.service.publisher.settings = FAST  # no TikTok webhooks: nothing could bring evidence
    inject(simulator, "content_init", action="drop_after_processing", pull_before_answer=True)
    async with api.http() as http:
        await submit(http, "ev-none", photos)
        state = await final(http, "ev-none", within=60)
    assert state["error"]["code"] == "AMBIGUOUS_INIT", state
    assert state["ambiguity_evidence"] is None
    assert len(simulator.publishes()) == 1 and len(recorded(simulator, "content_init")) == 1


# -- the account's book alone -----------------------------------------------------------------


def _claim(book: ClaimBook, rid: str, sent: Any, window: float = 600) -> Any:
    from datetime import timedelta

    return book.register(
        AmbiguousInit(
            request_id=rid,
            workflow_id=f"wf-{rid}",
            kind="pulled",
            sent_at=sent,
            until=sent + timedelta(seconds=window),
            window_seconds=window,
        ),
        sent,
    )


def _event(pid: str, kind: str = "post.publish.complete") -> TikTokEvent:
    return TikTokEvent(event_key=f"{kind}/{pid}", event=kind, publish_id=pid)


def test_an_event_is_held_while_another_init_is_unanswered_and_known_ids_are_ignored() -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
    book = ClaimBook()
    _claim(book, "r1", t0)
    book.hold(_event("known"), t0 + timedelta(seconds=5))
    book.hold(_event("ghost"), t0 + timedelta(seconds=5))
    in_flight = [("r1", t0), ("r2", t0 + timedelta(seconds=1))]
    held = book.decide(t0 + timedelta(seconds=6), {"known"}, in_flight)
    assert held.answers == [] and [h.event.publish_id for h in book.held] == ["ghost"]
    # r2's answer named its publish: nothing else can own the ghost any more.
    decided = book.decide(t0 + timedelta(seconds=7), {"known", "p2"}, [("r1", t0)])
    [(wf, verdict)] = decided.answers
    assert (
        wf == "wf-r1" and verdict.decision == "evidence" and decided.attributed == [("r1", "ghost")]
    )


def test_an_event_before_a_claimants_init_or_after_its_window_is_not_its_own() -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
    book = ClaimBook()
    book.hold(_event("earlier"), t0 - timedelta(seconds=1))
    _claim(book, "r1", t0, window=60)
    decision = book.decide(t0 + timedelta(seconds=61), set(), [("r1", t0)])
    assert [v.decision for _, v in decision.answers] == ["no_evidence"]


def test_overlapping_claimants_are_contested_and_a_file_upload_ghost_never_competes() -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
    book = ClaimBook()
    assert _claim(book, "r1", t0).answers == []
    contested = _claim(book, "r2", t0 + timedelta(seconds=30))
    assert sorted((wf, v.decision) for wf, v in contested.answers) == [
        ("wf-r1", "contested"),
        ("wf-r2", "contested"),
    ]
    # A third post, later, whose window still overlaps the contested ones: left to a person.
    late = _claim(book, "r3", t0 + timedelta(seconds=500))
    assert [v.decision for _, v in late.answers] == ["contested"]
    # After every old window: a FILE_UPLOAD ghost still unanswered does not hold the event.
    t1 = t0 + timedelta(hours=1)
    book.register(
        AmbiguousInit(
            request_id="g1", workflow_id="wf-g1", kind="file_upload", sent_at=t1, until=t1
        ),
        t1,
    )
    _claim(book, "r4", t1 + timedelta(seconds=1))
    book.hold(_event("p4"), t1 + timedelta(seconds=3))
    unresolved = [("g1", t1), ("r4", t1 + timedelta(seconds=1))]
    decided = book.decide(t1 + timedelta(seconds=4), set(), unresolved)
    assert [(wf, v.decision) for wf, v in decided.answers] == [("wf-r4", "evidence")]


def test_a_reserved_init_counted_after_the_event_still_holds_it() -> None:
    """A reserved init counts at its latest send time, which can come after TikTok's event
    about it: it may be the source, so the event waits for its answer."""
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
    book = ClaimBook()
    _claim(book, "r1", t0)
    book.hold(_event("ghost"), t0 + timedelta(seconds=5))
    reserved = [("r1", t0), ("r2", t0 + timedelta(seconds=8))]
    assert book.decide(t0 + timedelta(seconds=6), set(), reserved).answers == []
