"""Each connected account's follower schedule: a Temporal Schedule,
`account-followers/<account_id>`, that runs `RefreshFollowers` (workflows/followers.py) daily.

Created when an account is connected (starter/connect.py; its first refresh runs at once),
deleted when it is disconnected, and visible and controllable like any Temporal Schedule:
`tiktok-publisher account followers ACCOUNT_ID [--start|--refresh|--pause|--resume|--stop]`,
the Temporal UI's Schedules page, or `temporal schedule describe|trigger|toggle`. The counts
themselves are kept in the account store (account_store/analytics.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from account_store.analytics import Analytics
from workflows.followers import FOLLOWERS_TYPE, followers_schedule_id

FOLLOWERS_EVERY = timedelta(days=1)


class FollowerScheduleOut(BaseModel):
    scheduleId: str
    everySeconds: float | None = None
    paused: bool = False
    note: str = ""
    taskQueue: str = ""
    nextRunAt: datetime | None = None
    lastRunAt: datetime | None = None


class FollowersOut(BaseModel):
    """The account's follower count (from the account store) and its refresh schedule."""

    followerCount: int | None = None
    fetchedAt: datetime | None = None
    schedule: FollowerScheduleOut | None = Field(
        default=None, description="None: the account has no follower schedule (not connected)."
    )


def _schedule(account_id: str, task_queue: str, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            FOLLOWERS_TYPE,
            account_id,
            id=followers_schedule_id(account_id),
            task_queue=task_queue,
            execution_timeout=timedelta(hours=2),
            static_summary=f"follower count of {account_id}",
        ),
        # Offset to the moment of connecting: a day after it, not every account at midnight.
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every, offset=_phase(every))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=f"daily follower count of TikTok account {account_id}"),
    )


async def start_followers_schedule(
    client: Client,
    account_id: str,
    task_queue: str,
    *,
    every: timedelta = FOLLOWERS_EVERY,
    refresh_now: bool = True,
) -> ScheduleHandle:
    """Create the account's schedule (or point an existing one at `task_queue` and
    `every`); `refresh_now` runs a refresh at once as well."""
    wanted = _schedule(account_id, task_queue, every)
    try:
        return await client.create_schedule(
            followers_schedule_id(account_id), wanted, trigger_immediately=refresh_now
        )
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(followers_schedule_id(account_id))

    def change(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = current.description.schedule
        schedule.action = wanted.action
        schedule.spec = wanted.spec
        schedule.policy = wanted.policy
        return ScheduleUpdate(schedule=schedule)

    await handle.update(change)
    if refresh_now:
        await handle.trigger()
    return handle


async def stop_followers_schedule(client: Client, account_id: str) -> bool:
    """Delete the schedule (the account was disconnected); False if there was none."""
    try:
        await client.get_schedule_handle(followers_schedule_id(account_id)).delete()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def follower_schedule(client: Client, account_id: str) -> FollowerScheduleOut | None:
    handle = client.get_schedule_handle(followers_schedule_id(account_id))
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    schedule = described.schedule
    intervals = schedule.spec.intervals
    action = schedule.action
    recent = described.info.recent_actions
    upcoming = described.info.next_action_times
    return FollowerScheduleOut(
        scheduleId=handle.id,
        everySeconds=intervals[0].every.total_seconds() if intervals else None,
        paused=schedule.state.paused,
        note=schedule.state.note or "",
        taskQueue=action.task_queue or ""
        if isinstance(action, ScheduleActionStartWorkflow)
        else "",
        nextRunAt=_utc(upcoming[0]) if upcoming else None,
        lastRunAt=_utc(recent[-1].started_at) if recent else None,
    )


async def followers(client: Client, store: Analytics, account_id: str) -> FollowersOut:
    latest = await store.latest_followers(account_id)
    return FollowersOut(
        followerCount=latest.follower_count if latest else None,
        fetchedAt=latest.fetched_at if latest else None,
        schedule=await follower_schedule(client, account_id),
    )


def _phase(every: timedelta) -> timedelta:
    since_epoch = datetime.now(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return since_epoch % every


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
