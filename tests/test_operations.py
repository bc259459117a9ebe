"""Operators and incident responders, against the dev server and the simulator."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator
from starter.api import ActionRejected, PostNotFound, PostPublisher
from starter.media_host import MediaHost, sample_jpeg, sample_video
from starter.operations import (
    BulkStopped,
    Fixes,
    Operations,
    Outcome,
    _Batch,
    _predicted,
    render,
    timer_span,
)
from tests.workflow_support import (
    FAST,
    failure_of,
    inject,
    photo_request,
    recorded,
    sim_admin,
    state_of,
    target_of,
    video_request,
    wait_for,
)
from workflows import search_attributes as sa
from workflows.contracts import Phase
from workflows.request import RequestInvalid
from workflows.tiktok import Privacy


@pytest.fixture
def api(dev_env: WorkflowEnvironment, task_queue: str) -> PostPublisher:
    return PostPublisher(dev_env.client, task_queue=task_queue, settings=FAST)


@pytest.fixture
def photo_url(media_host: MediaHost) -> str:
    """Photos are pulled by TikTok: a lost init answer there may be live (unlike FILE_UPLOAD)."""
    return media_host.add("ops/photo.jpg", sample_jpeg(), "image/jpeg")


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("ops/video.mp4", sample_video(), "video/mp4")


def new_id(tag: str = "ops") -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


async def visible(client: Client, query: str, expected: int = 1, within: float = 30) -> list[str]:
    """Visibility is eventually consistent: wait until the query sees `expected` posts."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        ids = [wf.id async for wf in client.list_workflows(query)]
        if len(ids) == expected or asyncio.get_running_loop().time() > deadline:
            return ids
        await asyncio.sleep(0.2)


def fail_next_init(sim: Simulator, reason: str = "frame_rate_check_failed", count: int = 1) -> None:
    inject(sim, "video_init", count, fail_reason=reason)


async def failed_post(api: PostPublisher, sim: Simulator, url: str, **kw: Any) -> str:
    fail_next_init(sim)
    [item] = await api.submit(video_request(new_id(kw.pop("tag", "ops")), url, **kw))
    await failure_of(api.client.get_workflow_handle(item.workflow_id))
    return item.workflow_id


async def test_search_attributes_follow_the_phase(
    api: PostPublisher, worker: None, simulator: Simulator, video_url: str
) -> None:
    client = api.client
    at = datetime.now(UTC) + timedelta(days=2)
    [scheduled] = await api.submit(video_request(new_id(), video_url, scheduled_for=at))
    base = f"TikTokPostId = '{scheduled.post_id}'"
    attrs = "TikTokMode = 'video_direct' AND TikTokAccountId = 'acct_demo'"
    assert await visible(client, f"{base} AND TikTokPostState = 'SCHEDULED' AND {attrs}")
    day = at.strftime("%Y-%m-%d")
    assert await visible(client, f"{base} AND TikTokScheduledFor > '{day}T00:00:00Z'")
    await api.cancel(scheduled.post_id, scheduled.account_id)
    assert await visible(client, f"{base} AND TikTokPostState = 'CANCELLED'")

    failed = await failed_post(api, simulator, video_url)
    assert await visible(client, f"WorkflowId = '{failed}' AND TikTokPostState = 'FAILED' "
                         "AND TikTokErrorCode = 'frame_rate_check_failed'")  # fmt: skip
    [ok] = await api.submit(video_request(new_id(), video_url))
    await client.get_workflow_handle(ok.workflow_id).result()
    assert await visible(
        client, f"WorkflowId = '{ok.workflow_id}' AND TikTokPostState = 'PUBLISHED'"
    )


async def test_retry_with_a_fix_publishes_once(
    api: PostPublisher, worker: None, simulator: Simulator, video_url: str
) -> None:
    sim_admin(simulator, "POST", "creators", json={
        "access_token": "act.demo", "refresh_token": "rft.demo", "private_account": True,
    })  # fmt: skip
    [item] = await api.submit(video_request(new_id(), video_url))
    handle = api.client.get_workflow_handle(item.workflow_id)
    assert (await failure_of(handle)).type == "TT_PRIVACY_NOT_ALLOWED"
    ops = Operations(api)
    outcome = await ops.retry(item.workflow_id, fixes=Fixes(privacy=Privacy.SELF_ONLY))
    assert outcome.action == "retried" and outcome.error_code == "TT_PRIVACY_NOT_ALLOWED"
    result = await api.client.get_workflow_handle(item.workflow_id).result()
    assert result["phase"] == "PUBLISHED"
    [init] = recorded(simulator, "video_init")
    assert init["body"]["post_info"]["privacy_level"] == "SELF_ONLY"
    state = await state_of(api.client.get_workflow_handle(item.workflow_id))
    assert any("retry of run" in line and "privacy SELF_ONLY" in line for line in state.history)
    again = await ops.retry(item.workflow_id)
    assert again.action == "skipped" and "finished without failing" in again.reason


async def test_bulk_retry_retries_exactly_the_matching_posts(
    api: PostPublisher, worker: None, simulator: Simulator, video_url: str
) -> None:
    batch = new_id("batch")
    first = await failed_post(api, simulator, video_url, tag=f"{batch}-a")
    second = await failed_post(api, simulator, video_url, tag=f"{batch}-b")
    inject(simulator, "video_init", action="respond", http_status=403, error_code="spam_risk_text")
    [other] = await api.submit(video_request(new_id(f"{batch}-c"), video_url))
    await failure_of(api.client.get_workflow_handle(other.workflow_id))

    query = f"TikTokErrorCode = 'frame_rate_check_failed' AND TikTokPostId STARTS_WITH '{batch}'"
    assert len(await visible(api.client, query + " AND ExecutionStatus = 'Failed'", 2)) == 2
    ops = Operations(api)
    runs_before = await _run_ids(api.client, [first, second, other.workflow_id])
    dry = await ops.retry_matching(query, dry_run=True)
    assert sorted(o.workflow_id for o in dry) == sorted([first, second])
    assert {o.action for o in dry} == {"would retry"}
    assert await _run_ids(api.client, [first, second, other.workflow_id]) == runs_before

    # One post per command, as a capped bulk retry of many: the second goes on to the other
    # post (the first one's old FAILED run still matches the query).
    outcomes = [o for _ in range(2) for o in await ops.retry_matching(query, limit=1)]
    assert sorted(o.workflow_id for o in outcomes if o.action == "retried") == [first, second]
    assert await ops.retry_matching(query) == [], "nothing failed is left"
    for wf_id in (first, second):
        assert (await api.client.get_workflow_handle(wf_id).result())["phase"] == "PUBLISHED"
    runs_after = await _run_ids(api.client, [first, second, other.workflow_id])
    assert runs_after[other.workflow_id] == runs_before[other.workflow_id]
    assert runs_after[first] != runs_before[first]


async def _run_ids(client: Client, ids: list[str]) -> dict[str, str]:
    return {wf_id: (await client.get_workflow_handle(wf_id).describe()).run_id for wf_id in ids}


async def test_ambiguous_init_needs_confirmation(
    api: PostPublisher, worker: None, simulator: Simulator, photo_url: str
) -> None:
    inject(simulator, "content_init", action="drop_after_processing")
    [item] = await api.submit(photo_request(new_id(), [photo_url]))
    handle = api.client.get_workflow_handle(item.workflow_id)
    assert (await failure_of(handle)).type == "AMBIGUOUS_INIT"
    ops = Operations(api)
    refused = await ops.retry(item.workflow_id)
    assert refused.action == "skipped" and "--confirm-not-posted" in refused.reason
    # the API's and MCP's stable code for it; the failed run's own code stays beside it
    assert (refused.refusal, refused.error_code) == ("RETRY_NEEDS_CONFIRMATION", "AMBIGUOUS_INIT")
    assert len(recorded(simulator, "content_init")) == 1
    confirmed = await ops.retry(item.workflow_id, confirm_not_posted=True)
    assert confirmed.action == "retried"
    assert (await handle.result())["phase"] == "PUBLISHED"


async def test_bulk_cancel_and_reschedule(api: PostPublisher, worker: None, video_url: str) -> None:
    batch = new_id("sched")
    at = datetime.now(UTC) + timedelta(days=5)
    items = []
    for i in range(3):
        [item] = await api.submit(video_request(f"{batch}-{i}", video_url, scheduled_for=at))
        items.append(item)
    query = f"TikTokPostId STARTS_WITH '{batch}'"
    assert len(await visible(api.client, query, 3)) == 3
    ops = Operations(api)
    later = at + timedelta(days=1)
    # Two posts, then the one left (a capped run of the command goes on, not round again).
    moved = await ops.reschedule_matching(query, later, limit=2)
    assert [o.action for o in moved] == ["rescheduled"] * 2
    await visible(api.client, f"{query} AND TikTokScheduledFor > '{at.isoformat()}'", 2)
    rest = await ops.reschedule_matching(query, later)
    assert [o.action for o in rest] == ["rescheduled"]
    assert {o.workflow_id for o in moved + rest} == {i.workflow_id for i in items}
    state = await api.state(items[0].post_id, items[0].account_id)
    assert state.scheduled_for == later

    dry = await ops.cancel_matching(query, dry_run=True)
    assert [o.action for o in dry] == ["would cancel"] * 3
    assert (await api.state(items[1].post_id, items[1].account_id)).phase is Phase.SCHEDULED
    cancelled = await ops.cancel_matching(query, reason="campaign pulled")
    assert [o.action for o in cancelled] == ["cancelled"] * 3
    for item in items:
        assert (await api.state(item.post_id, item.account_id)).phase is Phase.CANCELLED


@pytest.mark.short_rate_limit_pause
async def test_describe_tells_the_story(
    api: PostPublisher, worker: None, simulator: Simulator, video_url: str
) -> None:
    inject(simulator, "status_fetch", action="respond", http_status=429,
           error_code="rate_limit_exceeded")  # fmt: skip
    [item] = await api.submit(video_request(new_id(), video_url))
    await api.client.get_workflow_handle(item.workflow_id).result()
    lines = await Operations(api).describe(item.workflow_id)
    text = "\n".join(lines)
    assert "accepted: video → @acct_demo" in lines[0]
    assert "creator_info for acct_demo: done" in text
    assert "init video_direct upload: done" in text
    assert "status polled" in text
    assert lines[-1].endswith("finished")

    failed = await failed_post(api, simulator, video_url)
    story = "\n".join(await Operations(api).describe(failed))
    assert "FAILED frame_rate_check_failed" in story
    assert "Re-encode the video at 23-60 fps" in story


async def test_a_maybe_live_failure_needs_confirmation_and_bulk_cannot_confirm(
    api: PostPublisher, worker: None, simulator: Simulator, photo_url: str
) -> None:
    # The photo init reached TikTok and its answer was lost: the post may be live.
    inject(simulator, "content_init", action="drop_after_processing")
    [item] = await api.submit(photo_request(new_id(), [photo_url]))
    failed = await failure_of(api.client.get_workflow_handle(item.workflow_id))
    assert failed.type == "AMBIGUOUS_INIT"
    ops = Operations(api)
    refused = await ops.retry(item.workflow_id)
    assert refused.action == "skipped" and "may already have this post" in refused.reason
    with pytest.raises(ValueError, match="per-post decision"):
        await ops.retry_matching(f"WorkflowId = '{item.workflow_id}'", confirm_not_posted=True)
    assert (await ops.retry(item.workflow_id, confirm_not_posted=True)).action == "retried"


async def test_bulk_retry_skips_a_post_whose_latest_run_is_not_the_matched_one(
    api: PostPublisher, worker: None, simulator: Simulator, video_url: str
) -> None:
    wf_id = await failed_post(api, simulator, video_url)
    ops = Operations(api)
    [first_run] = await visible(api.client, f"WorkflowId = '{wf_id}'")
    old = (await api.client.get_workflow_handle(wf_id).describe()).run_id
    fail_next_init(simulator, "spam_risk_text")  # the retry fails too, differently
    assert (await ops.retry(wf_id)).action == "retried"
    await failure_of(api.client.get_workflow_handle(wf_id))
    stale = await ops.retry(wf_id, expected_run_id=old)
    assert stale.action == "skipped" and "not the post's latest" in stale.reason
    assert first_run == wf_id


async def test_submit_refuses_media_tiktok_would_pull_from_an_unverified_host(
    dev_env: WorkflowEnvironment, task_queue: str, video_url: str
) -> None:
    checked = PostPublisher(
        dev_env.client,
        task_queue=task_queue,
        pull_base_url="https://bucket.storage.example.net/tiktok-media",
        verified_url_prefixes=("media.acme.com",),
    )
    photo = {"postId": new_id(), "content": "x", "media": [
        {"url": "https://cdn.example.com/a.jpg", "type": "photo"}],
        "platforms": [{"accountId": "acct_demo", "platformOptions": {
            "tiktok": {"privacy": "SELF_ONLY"}}}]}  # fmt: skip
    with pytest.raises(RequestInvalid) as err:
        await checked.submit(photo)
    [problem] = err.value.problems
    assert (
        problem.code == "TT_DOMAIN_UNVERIFIED" and "bucket.storage.example.net" in problem.message
    )
    visible_ids = [wf.id async for wf in dev_env.client.list_workflows(
        f"WorkflowId = 'tiktok-post/{photo['postId']}/acct_demo'")]  # fmt: skip
    assert visible_ids == [], "nothing was started"
    # Videos go FILE_UPLOAD from the bucket: TikTok pulls nothing, so nothing to verify.
    assert checked.delivery_problems([target_of(video_request(new_id(), video_url))]) == []
    verified = PostPublisher(
        dev_env.client,
        task_queue=task_queue,
        pull_base_url="https://media.acme.com/tiktok-media",
        verified_url_prefixes=("acme.com",),
    )
    assert verified.delivery_problems([target_of(photo)]) == []


async def test_a_run_terminated_in_temporal_is_retried_only_on_the_responders_word(
    api: PostPublisher, worker: None, simulator: Simulator, video_url: str
) -> None:
    """RUN_ENDED_OUTSIDE_ENGINE's remedy is `retry --confirm-not-posted`: it must work (it was
    refused as "not FAILED"), and never without the confirmation."""
    later = datetime.now(UTC) + timedelta(days=1)
    [item] = await api.submit(video_request(new_id("ended"), video_url, scheduled_for=later))
    handle = api.client.get_workflow_handle(item.workflow_id)
    await wait_for(handle, lambda s: s.phase is Phase.SCHEDULED)
    await handle.terminate("an operator, in the Temporal UI")
    ops = Operations(api)
    unconfirmed = await ops.retry(item.workflow_id)
    assert unconfirmed.action == "skipped" and unconfirmed.error_code == "RUN_ENDED_OUTSIDE_ENGINE"
    assert "--confirm-not-posted" in unconfirmed.reason and "terminated" in unconfirmed.reason
    assert unconfirmed.refusal == "RETRY_NEEDS_CONFIRMATION"
    retried = await ops.retry(item.workflow_id, confirm_not_posted=True, fixes=Fixes(at=later))
    assert retried.action == "retried" and retried.run_id
    state = await state_of(api.client.get_workflow_handle(item.workflow_id))
    assert state.phase is Phase.SCHEDULED
    assert any("RUN_ENDED_OUTSIDE_ENGINE" in line for line in state.history), state.history
    await api.client.get_workflow_handle(item.workflow_id).terminate("test finished")


async def test_retry_refuses_a_time_in_the_past_and_a_bulk_caption(
    api: PostPublisher, worker: None, simulator: Simulator, video_url: str
) -> None:
    """A typo in `--at` must not publish at once (reschedule refuses it too), and one caption
    for every matched post is never what a responder means."""
    failed = await failed_post(api, simulator, video_url, tag=new_id("past"))
    ops = Operations(api)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ActionRejected) as refused:
        await ops.retry(failed, fixes=Fixes(at=yesterday))
    assert refused.value.code == "TIME_IN_PAST"
    with pytest.raises(ActionRejected):  # a dry run says the same
        await ops.retry(failed, fixes=Fixes(at=yesterday), dry_run=True)
    await visible(api.client, f"WorkflowId = '{failed}' AND ExecutionStatus = 'Failed'")
    # In bulk, refused once before anything is listed, not once per matched post (with
    # refusals not counting towards the limit, that would walk every match).
    with pytest.raises(ActionRejected, match="in the past"):
        await ops.retry_matching(f"WorkflowId = '{failed}'", fixes=Fixes(at=yesterday))
    with pytest.raises(ActionRejected, match="in the past"):
        await ops.reschedule_matching(f"WorkflowId = '{failed}'", yesterday, dry_run=True)
    with pytest.raises(ValueError, match="caption"):
        await ops.retry_matching(f"WorkflowId = '{failed}'", fixes=Fixes(caption="one for all"))
    assert (await api.latest_run(failed) or ("",))[0] == "FAILED", "nothing was retried"


def test_a_bulk_summary_names_what_was_done_not_the_first_line() -> None:
    rows = [
        Outcome("tiktok-post/a/x", "skipped", "INVALID_PHASE: publishing", refusal="INVALID_PHASE"),
        Outcome("tiktok-post/b/x", "cancelled"),
        Outcome("tiktok-post/c/x", "cancelled"),
    ]
    assert render(rows).splitlines()[-1] == "2 of 3 post(s): cancelled"
    assert render([]) == "No posts match."


def test_a_bulk_limit_counts_posts_acted_on_and_no_worker_stops_the_batch() -> None:
    heard: list[Outcome] = []
    batch = _Batch(2, heard.append)
    refused = Outcome("tiktok-post/r/x", "skipped", "refused", refusal="INVALID_PHASE")
    for outcome in [refused, Outcome("tiktok-post/a/x", "cancelled"), refused]:
        batch.add(outcome)
    assert not batch.full, "refused posts do not use up the limit"
    batch.add(Outcome("tiktok-post/b/x", "cancelled"))
    assert batch.full and heard == batch.outcomes and len(heard) == 4
    # No worker: each post would wait its action timeout; three in a row stop the batch.
    idle = _Batch(1000, None)
    waiting = Outcome("tiktok-post/w/x", "skipped", "no worker", refusal="POST_NOT_READY")
    idle.add(waiting)
    idle.add(Outcome("tiktok-post/a/x", "cancelled"))  # a worker answered: the streak ends
    idle.add(waiting)
    idle.add(waiting)
    with pytest.raises(BulkStopped, match="no answer from a worker") as stopped:
        idle.add(waiting)
    assert len(stopped.value.outcomes) == 5


async def test_one_posts_temporal_error_or_disappearance_is_its_line_not_the_batchs_end(
    api: PostPublisher,
) -> None:
    ops = Operations(api)

    async def unavailable() -> None:
        raise RPCError("busy", RPCStatusCode.UNAVAILABLE, b"")

    async def gone() -> None:
        raise PostNotFound("tiktok-post/g/x")

    busy = await ops._guarded("tiktok-post/u/x", unavailable())
    assert busy.action == "skipped" and busy.refusal == "TEMPORAL_UNAVAILABLE"
    assert "UNAVAILABLE" in busy.reason
    assert (await ops._guarded("tiktok-post/g/x", gone())).refusal == "POST_NOT_FOUND"


async def test_a_retry_keeps_the_schedule_the_failed_run_ended_with(
    api: PostPublisher, worker: None, simulator: Simulator, video_url: str
) -> None:
    """A system draft that was scheduled, then failed at TikTok, is retried as scheduled:
    rebuilt from its submitted request alone it came back a DRAFT, waiting forever."""
    fail_next_init(simulator)
    [item] = await api.submit(video_request(new_id("draft"), video_url, system_draft=True))
    handle = api.client.get_workflow_handle(item.workflow_id)
    await wait_for(handle, lambda s: s.phase is Phase.DRAFT)
    await api.schedule(item.post_id, item.account_id, None)  # publish as soon as possible
    assert (await failure_of(handle)).type == "frame_rate_check_failed"
    ops = Operations(api)
    failed = await ops._failed_run(item.workflow_id)
    assert failed.schedule == {"scheduled_for": None, "system_draft": False}
    retried = await ops.retry(item.workflow_id)
    assert retried.action == "retried", retried
    latest = api.client.get_workflow_handle(item.workflow_id)
    state = await wait_for(latest, lambda s: s.phase is Phase.PUBLISHED, within=60)
    assert len([c for c in recorded(simulator, "video_init") if c["response_status"] == 200]) == 2

    # Published now, then failed: a retry at a new time is scheduled for it.
    fail_next_init(simulator)
    [draft] = await api.submit(video_request(new_id("draft"), video_url, system_draft=True))
    other = api.client.get_workflow_handle(draft.workflow_id)
    await wait_for(other, lambda s: s.phase is Phase.DRAFT)
    await api.publish_now(draft.post_id, draft.account_id)
    await failure_of(other)
    later = datetime.now(UTC) + timedelta(days=1)
    assert (await ops.retry(draft.workflow_id, fixes=Fixes(at=later))).action == "retried"
    state = await wait_for(
        api.client.get_workflow_handle(draft.workflow_id), lambda s: s.staged_media != []
    )
    assert state.phase is Phase.SCHEDULED and state.scheduled_for == later
    await api.cancel(draft.post_id, draft.account_id)
    await api.client.get_workflow_handle(draft.workflow_id).result()


def test_a_dry_run_lists_a_post_that_began_publishing_as_refused() -> None:
    def listed(phase: str, waiting_for: str | None = None) -> Any:
        pairs: list[SearchAttributePair[Any]] = [SearchAttributePair(sa.POST_STATE, phase)]
        if waiting_for:
            pairs.append(SearchAttributePair(sa.WAITING_FOR, waiting_for))
        attrs = TypedSearchAttributes(pairs)
        return SimpleNamespace(id=f"tiktok-post/{phase.lower()}/x", typed_search_attributes=attrs)

    publishing = _predicted(listed("PUBLISHING"), "cancel")
    assert publishing.action == "skipped" and publishing.refusal == "INVALID_PHASE"
    assert "PUBLISHING" in publishing.reason
    assert _predicted(listed("SCHEDULED"), "cancel").action == "would cancel"
    assert _predicted(listed("DRAFT"), "reschedule").action == "would reschedule"
    # Held by its account: a cancel may still be taken (the post's own state decides), a
    # reschedule never is; a post weighing a lost init's evidence is never held.
    held = _predicted(listed("PUBLISHING", "needs_reconnect"), "cancel")
    assert held.action == "would cancel" and "needs_reconnect" in held.reason
    assert _predicted(listed("PUBLISHING", "needs_reconnect"), "reschedule").action == "skipped"
    assert _predicted(listed("PUBLISHING", "ambiguity_evidence"), "cancel").action == "skipped"


def test_describe_writes_a_timer_as_a_person_reads_it() -> None:
    spans = [45, 600, 3575.7, 7500, 7 * 86_400]
    assert [timer_span(timedelta(seconds=s)) for s in spans] == [
        "45 s",
        "10 min",
        "59 min 36 s",
        "2 h 5 min",
        "7 d",
    ]
