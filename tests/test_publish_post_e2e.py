"""PublishPost end to end on the real Temporal dev server against the TikTok simulator."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from simulator import Simulator, SimulatorConfig
from starter.api import ActionRejected
from starter.media_host import MediaHost, sample_jpeg, sample_video
from starter.operations import Operations
from tests.workflow_support import (
    FAST,
    failure_of,
    inject,
    photo_request,
    publisher,
    recorded,
    running_worker,
    save_history,
    sim_admin,
    start,
    state_of,
    target_of,
    video_request,
    wait_for,
)
from workflows.contracts import Phase, PublishPostInput
from workflows.errors import TIKTOK_ERROR_CODES, Retryability
from workflows.pacing import ACCOUNT_CODES, BANNED_CODE


def post_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def video_url(media_host: MediaHost) -> str:
    return media_host.add("e2e/video.mp4", sample_video(), "video/mp4")


async def test_direct_video_is_published(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    handle = await start(dev_env.client, task_queue, target_of(video_request(post_id(), video_url)))
    result = await handle.result()
    await save_history(handle, "direct_video_published")
    assert result.phase is Phase.PUBLISHED
    assert result.public_post_ids, "a public post gets TikTok's public post id"
    state = await state_of(handle)
    assert state.tiktok_status == "PUBLISH_COMPLETE" and state.creator_username == "demo_creator"
    assert len(recorded(simulator, "video_init")) == 1


async def test_inbox_draft_is_delivered_to_the_inbox(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    target = target_of(video_request(post_id(), video_url, privacy=None, inbox=True))
    handle = await start(dev_env.client, task_queue, target)
    result = await handle.result()
    await save_history(handle, "inbox_draft_delivered")
    assert result.phase is Phase.DELIVERED_TO_INBOX
    [init] = recorded(simulator, "inbox_video_init")
    assert init["body"] == {
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": 256 * 1024,
            "chunk_size": 256 * 1024,
            "total_chunk_count": 1,
        }
    }
    assert recorded(simulator, "video_init") == []


async def test_photo_carousel_is_published(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
) -> None:
    urls = [media_host.add(f"e2e/p{i}.jpg", sample_jpeg(), "image/jpeg") for i in range(3)]
    handle = await start(dev_env.client, task_queue, target_of(photo_request(post_id(), urls)))
    result = await handle.result()
    await save_history(handle, "photo_carousel_published")
    assert result.phase is Phase.PUBLISHED
    [init] = recorded(simulator, "content_init")
    body = init["body"]
    assert body["media_type"] == "PHOTO" and body["post_mode"] == "DIRECT_POST"
    # TikTok pulls the staged copies from our bucket, not the customer's URLs.
    staged = body["source_info"]["photo_images"]
    assert len(staged) == 3 and all(
        u.startswith(os.environ["MEDIA_PUBLIC_BASE_URL"] + "/staged/") for u in staged
    )
    assert body["post_info"]["title"] == "Carousel"
    assert body["post_info"]["description"] == "three photos"


async def test_photo_inbox_uses_media_upload(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
) -> None:
    urls = [media_host.add("e2e/inbox.jpg", sample_jpeg(), "image/jpeg")]
    handle = await start(
        dev_env.client, task_queue, target_of(photo_request(post_id(), urls, inbox=True))
    )
    assert (await handle.result()).phase is Phase.DELIVERED_TO_INBOX
    [init] = recorded(simulator, "content_init")
    assert init["body"]["post_mode"] == "MEDIA_UPLOAD"
    assert "privacy_level" not in init["body"]["post_info"]


@pytest.mark.parametrize(
    ("creator", "options", "code"),
    [
        ({"private_account": True}, {}, "TT_PRIVACY_NOT_ALLOWED"),
        ({"comment_disabled": True}, {"allowComments": True}, "TT_COMMENTS_DISABLED_BY_CREATOR"),
        ({"duet_disabled": True}, {"allowDuet": True}, "TT_DUET_DISABLED_BY_CREATOR"),
        ({"stitch_disabled": True}, {"allowStitch": True}, "TT_STITCH_DISABLED_BY_CREATOR"),
        ({"max_video_post_duration_sec": 10}, {}, "TT_DURATION_OVER_CREATOR_MAX"),
    ],
)
async def test_creator_check_failures_send_nothing(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
    creator: dict[str, object],
    options: dict[str, object],
    code: str,
) -> None:
    sim_admin(simulator, "POST", "creators", json={
        "access_token": "act.demo", "refresh_token": "rft.demo", "username": "demo_creator",
        **creator,
    })  # fmt: skip
    handle = await start(
        dev_env.client, task_queue, target_of(video_request(post_id(), video_url, **options))
    )
    error = await failure_of(handle)
    assert error.type == code
    state = await state_of(handle)
    assert state.phase is Phase.FAILED and state.error is not None
    assert state.error.code == code and not state.error.retryable
    assert recorded(simulator, "video_init") == []


NON_RETRYABLE_INIT_CODES = sorted(
    code
    for code, rule in TIKTOK_ERROR_CODES.items()
    if rule.retryability in (Retryability.NON_RETRYABLE, Retryability.LATER)
    # Caps and lost consent are the account's business: the post waits (tests/test_accounts*).
    and (code not in ACCOUNT_CODES or code == BANNED_CODE)
)


@pytest.mark.parametrize("code", NON_RETRYABLE_INIT_CODES)
async def test_non_retryable_tiktok_error_fails_with_its_code(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
    code: str,
) -> None:
    forbidden = ("spam", "reached", "unaudited", "url", "privacy")
    http_status = 403 if code.startswith(forbidden) else 400
    if code == "scope_not_authorized":
        http_status = 401
    inject(simulator, "video_init", action="respond", http_status=http_status, error_code=code)
    handle = await start(dev_env.client, task_queue, target_of(video_request(post_id(), video_url)))
    error = await failure_of(handle)
    assert error.type == code
    assert TIKTOK_ERROR_CODES[code].remedy in error.message
    state = await state_of(handle)
    assert state.error is not None and state.error.code == code
    assert state.error.http_status == http_status and state.error.log_id
    assert len(recorded(simulator, "video_init")) == 1, "a non-retryable error is not retried"


async def test_url_ownership_unverified_names_the_remedy(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
) -> None:
    """TikTok pulls photos from our bucket; if its host is not verified, TikTok says so."""
    simulator.update_config(verified_url_prefixes=["media.example.com"])
    urls = [media_host.add("e2e/unverified.jpg", sample_jpeg(), "image/jpeg")]
    handle = await start(dev_env.client, task_queue, target_of(photo_request(post_id(), urls)))
    error = await failure_of(handle)
    await save_history(handle, "url_ownership_unverified")
    assert error.type == "url_ownership_unverified"
    assert "developer portal" in error.message


@pytest.mark.parametrize(
    ("endpoint", "http_status", "code"),
    [
        ("video_init", 429, "rate_limit_exceeded"),
        ("video_init", 500, "internal_error"),
        ("creator_info", 503, ""),
        ("status_fetch", 502, ""),
        # (the 60 s pause a 429 costs is waited out once, by the video_init case)
        pytest.param(
            "status_fetch", 429, "rate_limit_exceeded", marks=pytest.mark.short_rate_limit_pause
        ),
    ],
)
async def test_rate_limits_and_server_errors_are_retried(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
    endpoint: str,
    http_status: int,
    code: str,
) -> None:
    inject(simulator, endpoint, action="respond", http_status=http_status, error_code=code)
    handle = await start(dev_env.client, task_queue, target_of(video_request(post_id(), video_url)))
    assert (await handle.result()).phase is Phase.PUBLISHED
    calls = recorded(simulator, endpoint)
    assert [c["response_status"] for c in calls][:2] == [http_status, 200]
    published = [c for c in recorded(simulator, "video_init") if c["response_status"] == 200]
    assert len(published) == 1


async def test_a_lost_file_upload_init_answer_starts_again_and_publishes_once(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    """TikTok created the publish, the answer (with its upload URL) was lost: that ghost can
    never receive its bytes, so a new init is safe and the post needs no person."""
    inject(simulator, "video_init", action="drop_after_processing")
    handle = await start(dev_env.client, task_queue, target_of(video_request(post_id(), video_url)))
    result = await handle.result()
    await save_history(handle, "ghost_init_retried")
    assert result.phase is Phase.PUBLISHED
    state = await state_of(handle)
    assert [g.code for g in state.ghost_inits] == ["NO_RESPONSE"]
    assert any("can never receive its bytes" in line for line in state.history)
    assert len(recorded(simulator, "video_init")) == 2
    publishes = sim_admin(simulator, "GET", "publishes")["publishes"]
    assert sorted(p["status"] for p in publishes) == ["PROCESSING_UPLOAD", "PUBLISH_COMPLETE"]
    [ghost] = [p for p in publishes if p["status"] == "PROCESSING_UPLOAD"]
    assert ghost["uploaded_bytes"] == 0 and ghost["publish_id"] != result.publish_id


async def test_lost_answers_stop_after_the_ghost_budget_and_nothing_is_live(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    inject(simulator, "video_init", count=10, action="drop_after_processing")
    settings = FAST.model_copy(update={"max_ghost_inits": 2})
    target = target_of(video_request(post_id(), video_url))
    handle = await start(dev_env.client, task_queue, target, settings)
    error = await failure_of(handle)
    assert error.type == "INIT_ANSWERS_LOST"
    state = await state_of(handle)
    assert state.error is not None and not state.error.may_be_live
    assert "--confirm-not-posted" not in state.error.remedy
    assert len(state.ghost_inits) == 2 and len(recorded(simulator, "video_init")) == 3
    publishes = sim_admin(simulator, "GET", "publishes")["publishes"]
    assert [p["status"] for p in publishes] == ["PROCESSING_UPLOAD"] * 3


async def test_a_lost_answer_for_pulled_media_waits_for_a_person(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
) -> None:
    """TikTok pulls photos from our bucket by itself: that ghost may go live, so no retry."""
    urls = [media_host.add("e2e/ghost.jpg", sample_jpeg(), "image/jpeg")]
    inject(simulator, "content_init", action="drop_after_processing")
    handle = await start(dev_env.client, task_queue, target_of(photo_request(post_id(), urls)))
    error = await failure_of(handle)
    await save_history(handle, "ambiguous_photo_init_withdrawn")
    assert error.type == "AMBIGUOUS_INIT"
    assert "--confirm-not-posted" in error.message
    assert len(recorded(simulator, "content_init")) == 1
    state = await state_of(handle)
    assert state.error is not None and state.error.may_be_live and not state.ghost_inits
    publishes = sim_admin(simulator, "GET", "publishes")["publishes"]
    assert len(publishes) == 1, "TikTok did create it: exactly why we must not retry"
    # The copy that ghost pulls from is withdrawn at once; the staged original stays for a
    # retry.
    [pulled] = publishes[0]["media_urls"]
    assert "/attempts/1-1/" in pulled
    assert any("was withdrawn (1 objects)" in line for line in state.history)
    async with httpx.AsyncClient() as http:
        assert (await http.get(pulled)).status_code in (403, 404)
        original = pulled.replace("/attempts/1-1/", "/")
        assert (await http.get(original)).status_code == 200


async def test_retryable_fail_reason_uploads_again(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    inject(simulator, "video_init", fail_reason="internal")
    handle = await start(dev_env.client, task_queue, target_of(video_request(post_id(), video_url)))
    result = await handle.result()
    state = await state_of(handle)
    assert result.phase is Phase.PUBLISHED
    assert state.init_attempts == 2
    assert any("TikTok failed the upload (internal)" in line for line in state.history)


async def test_content_fail_reason_fails_without_retry(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    inject(simulator, "video_init", fail_reason="frame_rate_check_failed")
    handle = await start(dev_env.client, task_queue, target_of(video_request(post_id(), video_url)))
    error = await failure_of(handle)
    await save_history(handle, "fail_reason_frame_rate")
    assert error.type == "frame_rate_check_failed"
    assert len(recorded(simulator, "video_init")) == 1


async def test_no_final_word_by_the_deadline_is_unconfirmed_and_may_be_live(
    dev_env: WorkflowEnvironment, task_queue: str, token_file: Path, media_host: MediaHost
) -> None:
    slow = SimulatorConfig(time_scale=1.0, processing_seconds=600)
    url = media_host.add("e2e/slow.mp4", sample_video(), "video/mp4")
    with Simulator(slow) as sim:
        async with running_worker(dev_env.client, sim, token_file, task_queue):
            from tests.workflow_support import FAST

            # 10 s: time for a status read before the deadline even on a busy machine
            settings = FAST.model_copy(update={"publish_deadline_seconds": 10.0})
            target = target_of(video_request(post_id(), url))
            handle = await start(dev_env.client, task_queue, target, settings)
            error = await failure_of(handle)
            state = await state_of(handle)
    assert error.type == "PUBLISH_UNCONFIRMED"
    assert "Last TikTok status: PROCESSING_" in error.message
    assert state.error is not None and state.error.may_be_live
    assert "--confirm-not-posted" in error.message and "engine retries" not in error.message


async def test_token_expiring_mid_poll_is_refreshed_without_a_second_init(
    dev_env: WorkflowEnvironment, task_queue: str, token_file: Path, media_host: MediaHost
) -> None:
    # Processing long enough that the post is still being polled when the token expires.
    slow = SimulatorConfig(time_scale=1.0, processing_seconds=10, moderation_seconds=0.5)
    url = media_host.add("e2e/token.mp4", sample_video(), "video/mp4")
    with Simulator(slow) as sim:
        async with running_worker(dev_env.client, sim, token_file, task_queue):
            handle = await start(
                dev_env.client, task_queue, target_of(video_request(post_id(), url))
            )
            await wait_for(handle, lambda s: s.publish_id is not None)
            sim_admin(sim, "POST", "tokens/expire", json={"access_token": "act.demo"})
            result = await handle.result()
            await save_history(handle, "token_refreshed_mid_poll")
            refreshes = recorded(sim, "oauth_token")
            inits = recorded(sim, "video_init")
            rejected = [c for c in recorded(sim, "status_fetch") if c["response_status"] == 401]
    assert result.phase is Phase.PUBLISHED
    assert len(inits) == 1
    assert len(refreshes) == 1 and len(rejected) >= 1
    stored = token_file.read_text()
    assert "act.demo" not in stored, "the rotated token was saved"


async def test_same_post_submitted_twice_starts_one_workflow(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    api = publisher(dev_env.client, task_queue)
    request = video_request(post_id(), video_url)
    [first] = await api.submit(request)
    [second] = await api.submit(request)
    assert first.created and not second.created
    assert first.workflow_id == second.workflow_id
    await dev_env.client.get_workflow_handle(first.workflow_id).result()
    [third] = await api.submit(request)  # after it finished: still not published again
    assert not third.created
    assert len(recorded(simulator, "video_init")) == 1


async def test_reschedule_is_refused_once_publishing_began(
    dev_env: WorkflowEnvironment, task_queue: str, token_file: Path, media_host: MediaHost
) -> None:
    # Processing long enough that the post is still publishing when the cancel arrives.
    slow = SimulatorConfig(time_scale=1.0, processing_seconds=15)
    url = media_host.add("e2e/busy.mp4", sample_video(), "video/mp4")
    with Simulator(slow) as sim:
        async with running_worker(dev_env.client, sim, token_file, task_queue):
            api = publisher(dev_env.client, task_queue)
            [item] = await api.submit(video_request(post_id(), url))
            handle = dev_env.client.get_workflow_handle(item.workflow_id)
            await wait_for(handle, lambda s: s.phase is Phase.PUBLISHING)
            with pytest.raises(ActionRejected) as err:
                await api.cancel(item.post_id, item.account_id)
            await handle.result()
    assert err.value.code == "INVALID_PHASE"
    assert "publishing has already begun" in str(err.value)


async def test_a_file_upload_init_that_times_out_starts_again(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    """Temporal itself never repeats a timed-out init (INIT_ONCE); the workflow does, only
    because a FILE_UPLOAD ghost cannot go live."""
    inject(simulator, "video_init", action="hang", hang_seconds=4)
    settings = FAST.model_copy(update={"init_timeout_seconds": 1.5})
    handle = await start(
        dev_env.client, task_queue, target_of(video_request(post_id(), video_url)), settings
    )
    assert (await handle.result()).phase is Phase.PUBLISHED
    state = await state_of(handle)
    assert len(state.ghost_inits) == 1 and "timeout" in state.ghost_inits[0].reason.lower()
    assert len(recorded(simulator, "video_init")) == 2
    completed = [
        p for p in sim_admin(simulator, "GET", "publishes")["publishes"]
        if p["status"] == "PUBLISH_COMPLETE"
    ]  # fmt: skip
    assert len(completed) == 1


async def test_a_pulled_init_that_times_out_is_ambiguous_and_never_repeated(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    media_host: MediaHost,
) -> None:
    """Temporal itself must not retry an init whose attempt timed out: it may have landed."""
    urls = [media_host.add("e2e/slow.jpg", sample_jpeg(), "image/jpeg")]
    inject(simulator, "content_init", action="hang", hang_seconds=4)
    settings = FAST.model_copy(update={"init_timeout_seconds": 1.5})
    handle = await start(
        dev_env.client, task_queue, target_of(photo_request(post_id(), urls)), settings
    )
    error = await failure_of(handle)
    assert error.type == "AMBIGUOUS_INIT"
    state = await state_of(handle)
    assert state.error is not None and state.error.may_be_live
    await asyncio.sleep(5)  # longer than any retry backoff would wait
    assert len(recorded(simulator, "content_init")) == 1


async def test_trouble_polling_a_publish_tiktok_has_keeps_polling(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    """Once TikTok has the publish, a failed status call is never the post's end: the post
    may be live, and failing it would invite a duplicate by retry."""
    inject(simulator, "status_fetch", count=2, action="respond", http_status=400,
           error_code="invalid_publish_id")  # fmt: skip
    handle = await start(dev_env.client, task_queue, target_of(video_request(post_id(), video_url)))
    result = await handle.result()
    state = await state_of(handle)
    assert result.phase is Phase.PUBLISHED and state.error is None
    assert len(recorded(simulator, "video_init")) == 1
    assert any("invalid_publish_id" in line for line in state.history)


async def test_cancel_during_staging_stops_it_and_stays_cancelled(
    dev_env: WorkflowEnvironment, simulator: Simulator, task_queue: str, worker: None
) -> None:
    with socket.socket() as silent:  # accepts connections, never answers: a stuck CDN
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.setblocking(False)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/stuck.mp4"
        api = publisher(dev_env.client, task_queue)
        later = datetime.now(UTC) + timedelta(days=1)
        [item] = await api.submit(video_request(post_id(), url, scheduled_for=later))
        handle = dev_env.client.get_workflow_handle(item.workflow_id)
        # The copy has connected: staging is now waiting on the silent source.
        loop = asyncio.get_running_loop()
        connection, _ = await asyncio.wait_for(loop.sock_accept(silent), timeout=30)
        with connection:
            await api.cancel(item.post_id, item.account_id, "changed our mind")
            result = await asyncio.wait_for(handle.result(), timeout=30)
    assert result["phase"] == "CANCELLED"
    state = await state_of(handle)
    assert state.error is None and state.phase is Phase.CANCELLED
    assert recorded(simulator, "creator_info") == []


async def test_reschedule_to_the_past_is_refused(
    dev_env: WorkflowEnvironment, task_queue: str, worker: None, video_url: str
) -> None:
    api = publisher(dev_env.client, task_queue)
    later = datetime.now(UTC) + timedelta(days=1)
    [item] = await api.submit(video_request(post_id(), video_url, scheduled_for=later))
    with pytest.raises(ActionRejected) as err:
        await api.reschedule(item.post_id, item.account_id, datetime.now(UTC) - timedelta(hours=1))
    assert err.value.code == "TIME_IN_PAST"
    await api.cancel(item.post_id, item.account_id)


async def test_an_input_that_does_not_decode_fails_the_run_with_its_fields(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    """A starter in another language that sends a key the contract does not have gets a
    failed run that says which, not a run that retries its first task forever (and that a
    fixed resubmission would attach to). The signed source URL stays out of the failure."""
    target = target_of(video_request(post_id(), video_url))
    raw = PublishPostInput(target=target, settings=FAST).model_dump(mode="json")
    raw["target"]["postId"] = raw["target"].pop("post_id")  # a Go struct tag in camelCase
    raw["settings"]["pollEverySeconds"] = 5
    handle = await dev_env.client.start_workflow(
        "PublishPost", raw, id=target.workflow_id, task_queue=task_queue
    )
    failure = await asyncio.wait_for(failure_of(handle), 30)
    assert failure.type == "INPUT_INVALID" and failure.non_retryable
    assert "target.post_id: Field required" in failure.message
    assert "target.postId: Extra inputs are not permitted" in failure.message
    assert "settings.pollEverySeconds" in failure.message
    assert video_url not in failure.message and video_url not in str(failure.details)
    assert recorded(simulator, "video_init") == []
    # The responder's tools explain it instead of tripping over the input.
    ops = Operations(publisher(dev_env.client, task_queue))
    with pytest.raises(ActionRejected) as refused:
        await ops.retry(target.workflow_id)
    assert refused.value.code == "INPUT_INVALID"
    timeline = await ops.describe(target.workflow_id)
    assert any("not a PublishPostInput" in line for line in timeline), timeline


async def test_a_run_started_under_another_id_fails_before_it_stages(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    task_queue: str,
    worker: None,
    video_url: str,
) -> None:
    """The id is the idempotency key and how every tool finds a post: a run started under any
    other id fails INPUT_INVALID before it stages anything."""
    target = target_of(video_request(post_id(), video_url))
    handle = await dev_env.client.start_workflow(
        "PublishPost",
        PublishPostInput(target=target, settings=FAST),
        id=f"{target.post_id}-{target.account_id}",
        task_queue=task_queue,
    )
    failure = await asyncio.wait_for(failure_of(handle), 30)
    assert failure.type == "INPUT_INVALID" and target.workflow_id in failure.message
    assert recorded(simulator, "video_init") == []
    await save_history(handle, "workflow_id_mismatch_failed")
