"""Saved histories of every path replay against today's workflow code.

A change to PublishPost that would break posts already running (a reordered activity, a
removed timer) makes these fail in CI, before it reaches a worker. Re-record with
`make histories` only for changes that are safe for running workflows (or versioned with
`workflow.patched`).
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.freeze_histories import RELEASED_DIR
from tests.workflow_support import HISTORY_DIR
from worker.sandbox import workflow_runner
from workflows.account import TikTokAccount
from workflows.analytics import PostAnalytics
from workflows.followers import RefreshFollowers
from workflows.publish_post import PublishPost
from workflows.webhooks_out import DeliverEvent

EXPECTED = {
    "scheduled_week_ahead",
    "rescheduled_earlier",
    "rescheduled_later",
    "cancelled_while_scheduled",
    "draft_published_now",
    "direct_video_published",
    "inbox_draft_delivered",
    "photo_carousel_published",
    "url_ownership_unverified",
    "ambiguous_init",
    "fail_reason_frame_rate",
    "token_refreshed_mid_poll",
    # Woken by TikTok's webhooks (clean, and duplicated/reordered/forged/lost).
    "webhook_woken",
    "webhook_faults",
    # Webhooks out and analytics: the post's children, and the children themselves.
    "webhooks_out_announced",
    "webhook_event_delivered",
    "analytics_followed",
    "post_analytics",
    "account_needs_reconnect_announced",
    # Runs paced by the account entity, and the entity itself.
    "paced_rate_limited",
    "paced_daily_cap_wait",
    "account_entity",
    # What operators read: failed staging attempts, the summary following the schedule.
    "staging_retried_then_staged",
    "draft_scheduled_rescheduled_published_now",
    # Lost init answers: FILE_UPLOAD ghosts started again; pulled media withdrawn, for a person.
    "ghost_init_retried",
    "ambiguous_photo_init",
    "ambiguous_photo_init_withdrawn",
    # A paced read with no answer at all (a lost worker) asked again.
    "paced_read_timed_out",
    # Ready before the due time (creator checked, calls reserved), and a reservation given
    # back by a reschedule (the post's and the entity's side).
    "prepared_before_due",
    "prepared_then_rescheduled",
    "account_reservation_given_back",
    "prepared_photo_copies_made",
    # At the due time: the init reports its own success, the live status deletes the media.
    "due_init_reported_media_released",
    # Analytics paced by the account entity; the follower count's own daily schedule.
    "followers_refreshed",
    "account_analytics_granted",
    # Lost pulled answers settled by TikTok's evidence (adopted, pull failed and retried),
    # left to a person when contested; the account entity that attributed the event.
    "ambiguity_adopted",
    "ambiguity_ghost_failed",
    "ambiguity_contested",
    "account_claims",
    # An init armed just before the due time, sent at it; and one a stopped worker never sent.
    "armed_init_sent_at_due",
    "armed_init_not_sent",
    # An exception with no code of the engine's (a bug) ends ACTIVITY_FAILED; before the
    # patch it ended with the class name as its code, and such runs replay as they were.
    "engine_bug_activity_failed",
    "engine_bug_code_before_patch",
    # A cancel that ends the account's hold of a post before any init reached TikTok.
    "cancelled_while_held",
    # The same cancel taken while the post asked its account again, and that send failed.
    "cancelled_while_asking_again",
}
#: Histories written by earlier versions of the contracts (an upload URL in the init result,
#: camelCase media keys): posts like these may still be running when a release lands.
LEGACY = sorted((HISTORY_DIR / "legacy").glob("*.json"))
HISTORIES = sorted(HISTORY_DIR.glob("*.json"))
#: Each release's histories, frozen by `make freeze-histories` and never re-recorded: what
#: posts started on that release look like, which every later version must replay.
RELEASED = sorted(RELEASED_DIR.glob("*/*.json"))
#: Those that differ from today's recording of the same path (an identical copy replays the
#: same events: its replay would add time, not cover anything more).
RELEASED_CHANGED = [
    path
    for path in RELEASED
    if not (HISTORY_DIR / path.name).exists()
    or (HISTORY_DIR / path.name).read_bytes() != path.read_bytes()
]


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}" if path.parent != HISTORY_DIR else path.stem


def test_every_path_has_a_saved_history() -> None:
    assert EXPECTED <= {path.stem for path in HISTORIES}


def test_the_current_release_has_frozen_histories() -> None:
    release = version("tiktok-publisher")
    frozen = {path.stem for path in RELEASED if path.parent.name == release}
    assert EXPECTED <= frozen, f"run `make freeze-histories` for release {release}"


@pytest.mark.parametrize("shared", [True, False], ids=["worker-sandbox", "sdk-default-sandbox"])
@pytest.mark.parametrize("path", HISTORIES + LEGACY + RELEASED_CHANGED, ids=_id)
async def test_history_replays_deterministically(path: Path, shared: bool) -> None:
    # The worker's sandbox shares our workflow modules between runs (worker.sandbox); the
    # SDK's default gives every run its own copy. Both must replay alike.
    history = WorkflowHistory.from_json(f"replay-{path.stem}", json.loads(path.read_text()))
    replayer = Replayer(
        workflows=[PublishPost, TikTokAccount, DeliverEvent, PostAnalytics, RefreshFollowers],
        data_converter=pydantic_data_converter,
        **({"workflow_runner": workflow_runner()} if shared else {}),
    )
    await replayer.replay_workflow(history)
