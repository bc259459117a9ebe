"""The account entity with real workflows on the real (dev) Temporal server.

Windows are scaled: a "minute" of TikTok's budget is 2 s and a "day" of its caps is 15 s,
which every duration of the entity and the post takes as a setting. (The time-skipping test
server rejects workflow-task completions whenever a signal arrived meanwhile, which an entity
that trades signals with fifty posts does all the time; the real server accepts them.)

TikTok is a fake here, one class of activities with the real names, so each test gives TikTok
exactly the behaviour it needs (a cap, a 429 storm, a revoked token) and reads back when each
call happened (the activity's scheduled time, in server time).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.accounts import AccountActivities
from activities.failures import engine_error, to_application_error
from activities.publishing import wait_to_send
from activities.tiktok_client import Endpoint, TikTokApiError
from tests.workflow_support import save_history, state_of, target_of, video_request
from workflows import search_attributes as sa
from workflows.account import TikTokAccount
from workflows.account_contracts import (
    REQUEST_SLOT,
    AccountHealth,
    AccountSettings,
    AccountSlotInput,
    AccountState,
    RefreshRequest,
    SlotAnswer,
    SlotRequest,
    TokenFacts,
    account_workflow_id,
)
from workflows.contracts import (
    ChunkUpload,
    CreatorInfoQuery,
    InitPublishInput,
    InitPublishResult,
    Phase,
    PostState,
    PublishPostInput,
    PublishResult,
    PublishSettings,
    StagedItem,
    StagedMedia,
    StagedTarget,
    StatusQuery,
)
from workflows.errors import (
    ENGINE_CODES,
    FAIL_REASONS,
    OAUTH_ERROR_CODES,
    STAGING_CODES,
    TIKTOK_ERROR_CODES,
    classify_error,
)
from workflows.pacing import AccountInput
from workflows.publish_post import PublishPost
from workflows.request import PublishTarget
from workflows.tiktok import CreatorInfo, Privacy, PublishStatus, TikTokStatus

SETTINGS = PublishSettings(poll_initial_seconds=0.2, poll_max_seconds=0.5)
MINUTE = 2.0  # TikTok's per-minute window, scaled
DAY = 15.0  # TikTok's 24 h cap window, scaled (long enough for a loaded machine)
SCALED = AccountSettings(
    window_seconds=MINUTE,
    safety_margin_seconds=0.2,
    rate_limit_pause_seconds=0.5,
    cap_window_seconds=DAY,
    cap_probe_seconds=2,
    reconnect_check_seconds=30,
)


def scaled(**changes: Any) -> AccountSettings:
    return SCALED.model_copy(update=changes)


def tiktok_error(
    code: str, endpoint: Endpoint = Endpoint.VIDEO_INIT, **kw: Any
) -> ApplicationError:
    status = {"rate_limit_exceeded": 429, "access_token_invalid": 401}.get(code, 403)
    kw.setdefault("retry_after_seconds", 0.1)  # TikTok sends none: the account's pause rules
    return to_application_error(
        TikTokApiError(endpoint=endpoint, rule=classify_error(code), http_status=status, **kw)
    )


class FakeTikTok:
    """TikTok and the token store as the tests need them; every call is recorded with its
    workflow time (the activity's scheduled time on the time-skipping server)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, datetime, str]] = []
        self.daily_cap: int | None = None
        self.direct_posts: list[datetime] = []
        self.init_errors: list[str] = []
        self.creator_errors: list[str] = []
        self.status_errors: list[str] = []
        self.creator_crashes = 0
        self.creator_bug: Exception | None = None  # an engine bug: not an ApplicationError
        self.final_status = TikTokStatus.PUBLISH_COMPLETE
        self.refresh_fails_with_reconnect = False
        self.expires_in: timedelta | None = None
        self.generation = 1
        self.refreshes = 0

    def _now(self) -> datetime:
        return activity.info().current_attempt_scheduled_time

    def _record(self, name: str, at: datetime | None = None) -> datetime:
        now = max(self._now(), at) if at else self._now()
        self.calls.append((name, now, activity.info().workflow_id or ""))
        return now

    def times(self, name: str) -> list[datetime]:
        return [t for n, t, _ in self.calls if n == name]

    @activity.defn(name="stage_media")
    async def stage_media(self, target: PublishTarget) -> StagedMedia:
        return StagedMedia(
            items=[
                StagedItem(index=0, key=f"staged/{target.post_id}", source_url_host="cdn",
                           size_bytes=1_000, mime_type="video/mp4", duration_seconds=15)
            ]
        )  # fmt: skip

    @activity.defn(name="delete_staged_media")
    async def delete_staged_media(self, target: StagedTarget) -> int:
        return 1

    @activity.defn(name="upload_video")
    async def upload_video(self, upload: ChunkUpload) -> int:
        return upload.video_size

    @activity.defn(name="creator_info")
    async def creator_info(self, query: CreatorInfoQuery) -> CreatorInfo:
        self._record("creator_info")
        if self.creator_crashes:
            self.creator_crashes -= 1
            await asyncio.sleep(3)  # past read_timeout_seconds: as a worker lost mid-call
        if self.creator_errors:
            raise tiktok_error(self.creator_errors.pop(0), Endpoint.CREATOR_INFO)
        if self.creator_bug is not None:
            raise self.creator_bug
        return CreatorInfo(
            username="demo", nickname="Demo", privacy_level_options=tuple(Privacy),
            comment_disabled=False, duet_disabled=False, stitch_disabled=False,
            max_video_post_duration_sec=600,
        )  # fmt: skip

    @activity.defn(name="init_publish")
    async def init_publish(self, request: InitPublishInput) -> InitPublishResult:
        # An init armed before its due time is sent at it, as the real activity does.
        await wait_to_send(request)
        now = self._record("init", request.send_at)
        if self.init_errors:
            raise tiktok_error(self.init_errors.pop(0))
        if self.daily_cap is not None:
            recent = [t for t in self.direct_posts if t > now - timedelta(seconds=DAY)]
            if len(recent) >= self.daily_cap:
                raise tiktok_error("spam_risk_too_many_posts")
        self.direct_posts.append(now)
        publish_id = f"v_pub_file~{uuid.uuid4().hex[:8]}"
        upload = ChunkUpload(
            key="k",
            upload_url="https://upload.invalid/x",
            video_size=1_000,
            chunk_size=1_000,
            total_chunk_count=1,
            content_type="video/mp4",
        )
        return InitPublishResult(publish_id=publish_id, upload=upload)

    @activity.defn(name="fetch_publish_status")
    async def fetch_publish_status(self, query: StatusQuery) -> PublishStatus:
        self._record("status")
        if self.status_errors:
            raise tiktok_error(self.status_errors.pop(0), Endpoint.STATUS_FETCH)
        if self.final_status is TikTokStatus.PUBLISH_COMPLETE:
            return PublishStatus(status=self.final_status, public_post_ids=("73000",))
        return PublishStatus(status=self.final_status)

    # -- the account's token activities (the fake store) ---------------------------------

    def facts(self) -> TokenFacts:
        expires = self._now() + self.expires_in if self.expires_in else None
        return TokenFacts(expires_at=expires, fingerprint=f"gen{self.generation}")

    @activity.defn(name="inspect_account_token")
    async def inspect_account_token(self, account_id: str) -> TokenFacts:
        return self.facts()

    @activity.defn(name="refresh_account_token")
    async def refresh_account_token(self, request: RefreshRequest) -> TokenFacts:
        self._record("refresh")
        if self.refresh_fails_with_reconnect:
            failure = engine_error("TOKEN_REFRESH_FAILED", "invalid_grant", retryable=False)
            assert failure.details
            failure.details[0]["needs_reconnect"] = True
            raise failure
        self.refreshes += 1
        self.generation += 1
        return self.facts()


@pytest.fixture
def fake() -> FakeTikTok:
    return FakeTikTok()


async def run_worker(
    env: WorkflowEnvironment,
    fake: FakeTikTok,
    settings: AccountSettings,
    queue: str,
    *,
    slot: Any = None,
) -> Worker:
    """`slot`: a stand-in for the `request_account_slot` activity."""
    real = AccountActivities(tokens=None, settings=settings)  # type: ignore[arg-type]
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[PublishPost, TikTokAccount],
        activities=[
            fake.stage_media, fake.delete_staged_media, fake.upload_video, fake.creator_info,
            fake.init_publish, fake.fetch_publish_status, fake.inspect_account_token,
            fake.refresh_account_token, real.load_account_settings,
            slot or real.request_account_slot, real.wake_account_entity,
        ],
    )  # fmt: skip


def account() -> str:
    return f"acct_{uuid.uuid4().hex[:8]}"


async def start_posts(
    client: Client,
    queue: str,
    acct: str,
    count: int,
    *,
    due: datetime,
    spread: timedelta = timedelta(0),
    settings: PublishSettings = SETTINGS,
    **options: Any,
) -> list[WorkflowHandle[Any, Any]]:
    handles = []
    for n in range(count):
        target = target_of(
            video_request(
                f"p{n}-{uuid.uuid4().hex[:6]}", "https://cdn.example/v.mp4", account=acct,
                scheduled_for=due + spread * n, **options,
            )
        )  # fmt: skip
        handles.append(
            await client.start_workflow(
                PublishPost.run,
                PublishPostInput(target=target, settings=settings),
                id=target.workflow_id,
                task_queue=queue,
            )
        )
    return handles


async def outcomes(handles: list[WorkflowHandle[Any, Any]]) -> list[str]:
    async def one(handle: WorkflowHandle[Any, Any]) -> str:
        try:
            result: PublishResult = await handle.result()
            return result.phase.value
        except WorkflowFailureError as err:
            assert isinstance(err.cause, ApplicationError)
            return f"FAILED {err.cause.type}"

    return list(await asyncio.gather(*(one(h) for h in handles)))


async def ensure_entity(client: Client, queue: str, acct: str) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        TikTokAccount.run,
        AccountInput(account_id=acct),
        id=account_workflow_id(acct),
        task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def account_state(client: Client, acct: str) -> AccountState:
    handle = client.get_workflow_handle(account_workflow_id(acct))
    return await handle.query(TikTokAccount.state)


async def end_entity(client: Client, acct: str) -> None:
    await client.get_workflow_handle(account_workflow_id(acct)).terminate("test finished")


def max_in_window(times: list[datetime], window: timedelta) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


async def test_a_burst_for_one_account_is_paced_in_due_order_and_fails_nothing(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    settings = scaled(init_per_minute=3, creator_info_per_minute=4)
    now = await env.get_current_time()
    async with await run_worker(env, fake, settings, queue):
        # An operator pause holds the account while ten posts, due a second apart and
        # started latest-due first, all queue; on resume the earliest-due go first.
        entity = await ensure_entity(env.client, queue, acct)
        await entity.signal(TikTokAccount.pause, "test")
        handles = await start_posts(
            env.client,
            queue,
            acct,
            10,
            due=now - timedelta(minutes=1),
            spread=timedelta(seconds=-1),
        )
        for _ in range(300):
            if (await account_state(env.client, acct)).queued == 10:
                break
            await asyncio.sleep(0.1)
        paused = await account_state(env.client, acct)
        for _ in range(300):  # the entity's answer reaches the post a moment after it queues
            held = await state_of(handles[0])
            if held.waiting_for is not None:
                break
            await asyncio.sleep(0.1)
        await entity.signal(TikTokAccount.resume)
        results = await outcomes(handles)
        await end_entity(env.client, acct)
    assert paused.health is AccountHealth.PAUSED and paused.queued_by_reason == {"paused": 10}
    assert held.waiting_for == "paused"
    assert results == ["PUBLISHED"] * 10
    inits = fake.times("init")
    assert len(inits) == 10
    assert max_in_window(inits, timedelta(seconds=MINUTE)) <= 3
    assert max_in_window(fake.times("creator_info"), timedelta(seconds=MINUTE)) <= 4
    # Every post queued its creator_info during the pause: they are served in due order.
    asked_at = {wf: t for name, t, wf in fake.calls if name == "creator_info"}
    by_due = [asked_at[h.id] for h in reversed(handles)]  # earliest due first
    # (1 s of slack: the times are when each ask was scheduled, which a busy worker spreads)
    late = [b for a, b in itertools.pairwise(by_due) if b < a - timedelta(seconds=1)]
    assert not late, "a later-due post went a whole window before an earlier-due one"
    assert by_due[-1] - by_due[0] >= timedelta(seconds=MINUTE * 2), "10 asks at 4 a window"
    assert max(inits) - min(inits) >= timedelta(seconds=MINUTE * 3), "10 inits at 3 a window"


async def test_a_429_storm_pauses_the_account_and_fails_no_post(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.init_errors = ["rate_limit_exceeded"] * 12
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        handles = await start_posts(env.client, queue, acct, 5, due=due)
        results = await outcomes(handles)
        state = await account_state(env.client, acct)
        await save_history(handles[-1], "paced_rate_limited")
        await save_history(
            env.client.get_workflow_handle(account_workflow_id(acct)), "account_entity"
        )
        await end_entity(env.client, acct)
    assert results == ["PUBLISHED"] * 5
    assert state.rate_limited_answers == 12
    assert len(fake.times("init")) == 17


async def test_the_daily_cap_is_a_wait_and_the_post_publishes_after_its_window(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.daily_cap = 3
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        handles = await start_posts(env.client, queue, acct, 5, due=due)
        waiting = await any_until(handles, lambda s: s.waiting_for == "daily_post_cap")
        results = await outcomes(handles)
        state = await account_state(env.client, acct)
        waited = [
            h
            for h in handles
            if any("daily_post_cap" in line for line in (await state_of(h)).history)
        ]
        await save_history(waited[0], "paced_daily_cap_wait")
        await end_entity(env.client, acct)
    assert waiting.waiting_until is not None and waiting.waiting_until > due
    assert results == ["PUBLISHED"] * 5
    published = sorted(fake.direct_posts)
    assert published[3] >= published[0] + timedelta(seconds=DAY), "the 4th waited for the window"
    assert state.learned_daily_cap is not None and 1 <= state.learned_daily_cap <= 3
    # Before the first refusal nobody knew the cap: the two inits beyond it in that first
    # burst were refused; once learned, no init was sent into a closed window.
    assert len(fake.times("init")) <= 7


async def test_a_cap_that_outlasts_the_longest_wait_ends_quota_wait_exceeded(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.daily_cap = 1
    patient = SETTINGS.model_copy(update={"max_quota_wait_seconds": DAY / 2})
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        handles = await start_posts(env.client, queue, acct, 3, due=due, settings=patient)
        results = await outcomes(handles)
        await end_entity(env.client, acct)
    assert sorted(results) == [
        "FAILED QUOTA_WAIT_EXCEEDED",
        "FAILED QUOTA_WAIT_EXCEEDED",
        "PUBLISHED",
    ]


async def test_the_inbox_share_cap_and_the_active_user_cap_wait_then_publish(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.final_status = TikTokStatus.SEND_TO_USER_INBOX
    fake.creator_errors = ["reached_active_user_cap"]
    async with await run_worker(env, fake, scaled(cap_probe_seconds=2), queue):
        start = await env.get_current_time()
        handles = await start_posts(
            env.client, queue, acct, 6, due=start + timedelta(seconds=1), privacy=None, inbox=True
        )
        results = await outcomes(handles)
        await end_entity(env.client, acct)
    assert results == ["DELIVERED_TO_INBOX"] * 6
    inits = sorted(fake.times("init"))
    assert inits[0] >= start + timedelta(seconds=2), "the app-wide cap held every post"
    assert inits[5] >= inits[0] + timedelta(seconds=DAY), "the 6th share waited a day"


async def test_needs_reconnect_holds_posts_until_new_tokens_are_stored(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.init_errors = ["access_token_invalid"]
    fake.refresh_fails_with_reconnect = True
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        handles = await start_posts(env.client, queue, acct, 3, due=due)
        held = await wait_until(handles[0], lambda s: s.waiting_for == "needs_reconnect", env=env)
        state = await account_state(env.client, acct)
        assert state.health is AccountHealth.NEEDS_RECONNECT
        await asyncio.sleep(3)
        assert (await state_of(handles[1])).phase is Phase.PUBLISHING
        # The creator reconnects: new tokens are stored and the entity is told.
        fake.refresh_fails_with_reconnect = False
        fake.generation += 10
        await env.client.get_workflow_handle(account_workflow_id(acct)).signal(
            TikTokAccount.reconnected
        )
        results = await outcomes(handles)
        after = await account_state(env.client, acct)
        await end_entity(env.client, acct)
    assert held.phase is Phase.PUBLISHING
    assert results == ["PUBLISHED"] * 3
    assert after.health is AccountHealth.ACTIVE
    assert len(fake.times("refresh")) == 1, "one failed refresh for the whole account"


async def test_a_post_held_for_a_reconnect_before_any_init_can_be_cancelled(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    """The creator is gone: an incident responder cancels what waits for the reconnect
    (before, only a terminate stopped a post waiting up to 7 days)."""
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.init_errors = ["access_token_invalid"]  # refused outright: TikTok created nothing
    fake.refresh_fails_with_reconnect = True
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        handles = await start_posts(env.client, queue, acct, 2, due=due)
        held = [
            await wait_until(handle, lambda s: s.waiting_for == "needs_reconnect", env=env)
            for handle in handles
        ]
        # The post whose init was refused is held before TikTok has anything of it; the
        # other may be too, or its init went through and it waits to poll.
        first = next(n for n, state in enumerate(held) if state.publish_id is None)
        gone, kept = handles[first], handles[1 - first]
        if held[1 - first].publish_id is not None:
            with pytest.raises(WorkflowUpdateFailedError):  # TikTok has that one
                await kept.execute_update(PublishPost.cancel, "creator left")
        sent_before = [n for n, _, wf in fake.calls if wf == gone.id]
        answered = await gone.execute_update(PublishPost.cancel, "creator left")
        result: PublishResult = await gone.result()
        final = await state_of(gone)
        for _ in range(150):  # the withdrawal reaches the entity a moment after the cancel
            queued = (await account_state(env.client, acct)).queued_by_reason
            if queued == {"needs_reconnect": 1}:
                break
            await asyncio.sleep(0.1)
        # The other post still waits, and publishes once the creator reconnects.
        fake.refresh_fails_with_reconnect = False
        fake.generation += 10
        await env.client.get_workflow_handle(account_workflow_id(acct)).signal(
            TikTokAccount.reconnected
        )
        results = await outcomes(handles)
        visible = (await gone.describe()).typed_search_attributes
        await save_history(gone, "cancelled_while_held")
        await end_entity(env.client, acct)
    # The answer, the state and visibility all say the hold is over.
    assert answered.phase is Phase.CANCELLED and answered.waiting_for is None
    assert answered.finished_at is not None
    assert result.phase is Phase.CANCELLED and result.publish_id is None
    assert final.waiting_for is None and "staged media deleted" in final.history[-1]
    assert visible.get(sa.POST_STATE) == "CANCELLED" and visible.get(sa.WAITING_FOR) is None
    assert any("before any init could go live" in line for line in final.history)
    assert queued == {"needs_reconnect": 1}, "the cancelled post's request was withdrawn"
    assert sorted(results) == ["CANCELLED", "PUBLISHED"]
    assert [n for n, _, wf in fake.calls if wf == gone.id] == sent_before, "nothing after it"
    assert [n for n, _, wf in fake.calls if wf == kept.id].count("init") >= 1


class FailingResend:
    """`request_account_slot` as the worker has it, until armed: then the next call (the
    held post asking its account again) waits for `release` and fails for good, as a
    Temporal outage that outlasts the activity's retries would."""

    def __init__(self, real: AccountActivities) -> None:
        self.real = real
        self.armed = False
        self.in_flight = asyncio.Event()
        self.release = asyncio.Event()

    @activity.defn(name="request_account_slot")
    async def request_account_slot(self, request: AccountSlotInput) -> None:
        if not self.armed:
            return await self.real.request_account_slot(request)
        self.in_flight.set()
        await self.release.wait()
        raise ApplicationError("Temporal unreachable (test)", non_retryable=True)


async def test_a_cancel_taken_while_the_held_post_asks_again_ends_cancelled_if_that_fails(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    """The cancel is accepted while the post is sending its slot request again, and that
    send then fails for good: the customer's cancel is the outcome, not an activity
    failure (before, the run failed with its state saying CANCELLED)."""
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.init_errors = ["access_token_invalid"]
    fake.refresh_fails_with_reconnect = True
    resend = FailingResend(AccountActivities(tokens=None, settings=SCALED))  # type: ignore[arg-type]
    worker = await run_worker(env, fake, SCALED, queue, slot=resend.request_account_slot)
    settings = SETTINGS.model_copy(update={"account_resend_seconds": 1.5})
    async with worker:
        due = await env.get_current_time() + timedelta(seconds=1)
        [handle] = await start_posts(env.client, queue, acct, 1, due=due, settings=settings)
        await wait_until(handle, lambda s: s.waiting_for == "needs_reconnect", env=env)
        resend.armed = True
        await asyncio.wait_for(resend.in_flight.wait(), 30)  # asking again, unanswered
        answered = await handle.execute_update(PublishPost.cancel, "creator left")
        resend.release.set()
        result: PublishResult = await handle.result()
        final = await state_of(handle)
        await save_history(handle, "cancelled_while_asking_again")
        await end_entity(env.client, acct)
    assert answered.phase is Phase.CANCELLED
    assert result.phase is Phase.CANCELLED and result.publish_id is None
    assert final.error is None
    assert any("before any init could go live" in line for line in final.history)


async def pending_slot_request(handle: WorkflowHandle[Any, Any]) -> SlotRequest:
    """The post's last slot request to its account, read from its history (the first one
    goes by an activity, later ones as signals)."""
    convert = handle._client.data_converter
    last: SlotRequest | None = None
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == "request_account_slot":
                [slot_input] = await convert.decode(scheduled.input.payloads, [AccountSlotInput])
                last = slot_input.slot
        elif event.HasField("signal_external_workflow_execution_initiated_event_attributes"):
            signal = event.signal_external_workflow_execution_initiated_event_attributes
            if signal.signal_name == REQUEST_SLOT:
                [last] = await convert.decode(signal.input.payloads, [SlotRequest])
    assert last is not None, "the post never asked its account"
    return last


async def test_a_cancel_that_arrives_with_the_accounts_grant_wins_over_it(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    """The grant and the cancel reach the post in one workflow task (both were sent while no
    worker ran): the cancel was accepted, so the post must not take the grant and send its
    init. The slot goes back to the account."""
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.init_errors = ["access_token_invalid"]
    fake.refresh_fails_with_reconnect = True
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        [post] = await start_posts(env.client, queue, acct, 1, due=due)
        await wait_until(post, lambda s: s.waiting_for == "needs_reconnect", env=env)
    sent_before = [n for n, _, _ in fake.calls]
    request = await pending_slot_request(post)
    await post.signal(PublishPost.account_answer, SlotAnswer(request_id=request.request_id,
                                                             granted=True))  # fmt: skip
    cancel = asyncio.create_task(post.execute_update(PublishPost.cancel, "creator left"))
    await asyncio.sleep(1)  # the update is admitted; no worker has seen either yet
    assert not cancel.done()
    async with await run_worker(env, fake, SCALED, queue):
        try:
            answered = await asyncio.wait_for(cancel, 30)
            result: PublishResult = await asyncio.wait_for(post.result(), 30)
            for _ in range(150):  # the withdrawal reaches the entity a moment after the cancel
                queued = (await account_state(env.client, acct)).queued_by_reason
                if not queued:
                    break
                await asyncio.sleep(0.1)
        finally:
            await end_entity(env.client, acct)
    assert answered.phase is Phase.CANCELLED and result.phase is Phase.CANCELLED
    assert queued == {}, "the slot request went back to the account"
    assert "init" not in [n for n, _, _ in fake.calls][len(sent_before) :], "the grant was taken"


async def test_a_live_post_whose_account_needs_reconnect_ends_unconfirmed_not_failed(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    """The issue's finding: a post already live ended FAILED TOKEN_REFRESH_FAILED."""
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.status_errors = ["access_token_invalid"]
    fake.refresh_fails_with_reconnect = True
    short = SETTINGS.model_copy(update={"publish_deadline_seconds": 4})
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        [handle] = await start_posts(env.client, queue, acct, 1, due=due, settings=short)
        [result] = await outcomes([handle])
        state: PostState = await state_of(handle)
        await end_entity(env.client, acct)
    assert result == "FAILED PUBLISH_UNCONFIRMED"
    assert state.error is not None and state.error.may_be_live
    assert "--confirm-not-posted" in state.error.remedy


async def test_a_read_that_gets_no_answer_is_asked_again_not_fatal(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    """Under kill -9, a creator_info read ends with no answer at all (a timeout): the post
    asks again instead of ending FAILED ACTIVITY_FAILED (seen in bench-rolling)."""
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.creator_crashes = 2
    quick = SETTINGS.model_copy(update={"read_timeout_seconds": 1})
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        [handle] = await start_posts(env.client, queue, acct, 1, due=due, settings=quick)
        [result] = await outcomes([handle])
        state: PostState = await state_of(handle)
        await save_history(handle, "paced_read_timed_out")
        await end_entity(env.client, acct)
    assert result == "PUBLISHED"
    assert len(fake.times("creator_info")) == 3
    assert sum("creator_info: no answer" in line for line in state.history) == 2


async def test_an_engine_bug_fails_activity_failed_not_as_a_tiktok_code(
    time_skipping_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    """An exception the engine has no code for (a KeyError in a step) used to end the post
    FAILED with the class name as its code and "TikTok answered 'KeyError'" as its meaning.
    It is the engine's own ACTIVITY_FAILED, naming the exception, after the read's tries."""
    env, queue, acct = time_skipping_env, f"tq-{uuid.uuid4()}", account()
    fake.creator_bug = KeyError("privacy_level_options")
    async with await run_worker(env, fake, SCALED, queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        [handle] = await start_posts(env.client, queue, acct, 1, due=due)
        [result] = await outcomes([handle])
        state: PostState = await state_of(handle)
        await save_history(handle, "engine_bug_activity_failed")
        # (the account's entity has ended by itself: time skipped past its idle limit)
    assert result == "FAILED ACTIVITY_FAILED"
    assert state.error is not None and state.error.code == "ACTIVITY_FAILED"
    assert "KeyError" in state.error.message and "privacy_level_options" in state.error.message
    assert "TikTok answered" not in state.error.message
    assert state.error.remedy == ENGINE_CODES["ACTIVITY_FAILED"].remedy
    assert len(fake.times("creator_info")) == 8  # the read's own tries, then the verdict


async def test_tokens_are_renewed_ahead_of_expiry_once_for_all_posts(
    dev_env: WorkflowEnvironment, fake: FakeTikTok
) -> None:
    env, queue, acct = dev_env, f"tq-{uuid.uuid4()}", account()
    fake.expires_in = timedelta(seconds=4)
    async with await run_worker(env, fake, scaled(refresh_ahead_seconds=1), queue):
        due = await env.get_current_time() + timedelta(seconds=1)
        handles = await start_posts(
            env.client, queue, acct, 4, due=due, spread=timedelta(seconds=2.5)
        )
        results = await outcomes(handles)
        state = await account_state(env.client, acct)
        await end_entity(env.client, acct)
    assert results == ["PUBLISHED"] * 4
    assert 2 <= fake.refreshes <= 4, "renewed ahead of expiry, for the account, not per post"
    gaps = zip(fake.times("refresh"), fake.times("refresh")[1:], strict=False)
    assert all(b - a >= timedelta(seconds=2) for a, b in gaps), "never twice at once"
    assert state.token is not None and state.token.fingerprint == f"gen{1 + fake.refreshes}"


async def any_until(handles: list[WorkflowHandle[Any, Any]], predicate: Any) -> PostState:
    for _ in range(300):
        for handle in handles:
            state: PostState = await state_of(handle)
            if predicate(state):
                return state
        await asyncio.sleep(0.05)
    raise AssertionError("no post reached the expected state")


async def wait_until(
    handle: WorkflowHandle[Any, Any], predicate: Any, *, env: WorkflowEnvironment
) -> PostState:
    for _ in range(300):
        state: PostState = await state_of(handle)
        if predicate(state):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError("the post never reached the expected state")


PROMISES = re.compile(
    r"engine (retries|backs off|uploads again|tries again)|retries by itself|retried automatically",
    re.I,
)


def test_no_remedy_promises_a_retry_the_post_will_not_get() -> None:
    """A remedy is read when the post has ended: it may say what a person does, never that
    the engine will try again (the issue's "the engine backs off and retries by itself")."""
    assert PROMISES.search("The engine backs off and retries by itself."), "the guard can fail"
    tables = (TIKTOK_ERROR_CODES, OAUTH_ERROR_CODES, FAIL_REASONS, STAGING_CODES, ENGINE_CODES)
    promising = [r.code for t in tables for r in t.values() if PROMISES.search(r.remedy)]
    assert promising == []
