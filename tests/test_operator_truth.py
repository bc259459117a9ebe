"""What an operator reads is current and true: staging retries, the schedule, failure texts,
and `list` counting posts rather than runs."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.failures import engine_error
from activities.staging import next_attempt_in
from simulator import Simulator
from starter.media_host import MediaHost, sample_video
from starter.operations import Operations
from starter.post_text import render_state
from starter.service import Service
from telemetry.http import free_loopback_port as free_port
from tests.test_cli import cli_env, run_cli
from tests.workflow_support import (
    failure_of,
    publisher,
    running_worker,
    save_history,
    start,
    state_of,
    target_of,
    video_request,
    wait_for,
)
from workflows import search_attributes as sa
from workflows.contracts import Phase, PostError, PostState
from workflows.errors import STAGING_CODES, classify_error
from workflows.publish_calls import TRANSFER_RETRY

PROMISES = ("this is retried", "the engine retries", "retrying reads it again")


def new_id() -> str:
    return f"opr-{uuid.uuid4().hex[:10]}"


async def visible(client: Client, query: str, wf_id: str, *, present: bool = True) -> bool:
    for _ in range(100):  # visibility is eventually consistent
        ids = [w.id async for w in client.list_workflows(query)]
        if (wf_id in ids) is present:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_staging_that_keeps_failing_says_so_until_it_succeeds(
    dev_env: WorkflowEnvironment, simulator: Simulator, token_file: Path, task_queue: str
) -> None:
    port = free_port()  # nothing listens yet: every copy attempt is refused
    url = f"http://127.0.0.1:{port}/late/video.mp4"
    due = datetime.now(UTC) + timedelta(days=2)
    target = target_of(video_request(new_id(), url, scheduled_for=due))
    client = dev_env.client
    async with running_worker(client, simulator, token_file, task_queue):
        handle = await start(client, task_queue, target)
        state = await wait_for(handle, lambda s: s.staging_error is not None)
        assert state.phase is Phase.SCHEDULED
        assert state.staging_error.startswith("TT_SOURCE_UNREACHABLE: media[0]: ")
        assert state.staging_failures >= 1 and state.next_staging_attempt_at is not None
        assert state.next_staging_attempt_at > datetime.now(UTC) - timedelta(seconds=1)
        shown = render_state(state)
        assert "staging failing: attempt" in shown and "next attempt about" in shown
        failing = f"{sa.STAGING_ERROR.name} = 'TT_SOURCE_UNREACHABLE'"
        assert await visible(client, failing, target.workflow_id), "findable while failing"
        described = await Operations(publisher(client, task_queue)).describe(target.workflow_id)
        assert any("staging attempt 1 failed with TT_SOURCE_UNREACHABLE" in x for x in described)

        with MediaHost(port=port) as host:  # the source comes back: the next attempt copies
            host.add("late/video.mp4", sample_video(), "video/mp4")
            state = await wait_for(handle, lambda s: bool(s.staged_media), within=40)
        assert state.staging_error is None and state.next_staging_attempt_at is None
        assert await visible(client, f"{sa.STAGING_ERROR.name} IS NOT NULL", target.workflow_id,
                             present=False), "no longer listed once staged"  # fmt: skip
        assert any("staging attempt 1 failed (TT_SOURCE_UNREACHABLE)" in x for x in state.history)
        await handle.execute_update("cancel", "test over")
        await handle.result()
        await save_history(handle, "staging_retried_then_staged")


async def test_staging_that_never_succeeds_fails_with_words_that_match_the_commands(
    time_skipping_env: WorkflowEnvironment, simulator: Simulator, token_file: Path, task_queue: str
) -> None:
    env = time_skipping_env
    url = f"http://127.0.0.1:{free_port()}/never/video.mp4"
    target = target_of(video_request(new_id(), url))
    async with running_worker(env.client, simulator, token_file, task_queue):
        handle = await start(env.client, task_queue, target)
        failure = await failure_of(handle)
        state = await state_of(handle)
    assert failure.type == "TT_SOURCE_UNREACHABLE"
    assert f"`tiktok-publisher retry {target.post_id} acct_demo`" in failure.message, "the UI's"
    assert state.error is not None and state.staging_error is None
    assert state.staging_failures == TRANSFER_RETRY.maximum_attempts
    text = render_state(state)
    assert not any(p in text.lower() for p in PROMISES), text
    assert "TT_SOURCE_UNREACHABLE: TT_SOURCE_UNREACHABLE" not in text
    assert f"`tiktok-publisher retry {target.post_id} acct_demo`" in text
    assert "no further attempt" in state.history[-3] or any(
        "no further attempt" in line for line in state.history
    )


async def test_schedule_changes_show_in_the_summary(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    url = media_host.add("truth/video.mp4", sample_video(), "video/mp4")
    target = target_of(video_request(new_id(), url, system_draft=True))
    first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=3)
    later = first + timedelta(days=1)
    async with running_worker(dev_env.client, simulator, token_file, task_queue):
        handle = await start(dev_env.client, task_queue, target)
        draft = await state_of(handle)
        assert draft.summary.startswith("system draft, ") and "as soon as possible" in draft.summary
        scheduled = await handle.execute_update("schedule", first, result_type=PostState)
        assert not scheduled.summary.startswith("system draft")
        assert f"at {first:%Y-%m-%d %H:%MZ}" in scheduled.summary
        moved = await handle.execute_update("reschedule", later, result_type=PostState)
        assert f"at {later:%Y-%m-%d %H:%MZ}" in moved.summary
        assert f"{first:%Y-%m-%d %H:%M}" not in moved.summary
        now = await handle.execute_update("publish_now", result_type=PostState)
        assert "as soon as possible" in now.summary
        result = await handle.result()
        await save_history(handle, "draft_scheduled_rescheduled_published_now")
    assert result.phase is Phase.PUBLISHED


def failed_state(error: PostError) -> PostState:
    return PostState(
        workflow_id="tiktok-post/p1/acct_1",
        post_id="p1",
        account_id="acct_1",
        mode="video_direct",
        phase=Phase.FAILED,
        summary="video → @acct_1 as soon as possible, SELF_ONLY: (no caption)",
        accepted_at=datetime.now(UTC),
        error=error,
    )


def test_a_failure_that_may_be_live_says_how_to_check_and_how_to_retry() -> None:
    rule = classify_error("TT_STAGED_OBJECT_MISSING")
    error = PostError(code=rule.code, message="gone", remedy=rule.remedy, may_be_live=True)
    text = render_state(failed_state(error))
    assert "tiktok-publisher retry p1 acct_1 --confirm-not-posted" in text
    assert "creator's TikTok profile" in text
    assert "POST_ID" not in text, "the commands name this post"
    plain = render_state(failed_state(error.model_copy(update={"may_be_live": False})))
    assert "--confirm-not-posted" not in plain, "the guard can fail: only may_be_live says it"


def test_no_failure_repeats_its_code_in_its_message() -> None:
    error = engine_error(
        "TT_STAGED_OBJECT_MISSING", "TT_STAGED_OBJECT_MISSING: gone", retryable=False
    )
    assert error.message == "gone" and error.details[0]["meaning"] == "gone"
    kept = engine_error("TT_STORAGE_ERROR", "TT_STAGED_OBJECT_MISSING: other", retryable=True)
    assert kept.message == "TT_STAGED_OBJECT_MISSING: other", "only its own code is dropped"


def test_staging_remedies_never_send_people_to_a_resubmit_that_starts_nothing() -> None:
    said = [rule.code for rule in STAGING_CODES.values() if "submit the post again" in rule.remedy]
    assert said == []
    assert "submit the post again" in "Fix it and submit the post again.", "the guard can fail"


def test_next_attempt_follows_the_retry_policy() -> None:
    assert next_attempt_in(1, TRANSFER_RETRY, None) == 5
    assert next_attempt_in(3, TRANSFER_RETRY, None) == 20
    assert next_attempt_in(9, TRANSFER_RETRY, None) == 120, "capped at the maximum interval"
    assert next_attempt_in(2, TRANSFER_RETRY, timedelta(seconds=10)) == 10, "the error's delay"
    assert next_attempt_in(10, TRANSFER_RETRY, None) is None, "the last attempt"


async def test_list_counts_posts_not_runs(
    dev_env: WorkflowEnvironment,
    simulator: Simulator,
    token_file: Path,
    task_queue: str,
    media_host: MediaHost,
) -> None:
    """A post that failed, then was retried and published, is one PUBLISHED row: it is not
    among the FAILED ones any more (unless --all-runs)."""
    path = f"truth/{new_id()}.mp4"
    url = media_host.url(path)  # not there yet: the first run fails TT_SOURCE_NOT_FOUND
    request = video_request(new_id(), url)
    pid = request["postId"]
    env = cli_env(dev_env, task_queue)
    async with running_worker(dev_env.client, simulator, token_file, task_queue):
        assert (await run_cli(env, "submit", "-", stdin=json.dumps(request))).code == 0
        handle = dev_env.client.get_workflow_handle(f"tiktok-post/{pid}/acct_demo")
        await failure_of(handle)
        media_host.add(path, sample_video(), "video/mp4")
        retried = await run_cli(env, "retry", pid, "acct_demo")
        assert retried.code == 0, retried.out + retried.err
        await dev_env.client.get_workflow_handle(handle.id).result()
        for _ in range(100):
            failed = await run_cli(env, "list", "--post", pid, "--state", "FAILED")
            everything = await run_cli(env, "list", "--post", pid, "--all-runs")
            if "(older run)" in everything.out and "PUBLISHED" in everything.out:
                break
            await asyncio.sleep(0.1)
    assert failed.code == 0 and failed.out.strip() == "No posts match.", failed.out
    rows = everything.out.splitlines()
    assert rows[0].split()[:3] == ["POST_ID", "ACCOUNT_ID", "STATE"], "a header"
    assert rows[-1] == "1 post target(s) (2 runs)"
    latest = await run_cli(env, "list", "--post", pid)
    assert latest.out.splitlines()[1].split()[:3] == [pid, "acct_demo", "PUBLISHED"]
    counted = await run_cli(env, "list", "--account", "acct_demo", "--post", pid, "--count")
    assert counted.out.strip() == "1"
    bad = await run_cli(env, "list", "--state", "NOPE")
    assert bad.code == 2 and "state: one of" in bad.err
    # The HTTP API's list (and MCP's) counts the same way.
    service = Service(publisher(dev_env.client, task_queue), *[None] * 4)  # type: ignore[arg-type]
    page = await service.list_posts(post_id=pid)
    assert [(t.state, t.runStatus) for t in page.items] == [("PUBLISHED", "COMPLETED")]
    assert (await service.list_posts(post_id=pid, state=Phase.FAILED)).items == []


def test_status_of_an_armed_post_says_when_its_init_is_sent_and_that_it_cannot_be_stopped() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=3)
    armed = failed_state(PostError(code="X", message="x", remedy="y")).model_copy(
        update={"phase": Phase.PUBLISHING, "error": None, "publishing_started_at": soon}
    )
    text = render_state(armed)
    assert f"a worker sends the init at {soon.isoformat()}" in text
    assert "cancel and reschedule no longer work" in text
    started = armed.model_copy(update={"publishing_started_at": soon - timedelta(seconds=9)})
    assert "armed" not in render_state(started), "only an init still to be sent is armed"


def test_the_runbook_lists_every_search_attribute_with_its_type() -> None:
    """Temporal Cloud namespaces get them by hand from this table: one missing is a start or
    an upsert the namespace refuses."""
    from temporalio.common import SearchAttributeIndexedValueType

    from workflows import search_attributes as sa

    runbook = (Path(__file__).resolve().parent.parent / "docs" / "runbook.md").read_text()
    types = {
        SearchAttributeIndexedValueType.KEYWORD: "Keyword",
        SearchAttributeIndexedValueType.DATETIME: "Datetime",
    }
    for key in sa.ALL:
        row = f"| `{key.name}` | {types[key.indexed_value_type]} |"
        assert row in runbook, f"docs/runbook.md has no row {row}"
